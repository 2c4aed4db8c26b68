"""Google Play: reviews of one Android app from the public Play Store, or from a
Play Console review export.

Configure ``params.package`` (the app id, e.g. ``com.example.app``), ``params.lang``
(default ``"en"``; Play shows reviews written in this language) and ``params.country``
(default ``"us"``), or give ``url`` as the app page
``https://play.google.com/store/apps/details?id=PKG&hl=en&gl=us``. ``params.sort`` is
``"newest"`` (default) or ``"relevant"``; ``params.page_size`` (default 40) is how many
reviews one request asks for.

Three kinds of response are read:

* the app page: the reviews are in one of the page's ``AF_initDataCallback({key:
  'ds:N', ... data: ...})`` blobs; the spider finds the blob that holds lists shaped
  like reviews (review id, author, star rating, text, time, thumbs-up count, developer
  reply, app version) rather than trusting a fixed ``ds:`` key, which Google renumbers;
* the review endpoint the page itself calls, ``POST /_/PlayStoreUi/data/batchexecute``
  with rpc id ``UsvDTd`` (``oCPfdb`` responses have the same review lists and are read
  too). The response starts with ``)]}'`` and holds ``["wrb.fr", "UsvDTd", "<JSON>"]``
  whose JSON is ``[[review, ...], ..., [null, "<next page token>"]]``;
* a Play Console review export (``reviews_<package>_<YYYYMM>.csv``, UTF-16 with a BOM),
  recognised by a URL ending in ``.csv`` or by its content. It carries the reviewer's
  language, device, app version, title and the developer's reply.

How paging works: with ``sort = "newest"`` the first request is the review endpoint
itself (``f.req = [[["UsvDTd", "[null,null,[2,2,[COUNT,null,null],null,[null,null]],
[\\"PKG\\",7]]", null, "generic"]]]``, form-encoded, ``hl``/``gl`` in the query
string). Each response ends with ``[null, "<token>"]``; the next page is the same
POST with the token in place of the third ``null`` (``[COUNT,null,"<token>"]``) and the
same sort. No token means the last page. With ``sort = "relevant"`` the first request
is the app page (the reviews Play shows there, most relevant first) and its blob's
token continues in that order. A next page is fetched only while the current one held
reviews not yet stored, up to ``max_pages``.

Each review becomes one mention: review id, author name, star rating (of 5), text,
time (UTC), thumbs-up count (``engagement.thumbs_up``), app version and the
requested ``hl``/``gl`` in ``extra``; the developer's public reply is a
``CompanyReply``. The mention URL is the app page with ``&reviewId=<id>``. The store
does not give a review's language (only the export does).

Limits: Google publishes no API for other apps' reviews; this reads the same data the
web store loads, which Google changes without notice (reported as a layout change) and
rate-limits (too many requests end in a captcha, reported as blocked; keep intervals
long). A page with no reviews at all is reported as a layout change, since it cannot
be told apart from a moved blob. For your own app, the Play Developer API or the
Console export is the dependable source. You are responsible for complying with
Google Play's terms of service.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import AsyncIterator, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from scrapy.http import Request, Response

from spiders.base import MonitorSpider
from spiders.items import BlockedError, CompanyReply, LayoutError, MentionItem
from spiders.text import normalise_space, parse_iso_datetime

PLAY = "https://play.google.com"
DETAILS_URL = PLAY + "/store/apps/details?id={package}&hl={lang}&gl={country}"
BATCH_URL = PLAY + "/_/PlayStoreUi/data/batchexecute?hl={lang}&gl={country}"
REVIEW_RPC_IDS = ("UsvDTd", "oCPfdb")
SORTS = {"relevant": 1, "newest": 2, "rating": 3}
DEFAULT_PAGE_SIZE = 40

_BLOB_START = re.compile(r"AF_initDataCallback\(\s*\{\s*key:\s*'([^']*)'")
_DATA_START = re.compile(r"data:\s*(?:function\s*\(\s*\)\s*\{\s*return\s+)?")
_CHUNK_LENGTH = re.compile(r"\d+\s*\n")


class GooglePlaySpider(MonitorSpider):
    name = "googleplay"

    # -- configuration ------------------------------------------------------------

    def _setting(self, key: str, default: str) -> str:
        value = self.params.get(key)
        if value:
            return str(value)
        if self.url:
            query = parse_qs(urlsplit(self.url).query)
            url_key = {"package": "id", "lang": "hl", "country": "gl"}.get(key, key)
            if query.get(url_key):
                return query[url_key][0]
        return default

    def _sort(self) -> int:
        name = str(self.params.get("sort") or "newest").lower()
        if name not in SORTS:
            raise LayoutError(f"googleplay params.sort must be one of {sorted(SORTS)}, not {name!r}")
        return SORTS[name]

    def _page_size(self) -> int:
        return int(self.params.get("page_size") or DEFAULT_PAGE_SIZE)

    def start_urls_for_source(self) -> list[str]:
        if self.url:
            return [self.url]
        package = self._setting("package", "")
        if not package:
            raise LayoutError("googleplay source needs params.package or a url")
        return [DETAILS_URL.format(package=quote(package), lang=quote(self._setting("lang", "en")),
                                   country=quote(self._setting("country", "us")))]

    async def start(self) -> AsyncIterator[Any]:
        url = self.start_urls_for_source()[0]
        path = urlsplit(url).path
        package = self._setting("package", "")
        if path.endswith(".csv") or not package or self._sort() == SORTS["relevant"]:
            yield self.page_request(url, page=1, conditional=True)
            return
        yield self.reviews_request(package, token=None, page=1, sort=self._sort(),
                                   lang=self._setting("lang", "en"),
                                   country=self._setting("country", "us"))

    def reviews_request(self, package: str, token: str | None, page: int, sort: int,
                        lang: str, country: str) -> Request:
        """The POST to the review endpoint for one page (token None = first page)."""
        url = BATCH_URL.format(lang=quote(lang), country=quote(country))
        body = urlencode({"f.req": batchexecute_payload(package, sort, self._page_size(), token)})
        request = self.page_request(url, page=page, package=package, sort=sort)
        return request.replace(
            method="POST",
            body=body,
            headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"},
        )

    # -- responses ----------------------------------------------------------------

    def lists_everything(self, response: Response) -> bool:
        # The review endpoint in "newest" order; not the app page's or an export's order.
        return response.body.lstrip()[:4] == b")]}'" and \
            int(response.meta.get("sort") or self._sort()) == SORTS["newest"]

    def parse_response(self, response: Response) -> Iterator[Any]:
        page = int(response.meta.get("page", 1))
        query = parse_qs(urlsplit(response.url).query)
        lang = (query.get("hl") or [self._setting("lang", "en")])[0]
        country = (query.get("gl") or [self._setting("country", "us")])[0]
        package = str(response.meta.get("package") or (query.get("id") or [""])[0]
                      or self._setting("package", ""))
        body = response.body
        if is_review_export(body, response.url):
            yield from parse_review_export(body, self.source_id, response.url)
            return
        context = _Context(self.source_id, response.url, package, lang, country)
        if body.lstrip()[:4] == b")]}'":
            reviews, token = parse_batchexecute(body, response.url)
            sort = int(response.meta.get("sort") or self._sort())
        else:
            reviews, token = parse_app_page(body, response.url)
            sort = SORTS["relevant"]  # the page's own order; its token continues it
        items = [context.item(review) for review in reviews]
        yield from items
        if token and package and self.should_follow(items, page):
            yield self.reviews_request(package, token, page + 1, sort, lang, country)


def batchexecute_payload(package: str, sort: int, count: int, token: str | None) -> str:
    """The ``f.req`` form field asking for one page of reviews."""
    inner = [None, None, [2, sort, [count, None, token], None, [None, None]], [package, 7]]
    return json.dumps([[["UsvDTd", json.dumps(inner, separators=(",", ":")), None, "generic"]]],
                      separators=(",", ":"))


# -- review lists -----------------------------------------------------------------


def is_review(value: Any) -> bool:
    """A list shaped like one Play review: [id, [author, ...], stars, _, text, [secs, ns], ...]."""
    return (
        isinstance(value, list)
        and len(value) >= 6
        and isinstance(value[0], str)
        and bool(value[0])
        and (value[1] is None or isinstance(value[1], list))
        and isinstance(value[2], int)
        and not isinstance(value[2], bool)
        and 0 <= value[2] <= 5
        and (value[4] is None or isinstance(value[4], str))
        and isinstance(value[5], list)
        and bool(value[5])
        and isinstance(value[5][0], int)
    )


def find_reviews(data: Any, depth: int = 0) -> tuple[list[Any], list[Any] | None] | None:
    """The first list of review lists inside ``data``, with the list that holds it."""
    if not isinstance(data, list) or depth > 8:
        return None
    for child in data:
        if isinstance(child, list) and child and all(is_review(entry) for entry in child):
            return child, data
    for child in data:
        found = find_reviews(child, depth + 1)
        if found is not None:
            return found
    return None


def _token_after(container: list[Any] | None, reviews: list[Any]) -> str | None:
    """The next-page token: the last item of the container's last list ``[null, "token"]``."""
    if not container:
        return None
    last = container[-1]
    if last is reviews or not isinstance(last, list) or not last:
        return None
    token = last[-1]
    return token if isinstance(token, str) and token else None


def parse_app_page(body: bytes, url: str) -> tuple[list[Any], str | None]:
    """Review lists and next-page token from the app page's AF_initDataCallback blobs."""
    text = body.decode("utf-8", "replace")
    blobs = list(af_init_blobs(text))
    if not blobs:
        if "consent.google" in text or "/sorry/" in text:
            raise BlockedError(f"Google consent or captcha page at {url}", url)
        raise LayoutError(f"googleplay layout changed: no AF_initDataCallback data at {url}", url)
    best: tuple[list[Any], list[Any] | None] | None = None
    for _key, data in blobs:
        found = find_reviews(data)
        if found is not None and (best is None or len(found[0]) > len(best[0])):
            best = found
    if best is None:
        raise LayoutError(
            f"googleplay layout changed: no review lists in the page's AF_initDataCallback "
            f"data at {url} (or the app has no reviews)", url)
    return best[0], _token_after(best[1], best[0])


def af_init_blobs(text: str) -> Iterator[tuple[str, Any]]:
    """(key, data) of every ``AF_initDataCallback`` call whose data is JSON."""
    decoder = json.JSONDecoder()
    for match in _BLOB_START.finditer(text):
        data_at = _DATA_START.search(text, match.end(), match.end() + 400)
        if data_at is None:
            continue
        try:
            data, _end = decoder.raw_decode(text, data_at.end())
        except json.JSONDecodeError:
            continue
        yield match.group(1), data


def parse_batchexecute(body: bytes, url: str) -> tuple[list[Any], str | None]:
    """Review lists and next-page token from a batchexecute response (``)]}'`` prefix)."""
    text = body.decode("utf-8", "replace").lstrip()[4:]
    decoder = json.JSONDecoder()
    envelopes: list[Any] = []
    position = 0
    while position < len(text):
        while position < len(text) and text[position] in " \t\r\n":
            position += 1
        if position >= len(text):
            break
        length = _CHUNK_LENGTH.match(text, position)
        if length is not None:  # the "rt=c" form: a byte count line before each chunk
            position = length.end()
            continue
        try:
            value, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            raise LayoutError(
                f"googleplay layout changed: unreadable batchexecute response at {url} ({error})",
                url) from error
        envelopes.append(value)
    results = [
        entry for envelope in envelopes if isinstance(envelope, list)
        for entry in envelope
        if isinstance(entry, list) and len(entry) >= 3 and entry[0] == "wrb.fr"
        and entry[1] in REVIEW_RPC_IDS
    ]
    if not results:
        raise LayoutError(
            f"googleplay layout changed: no {'/'.join(REVIEW_RPC_IDS)} result in the "
            f"batchexecute response at {url}", url)
    payload = results[0][2]
    if payload is None:  # Play answers null for an app without reviews
        return [], None
    try:
        data = json.loads(payload)
    except (TypeError, json.JSONDecodeError) as error:
        raise LayoutError(
            f"googleplay layout changed: review payload is not JSON at {url}", url) from error
    if not isinstance(data, list) or not data or data[0] in (None, []):
        return [], None
    found = find_reviews(data)
    if found is None:
        raise LayoutError(
            f"googleplay layout changed: no review lists in the batchexecute payload at {url}",
            url)
    return found[0], _token_after(found[1], found[0])


class _Context:
    def __init__(self, source_id: str, url: str, package: str, lang: str, country: str) -> None:
        self.source_id = source_id
        self.url = url
        self.package = package
        self.lang = lang
        self.country = country

    def item(self, review: list[Any]) -> MentionItem:
        review_id = review[0]
        author = review[1][0] if isinstance(review[1], list) and review[1] else None
        extra: dict[str, Any] = {"hl": self.lang, "gl": self.country}
        version = _at(review, 10)
        if isinstance(version, str) and version:
            extra["app_version"] = version
        engagement: dict[str, int] = {}
        thumbs = _at(review, 6)
        if isinstance(thumbs, int) and not isinstance(thumbs, bool):
            engagement["thumbs_up"] = thumbs
        replies: list[CompanyReply] = []
        reply = _at(review, 7)
        if isinstance(reply, list) and len(reply) > 1 and isinstance(reply[1], str) and reply[1].strip():
            replies.append(CompanyReply(
                text=normalise_space(reply[1]),
                author=reply[0] if isinstance(reply[0], str) and reply[0] else None,
                published=_seconds(_at(reply, 2)),
            ))
        url = None
        if self.package:
            url = (f"{PLAY}/store/apps/details?id={quote(self.package)}"
                   f"&reviewId={quote(review_id, safe=':')}")
        return MentionItem(
            source_id=self.source_id,
            external_id=review_id,
            url=url,
            author=author.strip() if isinstance(author, str) and author.strip() else None,
            title=None,
            body=normalise_space(review[4] or ""),
            rating=float(review[2]),
            rating_max=5.0,
            published=_seconds(review[5]),
            language=None,
            engagement=engagement,
            company_replies=replies,
            extra=extra,
        )


def _at(values: list[Any], index: int) -> Any:
    return values[index] if len(values) > index else None


def _seconds(value: Any) -> datetime | None:
    """``[seconds, nanos]`` as an aware UTC datetime."""
    if isinstance(value, list) and value and isinstance(value[0], int):
        try:
            return datetime.fromtimestamp(value[0], UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return None


# -- Play Console review export ----------------------------------------------------

_REQUIRED_COLUMNS = ("Star Rating", "Review Text")


def is_review_export(body: bytes, url: str) -> bool:
    """A Play Console CSV export: by the URL's extension or by its first bytes."""
    if urlsplit(url).path.lower().endswith(".csv"):
        return True
    if body[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return True
    return _decode_export(body[:200]).lstrip("\ufeff").startswith("Package Name,")


def _decode_export(body: bytes) -> str:
    if body[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return body.decode("utf-16", "replace")
    if len(body) > 1 and body[1:2] == b"\x00":
        return body.decode("utf-16-le", "replace")
    return body.decode("utf-8-sig", "replace")


def parse_review_export(body: bytes, source_id: str, url: str) -> Iterator[MentionItem]:
    """Every row of a Play Console review export as a MentionItem."""
    reader = csv.DictReader(io.StringIO(_decode_export(body), newline=""))
    columns = [name.strip() for name in reader.fieldnames or []]
    missing = [name for name in _REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise LayoutError(
            f"googleplay export layout changed: missing column(s) {', '.join(missing)} in {url}",
            url)
    for row in reader:
        cells = {(key or "").strip(): (value or "").strip() for key, value in row.items()
                 if isinstance(value, str)}
        if not any(cells.values()):
            continue
        yield _export_row_to_item(cells, source_id, url)


def _export_row_to_item(cells: Mapping[str, str], source_id: str, url: str) -> MentionItem:
    rating_text = cells.get("Star Rating", "")
    try:
        rating = float(rating_text)
    except ValueError as error:
        raise LayoutError(
            f"googleplay export layout changed: Star Rating {rating_text!r} is not a number "
            f"in {url}", url) from error
    package = cells.get("Package Name", "")
    link = cells.get("Review Link", "")
    review_id = _review_id_from_link(link)
    if not review_id:
        seed = "\n".join([package, cells.get("Review Submit Millis Since Epoch", ""),
                          cells.get("Review Text", "")])
        review_id = "sha1:" + hashlib.sha1(seed.encode()).hexdigest()
    extra: dict[str, Any] = {}
    for column, key in (("Package Name", "package"), ("App Version Code", "app_version_code"),
                        ("App Version Name", "app_version"), ("Device", "device")):
        if cells.get(column):
            extra[key] = cells[column]
    if link:
        extra["console_url"] = link
    replies: list[CompanyReply] = []
    if cells.get("Developer Reply Text"):
        replies.append(CompanyReply(
            text=normalise_space(cells["Developer Reply Text"]),
            published=_export_time(cells, "Developer Reply"),
        ))
    public_url = None
    if package and not review_id.startswith("sha1:"):
        public_url = (f"{PLAY}/store/apps/details?id={quote(package)}"
                      f"&reviewId={quote(review_id, safe=':')}")
    return MentionItem(
        source_id=source_id,
        external_id=review_id,
        url=public_url,
        author=None,
        title=cells.get("Review Title") or None,
        body=normalise_space(cells.get("Review Text", "")),
        rating=rating,
        rating_max=5.0,
        published=_export_time(cells, "Review Submit"),
        updated=_export_time(cells, "Review Last Update"),
        language=cells.get("Reviewer Language") or None,
        company_replies=replies,
        extra=extra,
    )


def _review_id_from_link(link: str) -> str | None:
    if not link:
        return None
    parts = urlsplit(link)
    for section in (parts.query, parts.fragment.partition(":")[2], parts.fragment):
        values = parse_qs(section).get("reviewid") or parse_qs(section).get("reviewId")
        if values:
            return values[0]
    return None


def _export_time(cells: Mapping[str, str], prefix: str) -> datetime | None:
    moment = parse_iso_datetime(cells.get(f"{prefix} Date and Time"))
    millis = cells.get(f"{prefix} Millis Since Epoch", "")
    if moment is None and millis.isdigit():
        moment = parse_iso_datetime(int(millis) // 1000)
    return moment
