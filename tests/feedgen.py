"""Feeds written by the tests: RSS and Atom documents from a list of entries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape


@dataclass
class Entry:
    id: str
    title: str
    body: str
    author: str = "a customer"
    published: datetime = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def rss(entries: list[Entry], title: str = "Test feed") -> bytes:
    items = "".join(
        f"<item><guid isPermaLink=\"false\">{escape(e.id)}</guid><title>{escape(e.title)}</title>"
        f"<link>https://example.com/posts/{escape(e.id)}</link>"
        f"<description>{escape(e.body)}</description><author>{escape(e.author)}</author>"
        f"<pubDate>{e.published.strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate></item>"
        for e in entries
    )
    return (
        f"<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel>"
        f"<title>{escape(title)}</title><link>https://example.com/</link>"
        f"<description>t</description>{items}</channel></rss>"
    ).encode()


def sample_entries(prefix: str, count: int, start: int = 0) -> list[Entry]:
    base = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    return [
        Entry(
            id=f"{prefix}-{index}",
            title=f"Acme app {prefix} {index} is broken",
            body=f"The Acme app crashed again ({prefix} #{index}). Terrible, I want a refund.",
            published=base + timedelta(minutes=index),
        )
        for index in range(start, start + count)
    ]
