"""Small text helpers shared by spiders: HTML to text, time parsing, URL unwrapping."""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import parse_qs, quote, urlsplit

import lxml.html
from w3lib.html import replace_entities

from spiders.items import CompanyReply, MentionItem

_SPACES = re.compile(r"[ \t\r\f\v]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_BLOCK_TAGS = ("p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote")


def html_to_text(markup: str | None) -> str:
    """Readable text from an HTML fragment: tags gone, entities decoded, paragraphs kept."""
    if not markup:
        return ""
    if "<" not in markup:
        return normalise_space(replace_entities(markup))
    try:
        root = lxml.html.fragment_fromstring(markup, create_parent="div")
    except (ValueError, lxml.etree.ParserError):
        return normalise_space(replace_entities(re.sub(r"<[^>]*>", " ", markup)))
    for bad in root.xpath("//script|//style"):
        bad.drop_tree()
    for element in root.iter(*_BLOCK_TAGS):
        element.tail = "\n" + (element.tail or "")
    return normalise_space(root.text_content())


def normalise_space(text: str) -> str:
    """Collapse runs of spaces, keep paragraph breaks, strip the ends."""
    lines = [_SPACES.sub(" ", line).strip() for line in text.replace("\xa0", " ").split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def struct_time_to_datetime(value: time.struct_time | None) -> datetime | None:
    """feedparser's UTC struct_time as an aware datetime."""
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (OverflowError, ValueError, OSError):
        return None


def parse_iso_datetime(value: object) -> datetime | None:
    """An ISO 8601 string or epoch number as an aware UTC datetime; None if unreadable."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, int | float):
            seconds = value / 1000 if value > 10**11 else value
            return datetime.fromtimestamp(seconds, UTC)
        text = str(value).strip().replace("Z", "+00:00")
        moment = datetime.fromisoformat(text)
    except (ValueError, OverflowError, OSError):
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


_GOOGLE_REDIRECT_HOSTS = ("www.google.com", "google.com", "news.google.com")


def unwrap_redirect(url: str | None) -> str | None:
    """The real target of a Google redirect link (``google.com/url?...&url=TARGET``)."""
    if not url:
        return url
    parts = urlsplit(url)
    if parts.hostname in _GOOGLE_REDIRECT_HOSTS and parts.path == "/url":
        query = parse_qs(parts.query)
        for key in ("url", "q"):
            target = query.get(key)
            if target and target[0].startswith(("http://", "https://")):
                return target[0]
    return url


def attach_company_replies(
    items: list[MentionItem], is_company: Callable[[MentionItem], bool]
) -> list[MentionItem]:
    """Fold the company's own answers into the mentions they answer.

    A mention written by one of the company's accounts (``is_company``) whose
    parent (``reply_to`` = another item's ``external_id``) is in the same list
    becomes a ``CompanyReply`` on that parent instead of a mention of its own:
    the monitor should see "answered", not a new complaint. A company answer to
    another company answer goes to the nearest non-company ancestor. Company
    posts whose parent is not in the list stay mentions, marked
    ``extra["company_account"] = True``. Order is kept; replies are sorted by time.
    """
    by_id = {item.external_id: item for item in items if item.external_id}
    kept: list[MentionItem] = []
    touched: list[MentionItem] = []
    for item in items:
        if not is_company(item):
            kept.append(item)
            continue
        target = _company_reply_target(item, by_id, is_company)
        if target is None:
            item.extra["company_account"] = True
            kept.append(item)
            continue
        target.company_replies.append(
            CompanyReply(text=item.body, author=item.author, published=item.published)
        )
        touched.append(target)
    for target in touched:
        target.company_replies.sort(
            key=lambda reply: (reply.published is None, reply.published or _EPOCH)
        )
    return kept


_EPOCH = datetime.fromtimestamp(0, UTC)


def _company_reply_target(
    item: MentionItem, by_id: dict[str, MentionItem], is_company: Callable[[MentionItem], bool]
) -> MentionItem | None:
    seen = {id(item)}
    parent = by_id.get(item.reply_to) if item.reply_to else None
    while parent is not None and id(parent) not in seen:
        if not is_company(parent):
            return parent
        seen.add(id(parent))
        parent = by_id.get(parent.reply_to) if parent.reply_to else None
    return None


def with_query_param(url: str, key: str, value: str) -> str:
    """``url`` with ``key=value`` set in its query, every other byte of the URL kept as is.

    w3lib's ``add_or_replace_parameter`` re-encodes the whole query (``(`` → ``%28``),
    which makes next-page URLs differ needlessly from what the site documents.
    """
    base, hash_mark, fragment = url.partition("#")
    pattern = re.compile(rf"([?&]){re.escape(key)}=[^&]*")
    encoded = quote(value, safe="")
    if pattern.search(base):
        base = pattern.sub(lambda match: f"{match.group(1)}{key}={encoded}", base, count=1)
    else:
        base += ("&" if "?" in base else "?") + f"{key}={encoded}"
    return base + hash_mark + fragment
