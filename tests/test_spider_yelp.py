"""Yelp spider: golden files, paging, and the real page in ../shared/corpus.

Golden cases live in tests/data/spiders/yelp/<case>.<html|json> beside <case>.jsonl
(one ``MentionItem.to_json_dict()`` per line, or one ``{"error": ...}`` line for a
case that must fail). ``UPDATE_GOLDEN=1 pytest tests/test_spider_yelp.py`` rewrites
the .jsonl files; read the diff before committing it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from scrapy.http import Request

from spiders.base import response_from_bytes
from spiders.items import BlockedError, LayoutError, MentionItem, SpiderError
from spiders.yelp import YelpSpider, first_page_url

DATA = Path(__file__).parent / "data" / "spiders" / "yelp"
CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
BIZ_URL = "https://www.yelp.com/biz/example-bakery-springfield?sort_by=date_desc"

# case -> (fixture file, URL it was fetched from)
CASES = {
    "normal": ("normal.html", BIZ_URL),
    "empty": ("empty.html", BIZ_URL),
    "paginated": ("paginated.html", BIZ_URL),
    "reply": ("reply.html", BIZ_URL),
    "removed": ("removed.html", BIZ_URL),
    "unicode": ("unicode.html",
                "https://www.yelp.de/biz/beispiel-baeckerei-muenchen?sort_by=date_desc"),
    "missing_optional": ("missing_optional.html", BIZ_URL),
    "jsonld": ("jsonld.html", "https://www.yelp.com/biz/example-bakery-springfield"),
    "review_feed": ("review_feed.json",
                    "https://www.yelp.com/biz/Xb4kEry000000000000001/review_feed"
                    "?rl=en&sort_by=date_desc&start=20"),
    "layout_changed": ("layout_changed.html", BIZ_URL),
}


def run(spider: YelpSpider, body: bytes, url: str, page: int = 1) -> list[Any]:
    response = response_from_bytes(body, url)
    response.meta["page"] = page
    return list(spider.parse_response(response))


def golden_output(case: str) -> list[dict[str, Any]]:
    name, url = CASES[case]
    try:
        out = run(YelpSpider(source_id="golden"), (DATA / name).read_bytes(), url)
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


def test_removed_reviews_are_flagged_not_errors() -> None:
    items = run(YelpSpider(), (DATA / "removed.html").read_bytes(), BIZ_URL)
    assert [(item.external_id, item.removed) for item in items] == [
        ("rVw0000000000000000031", True),
        ("rVw0000000000000000032", True),
        ("rVw0000000000000000033", False),
    ]
    assert items[0].rating is None


def test_layout_change_is_one_readable_line() -> None:
    with pytest.raises(LayoutError, match="yelp layout changed") as caught:
        run(YelpSpider(), (DATA / "layout_changed.html").read_bytes(), BIZ_URL)
    assert "\n" not in caught.value.message
    with pytest.raises(LayoutError, match="no hypernova JSON and no JSON-LD reviews"):
        run(YelpSpider(), b"<html><head><title>Yelp</title></head><body></body></html>", BIZ_URL)


def test_captcha_is_blocked() -> None:
    body = b"<html><body><div id='px-captcha'></div>Please verify you are a human</body></html>"
    with pytest.raises(BlockedError):
        list(YelpSpider().parse(response_from_bytes(body, BIZ_URL)))
    # a big page that has lost its data but carries a captcha widget is blocked too
    big = b"<html><body>" + b"<p>filler</p>" * 5000 + b"<div id='px-captcha'></div></body></html>"
    with pytest.raises(BlockedError):
        run(YelpSpider(), big, BIZ_URL)


# -- requests and paging ---------------------------------------------------------


def _requests(out: list[Any]) -> list[Request]:
    return [entry for entry in out if isinstance(entry, Request)]


def test_first_request_sorts_newest_first() -> None:
    assert YelpSpider(url="https://www.yelp.com/biz/example-bakery-springfield?start=40"
                      ).start_urls_for_source() == [BIZ_URL]
    assert first_page_url("https://www.yelp.com/biz/x?sort_by=rating_asc") == (
        "https://www.yelp.com/biz/x?sort_by=rating_asc")
    with pytest.raises(LayoutError):
        YelpSpider().start_urls_for_source()


def test_paginated_page_requests_next_offset() -> None:
    out = run(YelpSpider(), (DATA / "paginated.html").read_bytes(), BIZ_URL)
    [request] = _requests(out)
    assert request.url == BIZ_URL + "&start=20"
    assert request.meta["page"] == 2


def test_known_ids_stop_paging() -> None:
    body = (DATA / "paginated.html").read_bytes()
    page_one = {"rVw0000000000000000011", "rVw0000000000000000012"}
    assert _requests(run(YelpSpider(known_ids=lambda ids: set(ids) & page_one),
                         body, BIZ_URL)) == []
    [request] = _requests(run(YelpSpider(known_ids=lambda ids: set()), body, BIZ_URL))
    assert request.meta["page"] == 2
    assert _requests(run(YelpSpider(max_pages=1), body, BIZ_URL)) == []


def test_last_page_has_no_next_request() -> None:
    assert _requests(run(YelpSpider(), (DATA / "normal.html").read_bytes(), BIZ_URL)) == []
    assert run(YelpSpider(), (DATA / "empty.html").read_bytes(), BIZ_URL) == []
    name, url = CASES["review_feed"]
    assert _requests(run(YelpSpider(), (DATA / name).read_bytes(), url, page=2)) == []


# -- the real corpus -----------------------------------------------------------------


def corpus_file(*parts: str) -> Path:
    path = CORPUS.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"corpus file {path} is missing and CI=true")
        pytest.skip(f"corpus not available at {path}")
    return path


CORPUS_URL = "https://www.yelp.com/biz/thanh-son-tofu-garden-grove-3"


@pytest.mark.corpus
def test_corpus_business_page() -> None:
    body = corpus_file("yelp", "business_page_alive.html").read_bytes()
    out = run(YelpSpider(source_id="yelp"), body, CORPUS_URL)
    items = [entry for entry in out if isinstance(entry, MentionItem)]
    assert len(items) == 20
    assert [item.rating for item in items] == [
        5.0, 5.0, 5.0, 5.0, 4.0, 5.0, 5.0, 3.0, 1.0, 5.0,
        3.0, 3.0, 5.0, 3.0, 2.0, 5.0, 5.0, 1.0, 1.0, 5.0]
    first = items[0]
    assert (first.external_id, first.author, first.language) == (
        "OcEneH8BXu1z8-fpFFyrAg", "Sandra L.", "en")
    assert first.published is not None
    assert first.published.isoformat() == "2020-12-09T00:00:00+00:00"
    assert first.engagement == {"funny": 20, "useful": 31, "cool": 35}
    # hypernova's escaping and the HTML inside the text are both undone
    assert first.body.startswith("Fresh tofu prepared in a variety of ways every day? Yes!\n\n")
    assert "I'm not a huge tofu person" in first.body
    assert "&" not in first.body and "<br" not in first.body
    assert first.url == CORPUS_URL + "?hrid=OcEneH8BXu1z8-fpFFyrAg"
    assert first.extra["business_name"] == "Thanh Son Tofu"
    assert first.extra["user_location"] == "Orange County, CA"
    second = items[1]
    assert second.author == "Jax L." and second.extra["previous_versions"] == 1
    assert not any(item.removed for item in items)
    assert not any(item.company_replies for item in items)  # no owner replies on this page
    assert all(item.published is not None for item in items)
    # 106 reviews in all, 20 a page: a live crawl asks for the next 20
    [request] = _requests(out)
    assert request.url == CORPUS_URL + "?start=20"
