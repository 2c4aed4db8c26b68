"""Two daemon processes ingesting the same items at the same moment against the real
PostgreSQL: no duplicate mentions, threads, incidents or alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def _items() -> list[Any]:
    from spiders.items import MentionItem

    items = []
    for n in range(40):  # forty customers, each with two messages: threads
        for m in range(2):
            items.append(MentionItem(
                source_id="tp", external_id=f"c{n}-{m}", author=f"customer {n}",
                url=f"https://example.com/r/c{n}-{m}", rating=None,
                body=f"Acme order {n}-{m}: where is my parcel number {n * 7 + m}? Terrible.",
                published=NOW - timedelta(minutes=60 - m)))
    outage = "The Acme app will not let me log in since this morning, error 503 every time."
    for n in range(6):  # near-duplicates from several people: one incident
        items.append(MentionItem(source_id="news", external_id=f"o{n}", author=f"user {n}",
                                 body=outage + " " * n, rating=None,
                                 published=NOW - timedelta(minutes=10 - n)))
    return items


def _ingest(store_url: str, part: int | None, barrier: Any, queue: Any) -> None:
    from test_store_ingest import make_config

    from monitor.app import make_app

    app = make_app(make_config(store_url), clock=lambda: NOW, migrate=False)
    items = _items()
    if part is not None:  # each process gets the other message of the same customers
        items = [item for item in items if not item.external_id.startswith("c")
                 or item.external_id.endswith(f"-{part}")]
    barrier.wait()
    total = [0, 0]
    for start in range(0, len(items), 20):  # the crawl adapter's batches, interleaved
        result = app.ingestor.ingest(items[start:start + 20], NOW)
        total[0] += result.new
        total[1] += result.seen_again
    queue.put(total)


@pytest.mark.parametrize("split", [False, True], ids=["same-items", "same-customers"])
def test_two_processes_ingesting_the_same_items_store_everything_once(
        postgres_database: str, split: bool) -> None:
    from conftest import _reset_postgres, in_two_processes

    from monitor.store import Alert, Incident, Mention, Store, Thread

    _reset_postgres(postgres_database)
    store = Store(postgres_database)
    store.upgrade()
    results = in_two_processes(_ingest, [(postgres_database, part if split else None)
                                         for part in range(2)])
    items = _items()
    assert sum(new for new, _seen in results) == len(items)
    assert sum(seen for _new, seen in results) == (6 if split else len(items))
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(Mention)) == len(items)
        threads = session.execute(select(Thread.author_key, func.count()).group_by(
            Thread.author_key)).all()
        assert len(threads) == 46 and all(count == 1 for _key, count in threads)
        positions = session.execute(select(Mention.thread_position).where(
            Mention.source_id == "tp")).scalars().all()
        assert sorted(positions) == [1] * 40 + [2] * 40
        # The outage reports are one incident, whichever process saw them first; the
        # customers' look-alike parcel complaints make (at most) one more, not two.
        outage = set(session.execute(select(Mention.incident_id).where(
            Mention.source_id == "news")).scalars())
        assert len(outage) == 1 and None not in outage
        incidents = session.scalar(select(func.count()).select_from(Incident))
        parcels = set(session.execute(select(Mention.incident_id).where(
            Mention.source_id == "tp", Mention.incident_id.is_not(None))).scalars())
        assert len(parcels) <= 1 and incidents == 1 + len(parcels)
        keys = session.execute(select(Alert.idempotency_key)).scalars().all()
        assert len(keys) == len(set(keys))
        per_mention = session.execute(select(Alert.mention_id, func.count()).where(
            Alert.mention_id.is_not(None)).group_by(Alert.mention_id)).all()
        assert all(count == 1 for _id, count in per_mention)


