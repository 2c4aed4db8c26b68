"""RSS 0.9x/1.0/2.0, Atom and JSON Feed reader.

Configure with ``spider = "feed"`` and the feed's ``url``. feedparser does the
XML formats (it is the field's most forgiving parser), behind an lxml fast
path for plain RSS 2.0/Atom 1.0; JSON Feed is plain JSON with a published
spec, read here directly because feedparser's released versions do not
understand it. A "bozo" feed that still has entries is read; a response that
is not a feed at all is a LayoutError. An empty feed is 0 mentions.

Extracted per entry: id/guid (else link) as external id, link, author,
title and summary/content as plain text, published/updated times,
language, ``slash:comments``/``thr:total`` as engagement ``comments``,
``thr:in-reply-to`` as ``reply_to``.

Google Alerts (choose "Deliver to: RSS feed" in the alert's options):
``google.com/url?...&url=TARGET`` redirect links are unwrapped to the
article's URL and the ``<b>`` highlighting is dropped from titles and
snippets (the feed's entries carry no author).
Google News RSS (``https://news.google.com/rss/search?q=QUERY&hl=..``):
``news.google.com/rss/articles/...`` links are kept as they are (they
redirect to the article in a browser); the ``<source>`` element becomes
``extra["publisher"]``/``extra["publisher_url"]``, the " - PUBLISHER"
suffix leaves the title, the body is the headline (the description only
repeats it) and the other outlets of a story cluster go to
``extra["related"]``. Any RSS ``<source>`` is kept the same way.

Limits: a feed shows only its newest entries (Google Alerts about 20, Google
News about 100): poll often enough not to miss any. Google does not allow
automated querying of its services beyond these published feeds; the user
is responsible for each site's terms.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

import feedparser
import lxml.etree
import lxml.html
from scrapy.http import Response

from spiders.base import MonitorSpider
from spiders.fastfeed import parse_fast
from spiders.items import LayoutError, MentionItem
from spiders.text import (
    html_to_text,
    normalise_space,
    parse_iso_datetime,
    struct_time_to_datetime,
    unwrap_redirect,
)

# Query parameters that make a feed a search (its matches change for other reasons).
_SEARCH_PARAMS = frozenset({"q", "query", "search", "s", "keywords", "term"})

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

    def lists_everything(self, response: Response) -> bool:
        # A feed lists its newest entries; a news search feed lists what ranks today,
        # and any search read as a feed (Reddit's, hnrss, a blog's ?s=) what its index
        # matches now.
        parts = urlsplit(response.url)
        if "news.google." in parts.netloc:
            return False
        if any(segment.startswith("search") for segment in parts.path.lower().split("/")):
            return False
        return not _SEARCH_PARAMS & {key.lower() for key in parse_qs(parts.query)}


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
    items = []
    for entry in entries:
        item = _entry_to_item(entry, source_id, url, feed_language)
        _add_publisher(entry, item)
        items.append(item)
    return items


def _add_publisher(entry: Mapping[str, Any], item: MentionItem) -> None:
    """RSS ``<source url>`` (Google News: the publisher) into extra; tidy Google News items.

    Google News titles end in " - PUBLISHER" and the description only repeats
    the headline (plus, for a story cluster, the other outlets' headlines): the
    title loses the suffix, the body becomes the headline, and the cluster's
    other articles go to ``extra["related"]``.
    """
    source = entry.get("source")
    if not isinstance(source, Mapping):
        return
    publisher = html_to_text(source.get("title")) or None
    if publisher:
        item.extra["publisher"] = publisher
    if source.get("href"):
        item.extra["publisher_url"] = str(source["href"])
    if not item.url or urlsplit(item.url).hostname != "news.google.com":
        return
    if publisher and item.title and item.title.endswith(f" - {publisher}"):
        item.title = item.title[: -len(f" - {publisher}")].rstrip()
    articles = _google_news_articles(entry.get("summary") or entry.get("description") or "")
    if articles:
        item.body = articles[0]["title"]
        if len(articles) > 1:
            item.extra["related"] = articles[1:]
    elif item.title:
        item.body = item.title


def _google_news_articles(markup: str) -> list[dict[str, str]]:
    """[{title, publisher, url}] from a Google News description (one link or an <ol> cluster)."""
    if "<a" not in markup:
        return []
    try:
        root = lxml.html.fragment_fromstring(markup, create_parent="div")
    except (ValueError, lxml.etree.ParserError):
        return []
    articles = []
    for anchor in root.iter("a"):
        article = {"title": normalise_space(anchor.text_content()), "url": anchor.get("href") or ""}
        font = anchor.getnext()
        if font is not None and font.tag == "font":
            article["publisher"] = normalise_space(font.text_content())
        if article["title"]:
            articles.append(article)
    return articles


def read_feed(body: bytes, url: str, what: str) -> Any:
    """feedparser's reading of a site's RSS/Atom form (hnrss, Reddit, Mastodon...);
    LayoutError 'not a <what> at URL: ...' when the response is no feed at all."""
    parsed = feedparser.parse(body)
    if not parsed.get("version") and not parsed.get("entries", []):
        head = body[:512].lower()
        reason = "got an HTML page" if b"<html" in head or b"<!doctype" in head else "not a feed"
        raise LayoutError(f"not {what} at {url}: {reason}", url)
    return parsed


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
    # dict.get: feedparser's own .get falls back from updated_parsed to published_parsed
    # with a DeprecationWarning; do the same fallback here, quietly.
    published_parsed = dict.get(entry, "published_parsed")  # type: ignore[call-overload]
    updated_parsed = dict.get(entry, "updated_parsed") or published_parsed  # type: ignore[call-overload]
    published = struct_time_to_datetime(published_parsed or updated_parsed)
    updated = struct_time_to_datetime(updated_parsed)
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
        published=published,
        updated=updated,
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
