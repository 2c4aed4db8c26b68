"""Shared by the web tests: a config with users and tokens, a simulated clock, mentions
ingested through the real ingest, and form helpers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from monitor.app import App, make_app
from monitor.config import Config, parse_config
from monitor.web.app import make_web_app
from monitor.web.security import hash_password
from spiders.items import MentionItem

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
PASSWORDS = {"alice": "alice-password-1", "vic": "viewer-password-1", "ada": "admin-password-1"}
ROLES = {"alice": "responder", "vic": "viewer", "ada": "admin"}
HASHES = {name: hash_password(password) for name, password in PASSWORDS.items()}
TOKENS = {"bot": "responder-token-0123456789abcdef", "reader": "viewer-token-0123456789abcdef"}
SECRET = "test-secret-0123456789abcdef0123"


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def web_config(store_url: str, **web: Any) -> Config:
    raw: dict[str, Any] = {
        "store": {"url": store_url},
        "brands": {"acme": {"name": "Acme", "keywords": ["acme"]},
                   "globex": {"name": "Globex", "keywords": ["globex"]}},
        "sources": [
            {"id": "tp", "spider": "trustpilot", "url": "https://www.trustpilot.com/review/acme.com",
             "brand": "acme"},
            {"id": "news", "spider": "feed", "url": "https://example.com/feed.xml"},
        ],
        "web": {
            "secret": SECRET,
            "users": {name: {"password_hash": HASHES[name], "role": ROLES[name]}
                      for name in PASSWORDS},
            "tokens": {"bot": {"token": TOKENS["bot"], "role": "responder"},
                       "reader": {"token": TOKENS["reader"], "role": "viewer"}},
            **web,
        },
    }
    return parse_config(raw, Path("/tmp/test-web.toml"))


@dataclass
class Web:
    config: Config
    app: App
    web: FastAPI
    clock: Clock

    @property
    def store(self) -> Any:
        return self.app.store

    def ingest(self, *items: MentionItem) -> list[int]:
        """Store mentions through the real ingest; their ids in order."""
        from sqlalchemy import select
        from sqlmodel import col

        from monitor.store import Mention

        self.app.ingestor.ingest(list(items), self.clock())
        ids = []
        with self.store.session() as session:
            for item in items:
                found = session.scalar(select(col(Mention.id)).where(
                    col(Mention.source_id) == item.source_id,
                    col(Mention.external_id) == item.external_id))
                ids.append(found)
        return ids


def make_web(store_url: str, clock: Clock | None = None, **web: Any) -> Web:
    clock = clock or Clock()
    config = web_config(store_url, **web)
    app = make_app(config, clock=clock)
    return Web(config, app, make_web_app(config, app.store, clock), clock)


def complaint(external_id: str, source: str = "tp", **fields: Any) -> MentionItem:
    values: dict[str, Any] = {
        "title": "Terrible service", "author": "Jane",
        "body": "Acme never delivered my order. I want a refund, this is a scam.",
        "rating": 1.0, "url": f"https://www.trustpilot.com/reviews/{external_id}",
        "published": NOW - timedelta(hours=1), "language": "en",
    }
    values.update(fields)
    return MentionItem(source_id=source, external_id=external_id, **values)


_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)
