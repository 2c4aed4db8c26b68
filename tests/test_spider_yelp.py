"""Yelp spider: golden files, paging, and the real page in ../shared/corpus.

Golden cases: tests/data/spiders/yelp/<case>.<html|json> beside <case>.jsonl (see
golden.py; ``UPDATE_GOLDEN=1`` rewrites them).
"""

from __future__ import annotations

import pytest
from conftest import require_corpus
from golden import Case, Golden, mentions, requests
from golden import parse as run

from spiders.base import response_from_bytes
from spiders.items import BlockedError, LayoutError
from spiders.yelp import YelpSpider, first_page_url

BIZ_URL = "https://www.yelp.com/biz/example-bakery-springfield?sort_by=date_desc"

CASES = {
    "normal.html": Case(BIZ_URL),
    "empty.html": Case(BIZ_URL),
    "paginated.html": Case(BIZ_URL),
    "reply.html": Case(BIZ_URL),
    "removed.html": Case(BIZ_URL),
    "unicode.html": Case("https://www.yelp.de/biz/beispiel-baeckerei-muenchen?sort_by=date_desc"),
    "missing_optional.html": Case(BIZ_URL),
    "jsonld.html": Case("https://www.yelp.com/biz/example-bakery-springfield"),
    "review_feed.json": Case("https://www.yelp.com/biz/Xb4kEry000000000000001/review_feed"
                             "?rl=en&sort_by=date_desc&start=20"),
    "layout_changed.html": Case(BIZ_URL),
}
GOLDEN = Golden(YelpSpider, "yelp", CASES)
DATA = GOLDEN.data
test_golden, test_every_fixture_has_a_case = GOLDEN.tests()


def test_removed_reviews_are_flagged_not_errors() -> None:
    items = run(YelpSpider(), (DATA / "removed.html").read_bytes(), BIZ_URL)
    assert [(item.external_id, item.removed) for item in items] == [
        ("rVw0000000000000000031", True),
        ("rVw0000000000000000032", True),
        ("rVw0000000000000000033", False),
    ]
    assert items[0].rating is None


def test_layout_change_is_one_readable_line() -> None:
    GOLDEN.layout_error("layout_changed.html", "yelp layout changed")
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


def test_first_request_sorts_newest_first() -> None:
    assert YelpSpider(url="https://www.yelp.com/biz/example-bakery-springfield?start=40"
                      ).start_urls_for_source() == [BIZ_URL]
    assert first_page_url("https://www.yelp.com/biz/x?sort_by=rating_asc") == (
        "https://www.yelp.com/biz/x?sort_by=rating_asc")
    with pytest.raises(LayoutError):
        YelpSpider().start_urls_for_source()


def test_paginated_page_requests_next_offset() -> None:
    out = run(YelpSpider(), (DATA / "paginated.html").read_bytes(), BIZ_URL)
    [request] = requests(out)
    assert request.url == BIZ_URL + "&start=20"
    assert request.meta["page"] == 2


def test_known_ids_stop_paging() -> None:
    body = (DATA / "paginated.html").read_bytes()
    page_one = {"rVw0000000000000000011", "rVw0000000000000000012"}
    assert requests(run(YelpSpider(known_ids=lambda ids: set(ids) & page_one),
                         body, BIZ_URL)) == []
    [request] = requests(run(YelpSpider(known_ids=lambda ids: set()), body, BIZ_URL))
    assert request.meta["page"] == 2
    assert requests(run(YelpSpider(max_pages=1), body, BIZ_URL)) == []


def test_last_page_has_no_next_request() -> None:
    assert requests(run(YelpSpider(), (DATA / "normal.html").read_bytes(), BIZ_URL)) == []
    assert run(YelpSpider(), (DATA / "empty.html").read_bytes(), BIZ_URL) == []
    feed = CASES["review_feed.json"].url
    assert requests(run(YelpSpider(), (DATA / "review_feed.json").read_bytes(), feed, page=2)) == []


# -- the real corpus -----------------------------------------------------------------


CORPUS_URL = "https://www.yelp.com/biz/thanh-son-tofu-garden-grove-3"


@pytest.mark.corpus
def test_corpus_business_page() -> None:
    body = require_corpus("yelp", "business_page_alive.html").read_bytes()
    out = run(YelpSpider(source_id="yelp"), body, CORPUS_URL)
    items = mentions(out)
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
    [request] = requests(out)
    assert request.url == CORPUS_URL + "?start=20"
