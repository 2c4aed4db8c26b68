"""The crawl adapter against a local HTTP server: paging stops at known mentions,
a captcha is 'blocked', many sources share one crawler and keep their own results."""

from __future__ import annotations

import json
from pathlib import Path

from feedgen import rss, sample_entries
from httpserver import FixtureServer, Reply, Request

from monitor.app import make_app
from monitor.config import parse_config
from monitor.daemon import Daemon, run_in_reactor


def trustpilot_page(ids: list[str], pages: int) -> bytes:
    reviews = [{
        "id": review_id, "title": f"Review {review_id}", "text": "Acme lost my parcel.",
        "rating": 1, "language": "en",
        "dates": {"publishedDate": "2026-11-20T10:00:00.000Z", "experiencedDate": None,
                  "updatedDate": None},
        "consumer": {"displayName": "Kim", "countryCode": "NO"}, "reply": None, "likes": 0,
        "labels": {"verification": {"isVerified": False}},
    } for review_id in ids]
    data = {"props": {"pageProps": {
        "businessUnit": {"displayName": "Acme", "identifyingName": "acme.example",
                         "numberOfReviews": 100},
        "reviews": reviews,
        "filters": {"pagination": {"currentPage": 1, "totalPages": pages}},
    }}}
    return (f"<html><body><script id=\"__NEXT_DATA__\" type=\"application/json\">"
            f"{json.dumps(data)}</script></body></html>").encode()


def paged(request: Request) -> Reply:
    page = 1
    if "page=" in request.path:
        page = int(request.path.split("page=")[1].split("&")[0])
    ids = [f"p{page}-r{n}" for n in range(3)]
    return Reply(200, trustpilot_page(ids, pages=5), {"Content-Type": "text/html"})


def make_daemon(tmp_path: Path, sources: list[dict[str, object]]) -> Daemon:
    config = parse_config({
        "store": {"url": f"sqlite:///{tmp_path / 'crawl.db'}"},
        "daemon": {"autothrottle": False},
        "brands": {"acme": {"keywords": ["acme"]}},
        "sources": sources,
    }, tmp_path / "c.toml")
    return Daemon(make_app(config))


def test_paging_stops_at_known_mentions(tmp_path: Path, server: FixtureServer) -> None:
    server.set("/review/acme.example", paged)
    daemon = make_daemon(tmp_path, [{
        "id": "tp", "spider": "trustpilot", "url": server.url("/review/acme.example"),
        "brand": "acme", "max_pages": 3, "obey_robots": False}])
    first = run_in_reactor(lambda: daemon.crawl_due(force=True))
    assert first[0].ingest.new == 9  # pages 1-3: max_pages stops it
    assert server.hits["/review/acme.example"] == 3
    # Page 3 still held new reviews: the next poll resumes past it (test_backlog.py),
    # reading pages 1-3 again and then 4-5, the site's last.
    second = run_in_reactor(lambda: daemon.crawl_due(force=True))
    assert second[0].ingest.new == 6 and server.hits["/review/acme.example"] == 8
    third = run_in_reactor(lambda: daemon.crawl_due(force=True))
    # Page 1 holds only known reviews: no second page is fetched.
    assert third[0].ingest.new == 0 and third[0].ingest.seen_again == 3
    assert server.hits["/review/acme.example"] == 9
    assert "sort=recency" in server.requests[0].path


def test_captcha_page_is_blocked_and_robots_txt_is_obeyed(tmp_path: Path,
                                                          server: FixtureServer) -> None:
    server.set("/review/acme.example", Reply(200, b"<html><body><div class=\"g-recaptcha\">"
                                             b"Please verify you are human (captcha)</div>"
                                             b"</body></html>", {"Content-Type": "text/html"}))
    server.set("/robots.txt", Reply(200, b"User-agent: *\nDisallow: /private/\n"))
    server.set("/private/feed.xml", Reply(200, rss(sample_entries("x", 1))))
    daemon = make_daemon(tmp_path, [
        {"id": "tp", "spider": "trustpilot", "url": server.url("/review/acme.example")},
        {"id": "private", "spider": "feed", "url": server.url("/private/feed.xml")},
    ])
    runs = {run.source_id: run for run in run_in_reactor(lambda: daemon.crawl_due(force=True))}
    assert runs["tp"].status == "blocked"
    assert "captcha" in str(runs["tp"].error)
    assert server.hits["/private/feed.xml"] == 0  # robots.txt said no
    assert runs["private"].failed


def test_many_sources_share_one_crawl_and_keep_their_own_results(
        tmp_path: Path, server: FixtureServer) -> None:
    for index in range(6):
        server.set(f"/feed{index}.xml", Reply(200, rss(sample_entries(f"f{index}", index + 1))))
    server.set("/broken.xml", Reply(200, b"<html>oops</html>", {"Content-Type": "text/html"}))
    sources: list[dict[str, object]] = [
        {"id": f"feed{index}", "spider": "feed", "url": server.url(f"/feed{index}.xml"),
         "brand": "acme", "obey_robots": False} for index in range(6)]
    sources.append({"id": "broken", "spider": "feed", "url": server.url("/broken.xml"),
                    "obey_robots": False})
    daemon = make_daemon(tmp_path, sources)
    runs = {run.source_id: run for run in run_in_reactor(lambda: daemon.crawl_due(force=True))}
    for index in range(6):
        assert runs[f"feed{index}"].status == "ok"
        assert runs[f"feed{index}"].ingest.new == index + 1
    assert runs["broken"].status == "parse"
    states = daemon.app.store.source_states()
    assert states["feed5"].mentions_total == 6 and states["broken"].consecutive_failures == 1


def test_backfill_fetches_history_past_known_mentions(tmp_path: Path,
                                                      server: FixtureServer) -> None:
    import subprocess
    import sys

    server.set("/review/acme.example", paged)
    config = tmp_path / "backfill.toml"
    config.write_text(
        f'[store]\nurl = "sqlite:///{tmp_path / "b.db"}"\n[daemon]\nautothrottle = false\n'
        f'[brands.acme]\nkeywords = ["acme"]\n[[sources]]\nid = "tp"\nspider = "trustpilot"\n'
        f'url = "{server.url("/review/acme.example")}"\nbrand = "acme"\nmax_pages = 1\n'
        f'obey_robots = false\n', encoding="utf-8")
    root = Path(__file__).resolve().parents[1]

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "monitor", *args], cwd=root,
                              capture_output=True, text=True, timeout=120)

    assert cli("run", "--config", str(config), "--once").returncode == 0
    assert server.hits["/review/acme.example"] == 1
    result = cli("backfill", "tp", "--config", str(config), "--pages", "4")
    assert result.returncode == 0, result.stderr
    assert server.hits["/review/acme.example"] == 5  # page 1 again, though all known
    assert "tp: 4 pages, 12 mentions, 9 new" in result.stdout
    assert "[##############################] 4/4 pages" in result.stderr
    missing = cli("backfill", "nope", "--config", str(config))
    assert missing.returncode == 2 and "no source 'nope' (known: tp)" in missing.stderr


def test_a_post_deleted_from_a_feed_is_marked_removed(tmp_path: Path,
                                                      server: FixtureServer) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import select

    from monitor.store import Mention

    entries = sample_entries("post", 4)
    server.set("/feed.xml", Reply(200, rss(entries), {"Content-Type": "application/rss+xml"}))
    clock = [datetime(2026, 11, 24, 12, 0, tzinfo=UTC)]
    config = parse_config({
        "store": {"url": f"sqlite:///{tmp_path / 'removed.db'}"},
        "daemon": {"autothrottle": False},
        "brands": {"acme": {"keywords": ["acme"]}},
        "sources": [{"id": "blog", "spider": "feed", "url": server.url("/feed.xml"),
                     "obey_robots": False}],
    }, tmp_path / "c.toml")
    daemon = Daemon(make_app(config, clock=lambda: clock[0]))
    assert run_in_reactor(lambda: daemon.crawl_due(force=True))[0].ingest.new == 4
    # The author deleted post-2: the feed still lists post-1 and post-3 around it.
    server.set("/feed.xml", Reply(200, rss([entry for entry in entries if entry.id != "post-2"]),
                                  {"Content-Type": "application/rss+xml"}))
    for minutes, removed in ((15, 0), (75, 1), (90, 0)):
        clock[0] = datetime(2026, 11, 24, 12, 0, tzinfo=UTC) + timedelta(minutes=minutes)
        (run,) = run_in_reactor(lambda: daemon.crawl_due(force=True))
        assert (run.status, run.ingest.removed) == ("ok", removed), minutes
    with daemon.app.store.session() as session:
        gone = {m.external_id: m.removed for m in session.scalars(select(Mention))}
    assert gone == {"post-0": False, "post-1": False, "post-2": True, "post-3": False}
