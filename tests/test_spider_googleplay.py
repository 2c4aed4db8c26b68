"""Google Play spider: golden files, paging, and the real files in ../shared/corpus.

Golden cases: tests/data/spiders/googleplay/<case>.<html|txt|csv> beside <case>.jsonl
(see golden.py; ``UPDATE_GOLDEN=1`` rewrites them).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import parse_qs

import pytest
from conftest import require_corpus
from golden import Case, Golden, mentions, requests
from golden import parse as run
from scrapy.http import Request

from spiders.googleplay import GooglePlaySpider, batchexecute_payload
from spiders.items import BlockedError, LayoutError

PACKAGE = "test.example.shop"
DETAILS = f"https://play.google.com/store/apps/details?id={PACKAGE}&hl=en&gl=us"
BATCH = "https://play.google.com/_/PlayStoreUi/data/batchexecute?hl=en&gl=us"
EXPORT = f"https://storage.example.test/reviews/reviews_{PACKAGE}_202403.csv"

PLAY = {"package": PACKAGE}

CASES = {
    "app_page.html": Case(DETAILS, params=PLAY),
    "batchexecute_page.txt": Case(BATCH, params=PLAY),
    "batchexecute_unicode.txt": Case(
        "https://play.google.com/_/PlayStoreUi/data/batchexecute?hl=ja&gl=jp", params=PLAY),
    "batchexecute_empty.txt": Case(BATCH, params=PLAY),
    "batchexecute_missing_optional.txt": Case(BATCH, params=PLAY),
    "batchexecute_unknown_rpc.txt": Case(BATCH, params=PLAY),
    "export.csv": Case(EXPORT, params=PLAY),
    "export_empty.csv": Case(EXPORT, params=PLAY),
    "layout_changed.html": Case(DETAILS, params=PLAY),
}
GOLDEN = Golden(GooglePlaySpider, "googleplay", CASES)
DATA = GOLDEN.data
test_golden, test_every_fixture_has_a_case = GOLDEN.tests()


def spider(**kwargs: Any) -> GooglePlaySpider:
    kwargs.setdefault("params", dict(PLAY))
    return GooglePlaySpider(**kwargs)


def test_layout_changes_are_one_readable_line() -> None:
    for name in ("layout_changed.html", "batchexecute_unknown_rpc.txt"):
        GOLDEN.layout_error(name, "googleplay layout changed")
    with pytest.raises(LayoutError, match="no AF_initDataCallback"):
        run(spider(), b"<html><body><h1>Example Shop</h1></body></html>", DETAILS)
    with pytest.raises(LayoutError, match="missing column.*Star Rating"):
        run(spider(), "\ufeffPackage Name,Text\nx,y\n".encode("utf-16"), EXPORT)


def test_consent_wall_is_blocked() -> None:
    body = (b"<html><body><form action='https://consent.google.com/save'>"
            b"Before you continue to Google Play</form></body></html>")
    with pytest.raises(BlockedError):
        run(spider(), body, DETAILS)


def test_export_detected_by_content_too() -> None:
    body = (DATA / "export.csv").read_bytes()
    items = run(spider(), body, "https://files.example.test/download?id=7")
    assert [item.rating for item in items] == [1.0, 4.0, 5.0]


# -- requests and paging ---------------------------------------------------------


def _f_req(request: Request) -> Any:
    form = parse_qs(request.body.decode())
    outer = json.loads(form["f.req"][0])
    assert outer[0][0][0] == "UsvDTd"
    return json.loads(outer[0][0][1])


def test_first_request_is_the_review_endpoint_sorted_newest() -> None:
    async def collect(play: GooglePlaySpider) -> list[Request]:
        return [request async for request in play.start()]

    [request] = asyncio.run(collect(spider(params={"package": PACKAGE, "lang": "de",
                                                   "country": "at"})))
    assert request.method == "POST"
    assert request.url == "https://play.google.com/_/PlayStoreUi/data/batchexecute?hl=de&gl=at"
    assert _f_req(request) == [None, None, [2, 2, [40, None, None], None, [None, None]],
                               [PACKAGE, 7]]
    assert request.meta["page"] == 1 and request.meta["package"] == PACKAGE
    # a details URL is read for package, language and country
    [request] = asyncio.run(collect(GooglePlaySpider(url=DETAILS)))
    assert request.method == "POST" and request.url == BATCH
    # sort "relevant" starts at the app page itself
    [request] = asyncio.run(collect(spider(params={"package": PACKAGE, "sort": "relevant"})))
    assert request.method == "GET" and request.url == DETAILS
    # an export is fetched as it is
    [request] = asyncio.run(collect(GooglePlaySpider(url=EXPORT)))
    assert request.method == "GET" and request.url == EXPORT


def test_app_page_token_leads_to_page_two() -> None:
    out = run(spider(), (DATA / "app_page.html").read_bytes(), DETAILS)
    [request] = requests(out)
    assert request.method == "POST" and request.url == BATCH
    assert request.meta["page"] == 2
    # the page's reviews are Play's "most relevant" order; its token continues that order
    assert _f_req(request) == [None, None,
                               [2, 1, [40, None, "Cq0BCqoBQVB0ZXN0dG9rZW4tcGFnZS0y"], None,
                                [None, None]], [PACKAGE, 7]]


def test_batchexecute_token_leads_to_next_page() -> None:
    out = run(spider(), (DATA / "batchexecute_page.txt").read_bytes(), BATCH, page=2, sort=2)
    [request] = requests(out)
    assert request.meta["page"] == 3
    assert _f_req(request)[2] == [2, 2, [40, None, "Cq0BCqoBQVB0ZXN0dG9rZW4tcGFnZS0z"], None,
                                  [None, None]]


def test_last_page_and_empty_have_no_next_request() -> None:
    assert requests(run(spider(), (DATA / "batchexecute_unicode.txt").read_bytes(), BATCH)) == []
    assert run(spider(), (DATA / "batchexecute_empty.txt").read_bytes(), BATCH) == []
    assert run(spider(), (DATA / "export_empty.csv").read_bytes(), EXPORT) == []


def test_known_ids_stop_paging() -> None:
    body = (DATA / "batchexecute_page.txt").read_bytes()
    page_one = {"b7e1f3a2-0000-4000-8000-000000000011", "b7e1f3a2-0000-4000-8000-000000000012"}
    assert requests(run(spider(known_ids=lambda ids: set(ids) & page_one), body, BATCH)) == []
    [request] = requests(run(spider(known_ids=lambda ids: set()), body, BATCH))
    assert request.meta["page"] == 2
    assert requests(run(spider(max_pages=1), body, BATCH)) == []


def test_payload_round_trips() -> None:
    outer = json.loads(batchexecute_payload("a.b", 2, 10, "tok"))
    assert json.loads(outer[0][0][1]) == [None, None, [2, 2, [10, None, "tok"], None,
                                                       [None, None]], ["a.b", 7]]


# -- the real corpus -----------------------------------------------------------------


IGTV = "https://play.google.com/store/apps/details?id=com.instagram.igtv&hl=en"


@pytest.mark.corpus
def test_corpus_app_page() -> None:
    body = require_corpus("googleplay", "com.instagram.igtv.html").read_bytes()
    out = run(GooglePlaySpider(source_id="igtv"), body, IGTV)
    items = mentions(out)
    assert len(items) == 40
    first = items[0]
    assert first.external_id == ("gp:AOqpTOHpDiDVq6UwVU-FPMGnz3IrzBPdlZD_DOHXiqfAyucVpOgmcogx4"
                                 "LHNAnN7Ts1KxNnrPS6ZFoJS7bSEyA")
    assert (first.author, first.rating, first.engagement) == ("Cazzie", 1.0, {"thumbs_up": 16})
    assert first.body.startswith("I uploaded one video then a few days later")
    assert first.published is not None
    assert first.published.isoformat() == "2019-11-19T06:43:47+00:00"
    assert first.extra["app_version"] == "119.0.0.33.147"
    assert first.url == ("https://play.google.com/store/apps/details?id=com.instagram.igtv"
                         f"&reviewId={first.external_id}")
    # the same reviews, in the same order, as the page's own ds:23 blob holds them
    raw = body.decode("utf-8")
    start = raw.index("return ", raw.index("AF_initDataCallback({key: 'ds:23'")) + len("return ")
    blob, _end = json.JSONDecoder().raw_decode(raw, start)
    assert [(item.external_id, item.author, item.rating, item.body) for item in items] == [
        (review[0], review[1][0], float(review[2]), " ".join(review[4].split()))
        for review in blob[0]]
    assert [item.rating for item in items].count(1.0) == 31
    assert items[-1].author == "Jaime Crilly" and items[-1].rating == 2.0
    assert all(item.external_id and item.external_id.startswith("gp:") for item in items)
    assert all(not item.company_replies for item in items)  # none answered on this page
    [request] = requests(out)
    assert request.method == "POST" and _f_req(request)[2][2][2].startswith("CpUBCpIB")


@pytest.mark.corpus
def test_corpus_console_export() -> None:
    body = require_corpus("googleplay", "google_play_reviews.csv").read_bytes()
    assert body[:2] == b"\xff\xfe"
    items = run(GooglePlaySpider(source_id="console"), body,
                "file:///exports/google_play_reviews.csv")
    assert len(items) == 6
    assert [item.rating for item in items] == [1.0, 5.0, 1.0, 5.0, 5.0, 5.0]
    assert [item.language for item in items] == ["ja", "en", "ja", "en", "ja", "ja"]
    first = items[0]
    assert first.body == "This is review text"
    assert first.external_id and first.external_id.startswith("gp:AOqpTOEGnpoOldZT")
    assert first.published is not None
    assert first.published.isoformat() == "2015-11-01T04:43:59+00:00"
    assert [(reply.text, reply.published.isoformat() if reply.published else None)
            for reply in first.company_replies] == [
        ("this is our reply", "2015-11-02T09:21:06+00:00")]
    assert first.extra["device"] == "SOL22" and first.extra["package"] == "jp.mixi"
    assert sum(1 for item in items if item.company_replies) == 1
    assert (items[-1].title, items[-1].body) == ("Good", "Awsome App!")
