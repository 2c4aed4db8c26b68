"""Hacker News stories and comments from the Algolia search API and hnrss.org feeds.

Configure with ``spider = "hackernews"`` and either ``params.query`` (newest
first, stories and comments:
``https://hn.algolia.com/api/v1/search_by_date?query=QUERY&tags=(story,comment)``)
or a ``url``: any Algolia ``search``/``search_by_date`` URL, or an hnrss.org
feed (``https://hnrss.org/newest?q=QUERY``, ``/newcomments?q=...``, ...).
``params.brand_accounts``: the company's HN usernames (case-insensitive).

Extracted per hit: ``objectID`` as external id (the same number hnrss uses,
so both forms agree), ``https://news.ycombinator.com/item?id=ID`` as url,
author, ``title`` (stories) or ``story_title`` (comments) as title,
``story_text``/``comment_text`` HTML as plain text, ``created_at_i`` as
published, ``points`` and ``num_comments`` in engagement (``points``,
``comments``), ``parent_id`` as ``reply_to``; in extra the kind (story,
comment, poll, job), the story's link and, for comments, the story id. From
hnrss: the same fields, with points and comment counts read from the
description and the description's "Article URL / Comments URL / Points"
lines removed from the body. A brand account's comment whose parent is in
the same response becomes a ``CompanyReply`` of that parent.

Paging: Algolia pages are 0-based (``&page=N``), the spider's pages 1-based;
the next page is requested while it exists (``nbPages``) and the current one
held something new. Algolia returns at most 1000 hits per query.

Limits: Algolia's public API allows about 10,000 requests an hour per IP;
hnrss.org is a free volunteer service, poll it gently. Flagged and dead
items are not indexed. The user is responsible for following Y Combinator's
and the services' terms.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import lxml.html
from scrapy.http import Response

from spiders.base import MonitorSpider
from spiders.feeds import read_feed
from spiders.items import LayoutError, MentionItem
from spiders.text import (
    attach_company_replies,
    html_to_text,
    parse_iso_datetime,
    struct_time_to_datetime,
    with_query_param,
)

ALGOLIA = "https://hn.algolia.com/api/v1/search_by_date"
ITEM_URL = "https://news.ycombinator.com/item?id={}"
_ITEM_ID = re.compile(r"news\.ycombinator\.com/item\?id=(\d+)")
_META_LINE = re.compile(
    r"^\s*(Article URL|Comments URL|Comment URL|Points|# Comments|Parent|Story)\s*:\s*(.*)$",
    re.IGNORECASE | re.DOTALL,
)
_NEW_COMMENT_TITLE = re.compile(r'^New comment by (?P<author>\S+) in "(?P<story>.*)"$', re.DOTALL)
_KINDS = ("story", "comment", "poll", "pollopt", "job")


def _is_company(brands: set[str]) -> Callable[[MentionItem], bool]:
    def check(item: MentionItem) -> bool:
        return bool(brands) and (item.author or "").strip().lower() in brands
    return check


class HackerNewsSpider(MonitorSpider):
    name = "hackernews"

    def start_urls_for_source(self) -> list[str]:
        query = str(self.params.get("query") or "").strip()
        if query:
            return [f"{ALGOLIA}?query={quote(query)}&tags=(story,comment)"]
        return super().start_urls_for_source()

    def parse_response(self, response: Response) -> Iterable[Any]:
        page = int(response.meta.get("page", 1))
        brands = {str(name).strip().lower() for name in self.params.get("brand_accounts") or ()}
        brands.discard("")
        body = response.body.lstrip(b"\xef\xbb\xbf \t\r\n")
        if body[:1] == b"{":
            items, next_page = parse_algolia(body, self.source_id, response.url, brands)
        elif body[:1] == b"<":
            items, next_page = parse_hnrss(response.body, self.source_id, response.url, brands), None
        else:
            raise LayoutError(f"not Algolia JSON or an hnrss feed at {response.url}", response.url)
        yield from items
        if next_page is not None and self.should_follow(items, page):
            yield self.page_request(
                with_query_param(response.url, "page", str(next_page)), page=page + 1)


# -- Algolia ------------------------------------------------------------------------


def parse_algolia(body: bytes, source_id: str, url: str,
                  brands: Iterable[str] = ()) -> tuple[list[MentionItem], int | None]:
    """Mentions from an Algolia search response and the next (0-based) page, if any."""
    try:
        document = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise LayoutError(f"invalid JSON from {url}: {error}", url) from error
    if not isinstance(document, dict) or not isinstance(document.get("hits"), list):
        raise LayoutError(f"Algolia response at {url} has no 'hits' list", url)
    items = []
    for hit in document["hits"]:
        if not isinstance(hit, dict) or not hit.get("objectID"):
            raise LayoutError(f"Algolia hit without objectID at {url}", url)
        items.append(_hit_to_item(hit, source_id))
    items = attach_company_replies(items, _is_company(set(brands)))
    current = document.get("page")
    if not isinstance(current, int):
        current = _int(parse_qs(urlsplit(url).query).get("page", ["0"])[0]) or 0
    pages = document.get("nbPages")
    next_page = current + 1 if isinstance(pages, int) and current + 1 < pages else None
    return items, next_page


def _hit_to_item(hit: Mapping[str, Any], source_id: str) -> MentionItem:
    object_id = str(hit["objectID"])
    tags = [str(tag) for tag in hit.get("_tags") or []]
    kind = next((tag for tag in tags if tag in _KINDS), None)
    if kind is None:
        kind = "comment" if hit.get("comment_text") is not None else "story"
    text = hit.get("comment_text") if kind == "comment" else hit.get("story_text")
    engagement: dict[str, int] = {}
    points = _int(hit.get("points"))
    if points is not None:
        engagement["points"] = points
    comments = _int(hit.get("num_comments"))
    if comments is not None:
        engagement["comments"] = comments
    extra: dict[str, Any] = {"kind": kind}
    link = hit.get("url") or hit.get("story_url")
    if isinstance(link, str) and link:
        extra["link_url"] = link
    if kind == "comment" and hit.get("story_id") is not None:
        extra["story_id"] = str(hit["story_id"])
    parent = hit.get("parent_id")
    published = _epoch(hit.get("created_at_i"))
    if published is None and isinstance(hit.get("created_at"), str):
        published = parse_iso_datetime(hit["created_at"])
    title = hit.get("title") or hit.get("story_title")
    return MentionItem(
        source_id=source_id,
        external_id=object_id,
        url=ITEM_URL.format(object_id),
        author=str(hit["author"]) if hit.get("author") else None,
        title=html_to_text(title) or None if isinstance(title, str) else None,
        body=html_to_text(text) if isinstance(text, str) else "",
        published=published,
        updated=_epoch(hit.get("updated_at_i")),
        reply_to=str(parent) if parent is not None and kind == "comment" else None,
        engagement=engagement,
        extra=extra,
    )


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _epoch(value: Any) -> datetime | None:
    seconds = _int(value)
    if seconds is None:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


# -- hnrss ---------------------------------------------------------------------------


def parse_hnrss(body: bytes, source_id: str, url: str,
                brands: Iterable[str] = ()) -> list[MentionItem]:
    """Mentions from an hnrss.org RSS feed."""
    parsed = read_feed(body, url, "an hnrss feed")
    entries = parsed.get("entries", [])
    items = [_entry_to_item(entry, source_id, url) for entry in entries]
    return attach_company_replies(items, _is_company(set(brands)))


def _entry_to_item(entry: Mapping[str, Any], source_id: str, url: str) -> MentionItem:
    candidates = [entry.get("id"), entry.get("comments"), entry.get("link")]
    object_id = next((match.group(1) for value in candidates if isinstance(value, str)
                      for match in [_ITEM_ID.search(value)] if match), None)
    if object_id is None:
        raise LayoutError(f"hnrss item without a news.ycombinator.com id at {url}", url)
    description = entry.get("summary") or entry.get("description") or ""
    body, meta = _split_description(description)
    title = html_to_text(entry.get("title")) or None
    extra: dict[str, Any] = {"kind": "story"}
    reply_to = None
    match = _NEW_COMMENT_TITLE.match(title or "")
    if match:
        extra["kind"] = "comment"
        title = match.group("story")
    link = entry.get("link")
    if isinstance(link, str) and link and not _ITEM_ID.search(link):
        extra["link_url"] = link
    if "parent" in meta:
        parent = _ITEM_ID.search(meta["parent"])
        reply_to = parent.group(1) if parent else None
    if "story" in meta:
        story = _ITEM_ID.search(meta["story"])
        if story:
            extra["story_id"] = story.group(1)
    engagement: dict[str, int] = {}
    for key, name in (("points", "points"), ("# comments", "comments")):
        value = _int(meta.get(key, "").strip())
        if value is not None:
            engagement[name] = value
    author = entry.get("author") or (entry.get("author_detail") or {}).get("name")
    return MentionItem(
        source_id=source_id,
        external_id=object_id,
        url=ITEM_URL.format(object_id),
        author=str(author) if author else None,
        title=title,
        body=body,
        published=struct_time_to_datetime(entry.get("published_parsed")),
        reply_to=reply_to,
        engagement=engagement,
        extra=extra,
    )


def _split_description(markup: str) -> tuple[str, dict[str, str]]:
    """hnrss description → (the post's own text, {"points": "1", "# comments": "0", ...})."""
    meta: dict[str, str] = {}
    if not markup.strip():
        return "", meta
    try:
        root = lxml.html.fragment_fromstring(markup, create_parent="div")
    except (ValueError, lxml.etree.ParserError):
        return html_to_text(markup), meta
    for paragraph in list(root.iter("p")):
        match = _META_LINE.match(paragraph.text_content())
        if not match:
            continue
        key = match.group(1).lower()
        anchor = paragraph.find(".//a")
        value = anchor.get("href") if anchor is not None and anchor.get("href") else match.group(2)
        meta[key] = value.strip()
        paragraph.drop_tree()
    for rule in list(root.iter("hr")):
        rule.drop_tree()
    return html_to_text(lxml.html.tostring(root, encoding="unicode")), meta
