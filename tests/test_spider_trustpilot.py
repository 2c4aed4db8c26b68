"""Trustpilot spider: golden files, paging, and the real pages in ../shared/corpus.

Golden cases: tests/data/spiders/trustpilot/<case>.html beside <case>.jsonl (see
golden.py; ``UPDATE_GOLDEN=1`` rewrites them).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import require_corpus
from golden import Case, Golden, mentions, parse, requests

from spiders.base import MonitorSpider, response_from_bytes
from spiders.items import BlockedError
from spiders.trustpilot import TrustpilotSpider, first_page_url, page_url

PAGE_URL = "https://www.trustpilot.com/review/example-shop.test?sort=recency"
HTML = {"Content-Type": "text/html; charset=utf-8"}

CASES = {
    "normal.html": Case(PAGE_URL, headers=HTML),
    "empty.html": Case(PAGE_URL, headers=HTML),
    "paginated.html": Case(PAGE_URL, headers=HTML),
    "reply.html": Case(PAGE_URL, headers=HTML),
    "unicode.html": Case("https://de.trustpilot.com/review/beispiel-laeden.test?sort=recency",
                         headers=HTML),
    "missing_optional.html": Case(PAGE_URL, headers=HTML),
    "layout_changed.html": Case(PAGE_URL, headers=HTML),
    "no_next_data.html": Case(PAGE_URL, headers=HTML),
}
GOLDEN = Golden(TrustpilotSpider, "trustpilot", CASES)
DATA = GOLDEN.data
test_golden, test_every_fixture_has_a_case = GOLDEN.tests()


def run(spider: MonitorSpider, body: bytes, url: str, page: int = 1) -> list[Any]:
    """A page as Trustpilot serves it (text/html)."""
    return parse(spider, body, url, page=page, headers=HTML)


def test_layout_change_is_one_readable_line() -> None:
    error = GOLDEN.layout_error("layout_changed.html", "layout changed")
    assert error.reason == "parse"


def test_captcha_page_is_blocked() -> None:
    body = (b"<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>"
            b"<div id='challenge-platform'>Checking your browser</div></body></html>")
    response = response_from_bytes(body, PAGE_URL, HTML)
    with pytest.raises(BlockedError):
        list(TrustpilotSpider().parse(response))


# -- requests and paging ---------------------------------------------------------


def test_first_request_sorts_by_recency() -> None:
    spider = TrustpilotSpider(url="https://de.trustpilot.com/review/example-shop.test?page=4")
    assert spider.start_urls_for_source() == [
        "https://de.trustpilot.com/review/example-shop.test?sort=recency"]
    spider = TrustpilotSpider(params={"domain": "example-shop.test"})
    assert spider.start_urls_for_source() == [
        "https://www.trustpilot.com/review/example-shop.test?sort=recency"]
    assert first_page_url("https://www.trustpilot.com/review/x.test?languages=all") == (
        "https://www.trustpilot.com/review/x.test?languages=all&sort=recency")
    assert page_url(PAGE_URL, 3) == (
        "https://www.trustpilot.com/review/example-shop.test?sort=recency&page=3")


def test_paginated_page_requests_page_two() -> None:
    out = run(TrustpilotSpider(), (DATA / "paginated.html").read_bytes(), PAGE_URL)
    [request] = requests(out)
    assert request.url == (
        "https://www.trustpilot.com/review/example-shop.test?sort=recency&page=2")
    assert request.meta["page"] == 2
    assert request.callback is not None


def test_known_ids_stop_paging() -> None:
    body = (DATA / "paginated.html").read_bytes()
    page_one_ids = {"6a0000000000000000000011", "6a0000000000000000000012"}

    def knows_all(ids: list[str]) -> set[str]:
        return set(ids) & page_one_ids

    assert requests(run(TrustpilotSpider(known_ids=knows_all), body, PAGE_URL)) == []
    [request] = requests(run(TrustpilotSpider(known_ids=lambda ids: set()), body, PAGE_URL))
    assert request.meta["page"] == 2


def test_paging_stops_at_last_page_and_max_pages() -> None:
    body = (DATA / "paginated.html").read_bytes()  # says totalPages = 3
    assert requests(run(TrustpilotSpider(), body, page_url(PAGE_URL, 3), page=3)) == []
    assert requests(run(TrustpilotSpider(max_pages=1), body, PAGE_URL)) == []
    [request] = requests(run(TrustpilotSpider(), body, page_url(PAGE_URL, 2), page=2))
    assert request.url.endswith("page=3")


def test_single_page_has_no_next_request() -> None:
    assert requests(run(TrustpilotSpider(), (DATA / "normal.html").read_bytes(), PAGE_URL)) == []
    assert run(TrustpilotSpider(), (DATA / "empty.html").read_bytes(), PAGE_URL) == []


# -- the real corpus -----------------------------------------------------------------


def trustpilot_page(company: dict[str, Any]) -> bytes:
    """The company page the way Trustpilot serves it: the data in ``__NEXT_DATA__``."""
    data = {"props": {"pageProps": {"businessUnit": company["companyDetails"],
                                    "reviews": company["reviews"]}},
            "page": "/review/[businessUnitDisplayName]"}
    blob = json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")
    return (f'<!DOCTYPE html><html lang="en-US"><head><title>Reviews</title></head><body>'
            f'<div id="__next"></div><script id="__NEXT_DATA__" type="application/json">'
            f"{blob}</script></body></html>").encode()


@pytest.mark.corpus
def test_corpus_companies() -> None:
    companies = json.loads(require_corpus("trustpilot", "companies.json").read_text("utf-8"))
    assert len(companies) == 3
    for company in companies:
        reviews = company["reviews"]
        out = run(TrustpilotSpider(source_id="tp"), trustpilot_page(company), company["pageUrl"])
        items = mentions(out)
        assert len(items) == len(reviews) == 20
        assert [item.external_id for item in items] == [review["id"] for review in reviews]
        assert [item.rating for item in items] == [float(review["rating"]) for review in reviews]
        assert [item.author for item in items] == [
            review["consumer"]["displayName"] for review in reviews]
        assert [item.title for item in items] == [review["title"] for review in reviews]
        assert [len(item.company_replies) for item in items] == [
            1 if review.get("reply") else 0 for review in reviews]
        for item, review in zip(items, reviews, strict=True):
            assert item.url == f"https://www.trustpilot.com/reviews/{review['id']}"
            assert item.language == review["language"]
            assert item.published is not None and item.published.tzinfo is not None
            assert item.extra["consumer_country"] == review["consumer"]["countryCode"]
            assert item.extra["business_domain"] == company["companyDetails"]["identifyingName"]
            if review.get("reply"):
                reply = item.company_replies[0]
                assert reply.text.split() == review["reply"]["message"].split()
                assert reply.published is not None
                assert reply.author == company["companyDetails"]["displayName"]
        # a live crawl goes on to page 2 while the page held new reviews
        [request] = requests(out)
        assert request.url == company["pageUrl"] + "?sort=recency&page=2"


@pytest.mark.corpus
def test_corpus_concrete_values() -> None:
    companies = json.loads(require_corpus("trustpilot", "companies.json").read_text("utf-8"))
    by_url = {company["pageUrl"]: company for company in companies}
    bh = by_url["https://www.trustpilot.com/review/www.bhphotovideo.com"]
    first = run(TrustpilotSpider(), trustpilot_page(bh), bh["pageUrl"])[0]
    assert first.external_id == "6570e5ef49d048452ad722bd"
    assert first.author == "Katy-Lynn Winery videography services"
    assert first.rating == 5.0
    assert first.published.isoformat() == "2023-12-06T23:21:52+00:00"
    assert first.extra["verified"] is True
    assert first.extra["business_name"] == "B&H Photo-Video"
    assert first.extra["business_trust_score"] == 4.9

    flashbay = by_url["https://www.trustpilot.com/review/www.flashbay.com"]
    items = mentions(run(TrustpilotSpider(), trustpilot_page(flashbay), flashbay["pageUrl"]))
    replied = [item for item in items if item.company_replies]
    assert len(replied) == 19
    assert any(item.company_replies[0].text.startswith("Hello Briana,") for item in replied)
