"""Google Play spider: golden files, paging, and the real files in ../shared/corpus.

Golden cases live in tests/data/spiders/googleplay/<case>.<html|txt|csv> beside
<case>.jsonl (one ``MentionItem.to_json_dict()`` per line, or one ``{"error": ...}``
line for a case that must fail). ``UPDATE_GOLDEN=1 pytest tests/test_spider_googleplay.py``
rewrites the .jsonl files; read the diff before committing it.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from scrapy.http import Request

from spiders.base import response_from_bytes
from spiders.googleplay import GooglePlaySpider, batchexecute_payload
from spiders.items import BlockedError, LayoutError, MentionItem, SpiderError

DATA = Path(__file__).parent / "data" / "spiders" / "googleplay"
CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
PACKAGE = "test.example.shop"
DETAILS = f"https://play.google.com/store/apps/details?id={PACKAGE}&hl=en&gl=us"
BATCH = "https://play.google.com/_/PlayStoreUi/data/batchexecute?hl=en&gl=us"
EXPORT = f"https://storage.example.test/reviews/reviews_{PACKAGE}_202403.csv"

# case -> (fixture file, URL it was fetched from)
CASES = {
    "app_page": ("app_page.html", DETAILS),
    "batchexecute_page": ("batchexecute_page.txt", BATCH),
    "batchexecute_unicode": ("batchexecute_unicode.txt",
                             "https://play.google.com/_/PlayStoreUi/data/batchexecute?hl=ja&gl=jp"),
    "batchexecute_empty": ("batchexecute_empty.txt", BATCH),
    "batchexecute_missing_optional": ("batchexecute_missing_optional.txt", BATCH),
    "batchexecute_unknown_rpc": ("batchexecute_unknown_rpc.txt", BATCH),
    "export": ("export.csv", EXPORT),
    "export_empty": ("export_empty.csv", EXPORT),
    "layout_changed": ("layout_changed.html", DETAILS),
}


def spider(**kwargs: Any) -> GooglePlaySpider:
    kwargs.setdefault("params", {"package": PACKAGE})
    return GooglePlaySpider(**kwargs)


def run(play: GooglePlaySpider, body: bytes, url: str, page: int = 1,
        **meta: Any) -> list[Any]:
    response = response_from_bytes(body, url)
    response.meta["page"] = page
    response.meta.update(meta)
    return list(play.parse_response(response))


def golden_output(case: str) -> list[dict[str, Any]]:
    name, url = CASES[case]
    try:
        out = run(spider(source_id="golden"), (DATA / name).read_bytes(), url)
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


def test_layout_changes_are_one_readable_line() -> None:
    for name, url in (("layout_changed.html", DETAILS),
                      ("batchexecute_unknown_rpc.txt", BATCH)):
        with pytest.raises(LayoutError, match="googleplay layout changed") as caught:
            run(spider(), (DATA / name).read_bytes(), url)
        assert "\n" not in caught.value.message
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


def _requests(out: list[Any]) -> list[Request]:
    return [entry for entry in out if isinstance(entry, Request)]


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
    [request] = _requests(out)
    assert request.method == "POST" and request.url == BATCH
    assert request.meta["page"] == 2
    # the page's reviews are Play's "most relevant" order; its token continues that order
    assert _f_req(request) == [None, None,
                               [2, 1, [40, None, "Cq0BCqoBQVB0ZXN0dG9rZW4tcGFnZS0y"], None,
                                [None, None]], [PACKAGE, 7]]


def test_batchexecute_token_leads_to_next_page() -> None:
    out = run(spider(), (DATA / "batchexecute_page.txt").read_bytes(), BATCH, page=2, sort=2)
    [request] = _requests(out)
    assert request.meta["page"] == 3
    assert _f_req(request)[2] == [2, 2, [40, None, "Cq0BCqoBQVB0ZXN0dG9rZW4tcGFnZS0z"], None,
                                  [None, None]]


def test_last_page_and_empty_have_no_next_request() -> None:
    assert _requests(run(spider(), (DATA / "batchexecute_unicode.txt").read_bytes(), BATCH)) == []
    assert run(spider(), (DATA / "batchexecute_empty.txt").read_bytes(), BATCH) == []
    assert run(spider(), (DATA / "export_empty.csv").read_bytes(), EXPORT) == []


def test_known_ids_stop_paging() -> None:
    body = (DATA / "batchexecute_page.txt").read_bytes()
    page_one = {"b7e1f3a2-0000-4000-8000-000000000011", "b7e1f3a2-0000-4000-8000-000000000012"}
    assert _requests(run(spider(known_ids=lambda ids: set(ids) & page_one), body, BATCH)) == []
    [request] = _requests(run(spider(known_ids=lambda ids: set()), body, BATCH))
    assert request.meta["page"] == 2
    assert _requests(run(spider(max_pages=1), body, BATCH)) == []


def test_payload_round_trips() -> None:
    outer = json.loads(batchexecute_payload("a.b", 2, 10, "tok"))
    assert json.loads(outer[0][0][1]) == [None, None, [2, 2, [10, None, "tok"], None,
                                                       [None, None]], ["a.b", 7]]


# -- the real corpus -----------------------------------------------------------------


def corpus_file(*parts: str) -> Path:
    path = CORPUS.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"corpus file {path} is missing and CI=true")
        pytest.skip(f"corpus not available at {path}")
    return path


IGTV = "https://play.google.com/store/apps/details?id=com.instagram.igtv&hl=en"


@pytest.mark.corpus
def test_corpus_app_page() -> None:
    body = corpus_file("googleplay", "com.instagram.igtv.html").read_bytes()
    out = run(GooglePlaySpider(source_id="igtv"), body, IGTV)
    items = [entry for entry in out if isinstance(entry, MentionItem)]
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
    [request] = _requests(out)
    assert request.method == "POST" and _f_req(request)[2][2][2].startswith("CpUBCpIB")


@pytest.mark.corpus
def test_corpus_console_export() -> None:
    body = corpus_file("googleplay", "google_play_reviews.csv").read_bytes()
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
