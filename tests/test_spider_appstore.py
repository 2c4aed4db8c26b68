"""App Store spider: golden files, paging, and the real feeds in ../shared/corpus.

Golden cases: tests/data/spiders/appstore/<case>.<json|xml|html> beside <case>.jsonl
(see golden.py; ``UPDATE_GOLDEN=1`` rewrites them). The feed carries no developer
replies, so there is no "reply" case for this spider.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from conftest import require_corpus
from golden import Case, Golden, mentions, requests
from golden import parse as run
from scrapy.http import Request

from spiders.appstore import AppStoreSpider, feed_page_url
from spiders.items import LayoutError

APP = "1234567890"
FEED = "https://itunes.apple.com/{cc}/rss/customerreviews/page=1/id={app}/sortby=mostrecent/{form}"
US_JSON = FEED.format(cc="us", app=APP, form="json")

CASES = {
    "normal.json": Case(US_JSON),
    "normal_xml.xml": Case(FEED.format(cc="gb", app=APP, form="xml")),
    "empty.json": Case(US_JSON),
    "paginated.json": Case(US_JSON),
    "unicode.json": Case(FEED.format(cc="jp", app=APP, form="json")),
    "missing_optional.json": Case(US_JSON),
    "layout_changed.json": Case(US_JSON),
    "html_page.html": Case(US_JSON),
}
GOLDEN = Golden(AppStoreSpider, "appstore", CASES)
DATA = GOLDEN.data
test_golden, test_every_fixture_has_a_case = GOLDEN.tests()


def test_layout_change_is_one_readable_line() -> None:
    GOLDEN.layout_error("layout_changed.json", "appstore layout changed")
    GOLDEN.layout_error("html_page.html", "got an HTML page")
    with pytest.raises(LayoutError, match="without a 'feed' object"):
        run(AppStoreSpider(), b'{"results": []}', US_JSON)


# -- requests and paging ---------------------------------------------------------


def _start_urls(spider: AppStoreSpider) -> list[Request]:
    async def collect() -> list[Request]:
        return [request async for request in spider.start()]

    return asyncio.run(collect())


def test_start_requests_one_per_country() -> None:
    spider = AppStoreSpider(params={"app_id": APP, "countries": ["us", "GB", "jp"]})
    started = _start_urls(spider)
    assert [request.url for request in started] == [
        FEED.format(cc=cc, app=APP, form="json") for cc in ("us", "gb", "jp")]
    assert all(request.meta["page"] == 1 for request in started)
    assert [request.url for request in _start_urls(AppStoreSpider(params={"app_id": APP}))] == [
        US_JSON]
    with pytest.raises(LayoutError, match="app_id"):
        AppStoreSpider(params={}).start_urls_for_source()


def test_feed_page_url() -> None:
    assert feed_page_url(US_JSON, 3) == FEED.format(cc="us", app=APP, form="json").replace(
        "page=1", "page=3")
    assert feed_page_url(
        f"https://itunes.apple.com/de/rss/customerreviews/id={APP}/sortby=mostrecent/xml", 2
    ) == f"https://itunes.apple.com/de/rss/customerreviews/page=2/id={APP}/sortby=mostrecent/xml"


def test_paginated_feed_requests_page_two() -> None:
    out = run(AppStoreSpider(), (DATA / "paginated.json").read_bytes(), US_JSON)
    [request] = requests(out)
    assert request.url == US_JSON.replace("page=1", "page=2")
    assert request.meta["page"] == 2


def test_known_ids_stop_paging() -> None:
    body = (DATA / "paginated.json").read_bytes()
    page_one = {"10900000011", "10900000012"}
    assert requests(run(AppStoreSpider(known_ids=lambda ids: set(ids) & page_one),
                         body, US_JSON)) == []
    [request] = requests(run(AppStoreSpider(known_ids=lambda ids: set()), body, US_JSON))
    assert request.meta["page"] == 2


def test_paging_stops_at_last_page_and_apple_limit() -> None:
    body = (DATA / "paginated.json").read_bytes()  # its "last" link says page 4
    assert requests(run(AppStoreSpider(), body, feed_page_url(US_JSON, 4), page=4)) == []
    assert requests(run(AppStoreSpider(), (DATA / "normal.json").read_bytes(), US_JSON)) == []
    # Apple serves ten pages at most, whatever max_pages says
    unlimited = AppStoreSpider(max_pages=50)
    corpus_like = json.loads(body)
    for link in corpus_like["feed"]["link"]:
        link["attributes"]["href"] = link["attributes"]["href"].replace("page=4", "page=99")
    raw = json.dumps(corpus_like).encode()
    assert requests(run(unlimited, raw, feed_page_url(US_JSON, 10), page=10)) == []
    [request] = requests(run(unlimited, raw, feed_page_url(US_JSON, 9), page=9))
    assert request.meta["page"] == 10


def test_xml_feed_pages_too() -> None:
    url = FEED.format(cc="gb", app=APP, form="xml")
    [request] = requests(run(AppStoreSpider(), (DATA / "normal_xml.xml").read_bytes(), url))
    assert request.url == url.replace("page=1", "page=2")


def test_empty_feed_is_not_an_error() -> None:
    assert run(AppStoreSpider(), (DATA / "empty.json").read_bytes(), US_JSON) == []


# -- the real corpus -----------------------------------------------------------------


JP_URL = "https://itunes.apple.com/jp/rss/customerreviews/page=1/id=375380948/sortby=mostrecent/json"


@pytest.mark.corpus
def test_corpus_japanese_reviews() -> None:
    raw = require_corpus("appstore", "ios_review.json").read_bytes()
    entries = json.loads(raw)["feed"]["entry"]
    out = run(AppStoreSpider(source_id="ios"), raw, JP_URL)
    items = mentions(out)
    assert len(items) == 50 == len(entries) - 1  # the first entry is the app
    assert [item.external_id for item in items] == [e["id"]["label"] for e in entries[1:]]
    assert [item.rating for item in items] == [float(e["im:rating"]["label"]) for e in entries[1:]]
    first = items[0]
    assert (first.external_id, first.rating, first.author, first.title, first.body) == (
        "1205430410", 4.0, "m.aaa...", "あまり", "利便性がわかりずらい")
    assert first.extra == {"app_version": "3.3", "country": "jp", "app_id": "375380948",
                           "author_uri": "https://itunes.apple.com/jp/reviews/id451145371"}
    assert first.engagement == {"vote_sum": 0, "vote_count": 0}
    assert first.language is None
    last = items[-1]
    assert (last.external_id, last.rating, last.author) == ("1085809035", 5.0, "HayaAki")
    assert last.engagement == {"vote_sum": 1, "vote_count": 1}
    assert all(item.rating_max == 5.0 and item.body for item in items)
    # the feed says it has 8 pages: a live crawl goes on to page 2
    [request] = requests(out)
    assert request.url == JP_URL.replace("page=1", "page=2")


@pytest.mark.corpus
def test_corpus_empty_feed() -> None:
    raw = require_corpus("appstore", "ios_review_empty.json").read_bytes()
    assert run(AppStoreSpider(), raw, JP_URL) == []
