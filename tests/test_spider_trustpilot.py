"""Trustpilot spider: golden files, paging, and the real pages in ../shared/corpus.

Golden cases live in tests/data/spiders/trustpilot/<case>.html beside <case>.jsonl
(one ``MentionItem.to_json_dict()`` per line, or one ``{"error": ...}`` line for a case
that must fail). ``UPDATE_GOLDEN=1 pytest tests/test_spider_trustpilot.py`` rewrites
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
from spiders.trustpilot import TrustpilotSpider, first_page_url, page_url

DATA = Path(__file__).parent / "data" / "spiders" / "trustpilot"
CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
PAGE_URL = "https://www.trustpilot.com/review/example-shop.test?sort=recency"
HTML = {"Content-Type": "text/html; charset=utf-8"}

# case -> the URL the page was fetched from
CASES = {
    "normal": PAGE_URL,
    "empty": PAGE_URL,
    "paginated": PAGE_URL,
    "reply": PAGE_URL,
    "unicode": "https://de.trustpilot.com/review/beispiel-laeden.test?sort=recency",
    "missing_optional": PAGE_URL,
    "layout_changed": PAGE_URL,
    "no_next_data": PAGE_URL,
}


def run(spider: TrustpilotSpider, body: bytes, url: str, page: int = 1) -> list[Any]:
    response = response_from_bytes(body, url, HTML)
    response.meta["page"] = page
    return list(spider.parse_response(response))


def golden_output(case: str) -> list[dict[str, Any]]:
    body = (DATA / f"{case}.html").read_bytes()
    try:
        out = run(TrustpilotSpider(source_id="golden"), body, CASES[case])
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
    assert {path.stem for path in DATA.glob("*.html")} == set(CASES)


def test_layout_change_is_one_readable_line() -> None:
    with pytest.raises(LayoutError, match="layout changed") as caught:
        run(TrustpilotSpider(), (DATA / "layout_changed.html").read_bytes(), PAGE_URL)
    assert "\n" not in caught.value.message
    assert caught.value.reason == "parse"


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


def _requests(out: list[Any]) -> list[Request]:
    return [entry for entry in out if isinstance(entry, Request)]


def test_paginated_page_requests_page_two() -> None:
    out = run(TrustpilotSpider(), (DATA / "paginated.html").read_bytes(), PAGE_URL)
    [request] = _requests(out)
    assert request.url == (
        "https://www.trustpilot.com/review/example-shop.test?sort=recency&page=2")
    assert request.meta["page"] == 2
    assert request.callback is not None


def test_known_ids_stop_paging() -> None:
    body = (DATA / "paginated.html").read_bytes()
    page_one_ids = {"6a0000000000000000000011", "6a0000000000000000000012"}

    def knows_all(ids: list[str]) -> set[str]:
        return set(ids) & page_one_ids

    assert _requests(run(TrustpilotSpider(known_ids=knows_all), body, PAGE_URL)) == []
    [request] = _requests(run(TrustpilotSpider(known_ids=lambda ids: set()), body, PAGE_URL))
    assert request.meta["page"] == 2


def test_paging_stops_at_last_page_and_max_pages() -> None:
    body = (DATA / "paginated.html").read_bytes()  # says totalPages = 3
    assert _requests(run(TrustpilotSpider(), body, page_url(PAGE_URL, 3), page=3)) == []
    assert _requests(run(TrustpilotSpider(max_pages=1), body, PAGE_URL)) == []
    [request] = _requests(run(TrustpilotSpider(), body, page_url(PAGE_URL, 2), page=2))
    assert request.url.endswith("page=3")


def test_single_page_has_no_next_request() -> None:
    assert _requests(run(TrustpilotSpider(), (DATA / "normal.html").read_bytes(), PAGE_URL)) == []
    assert run(TrustpilotSpider(), (DATA / "empty.html").read_bytes(), PAGE_URL) == []


# -- the real corpus -----------------------------------------------------------------


def corpus_file(*parts: str) -> Path:
    path = CORPUS.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"corpus file {path} is missing and CI=true")
        pytest.skip(f"corpus not available at {path}")
    return path


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
    companies = json.loads(corpus_file("trustpilot", "companies.json").read_text("utf-8"))
    assert len(companies) == 3
    for company in companies:
        reviews = company["reviews"]
        out = run(TrustpilotSpider(source_id="tp"), trustpilot_page(company), company["pageUrl"])
        items = [entry for entry in out if isinstance(entry, MentionItem)]
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
        [request] = _requests(out)
        assert request.url == company["pageUrl"] + "?sort=recency&page=2"


@pytest.mark.corpus
def test_corpus_concrete_values() -> None:
    companies = json.loads(corpus_file("trustpilot", "companies.json").read_text("utf-8"))
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
    items = [entry for entry in run(TrustpilotSpider(), trustpilot_page(flashbay),
                                    flashbay["pageUrl"]) if isinstance(entry, MentionItem)]
    replied = [item for item in items if item.company_replies]
    assert len(replied) == 19
    assert any(item.company_replies[0].text.startswith("Hello Briana,") for item in replied)
