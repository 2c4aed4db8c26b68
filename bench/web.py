"""Web inbox at scale (not a test): response times of the inbox, search, /healthz and
/metrics with N mentions stored, on SQLite or PostgreSQL. Prints one line per request.

    .venv/bin/python bench/web.py [--mentions 300000] [--pg URL]

About 18% of the seeded mentions are complaints and 1% of those still wait, like a
store that has been running for a while; the figures are in docs/web.md.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from monitor.config import parse_config
from monitor.store import Mention, Store
from monitor.web.app import make_web_app
from monitor.web.security import hash_password

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
PATHS = ["/", "/", "/?q=refund", "/?status=all&kind=&q=refund", "/?status=all&kind=",
         "/?status=all&kind=&page=100",
         "/metrics", "/healthz", "/sources"]


def seed(store: Store, count: int, rng: random.Random) -> None:
    kinds = ["complaint"] * 2 + ["praise", "question", "other"] * 3
    table = Mention.__table__  # type: ignore[attr-defined]
    batch: list[dict[str, object]] = []
    with store.engine.begin() as connection:
        for i in range(count):
            kind = rng.choice(kinds)
            waiting = kind == "complaint" and rng.random() < 0.01
            batch.append({
                "dedupe_key": f"k{i}", "source_id": rng.choice(["tp", "news"]),
                "spider": "feed", "brand": rng.choice(["acme", "globex", None]),
                "content_hash": "h", "title": f"title {i}",
                "body": f"body {i} refund" if i % 100 == 0 else f"body {i}",
                "kind": kind, "severity": rng.choice(["low", "normal", "high"]),
                "first_seen_at": NOW - timedelta(minutes=i), "last_seen_at": NOW,
                "status": "open" if waiting else "resolved",
                "sla_due_at": NOW + timedelta(minutes=rng.randint(-100, 1000))
                if kind == "complaint" else None,
                "language": rng.choice(["en", "de", "fr", None]), "sla_stage": 0,
                "score": 0.0, "revisions": 0, "removed": False,
            })
            if len(batch) == 20_000:
                connection.execute(table.insert(), batch)
                batch = []
        if batch:
            connection.execute(table.insert(), batch)
        if store.dialect == "postgresql":
            connection.exec_driver_sql("ANALYZE")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentions", type=int, default=300_000)
    parser.add_argument("--pg", help="a PostgreSQL URL (an empty database) instead of SQLite")
    args = parser.parse_args()
    url = args.pg or f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench-web.db'}"
    password = "bench-password"
    config = parse_config({
        "store": {"url": url},
        "brands": {"acme": {}, "globex": {}},
        "sources": [{"id": "tp", "spider": "feed", "url": "https://example.com/a"},
                    {"id": "news", "spider": "feed", "url": "https://example.com/b"}],
        "web": {"secret": "b" * 32,
                "users": {"bench": {"password_hash": hash_password(password)}}},
    }, Path("bench-web.toml"))
    store = Store(config.store.url)
    store.upgrade()
    started = time.perf_counter()
    seed(store, args.mentions, random.Random(7))
    print(f"seeded {args.mentions} mentions on {store.dialect} in "
          f"{time.perf_counter() - started:.1f} s")
    client = TestClient(make_web_app(config, store, lambda: NOW))
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    client.post("/login", data={"username": "bench", "password": password,
                                "csrf": token.group(1)})
    for path in PATHS:
        started = time.perf_counter()
        response = client.get(path)
        print(f"{path:32} {response.status_code} {1000 * (time.perf_counter() - started):7.0f} ms")
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
