"""``review-monitor alerts`` and ``alerts retry``: dead alerts made by a real failing
receiver, listed without secrets, requeued once, then delivered once by the real
dispatcher (``run --once``) with their original idempotency keys."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from feedgen import rss, sample_entries
from httpserver import FixtureServer, Receiver, Reply
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col
from test_e2e import keys, run_cli

from monitor.core.outbox import error_line, renumber_offset, retry_refusal, statuses
from monitor.store import Alert, Delivery, Store

SECRET = "hook-T0KEN-s3cr3t"


def _config(tmp_path: Path, store_url: str, url: str, feed: str) -> Path:
    path = tmp_path / "monitor.toml"
    path.write_text(
        f'[store]\nurl = "{store_url}"\n\n[daemon]\njitter = 0\n\n'
        f'[notify]\nbackoff_initial = "1s"\nquick_retries = 1\nmax_attempts = 1\n\n'
        f'[brands.acme]\nname = "Acme"\nkeywords = ["acme"]\n\n'
        f'[channels.oncall]\nurls = ["{url}"]\n\n'
        f'[[sources]]\nid = "acme-feed"\nspider = "feed"\nurl = "{feed}"\nbrand = "acme"\n'
        f'interval = "1h"\n',
        encoding="utf-8",
    )
    return path


def _seed(store: Store, now: datetime) -> dict[str, int]:
    """One alert of each other status, on the same channel, created after the dead ones."""
    rows = {
        "sent": Alert(channel="oncall", idempotency_key="seed-sent", status="sent",
                      purpose="source_health", title="t", body="b", attempts=1,
                      next_attempt_at=now, created_at=now + timedelta(seconds=1), sent_at=now),
        "pending": Alert(channel="oncall", idempotency_key="seed-pending", status="pending",
                         purpose="sla_reminder", title="t", body="b",
                         next_attempt_at=now + timedelta(days=1),
                         created_at=now + timedelta(seconds=2)),
        "cancelled": Alert(channel="oncall", idempotency_key="seed-cancelled",
                           status="cancelled", purpose="mention", title="t", body="b",
                           last_error="mention handled while held", next_attempt_at=now,
                           created_at=now + timedelta(seconds=3)),
    }
    store.add_alerts(list(rows.values()))  # its count is -1 a row on PostgreSQL (psycopg)
    with store.session() as session:
        found = session.execute(select(col(Alert.id), col(Alert.idempotency_key)).where(
            col(Alert.idempotency_key).like("seed-%")))
        by_key = {key: alert_id or 0 for alert_id, key in found}
    return {status: by_key[f"seed-{status}"] for status in rows}


def _attempts(session: Session, alert_id: int, ok: bool | None = None) -> list[int]:
    query = select(col(Delivery.attempt)).where(col(Delivery.alert_id) == alert_id)
    if ok is not None:
        query = query.where(col(Delivery.ok) == ok)
    return sorted(session.scalars(query))


def _outputs(*results: object) -> str:
    return "\n".join(getattr(r, "stdout", "") + getattr(r, "stderr", "") for r in results)


def test_list_and_retry_dead_alerts_then_one_delivery_each(
        tmp_path: Path, server: FixtureServer, receiver: Receiver, store_url: str) -> None:
    receiver.set(f"/{SECRET}", receiver._receive)
    url = receiver.apprise_url.replace("/hook", f"/{SECRET}")
    server.set("/acme.xml", Reply(200, rss(sample_entries("r", 3))))
    config = _config(tmp_path, store_url, url, server.url("/acme.xml"))
    receiver.failures_left = 1000
    died = run_cli("run", "--config", str(config), "--once")
    assert died.returncode == 1, died.stderr
    assert "once_alerts_dead count=3" in died.stderr
    store = Store(store_url)
    # The dead-letter notices went to the console (the default notify.fallback).
    assert store.outbox_counts() == {"dead": 3, "sent": 3}
    assert SECRET not in _outputs(died)
    with store.session() as session:
        dead = {alert.id or 0: alert.idempotency_key
                for alert in session.scalars(select(Alert).where(col(Alert.status) == "dead"))}
    first, second, third = sorted(dead)
    seeded = _seed(store, datetime.now(UTC))

    # Default: the dead ones only, newest first, the channel by name.
    listed = run_cli("alerts", "--config", str(config))
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.strip().splitlines()
    assert len(lines) == 3
    assert all("  dead  oncall  attempts=1  " in line for line in lines)
    assert all("error: " in line and "mention " in line for line in lines)
    assert [int(line.split()[0]) for line in lines] == sorted(dead, reverse=True)
    everything = run_cli("alerts", "--config", str(config), "--status", "all")
    assert everything.returncode == 0, everything.stderr
    shown = [int(line.split()[0]) for line in everything.stdout.strip().splitlines()]
    # The seeded rows are the newest.
    assert shown[:3] == [seeded["cancelled"], seeded["pending"], seeded["sent"]]
    assert set(dead) | set(seeded.values()) < set(shown)
    assert len(shown) == 9  # and the three dead-letter notices
    as_json = run_cli("alerts", "--config", str(config), "--json", "--limit", "2",
                      "--status", "all")
    assert as_json.returncode == 0, as_json.stderr
    records = [json.loads(line) for line in as_json.stdout.strip().splitlines()]
    assert [r["id"] for r in records] == [seeded["cancelled"], seeded["pending"]]
    assert set(records[0]) == {"id", "status", "channel", "attempts", "created_at",
                               "last_attempt_at", "purpose", "mention_id",
                               "idempotency_key", "last_error"}
    assert records[1]["status"] == "pending" and records[1]["last_attempt_at"] is None
    assert records[1]["purpose"] == "sla_reminder" and records[1]["mention_id"] is None
    assert records[0]["created_at"].endswith("Z")
    dead_json = [json.loads(line) for line in run_cli(
        "alerts", "--config", str(config), "--json").stdout.strip().splitlines()]
    assert {r["id"] for r in dead_json} == set(dead)
    assert all(r["status"] == "dead" and r["attempts"] == 1 and r["last_error"]
               and r["last_attempt_at"].endswith("Z") and r["mention_id"] for r in dead_json)
    assert {r["idempotency_key"] for r in dead_json} == set(dead.values())
    listings = _outputs(listed, everything, as_json)
    assert SECRET not in listings and url not in listings
    # The target as logs name it: scheme and host, never the path.
    assert "error: json://127.0.0.1:" in listed.stdout

    # By id: a sent one is refused (exit 1, one line), the dead one still goes back.
    by_id = run_cli("alerts", "retry", "--config", str(config), str(first),
                    str(seeded["sent"]), "999999")
    assert by_id.returncode == 1
    assert by_id.stderr.strip().splitlines() == [
        f"error: alert {seeded['sent']} is sent, not dead: only dead alerts can be retried",
        "error: no alert 999999"]
    assert by_id.stdout.startswith(f"requeued 1 dead alert ({first})")
    with store.session() as session:
        row = session.get(Alert, first)
        assert row is not None
        assert (row.status, row.attempts, row.idempotency_key) == ("pending", 0, dead[first])
        due = row.next_attempt_at
        assert (due if due.tzinfo else due.replace(tzinfo=UTC)) <= datetime.now(UTC)
        # The earlier attempt stays as history, below attempt 1.
        assert _attempts(session, first) == [0]
    pending = run_cli("alerts", "--config", str(config), "--status", "pending")
    assert {int(line.split()[0]) for line in pending.stdout.strip().splitlines()} == \
        {first, seeded["pending"]}

    # --dead: the other two.
    # --config before the subcommand works as well as after it.
    rest = run_cli("alerts", "--config", str(config), "retry", "--dead")
    assert rest.returncode == 0, rest.stderr
    assert rest.stdout.startswith(f"requeued 2 dead alerts ({second}, {third})")
    assert "no dead alerts" in run_cli("alerts", "--config", str(config)).stdout
    assert SECRET not in _outputs(by_id, rest, pending)

    # The channel is fixed: the next dispatch sends each once, with its original key.
    receiver.failures_left = 0
    sent = run_cli("run", "--config", str(config), "--once")
    assert sent.returncode == 0, sent.stderr
    assert sorted(keys(receiver)) == sorted(dead.values())
    assert store.outbox_counts() == {"sent": 7, "pending": 1, "cancelled": 1}
    with store.session() as session:
        row = session.get(Alert, first)
        assert row is not None and (row.attempts, row.last_error) == (1, None)
        # Recorded, not dropped as a duplicate of the old attempt 1.
        assert _attempts(session, first, ok=True) == [1]

    # Retrying a now-sent alert does nothing.
    again = run_cli("alerts", "retry", "--config", str(config), str(first))
    assert again.returncode == 1
    assert f"alert {first} is sent, not dead" in again.stderr
    assert again.stdout.startswith("requeued 0 dead alerts")
    none_dead = run_cli("alerts", "retry", "--config", str(config), "--dead")
    assert none_dead.returncode == 0 and none_dead.stdout.startswith("requeued 0")
    quiet = run_cli("run", "--config", str(config), "--once")
    assert quiet.returncode == 0, quiet.stderr
    assert len(receiver.messages) == 3
    store.close()


def test_two_operators_retrying_at_once_requeue_each_alert_once(store_url: str) -> None:
    store = Store(store_url)
    store.upgrade()
    now = datetime.now(UTC)
    store.add_alerts([Alert(channel="oncall", idempotency_key=f"k{i}", status="dead",
                            title="t", body="b", attempts=3, last_error="HTTP 500",
                            next_attempt_at=now, created_at=now) for i in range(20)])
    with store.session() as session:
        ids = [alert.id or 0 for alert in session.scalars(select(Alert))]
        for alert_id in ids:
            for attempt in (1, 2, 3):
                session.add(Delivery(alert_id=alert_id, target="t1", attempt=attempt,
                                     attempted_at=now, ok=False, error="HTTP 500"))
    stores = [Store(store_url), Store(store_url)]
    barrier = threading.Barrier(2)
    results: list[list[int]] = [[], []]

    def operator(index: int) -> None:
        barrier.wait()
        results[index] = stores[index].requeue_dead(ids if index else None, now)

    threads = [threading.Thread(target=operator, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results[0] + results[1]) == sorted(ids)
    assert store.outbox_counts() == {"pending": 20}
    with store.session() as session:
        assert _attempts(session, ids[0]) == [-2, -1, 0]
    for opened in (*stores, store):
        opened.close()


@pytest.mark.parametrize(("lowest", "highest", "offset"), [
    (1, 5, 5), (1, 1, 1), (-4, 5, 10), (-9, 0, 0), (3, 4, 4),
])
def test_renumber_offset_moves_rows_below_1_without_landing_on_each_other(
        lowest: int, highest: int, offset: int) -> None:
    assert renumber_offset(lowest, highest) == offset
    if offset:
        assert highest - offset < 1 and highest - offset < lowest


def test_error_line_hides_channel_urls_and_keeps_one_line() -> None:
    text = ("json://127.0.0.1:8080: HTTPConnectionPool(host='127.0.0.1', port=8080): Max "
            "retries exceeded with url: /hook-T0KEN\n second line https://u:pw@hooks.example"
            ".com/services/T0/B0/SECRET?token=abc")
    line = error_line(text)
    assert "\n" not in line
    for secret in ("T0KEN", "SECRET", "pw@", "abc", "/services"):
        assert secret not in line, line
    assert "hooks.example.com/…" in line
    assert error_line("json://127.0.0.1:8080: apprise reported FAILURE") == \
        "json://127.0.0.1:8080: apprise reported FAILURE"
    # Schemes that keep the secret where the host would be show the scheme only.
    for url, shown in (("tgram://123456789:AAHsecret/42", "tgram://…"),
                       ("pover://userkey@apptoken", "pover://…"),
                       ("discord://webhook_id/webhook_token", "discord://…"),
                       ("mailtos://user:pw@mail.example.com:465?to=a@b.c",
                        "mailtos://mail.example.com:465/…")):
        assert error_line(f"{url}: refused") == f"{shown}: refused"
    assert len(error_line("x" * 1000)) == 240
    assert error_line(None) == ""


def test_statuses_and_refusals() -> None:
    assert statuses("dead") == ("dead",)
    assert set(statuses("all")) == {"dead", "pending", "sent", "cancelled"}
    assert retry_refusal(3, "dead") is None
    assert retry_refusal(3, None) == "no alert 3"
    assert retry_refusal(3, "pending") == \
        "alert 3 is pending, not dead: only dead alerts can be retried"
