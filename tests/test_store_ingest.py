"""Store and ingest on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from monitor.app import make_app
from monitor.config import Config, parse_config
from monitor.store import Alert, Delivery, Mention, SourceState, Store
from spiders.items import CompanyReply, MentionItem

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def make_config(store_url: str, channels: dict[str, list[str]] | None = None,
                **notify: object) -> Config:
    raw: dict[str, object] = {
        "store": {"url": store_url},
        "brands": {"acme": {"name": "Acme", "keywords": ["acme"],
                            "accounts": {"feed": ["AcmeSupport"]}}},
        "sources": [
            {"id": "tp", "spider": "trustpilot", "url": "https://www.trustpilot.com/review/acme.com",
             "brand": "acme"},
            {"id": "news", "spider": "feed", "url": "https://example.com/feed.xml"},
        ],
        "channels": {name: {"urls": urls} for name, urls in (channels or {}).items()},
        "notify": notify,
    }
    return parse_config(raw, Path("/tmp/test.toml"))


def complaint(external_id: str | None = "r1", source: str = "tp", **fields: object) -> MentionItem:
    values: dict[str, object] = {
        "title": "Terrible service", "body": "Acme never delivered my order. I want a refund.",
        "rating": 1.0, "author": "Jane", "url": f"https://example.com/r/{external_id}",
        "published": NOW - timedelta(hours=1),
    }
    values.update(fields)
    return MentionItem(source_id=source, external_id=external_id, **values)  # type: ignore[arg-type]


def test_migrations_apply_and_are_idempotent(store_url: str) -> None:
    store = Store(store_url)
    store.upgrade()
    store.upgrade()
    assert store.revision() == "0006"
    store.ping()
    store.close()


def test_sqlite_store_uses_wal(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'x.db'}")
    store.upgrade()
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_ingest_stores_once_and_alerts_once(store_url: str) -> None:
    app = make_app(make_config(store_url), clock=lambda: NOW)
    praise = complaint("r2", rating=5.0, title="Great", body="Love it")
    first = app.ingestor.ingest([complaint("r1"), praise], NOW)
    assert (first.new, first.seen_again, first.alerts) == (2, 0, 1)
    later = NOW + timedelta(minutes=30)
    again = app.ingestor.ingest([complaint("r1"), praise], later)
    assert (again.new, again.seen_again, again.alerts) == (0, 2, 0)
    with app.store.session() as session:
        mentions = {m.external_id: m for m in session.scalars(select(Mention))}
        alerts = list(session.scalars(select(Alert)))
    assert set(mentions) == {"r1", "r2"}
    assert mentions["r1"].kind == "complaint" and mentions["r2"].kind == "praise"
    assert mentions["r1"].first_seen_at == NOW and mentions["r1"].last_seen_at == later
    assert mentions["r1"].brand == "acme" and "rating 1/5" in (mentions["r1"].reasons or [])
    assert [(a.channel, a.status, a.idempotency_key) for a in alerts] == [
        ("console", "pending", f"rm-m{mentions['r1'].id}-console")]
    assert "ref: " + alerts[0].idempotency_key in alerts[0].body
    app.store.close()


def test_dedupe_by_url_then_content_hash_when_no_id(store_url: str) -> None:
    app = make_app(make_config(store_url), clock=lambda: NOW)
    by_url = complaint(None, source="news", url="https://acme.example/p?utm_source=x&id=1")
    same_url = complaint(None, source="news", url="https://www.acme.example/p?id=1",
                         body="edited text about acme")
    no_url_1 = complaint(None, source="news", url=None, body="Acme broke my phone")
    no_url_2 = complaint(None, source="news", url=None, body="acme  broke my PHONE")
    result = app.ingestor.ingest([by_url, no_url_1], NOW)
    assert result.new == 2
    result = app.ingestor.ingest([same_url, no_url_2], NOW)
    assert (result.new, result.seen_again) == (0, 2)
    assert app.store.mention_count() == 2


def test_brand_matching_and_own_accounts(store_url: str) -> None:
    app = make_app(make_config(store_url), clock=lambda: NOW)
    items = [
        complaint("n1", source="news", body="Acme's outage is terrible", rating=None),
        complaint("n2", source="news", body="Unrelated terrible news", rating=None),
        complaint("n3", source="news", body="Acme: sorry, we are on it", rating=None,
                  author="acmesupport"),
    ]
    result = app.ingestor.ingest(items, NOW)
    assert result.new == 3 and result.alerts == 1
    with app.store.session() as session:
        rows = {m.external_id: m for m in session.scalars(select(Mention))}
    assert rows["n1"].brand == "acme" and rows["n2"].brand is None
    assert rows["n3"].kind == "other"
    assert rows["n3"].reasons == ["posted by the brand's own account"]


def test_mention_fields_round_trip(store_url: str) -> None:
    app = make_app(make_config(store_url), clock=lambda: NOW)
    item = complaint("u1", body="Приложение не работает 😡", engagement={"score": 12},
                     company_replies=[CompanyReply("Sorry!", "Acme", NOW)], language="ru",
                     extra={"country": "NO"})
    app.ingestor.ingest([item], NOW)
    with app.store.session() as session:
        mention = session.scalars(select(Mention)).one()
    assert mention.body == "Приложение не работает 😡"
    assert mention.engagement == {"score": 12}
    assert mention.company_replies == [{"text": "Sorry!", "author": "Acme",
                                        "published": NOW.isoformat()}]
    assert mention.published_at == NOW - timedelta(hours=1)
    assert mention.extra == {"country": "NO"}


def test_source_state_round_trip(store_url: str) -> None:
    store = Store(store_url)
    store.upgrade()
    state = SourceState(source_id="tp", etag='"abc"', consecutive_failures=2,
                        next_run_at=NOW, last_error="fetch: HTTP 500")
    store.save_source_state(state)
    loaded = store.source_state("tp")
    assert (loaded.etag, loaded.consecutive_failures, loaded.next_run_at) == ('"abc"', 2, NOW)
    assert store.source_state("other").consecutive_failures == 0


def test_known_external_ids(store_url: str) -> None:
    app = make_app(make_config(store_url), clock=lambda: NOW)
    app.ingestor.ingest([complaint("a"), complaint("b")], NOW)
    assert app.store.known_external_ids("tp", ["a", "b", "c"]) == {"a", "b"}
    assert app.store.known_external_ids("news", ["a"]) == set()


def test_dispatcher_retries_then_dead_letters_to_fallback(store_url: str) -> None:
    clock = [NOW]
    config = make_config(store_url, channels={"down": ["json://user:topsecret@127.0.0.1:9/hook"]},
                         max_attempts=3, backoff_initial="1m", quick_retries=1)
    console = io.StringIO()
    app = make_app(config, clock=lambda: clock[0], console=lambda: console)
    app.dispatcher.quick_wait = 0
    app.ingestor.ingest([complaint("r1")], NOW)
    for expected_attempts in (1, 2):
        result = asyncio.run(app.dispatcher.dispatch_due())
        assert result.retrying == 1
        with app.store.session() as session:
            alert = session.scalars(select(Alert)).one()
        assert alert.attempts == expected_attempts and alert.status == "pending"
        assert alert.next_attempt_at > clock[0]
        # Not due yet: nothing is attempted.
        assert asyncio.run(app.dispatcher.dispatch_due()).retrying == 0
        clock[0] = alert.next_attempt_at
    result = asyncio.run(app.dispatcher.drain())
    assert result.dead == 1 and result.sent == 1  # the dead letter reached the console
    with app.store.session() as session:
        alerts = {a.purpose: a for a in session.scalars(select(Alert))}
        deliveries = list(session.scalars(select(Delivery)))
    assert alerts["mention"].status == "dead" and alerts["mention"].attempts == 3
    assert alerts["dead_letter"].status == "sent"
    assert "could not be delivered to channel 'down' after 3 attempts" in console.getvalue()
    assert len([d for d in deliveries if not d.ok]) == 3
    assert "topsecret" not in console.getvalue()  # secrets in channel URLs are never printed
    # Retried by hand (review-monitor alerts retry) and dead again: the fallback is told
    # again, under a key of its own; the first notice is not sent twice.
    key = alerts["mention"].idempotency_key
    assert app.store.requeue_dead(None, clock[0]) == [alerts["mention"].id]
    for _ in range(3):
        asyncio.run(app.dispatcher.drain())
        with app.store.session() as session:
            pending = session.scalars(select(Alert).where(Alert.status == "pending")).all()
        clock[0] = max([clock[0], *(a.next_attempt_at for a in pending)])
    with app.store.session() as session:
        notices = sorted((a.idempotency_key, a.status) for a in session.scalars(
            select(Alert).where(Alert.purpose == "dead_letter")))
    assert notices == [(f"{key}-dead", "sent"), (f"{key}-dead2", "sent")]
    assert app.store.dead_letter_count(key) == 2 and app.store.dead_letter_count("rm-m") == 0
    # Another alert whose key shares the prefix (a channel named "<name>-deadletter")
    # is not one of its notices.
    with app.store.session() as session:
        session.add(Alert(channel="x", idempotency_key=f"{key}-deadletter", status="sent",
                          purpose="mention", title="t", body="b", attempts=0,
                          next_attempt_at=NOW, created_at=NOW))
    assert app.store.dead_letter_count(key) == 2


def test_partial_failure_is_not_resent_to_the_url_that_worked(store_url: str, receiver) -> None:
    clock = [NOW]
    config = make_config(store_url, channels={"both": [receiver.apprise_url,
                                                       "json://127.0.0.1:9/hook"]},
                         backoff_initial="1s", quick_retries=1)
    app = make_app(config, clock=lambda: clock[0])
    app.ingestor.ingest([complaint("r1")], NOW)
    asyncio.run(app.dispatcher.dispatch_due())
    clock[0] = NOW + timedelta(minutes=5)
    asyncio.run(app.dispatcher.dispatch_due())
    assert len(receiver.messages) == 1


def test_two_dispatchers_on_one_store_send_each_alert_once(store_url: str, receiver) -> None:
    config = make_config(store_url, channels={"hook": [receiver.apprise_url]})
    first = make_app(config, clock=lambda: NOW)
    second = make_app(config, clock=lambda: NOW, migrate=False)
    # Questions, not complaints: thirty complaints at once would (rightly) be one incident.
    first.ingestor.ingest([complaint(f"r{n}", rating=None, title=None,
                                     body=f"Does Acme deliver to postcode {n}?")
                           for n in range(30)], NOW)

    async def both() -> None:
        await asyncio.gather(first.dispatcher.drain(), second.dispatcher.drain())

    asyncio.run(both())
    keys = [line for message in receiver.messages for line in message["message"].splitlines()
            if line.startswith("ref: ")]
    assert len(keys) == 30 and len(set(keys)) == 30
    assert first.store.outbox_counts() == {"sent": 30}


def test_insert_new_skips_stored_keys_and_returns_ids_in_key_order(store_url: str) -> None:
    """The bulk insert ingest uses (COPY on PostgreSQL, one statement on SQLite): rows
    whose unique key is stored are skipped, the rest come back in key order, and JSON
    columns read back the same on both paths."""
    store = Store(store_url)
    store.upgrade()

    def row(key: str, engagement: dict[str, int] | None) -> dict[str, object]:
        return {"dedupe_key": key, "source_id": "tp", "spider": "trustpilot", "brand": "acme",
                "content_hash": "0" * 64, "body": f"text of {key}", "kind": "complaint",
                "severity": "normal", "reasons": ["rating 1/5"], "engagement": engagement,
                "first_seen_at": NOW, "last_seen_at": NOW}

    with store.session() as session:
        first = store.insert_new(session, Mention, [row("k2", None), row("k1", {"likes": 3})],
                                 "dedupe_key")
    assert [key for _, key in first] == ["k1", "k2"]
    with store.session() as session:
        second = store.insert_new(session, Mention, [row("k3", None), row("k1", None)],
                                  "dedupe_key")
        # Twice in one transaction: the staging table starts empty each time.
        third = store.insert_new(session, Mention, [row("k4", None)], "dedupe_key")
    assert [key for _, key in second] == ["k3"] and [key for _, key in third] == ["k4"]
    with store.session() as session:
        stored = {m.dedupe_key: m for m in session.scalars(select(Mention))}
    assert sorted(stored) == ["k1", "k2", "k3", "k4"]
    assert stored["k1"].engagement == {"likes": 3} and stored["k2"].engagement is None
    assert stored["k1"].reasons == ["rating 1/5"] and stored["k1"].status == "open"
    assert {m.id for m in stored.values()} == {i for i, _ in first + second + third}
    store.close()


def test_queue_alerts_keeps_columns_that_only_later_rows_name(store_url: str) -> None:
    """An executemany takes its columns from the first row: a later row's extra keys
    (a recipient, an escalation time) must not be dropped on the way in."""
    store = Store(store_url)
    store.upgrade()
    base = {"channel": "ops", "status": "pending", "title": "t", "body": "b",
            "next_attempt_at": NOW, "created_at": NOW}
    with store.session() as session:
        store.queue_alerts(session, [
            {**base, "idempotency_key": "k1"},
            {**base, "idempotency_key": "k2", "recipient": "ann", "tier": 1,
             "escalate_at": NOW + timedelta(minutes=15)},
            {**base, "idempotency_key": "k1"},  # a repeat: skipped
        ])
    with store.session() as session:
        rows = {a.idempotency_key: a for a in session.scalars(select(Alert))}
    assert sorted(rows) == ["k1", "k2"]
    assert (rows["k1"].recipient, rows["k1"].tier, rows["k1"].purpose) == (None, 0, "mention")
    assert (rows["k2"].recipient, rows["k2"].tier, rows["k2"].escalate_at) == (
        "ann", 1, NOW + timedelta(minutes=15))
    store.close()


def test_the_checkpointer_writes_the_wal_back_without_the_writer(tmp_path: Path) -> None:
    import time

    from sqlalchemy import text

    database = tmp_path / "ckpt.db"
    store = Store(f"sqlite:///{database}")
    store.upgrade()
    with store.engine.begin() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    before = database.stat().st_size
    # Fewer pages than the connections' own threshold: only a checkpoint moves them.
    with store.engine.begin() as connection:
        connection.execute(text("CREATE TABLE filler (x TEXT)"))
        connection.execute(text("INSERT INTO filler VALUES (:x)"),
                           [{"x": "y" * 1000} for _ in range(2000)])
    assert database.stat().st_size == before
    store.start_checkpointer(every=0.02)
    store.start_checkpointer(every=0.02)  # a second start is a no-op
    checkpointer = store._checkpointer
    assert checkpointer is not None
    deadline = time.monotonic() + 60
    while database.stat().st_size == before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert database.stat().st_size > before + 1_000_000
    store.close()
    assert store._checkpointer is None and not checkpointer._thread.is_alive()


def test_the_checkpointer_is_sqlite_files_only(tmp_path: Path) -> None:
    memory = Store("sqlite:///:memory:")
    memory.start_checkpointer()
    assert memory._checkpointer is None
    memory.close()
