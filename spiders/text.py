"""Small text helpers shared by spiders: HTML to text, time parsing, URL unwrapping."""

from __future__ import annotations

import calendar
import re
import time
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import lxml.html
from w3lib.html import replace_entities

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
