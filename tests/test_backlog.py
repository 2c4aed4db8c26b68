"""A paged source cut off with new mentions still unread resumes past the cut-off on
the next poll (monitor/core/backlog.py, spiders/base.py ``resume_pages``): nothing is
lost when a flood exceeds ``max_pages`` pages, or when a later page fails."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from httpserver import FixtureServer, Reply, Request
from sqlmodel import select
from test_crawl import make_daemon, trustpilot_page

from monitor.core.backlog import MAX_BACKLOG_PAGES, backlog_after_poll
from monitor.daemon import run_in_reactor
from monitor.store.models import Mention
from spiders.items import MentionItem
from spiders.trustpilot import TrustpilotSpider


@pytest.mark.parametrize(("previous", "pages", "cut_off", "failed", "expected"), [
    # nothing read (not modified, first page failed): the depth stays
    (None, 0, False, False, None),
    (None, 0, False, True, None),
    (4, 0, False, True, 4),
    (4, 0, False, False, 4),
    # cut off at the page limit with new mentions on the last page
    (None, 3, True, False, 3),
    (3, 6, True, False, 6),
    # a later page failed: resume past the pages read, never shallower than before
    (None, 1, False, True, 1),
    (6, 2, False, True, 6),
    (2, 5, False, True, 5),
    (None, 3, True, True, 3),
    # ended on its own (nothing new past the depth, or the site's last page): cleared
    (None, 1, False, False, None),
    (3, 4, False, False, None),
    (6, 7, False, False, None),
    # bounded: a source flooded on every poll stops growing its depth
    (MAX_BACKLOG_PAGES, MAX_BACKLOG_PAGES + 3, True, False, MAX_BACKLOG_PAGES),
    (None, MAX_BACKLOG_PAGES + 1, False, True, MAX_BACKLOG_PAGES),
])
def test_backlog_after_poll(previous: int | None, pages: int, cut_off: bool, failed: bool,
                            expected: int | None) -> None:
    assert backlog_after_poll(previous, pages, cut_off, failed) == expected


def _items(*ids: str) -> list[MentionItem]:
    return [MentionItem(source_id="tp", external_id=i, body="x")
            for i in ids]


@pytest.mark.parametrize(("resume", "page", "known", "follow", "cut_off"), [
    # no backlog: follow while new, cut off at max_pages (3) only if new
    (0, 1, set(), True, False),
    (0, 1, {"a", "b"}, False, False),
    (0, 3, set(), False, True),
    (0, 3, {"a", "b"}, False, False),
    (0, 3, {"a"}, False, True),
    # backlog 3: pages 1-3 followed though known, then while new up to page 6
    (3, 1, {"a", "b"}, True, False),
    (3, 3, {"a", "b"}, True, False),
    (3, 4, {"a", "b"}, False, False),
    (3, 4, set(), True, False),
    (3, 6, set(), False, True),
    (3, 6, {"a", "b"}, False, False),
])
def test_should_follow_resumes_past_the_backlog(resume: int, page: int, known: set[str],
                                                follow: bool, cut_off: bool) -> None:
    spider = TrustpilotSpider(source_id="tp", url="https://x.example/review/acme",
                              known_ids=lambda ids: set(ids) & known, max_pages=3,
                              resume_pages=resume)
    assert spider.should_follow(_items("a", "b"), page) is follow
    assert spider.cut_off is cut_off
    assert spider.followed is follow
    assert spider.should_follow([], page) is False


def _site(pages: int, failing: dict[int, int] | None = None):  # type: ignore[no-untyped-def]
    """A Trustpilot company page of ``pages`` pages, 3 reviews each, newest first, with
    an ETag (304 on a match). ``failing``: page -> how many requests to it answer 500."""
    failing = dict(failing or {})

    def respond(request: Request) -> Reply:
        page = 1
        if "page=" in request.path:
            page = int(request.path.split("page=")[1].split("&")[0])
        if failing.get(page, 0) > 0:
            failing[page] -= 1
            return Reply(500, b"oops")
        if page == 1 and request.headers.get("if-none-match") == '"v1"':
            return Reply(304, b"", {"ETag": '"v1"'})
        ids = [f"p{page}-r{n}" for n in range(3)]
        return Reply(200, trustpilot_page(ids, pages=pages),
                     {"Content-Type": "text/html", "ETag": '"v1"'})
    return respond


def _pages(server: FixtureServer, start: int) -> list[int]:
    found = []
    for request in server.requests[start:]:
        found.append(int(request.path.split("page=")[1].split("&")[0])
                     if "page=" in request.path else 1)
    return found


def _stored(daemon) -> list[str]:  # type: ignore[no-untyped-def]
    with daemon.app.store.session() as session:
        return sorted(str(m.external_id) for m in session.scalars(
            select(Mention).where(Mention.source_id == "tp")))


def test_a_flood_past_max_pages_is_read_over_the_next_polls(
        tmp_path: Path, server: FixtureServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="monitor.crawl")
    server.set("/review/acme.example", _site(7))
    daemon = make_daemon(tmp_path, [{
        "id": "tp", "spider": "trustpilot", "url": server.url("/review/acme.example"),
        "brand": "acme", "max_pages": 3, "obey_robots": False}])
    store = daemon.app.store

    def poll() -> tuple[int, list[int]]:
        start = len(server.requests)
        run = run_in_reactor(lambda: daemon.crawl_due(force=True))[0]
        assert run.error is None
        return run.ingest.new, _pages(server, start)

    assert poll() == (9, [1, 2, 3])
    assert store.source_state("tp").backlog_pages == 3
    assert "source_backlog source=tp pages=3: the next poll resumes past page 3" in caplog.text
    # No newer reviews: page 1 is known (and would be 304), yet the poll reads on.
    start = len(server.requests)
    assert poll() == (9, [1, 2, 3, 4, 5, 6])
    assert "if-none-match" not in server.requests[start].headers
    assert store.source_state("tp").backlog_pages == 6
    assert poll() == (3, [1, 2, 3, 4, 5, 6, 7])  # page 7 is the site's last
    assert store.source_state("tp").backlog_pages is None
    assert "source_backlog_cleared source=tp" in caplog.text
    # Caught up: only page 1, conditionally (304).
    start = len(server.requests)
    assert poll() == (0, [1])
    assert server.requests[start].headers.get("if-none-match") == '"v1"'
    stored = _stored(daemon)
    assert stored == sorted(f"p{p}-r{n}" for p in range(1, 8) for n in range(3))
    assert len(stored) == len(set(stored)) == 21


def test_a_failed_later_page_is_read_on_the_next_poll(tmp_path: Path,
                                                       server: FixtureServer) -> None:
    server.set("/review/acme.example", _site(4, failing={2: 2}))  # 500, and its retry
    daemon = make_daemon(tmp_path, [{
        "id": "tp", "spider": "trustpilot", "url": server.url("/review/acme.example"),
        "brand": "acme", "max_pages": 5, "obey_robots": False}])
    first = run_in_reactor(lambda: daemon.crawl_due(force=True))[0]
    assert first.status == "fetch" and first.ingest.new == 3
    assert daemon.app.store.source_state("tp").backlog_pages == 1
    start = len(server.requests)
    second = run_in_reactor(lambda: daemon.crawl_due(force=True))[0]
    assert second.error is None and second.ingest.new == 9
    assert _pages(server, start) == [1, 2, 3, 4]
    assert daemon.app.store.source_state("tp").backlog_pages is None
    assert len(_stored(daemon)) == 12


def test_sources_sharing_one_crawl_keep_their_own_backlog(tmp_path: Path,
                                                          server: FixtureServer) -> None:
    server.set("/review/big.example", _site(4))
    server.set("/review/small.example", _site(2))
    daemon = make_daemon(tmp_path, [
        {"id": "big", "spider": "trustpilot", "url": server.url("/review/big.example"),
         "brand": "acme", "max_pages": 2, "obey_robots": False},
        {"id": "small", "spider": "trustpilot", "url": server.url("/review/small.example"),
         "brand": "acme", "max_pages": 2, "obey_robots": False},
    ])
    run_in_reactor(lambda: daemon.crawl_due(force=True))
    states = daemon.app.store.source_states()
    assert states["big"].backlog_pages == 2 and states["small"].backlog_pages is None
    runs = run_in_reactor(lambda: daemon.crawl_due(force=True))
    assert {run.source_id: run.ingest.new for run in runs} == {"big": 6, "small": 0}
    states = daemon.app.store.source_states()
    assert states["big"].backlog_pages is None


def test_reviews_arriving_between_polls_do_not_hide_the_backlog(
        tmp_path: Path, server: FixtureServer) -> None:
    """New reviews on top push the pages an earlier poll read deeper: the resumed poll
    must page past where they are now, not stop at the old depth inside them (the unread
    reviews beyond would never be fetched)."""
    reviews = [f"old{n:02d}" for n in range(21)]  # 7 pages of 3, newest first

    def respond(request: Request) -> Reply:
        page = int(request.path.split("page=")[1].split("&")[0]) if "page=" in request.path \
            else 1
        pages = (len(reviews) + 2) // 3
        return Reply(200, trustpilot_page(reviews[(page - 1) * 3: page * 3], pages=pages),
                     {"Content-Type": "text/html"})

    server.set("/review/acme.example", respond)
    daemon = make_daemon(tmp_path, [{
        "id": "tp", "spider": "trustpilot", "url": server.url("/review/acme.example"),
        "brand": "acme", "max_pages": 2, "obey_robots": False}])

    def poll() -> None:
        run = run_in_reactor(lambda: daemon.crawl_due(force=True))[0]
        assert run.error is None

    poll()
    assert daemon.app.store.source_state("tp").backlog_pages == 2
    reviews[:0] = [f"new{n}" for n in range(6)]  # two pages of new reviews on top
    for _ in range(6):
        poll()
        if daemon.app.store.source_state("tp").backlog_pages is None:
            break
    assert daemon.app.store.source_state("tp").backlog_pages is None
    assert _stored(daemon) == sorted(reviews)


def test_an_interrupted_crawl_leaves_no_backlog_to_a_source_that_was_not_paging() -> None:
    """A shutdown ends a crawl "shutdown", not "finished": a source still paging may have
    had pages to read, but a feed read in one page (no next page asked for) has nothing
    to resume past and must keep its ETag for the next poll."""
    from types import SimpleNamespace

    from monitor.crawl import CrawlAdapter, SourceRun

    feed = SimpleNamespace(source_id="feed", pages_read=1, followed=False, cut_off=False)
    paging = SimpleNamespace(source_id="tp", pages_read=2, followed=True, cut_off=False)
    spider = SimpleNamespace(delegates=[feed, paging])
    stats = SimpleNamespace(get_value=lambda key: "shutdown")
    runs = {"feed": SourceRun("feed"), "tp": SourceRun("tp")}
    CrawlAdapter._read_paging(SimpleNamespace(spider=spider, stats=stats), runs)  # type: ignore[arg-type]
    assert (runs["feed"].cut_off, runs["tp"].cut_off) == (False, True)
