"""schema.org reviews embedded in any web page (JSON-LD, microdata, RDFa).

Configure a source with ``spider = "jsonld"`` and the ``url`` of a page that
carries schema.org markup: a product page, a shop's review page, a local
business page. Optional ``params.brand_accounts``: names the company answers
under (case-insensitive).

Extracted: every ``Review`` (and its schema.org subtypes ``UserReview``,
``CriticReview``, ``EmployerReview``, ``ClaimReview``, ``MediaReview``,
``Recommendation``), top-level or nested in the ``review`` property of a
``Product``, ``LocalBusiness``, ``Organization``, ``Book``... or in an
``@graph``. One ``MentionItem`` per review: ``author`` (name), ``reviewBody``
(else ``text``/``description``) as body, ``name``/``headline`` as title,
``reviewRating.ratingValue`` as rating over ``bestRating`` (default 5; a rating
above 5 without ``bestRating`` is read as out of 10, or 100 above 10),
``datePublished``/``dateModified``, ``inLanguage`` (else the body's
``@language``, else the page's ``<html lang>``). External id: the review's
``url`` or ``@id`` when it is unique on the page, else ``sha1:`` of
author + date + body (stable across crawls and across the three syntaxes).
A review's ``comment`` written by a brand account or by the reviewed item's
own name becomes a ``CompanyReply``.

``AggregateRating``: not a mention (it is a figure, not something anyone can
answer). It is copied into ``extra["aggregate_rating"]`` of each review of
the same item (rating, rating_max, rating_count, review_count), with the
item's name in ``extra["item_reviewed"]``. A page whose only schema.org
review data is an ``AggregateRating`` or a ``Rating`` yields 0 mentions
without error; a page with no Review, AggregateRating or Rating at all is a
``LayoutError`` ("no schema.org Review data on page").

Broken JSON-LD is common: each ``<script type="application/ld+json">`` block
is read on its own with extruct's parser (which already forgives leading
HTML/JS comment lines and raw newlines in strings); a block it rejects is
cleaned leniently (``//``, ``/* */``, ``<!-- -->`` and CDATA markers outside
strings removed, raw control characters escaped or blanked, trailing commas
dropped, several concatenated objects split) and parsed again; only a block
that still fails is skipped (named in the LayoutError if nothing else was found).

Paging: a ``<link rel="next">`` (or ``<a rel="next">``) on a page that held
reviews is followed while new reviews keep appearing (``should_follow``).

Limits: only reviews the page server-renders into markup are seen; reviews
loaded later by JavaScript, behind a login or a "show more" API are not.
Sites rate-limit and many forbid automated access in their terms: the user
is responsible for checking the site's terms and keeping the interval polite.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin

import extruct
from extruct.jsonld import JsonLdExtractor
from extruct.utils import parse_xmldom_html
from scrapy.http import Response, TextResponse

from spiders.base import MonitorSpider
from spiders.items import CompanyReply, LayoutError, MentionItem, to_utc
from spiders.text import html_to_text, normalise_space, parse_iso_datetime

REVIEW_TYPES = frozenset({
    "Review", "UserReview", "CriticReview", "EmployerReview", "ClaimReview", "MediaReview",
    "Recommendation",
})
_SCHEMA_PREFIXES = ("https://schema.org/", "http://schema.org/", "schema:")
_NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)?")
_JSONLD_XPATH = "//script[@type='application/ld+json']"


# -- the spider -------------------------------------------------------------------


class JsonLdSpider(MonitorSpider):
    name = "jsonld"

    def start_urls_for_source(self) -> list[str]:
        url = self.url or self.params.get("url")
        if not url:
            raise LayoutError("jsonld source needs a url")
        return [str(url)]

    def parse_response(self, response: Response) -> Iterable[Any]:
        page = int(response.meta.get("page", 1))
        result = extract_reviews(
            _response_html(response), response.url, self.source_id,
            brand_accounts=self.params.get("brand_accounts") or (),
        )
        if not result.found_review_data:
            reason = "no schema.org Review data on page"
            if result.broken_blocks:
                reason += f" ({len(result.broken_blocks)} unreadable JSON-LD block(s): "
                reason += result.broken_blocks[0] + ")"
            raise LayoutError(reason, response.url)
        yield from result.items
        if result.next_url and self.should_follow(result.items, page):
            yield self.page_request(result.next_url, page=page + 1)


def _response_html(response: Response) -> bytes:
    if isinstance(response, TextResponse):
        return response.text.encode("utf-8")
    return response.body.decode("utf-8", "replace").encode("utf-8")


# -- extraction --------------------------------------------------------------------


@dataclass
class ExtractResult:
    items: list[MentionItem] = field(default_factory=list)
    # Any Review, AggregateRating or Rating seen (even one that gave no mention).
    found_review_data: bool = False
    # One-line reasons for JSON-LD blocks that no cleanup could read.
    broken_blocks: list[str] = field(default_factory=list)
    next_url: str | None = None


def extract_reviews(
    html: bytes, url: str, source_id: str, brand_accounts: Iterable[str] = ()
) -> ExtractResult:
    """Every schema.org review on an HTML page, as MentionItems."""
    result = ExtractResult()
    try:
        tree = parse_xmldom_html(html, encoding="UTF-8")
    except Exception as error:  # lxml raises several types on hopeless input
        raise LayoutError(f"unreadable HTML at {url}: {error}", url) from error
    if tree is None:
        return result
    page_language = tree.get("lang") or tree.get("{http://www.w3.org/XML/1998/namespace}lang")
    walker = _Walker(url, source_id, page_language, brand_accounts)

    blocks, result.broken_blocks = extract_jsonld_blocks(tree)
    graph = _IdIndex(blocks)
    for block in blocks:
        walker.walk(graph.resolve(block), "json-ld")

    syntaxes = ["microdata"]
    if tree.xpath("//*[@typeof]"):
        syntaxes.append("rdfa")
    extracted = extruct.extract(tree, base_url=url, syntaxes=syntaxes, uniform=True,
                                errors="log")
    for node in extracted.get("microdata", []):
        walker.walk(node, "microdata")
    start = len(walker.items)
    for node in rdfa_to_nodes(extracted.get("rdfa", [])):
        walker.walk(node, "rdfa")
    # RDFa comes back in graph order, which changes between runs: sort those.
    walker.items[start:] = sorted(walker.items[start:], key=_stable_order)

    result.items = walker.finish()
    result.found_review_data = walker.found_review_data
    result.next_url = _next_page(tree, url)
    return result


def _stable_order(item: MentionItem) -> tuple[str, str, str, str]:
    published = item.published.isoformat() if item.published else ""
    return (published, item.author or "", item.title or "", item.body)


def _next_page(tree: Any, url: str) -> str | None:
    for href in tree.xpath("//link[@rel='next']/@href | //a[@rel='next']/@href"):
        target = urljoin(url, str(href).strip())
        if target.startswith(("http://", "https://")) and target != url:
            return target
    return None


# -- JSON-LD blocks ----------------------------------------------------------------


def extract_jsonld_blocks(tree: Any) -> tuple[list[Any], list[str]]:
    """The top-level JSON-LD values of every block, and reasons for blocks none could read.

    extruct reads one block at a time here so that one broken block does not
    lose the others; what extruct rejects gets one lenient second chance.
    """
    values: list[Any] = []
    broken: list[str] = []
    extractor = JsonLdExtractor()
    for index, script in enumerate(tree.xpath(_JSONLD_XPATH), start=1):
        try:
            values.extend(extractor.extract_items(script))
            continue
        except ValueError:
            pass
        text = script.xpath("string()")
        try:
            values.extend(item for item in lenient_json_values(text) if item)
        except ValueError as error:
            broken.append(f"block {index}: {str(error).splitlines()[0]}")
    flat: list[Any] = []
    for value in values:
        if isinstance(value, list):
            flat.extend(value)
        else:
            flat.append(value)
    return [value for value in flat if isinstance(value, dict)], broken


def lenient_json_values(text: str) -> list[Any]:
    """JSON values from script text that browsers' JS would forgive but json rejects."""
    cleaned = _drop_trailing_commas(_strip_comments_and_controls(text))
    decoder = json.JSONDecoder(strict=False)
    values: list[Any] = []
    position = 0
    length = len(cleaned)
    while True:
        while position < length and (cleaned[position].isspace() or cleaned[position] == ";"):
            position += 1
        if position >= length:
            break
        value, position = decoder.raw_decode(cleaned, position)
        values.append(value)
    if not values:
        raise ValueError("empty JSON-LD block")
    return values


_CONTROL_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def _strip_comments_and_controls(text: str) -> str:
    out: list[str] = []
    index = 0
    length = len(text)
    in_string = False
    while index < length:
        char = text[index]
        if in_string:
            if char == "\\" and index + 1 < length:
                out.append(text[index:index + 2])
                index += 2
                continue
            if char == '"':
                in_string = False
                out.append(char)
            elif ord(char) < 32 or char in "\u2028\u2029":
                out.append(_CONTROL_ESCAPES.get(char, f"\\u{ord(char):04x}"))
            else:
                out.append(char)
            index += 1
            continue
        if char == '"':
            in_string = True
            out.append(char)
            index += 1
        elif text.startswith("//", index):
            end = text.find("\n", index)
            index = length if end < 0 else end
        elif text.startswith("/*", index):
            end = text.find("*/", index + 2)
            index = length if end < 0 else end + 2
        elif text.startswith("<!--", index):
            end = text.find("-->", index + 4)
            index = length if end < 0 else end + 3
        elif text.startswith("<![CDATA[", index):
            index += len("<![CDATA[")
        elif text.startswith(("]]>", "-->"), index):
            index += 3
        elif ord(char) < 32 or char in "\xa0\ufeff\u2028\u2029":
            out.append(" ")
            index += 1
        else:
            out.append(char)
            index += 1
    return "".join(out)


def _drop_trailing_commas(text: str) -> str:
    out: list[str] = []
    in_string = False
    index = 0
    length = len(text)
    while index < length:
        char = text[index]
        if in_string:
            out.append(char)
            if char == "\\" and index + 1 < length:
                out.append(text[index + 1])
                index += 2
                continue
            if char == '"':
                in_string = False
        elif char == '"':
            in_string = True
            out.append(char)
        elif char == ",":
            ahead = index + 1
            while ahead < length and text[ahead].isspace():
                ahead += 1
            if ahead >= length or text[ahead] not in "}]":
                out.append(char)
        else:
            out.append(char)
        index += 1
    return "".join(out)


class _IdIndex:
    """Resolves JSON-LD ``{"@id": ...}`` references to the node defined elsewhere on the page."""

    def __init__(self, blocks: list[Any]) -> None:
        self.nodes: dict[str, dict[str, Any]] = {}
        for block in blocks:
            self._index(block)

    def _index(self, value: Any) -> None:
        if isinstance(value, list):
            for inner in value:
                self._index(inner)
        elif isinstance(value, dict):
            node_id = value.get("@id")
            if isinstance(node_id, str) and len(value) > 1:
                self.nodes.setdefault(node_id, value)
            for inner in value.values():
                self._index(inner)

    def resolve(self, value: Any, path: frozenset[int] = frozenset()) -> Any:
        if isinstance(value, list):
            return [self.resolve(inner, path) for inner in value]
        if not isinstance(value, dict):
            return value
        if id(value) in path:
            return {key: inner for key, inner in value.items() if not isinstance(inner, dict | list)}
        node_id = value.get("@id")
        if len(value) == 1 and isinstance(node_id, str) and node_id in self.nodes:
            target = self.nodes[node_id]
            if id(target) in path:
                return value
            value = target
        inner_path = path | {id(value)}
        return {key: self.resolve(inner, inner_path) for key, inner in value.items()}


# -- RDFa ---------------------------------------------------------------------------


def rdfa_to_nodes(graph: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """extruct's expanded RDFa graph as nested schema.org dicts (like compact JSON-LD)."""
    by_id = {node["@id"]: node for node in graph if isinstance(node, dict) and "@id" in node}
    referenced: set[str] = set()
    for node in graph:
        for key, values in node.items():
            if key.startswith("@") or not isinstance(values, list):
                continue
            for value in values:
                if isinstance(value, dict) and value.get("@id") in by_id:
                    referenced.add(value["@id"])
    roots = [node for node in graph if isinstance(node, dict) and node.get("@id") not in referenced]
    return [_rdfa_node(node, by_id, frozenset()) for node in roots if node.get("@type")]


def _rdfa_node(node: dict[str, Any], by_id: dict[str, dict[str, Any]],
               path: frozenset[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    node_id = str(node.get("@id", ""))
    if node_id and not node_id.startswith("_:"):
        out["@id"] = node_id
    types = [_short_name(str(value)) for value in node.get("@type", [])]
    if types:
        out["@type"] = types if len(types) > 1 else types[0]
    inner_path = path | {node_id}
    for key, values in node.items():
        if key.startswith("@") or not key.startswith(_SCHEMA_PREFIXES):
            continue
        converted: list[Any] = []
        for value in values if isinstance(values, list) else [values]:
            if not isinstance(value, dict):
                converted.append(value)
            elif "@value" in value:
                text = " ".join(str(value["@value"]).split())
                if value.get("@language"):
                    converted.append({"@value": text, "@language": value["@language"]})
                else:
                    converted.append(text)
            elif "@id" in value:
                target = by_id.get(value["@id"])
                if target is not None and value["@id"] not in inner_path and len(target) > 1:
                    converted.append(_rdfa_node(target, by_id, inner_path))
                else:
                    converted.append(str(value["@id"]))
        out[_short_name(key)] = converted[0] if len(converted) == 1 else converted
    return out


# -- walking the nodes -------------------------------------------------------------


def _short_name(value: str) -> str:
    for prefix in _SCHEMA_PREFIXES:
        if value.startswith(prefix):
            return value[len(prefix):]
    return value.rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1]


def _types(node: Mapping[str, Any]) -> list[str]:
    raw = node.get("@type", node.get("type"))
    values = raw if isinstance(raw, list) else [raw] if raw else []
    return [_short_name(str(value)) for value in values]


def _is_review(node: Mapping[str, Any], via_review_property: bool) -> bool:
    types = _types(node)
    if any(kind in REVIEW_TYPES for kind in types):
        return True
    return via_review_property and not types


def _is_rating(node: Mapping[str, Any]) -> bool:
    return any(kind.endswith("Rating") for kind in _types(node))


@dataclass
class _Context:
    """What the enclosing node says about the reviews inside it."""

    item_name: str | None = None
    aggregate: dict[str, float | int] | None = None


class _Walker:
    def __init__(self, url: str, source_id: str, page_language: str | None,
                 brand_accounts: Iterable[str]) -> None:
        self.url = url
        self.source_id = source_id
        self.page_language = page_language
        self.brands = {name.strip().lower() for name in brand_accounts if name.strip()}
        self.items: list[MentionItem] = []
        self.found_review_data = False
        self._candidate_ids: list[str | None] = []

    def walk(self, node: Any, syntax: str, context: _Context | None = None,
             via_review_property: bool = False) -> None:
        if isinstance(node, list):
            for inner in node:
                self.walk(inner, syntax, context, via_review_property)
            return
        if not isinstance(node, dict):
            return
        context = context or _Context()
        if _is_review(node, via_review_property):
            self.found_review_data = True
            self._add_review(node, syntax, context)
            return
        if _is_rating(node):
            self.found_review_data = True
        inner_context = self._context_of(node) or context
        for key, value in node.items():
            if key in ("@context",):
                continue
            self.walk(value, syntax, inner_context, via_review_property=key in ("review", "reviews"))

    def _context_of(self, node: Mapping[str, Any]) -> _Context | None:
        if not any(key in node for key in ("review", "reviews", "aggregateRating")):
            return None
        return _Context(item_name=_text(node.get("name")) or None,
                        aggregate=_aggregate(node.get("aggregateRating")))

    def _add_review(self, node: Mapping[str, Any], syntax: str, context: _Context) -> None:
        collapse = syntax != "json-ld"
        reviewed = node.get("itemReviewed")
        item_name = context.item_name
        aggregate = context.aggregate
        if isinstance(reviewed, dict):
            item_name = _text(reviewed.get("name")) or item_name
            aggregate = _aggregate(reviewed.get("aggregateRating")) or aggregate
        elif isinstance(reviewed, str) and reviewed.strip():
            item_name = reviewed.strip()

        body_value = _first(node, "reviewBody", "text", "description")
        body = _clean(_text(body_value), collapse)
        title = _clean(_text(_first(node, "name", "headline")), collapse) or None
        author = _author(node.get("author")) or None
        date_text = _text(node.get("datePublished"))
        published = parse_schema_date(date_text)
        updated = parse_schema_date(_text(node.get("dateModified")))
        rating, rating_max, rating_extra = _rating(node.get("reviewRating"))
        language = (_text(node.get("inLanguage")) or _language_of(body_value)
                    or self.page_language or None)

        extra: dict[str, Any] = {"syntax": syntax}
        kinds = [kind for kind in _types(node) if kind in REVIEW_TYPES]
        if kinds and kinds[0] != "Review":
            extra["review_type"] = kinds[0]
        if item_name:
            extra["item_reviewed"] = item_name
        if aggregate:
            extra["aggregate_rating"] = aggregate
        extra.update(rating_extra)
        if date_text and published is None:
            extra["date_text"] = date_text
        for key, name in (("positiveNotes", "positive_notes"), ("negativeNotes", "negative_notes")):
            notes = _notes(node.get(key))
            if notes:
                extra[name] = notes
        claim = _text(node.get("claimReviewed"))
        if claim:
            extra["claim_reviewed"] = claim

        own_url = _absolute(_text(node.get("url")), self.url)
        node_id = node.get("@id")
        own_id = _absolute(node_id, self.url) if isinstance(node_id, str) else None
        if own_id and own_id.startswith("_:"):
            own_id = None
        candidate = own_url or own_id
        if candidate == self.url:
            candidate = None
        item = MentionItem(
            source_id=self.source_id,
            external_id=candidate,
            url=candidate if candidate and candidate.startswith("http") else self.url,
            author=author,
            title=title,
            body=body,
            rating=rating,
            rating_max=rating_max,
            published=published,
            updated=updated,
            language=language,
            company_replies=self._company_replies(node.get("comment"), item_name, collapse),
            extra=extra,
        )
        self.items.append(item)

    def _company_replies(self, comments: Any, item_name: str | None,
                         collapse: bool) -> list[CompanyReply]:
        replies: list[CompanyReply] = []
        names = set(self.brands)
        if item_name:
            names.add(item_name.lower())
        for comment in comments if isinstance(comments, list) else [comments]:
            if not isinstance(comment, dict):
                continue
            author = _author(comment.get("author"))
            if not author or author.lower() not in names:
                continue
            text = _clean(_text(_first(comment, "text", "reviewBody", "description")), collapse)
            if text:
                replies.append(CompanyReply(
                    text=text, author=author,
                    published=parse_schema_date(_text(comment.get("datePublished")))))
        return replies

    def finish(self) -> list[MentionItem]:
        """Give every review a unique, stable external id and drop duplicate sightings.

        A url/@id shared by reviews with different content (a site that puts the
        page URL on every review) is no identity: those reviews get the hash. The
        same review seen twice (in an ``@graph`` and under its product, or as
        JSON-LD and microdata) is kept once, the first time.
        """
        contents: dict[str, set[str]] = {}
        for item in self.items:
            if item.external_id:
                contents.setdefault(item.external_id, set()).add(
                    review_hash(item.author, item.published, item.body))
        seen: set[str] = set()
        kept: list[MentionItem] = []
        for item in self.items:
            if not item.external_id or len(contents[item.external_id]) > 1:
                item.external_id = review_hash(item.author, item.published, item.body)
            if item.external_id in seen:
                continue
            seen.add(item.external_id)
            kept.append(item)
        return kept


def review_hash(author: str | None, published: datetime | None, body: str) -> str:
    """A review's identity when the page gives none: author, day and text."""
    day = to_utc(published).date().isoformat() if published else ""
    text = " ".join(body.split())
    return "sha1:" + hashlib.sha1(f"{author or ''}\n{day}\n{text}".encode()).hexdigest()


# -- value helpers -----------------------------------------------------------------


def _first(node: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        value = node.get(key)
        if _text(value):
            return value
    return None


def _text(value: Any) -> str:
    """The text of a schema.org value: a string, an ``@value`` object, a name, a list's first."""
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        for inner in value:
            text = _text(inner)
            if text:
                return text
        return ""
    if isinstance(value, dict):
        for key in ("@value", "name", "value"):
            if key in value:
                return _text(value[key])
    return ""


def _language_of(value: Any) -> str | None:
    if isinstance(value, dict) and isinstance(value.get("@language"), str):
        return str(value["@language"])
    if isinstance(value, list):
        for inner in value:
            language = _language_of(inner)
            if language:
                return language
    return None


def _clean(text: str, collapse: bool) -> str:
    if collapse:
        return " ".join(text.split())
    if re.search(r"<[a-zA-Z/!]", text):
        return html_to_text(text)
    return normalise_space(html_to_text(text) if "&" in text else text)


def _author(value: Any) -> str:
    if isinstance(value, list):
        names = [_author(inner) for inner in value]
        return ", ".join(name for name in names if name)
    if isinstance(value, dict):
        return " ".join(_text(value.get("name") or value.get("alternateName")).split())
    return " ".join(_text(value).split())


def _absolute(value: str | None, base: str) -> str | None:
    if not value:
        return None
    if value.startswith("_:"):
        return value
    return urljoin(base, value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    match = _NUMBER.search(_text(value))
    if not match:
        return None
    return float(match.group(0).replace(",", "."))


def _rating(value: Any) -> tuple[float | None, float, dict[str, Any]]:
    """(rating, rating_max, extra facts) from a reviewRating value."""
    extra: dict[str, Any] = {}
    if isinstance(value, list):
        value = next((inner for inner in value if inner), None)
    if isinstance(value, dict):
        rating = _number(value.get("ratingValue"))
        best = _number(value.get("bestRating"))
        if rating is None and _text(value.get("ratingValue")):
            extra["rating_text"] = _text(value.get("ratingValue"))
        label = _text(value.get("alternateName"))
        if label:
            extra["rating_text"] = label
        aspect = _text(value.get("reviewAspect"))
        if aspect:
            extra["review_aspect"] = aspect
    else:
        rating = _number(value)
        best = None
    return rating, best if best else _guess_max(rating), extra


def _guess_max(rating: float | None) -> float:
    if rating is None or rating <= 5:
        return 5.0
    return 10.0 if rating <= 10 else 100.0


def _aggregate(value: Any) -> dict[str, float | int] | None:
    if isinstance(value, list):
        value = next((inner for inner in value if isinstance(inner, dict)), None)
    if not isinstance(value, dict):
        return None
    rating = _number(value.get("ratingValue"))
    out: dict[str, float | int] = {}
    if rating is not None:
        out["rating"] = rating
        out["rating_max"] = _number(value.get("bestRating")) or _guess_max(rating)
    for key, name in (("ratingCount", "rating_count"), ("reviewCount", "review_count")):
        count = _number(value.get(key))
        if count is not None:
            out[name] = int(count)
    return out or None


def _notes(value: Any) -> list[str]:
    if isinstance(value, dict):
        elements = value.get("itemListElement")
        value = elements if elements is not None else [value]
    if not isinstance(value, list):
        return [_text(value)] if _text(value) else []
    notes = []
    ordered = sorted(
        (inner for inner in value if isinstance(inner, dict | str)),
        key=lambda inner: _number(inner.get("position")) or 0 if isinstance(inner, dict) else 0,
    )
    for inner in ordered:
        text = _text(inner)
        if text:
            notes.append(text)
    return notes


def parse_schema_date(text: str | None) -> datetime | None:
    """An ISO 8601 date or date-time (what schema.org asks for), or an RFC 2822 date."""
    if not text:
        return None
    moment = parse_iso_datetime(text)
    if moment is not None:
        return moment
    try:
        return to_utc(parsedate_to_datetime(text))
    except (TypeError, ValueError, IndexError):
        return None

