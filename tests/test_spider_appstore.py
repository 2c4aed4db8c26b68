"""App Store spider: golden files, paging, and the real feeds in ../shared/corpus.

Golden cases live in tests/data/spiders/appstore/<case>.<json|xml|html> beside
<case>.jsonl (one ``MentionItem.to_json_dict()`` per line, or one ``{"error": ...}``
line for a case that must fail). ``UPDATE_GOLDEN=1 pytest tests/test_spider_appstore.py``
rewrites the .jsonl files; read the diff before committing it. The feed carries no
developer replies, so there is no "reply" case for this spider.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest
from scrapy.http import Request

from spiders.appstore import AppStoreSpider, feed_page_url
from spiders.base import response_from_bytes
from spiders.items import LayoutError, MentionItem, SpiderError

DATA = Path(__file__).parent / "data" / "spiders" / "appstore"
CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
APP = "1234567890"
FEED = "https://itunes.apple.com/{cc}/rss/customerreviews/page=1/id={app}/sortby=mostrecent/{form}"
US_JSON = FEED.format(cc="us", app=APP, form="json")

# case -> (fixture file, URL it was fetched from)
CASES = {
    "normal": ("normal.json", US_JSON),
    "normal_xml": ("normal_xml.xml", FEED.format(cc="gb", app=APP, form="xml")),
    "empty": ("empty.json", US_JSON),
    "paginated": ("paginated.json", US_JSON),
    "unicode": ("unicode.json", FEED.format(cc="jp", app=APP, form="json")),
    "missing_optional": ("missing_optional.json", US_JSON),
    "layout_changed": ("layout_changed.json", US_JSON),
    "html_page": ("html_page.html", US_JSON),
}


def run(spider: AppStoreSpider, body: bytes, url: str, page: int = 1) -> list[Any]:
    response = response_from_bytes(body, url)
    response.meta["page"] = page
    return list(spider.parse_response(response))


def golden_output(case: str) -> list[dict[str, Any]]:
    name, url = CASES[case]
    try:
        out = run(AppStoreSpider(source_id="golden"), (DATA / name).read_bytes(), url)
    except SpiderError as error:
        return [{"error": type(error).__name__, "message": error.message}]
    return [item.to_json_dict() for item in out if isinstance(item, MentionItem)]


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case: str) -> None:
    actual = golden_output(case)
    expected_path = DATA / f"{case}.jsonl"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        expected_path.write_text(
            "".join(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n"
                    for line in actual), encoding="utf-8")
    expected = [json.loads(line) for line in
                expected_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert actual == expected


def test_every_fixture_has_a_case() -> None:
    fixtures = {path.name for path in DATA.iterdir() if path.suffix != ".jsonl"}
    assert fixtures == {name for name, _url in CASES.values()}


def test_layout_change_is_one_readable_line() -> None:
    with pytest.raises(LayoutError, match="appstore layout changed") as caught:
        run(AppStoreSpider(), (DATA / "layout_changed.json").read_bytes(), US_JSON)
    assert "\n" not in caught.value.message
    with pytest.raises(LayoutError, match="got an HTML page"):
        run(AppStoreSpider(), (DATA / "html_page.html").read_bytes(), US_JSON)
    with pytest.raises(LayoutError, match="without a 'feed' object"):
        run(AppStoreSpider(), b'{"results": []}', US_JSON)


# -- requests and paging ---------------------------------------------------------


def _start_urls(spider: AppStoreSpider) -> list[Request]:
    async def collect() -> list[Request]:
        return [request async for request in spider.start()]

    return asyncio.run(collect())


def test_start_requests_one_per_country() -> None:
    spider = AppStoreSpider(params={"app_id": APP, "countries": ["us", "GB", "jp"]})
    requests = _start_urls(spider)
    assert [request.url for request in requests] == [
        FEED.format(cc=cc, app=APP, form="json") for cc in ("us", "gb", "jp")]
    assert all(request.meta["page"] == 1 for request in requests)
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


def _requests(out: list[Any]) -> list[Request]:
    return [entry for entry in out if isinstance(entry, Request)]


def test_paginated_feed_requests_page_two() -> None:
    out = run(AppStoreSpider(), (DATA / "paginated.json").read_bytes(), US_JSON)
    [request] = _requests(out)
    assert request.url == US_JSON.replace("page=1", "page=2")
    assert request.meta["page"] == 2


def test_known_ids_stop_paging() -> None:
    body = (DATA / "paginated.json").read_bytes()
    page_one = {"10900000011", "10900000012"}
    assert _requests(run(AppStoreSpider(known_ids=lambda ids: set(ids) & page_one),
                         body, US_JSON)) == []
    [request] = _requests(run(AppStoreSpider(known_ids=lambda ids: set()), body, US_JSON))
    assert request.meta["page"] == 2


def test_paging_stops_at_last_page_and_apple_limit() -> None:
    body = (DATA / "paginated.json").read_bytes()  # its "last" link says page 4
    assert _requests(run(AppStoreSpider(), body, feed_page_url(US_JSON, 4), page=4)) == []
    assert _requests(run(AppStoreSpider(), (DATA / "normal.json").read_bytes(), US_JSON)) == []
    # Apple serves ten pages at most, whatever max_pages says
    unlimited = AppStoreSpider(max_pages=50)
    corpus_like = json.loads(body)
    for link in corpus_like["feed"]["link"]:
        link["attributes"]["href"] = link["attributes"]["href"].replace("page=4", "page=99")
    raw = json.dumps(corpus_like).encode()
    assert _requests(run(unlimited, raw, feed_page_url(US_JSON, 10), page=10)) == []
    [request] = _requests(run(unlimited, raw, feed_page_url(US_JSON, 9), page=9))
    assert request.meta["page"] == 10


def test_xml_feed_pages_too() -> None:
    url = FEED.format(cc="gb", app=APP, form="xml")
    [request] = _requests(run(AppStoreSpider(), (DATA / "normal_xml.xml").read_bytes(), url))
    assert request.url == url.replace("page=1", "page=2")


def test_empty_feed_is_not_an_error() -> None:
    assert run(AppStoreSpider(), (DATA / "empty.json").read_bytes(), US_JSON) == []


# -- the real corpus -----------------------------------------------------------------


def corpus_file(*parts: str) -> Path:
    path = CORPUS.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"corpus file {path} is missing and CI=true")
        pytest.skip(f"corpus not available at {path}")
    return path


JP_URL = "https://itunes.apple.com/jp/rss/customerreviews/page=1/id=375380948/sortby=mostrecent/json"


@pytest.mark.corpus
def test_corpus_japanese_reviews() -> None:
    raw = corpus_file("appstore", "ios_review.json").read_bytes()
    entries = json.loads(raw)["feed"]["entry"]
    out = run(AppStoreSpider(source_id="ios"), raw, JP_URL)
    items = [entry for entry in out if isinstance(entry, MentionItem)]
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
    [request] = _requests(out)
    assert request.url == JP_URL.replace("page=1", "page=2")


@pytest.mark.corpus
def test_corpus_empty_feed() -> None:
    raw = corpus_file("appstore", "ios_review_empty.json").read_bytes()
    assert run(AppStoreSpider(), raw, JP_URL) == []
