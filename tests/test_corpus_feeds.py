"""The feed spider on real feeds: feedparser's own 2,106-file test suite and the real
Google Alerts, Google News, Reddit, Hacker News, Mastodon, Lemmy, YouTube and JSON feeds."""

from __future__ import annotations

import re
from pathlib import Path

import feedparser
import pytest
from conftest import require_corpus

from spiders.feeds import parse_feed
from spiders.items import LayoutError

_HEADER = re.compile(rb"^Header:\s*([\w-]+):\s*(.*?)\s*$", re.MULTILINE)


def _headers(body: bytes) -> dict[str, str]:
    """feedparser's http_* test files simulate response headers in a comment."""
    return {name.decode().lower(): value.decode("latin-1")
            for name, value in _HEADER.findall(body[:4000])}


def test_every_feedparser_test_file_parses_or_fails_with_a_parse_error() -> None:
    root = require_corpus("feedparser", "tests")
    files = sorted(path for path in root.rglob("*") if path.is_file())
    assert len(files) >= 2100
    yielded = failed = wellformed_with_entries = 0
    problems: list[str] = []
    for path in files:
        body = path.read_bytes()
        headers = _headers(body)
        url = f"http://127.0.0.1/{path.relative_to(root)}"
        try:
            items = parse_feed(body, "corpus", url, headers)
        except LayoutError as error:
            failed += 1
            assert str(error).count("\n") == 0
            expected = feedparser.parse(body, response_headers=headers or None)
            if "wellformed" in path.parts and expected.get("entries"):
                problems.append(f"{path.name}: ParseError on a feed with entries: {error}")
            continue
        yielded += bool(items)
        if "wellformed" in path.parts:
            expected = feedparser.parse(body, response_headers=headers or None)
            if expected.get("entries"):
                wellformed_with_entries += 1
                if len(items) != len(expected["entries"]):
                    problems.append(f"{path.name}: {len(items)} mentions for "
                                    f"{len(expected['entries'])} entries")
        for item in items:
            assert item.source_id == "corpus"
            assert item.external_id or item.url or item.body or item.title is not None
    assert not problems, problems[:10]
    assert wellformed_with_entries > 400
    assert yielded > 500


@pytest.mark.parametrize(("relative", "count", "check"), [
    ("google-alerts/google_alerts_atom.xml", 20, "alerts"),
    ("google-news/googlenews_search.rss.xml", None, "news"),
    ("google-news/googlenews_url.rss.xml", None, "news"),
    ("reddit/r_thinkpad_top.rss.xml", None, "reddit"),
    ("reddit/reddit_subreddit.atom.xml", None, "reddit"),
    ("hackernews/hnrss_newest_2024-03-11.rss.xml", 20, None),
    ("mastodon/mastodon_tag.rss.xml", 4, "notitle"),
    ("lemmy/lemmy_community.rss.xml", None, None),
    ("lemmy/lemmy_user.rss.xml", None, None),
    ("misc-feeds/youtube_atom.xml", 15, None),
    ("misc-feeds/json_feed.json", 20, "json"),
    ("misc-feeds/HuffPostCanada.xml", None, None),
    ("misc-feeds/InvalidDateFormat.xml", None, None),
])
def test_real_feeds(relative: str, count: int | None, check: str | None) -> None:
    path: Path = require_corpus(*relative.split("/"))
    items = parse_feed(path.read_bytes(), "real", f"https://example.org/{path.name}")
    assert items, relative
    if count is not None:
        assert len(items) == count
    assert all(item.external_id for item in items)
    assert len({item.external_id for item in items}) == len(items)
    if check == "alerts":
        # Google's redirect links are unwrapped and <b> highlights gone from titles.
        assert not any("google.com/url" in (item.url or "") for item in items)
        assert items[0].url and items[0].url.startswith("https://www.aglobalmarketresearch.com/")
        assert not any("<b>" in (item.title or "") for item in items)
        assert "Slack" in (items[0].title or "")
    if check == "notitle":
        assert all(item.title is None and item.body for item in items)
    if check == "json":
        assert items[0].title == "James Dempsey and the Breakpoints Benefit App Camp for Girls"
        assert items[0].language == "en-US"
    if check in ("news", "reddit"):
        assert all(item.published is not None for item in items)
    for item in items:
        assert "<p>" not in item.body and "<a " not in item.body


def test_fast_path_answers_exactly_what_feedparser_would() -> None:
    """Where the lxml fast path accepts a feed, its mentions equal feedparser's."""
    from spiders import feeds
    from spiders.fastfeed import parse_fast

    root = require_corpus()
    answered = 0
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        body = path.read_bytes()
        headers = _headers(body)
        fast = parse_fast(body.lstrip(b"\xef\xbb\xbf \t\r\n"), "c",
                          headers.get("content-type", ""))
        if fast is None:
            continue
        answered += 1
        original = feeds.parse_fast
        feeds.parse_fast = lambda *args: None  # type: ignore[assignment]
        try:
            slow = feeds.parse_feed(body, "c", "http://127.0.0.1/", headers)
        finally:
            feeds.parse_fast = original
        assert fast == slow, path
    assert answered >= 5
