"""RSS 0.9x/1.0/2.0, Atom and JSON Feed reader.

feedparser does the XML formats (it is the field's most forgiving parser);
JSON Feed is plain JSON with a published spec, read here directly because
feedparser's released versions do not understand it. A "bozo" feed that still
has entries is read; a response that is not a feed at all is a LayoutError.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import feedparser
from scrapy.http import Response

from spiders.base import MonitorSpider
from spiders.fastfeed import parse_fast
from spiders.items import LayoutError, MentionItem
from spiders.text import (
    html_to_text,
    parse_iso_datetime,
    struct_time_to_datetime,
    unwrap_redirect,
)

# Engagement counts some feeds carry (slash:comments, thr:total).
_COUNT_KEYS = {"slash_comments": "comments", "thr_total": "comments"}


class FeedSpider(MonitorSpider):
    name = "feed"

    def parse_response(self, response: Response) -> Iterable[Any]:
        headers = {
            key.decode("latin-1").lower(): value[0].decode("latin-1")
            for key, value in response.headers.items()
            if value
        }
        return parse_feed(response.body, self.source_id, response.url, headers)


def parse_feed(
    body: bytes, source_id: str, url: str, headers: Mapping[str, str] | None = None
) -> list[MentionItem]:
    """Every entry of a feed document as a MentionItem; LayoutError if it is not a feed."""
    headers = dict(headers or {})
    stripped = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped:
        raise LayoutError(f"empty response from {url}", url)
    content_type = headers.get("content-type", "")
    if stripped[:1] == b"{" or "json" in content_type:
        return list(_parse_json_feed(stripped, source_id, url))
    fast = parse_fast(stripped, source_id, content_type)
    if fast is not None:
        return fast
    # feedparser needs the headers to resolve encodings (charset in Content-Type).
    parsed = feedparser.parse(body, response_headers=headers or None)
    entries = parsed.get("entries", [])
    if not parsed.get("version") and not entries:
        raise LayoutError(f"not a feed at {url}: {_not_a_feed_reason(parsed, stripped)}", url)
    if parsed.get("bozo") and not entries and not parsed.get("feed"):
        raise LayoutError(f"broken feed at {url}: {parsed.get('bozo_exception')}", url)
    feed_language = parsed.get("feed", {}).get("language")
    return [
        _entry_to_item(entry, source_id, url, feed_language)
        for entry in entries
    ]


def _not_a_feed_reason(parsed: Mapping[str, Any], body: bytes) -> str:
    head = body[:512].lower()
    if b"<html" in head or b"<!doctype html" in head:
        return "got an HTML page"
    error = parsed.get("bozo_exception")
    return str(error).splitlines()[0] if error else "no RSS, Atom or JSON Feed root element"


def _entry_to_item(
    entry: Mapping[str, Any], source_id: str, feed_url: str, feed_language: str | None
) -> MentionItem:
    link = unwrap_redirect(entry.get("link")) or None
    title = html_to_text(entry.get("title")) or None
    body = _entry_body(entry)
    external_id = entry.get("id") or entry.get("guid") or link
    engagement = {}
    for key, name in _COUNT_KEYS.items():
        value = entry.get(key)
        if value is not None and str(value).strip().isdigit():
            engagement[name] = int(str(value).strip())
    author = entry.get("author") or entry.get("author_detail", {}).get("name") or None
    if not external_id and not link:
        # No identity at all: the content is the identity.
        external_id = "sha1:" + hashlib.sha1(f"{title}\n{body}".encode()).hexdigest()
    return MentionItem(
        source_id=source_id,
        external_id=str(external_id) if external_id else None,
        url=link,
        author=html_to_text(author) or None,
        title=title,
        body=body,
        published=struct_time_to_datetime(entry.get("published_parsed"))
        or struct_time_to_datetime(entry.get("updated_parsed")),
        updated=struct_time_to_datetime(entry.get("updated_parsed")),
        language=entry.get("language") or feed_language or None,
        reply_to=(entry.get("thr_in-reply-to") or {}).get("ref")
        if isinstance(entry.get("thr_in-reply-to"), Mapping)
        else None,
        engagement=engagement,
    )


def _entry_body(entry: Mapping[str, Any]) -> str:
    contents = entry.get("content") or []
    for content in contents:
        text = html_to_text(content.get("value"))
        if text:
            return text
    return html_to_text(entry.get("summary") or entry.get("description"))


def _parse_json_feed(body: bytes, source_id: str, url: str) -> Iterator[MentionItem]:
    try:
        document = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise LayoutError(f"not a feed at {url}: invalid JSON ({error})", url) from error
    if not isinstance(document, dict) or "jsonfeed.org" not in str(document.get("version", "")):
        raise LayoutError(f"not a feed at {url}: JSON without a JSON Feed version", url)
    items = document.get("items")
    if not isinstance(items, list):
        raise LayoutError(f"broken JSON Feed at {url}: 'items' is not a list", url)
    language = document.get("language")
    for item in items:
        if not isinstance(item, dict):
            continue
        authors = item.get("authors") or ([item["author"]] if item.get("author") else [])
        author = next((a.get("name") for a in authors if isinstance(a, dict)), None)
        body_text = item.get("content_text") or html_to_text(item.get("content_html")) or (
            item.get("summary") or "")
        link = unwrap_redirect(item.get("url") or item.get("external_url"))
        yield MentionItem(
            source_id=source_id,
            external_id=str(item.get("id") or link or "") or None,
            url=link,
            author=author,
            title=html_to_text(item.get("title")) or None,
            body=body_text,
            published=parse_iso_datetime(item.get("date_published")),
            updated=parse_iso_datetime(item.get("date_modified")),
            language=item.get("language") or language,
        )
