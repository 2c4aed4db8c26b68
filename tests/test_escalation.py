"""Acknowledgement and escalation (monitor.notify.escalation), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from monitor.notify.escalation import UnknownAlertError, acknowledge_alert, acknowledge_mention
from monitor.store import Alert, Mention, Store

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def seed(store: Store) -> tuple[int, list[int]]:
    with store.session() as session:
        mention = Mention(dedupe_key="k1", source_id="tp", spider="trustpilot", brand="acme",
                          content_hash="h", body="late again", kind="complaint",
                          severity="high", first_seen_at=NOW, last_seen_at=NOW)
        session.add(mention)
        session.flush()
        assert mention.id is not None
        alerts = [
            Alert(mention_id=mention.id, channel=channel, idempotency_key=f"rm-m1-{channel}",
                  status=status, title="t", body="b", next_attempt_at=NOW, created_at=NOW,
                  tier=tier, escalate_at=NOW + timedelta(minutes=15) if tier == 0 else None)
            for channel, status, tier in (("chat", "sent", 0), ("member:ada", "sent", 0),
                                          ("member:bo", "pending", 1))
        ]
        # Held for business hours, not sent yet: an acknowledgement makes it moot.
        alerts.append(Alert(mention_id=mention.id, channel="night", idempotency_key="rm-m1-n",
                            status="pending", title="t", body="b", held="after_hours",
                            next_attempt_at=NOW + timedelta(hours=9), created_at=NOW))
        session.add_all(alerts)
        session.flush()
        return mention.id, [alert.id or 0 for alert in alerts]


def test_acknowledge_alert_stops_everything_about_the_mention(store_url: str) -> None:
    store = Store(store_url)
    store.upgrade()
    mention_id, ids = seed(store)
    result = acknowledge_alert(store, ids[0], "ada", NOW)
    assert (result.mention_id, result.alerts_acked, result.escalations_cancelled,
            result.status, result.acked_by) == (mention_id, 4, 2, "acknowledged", "ada")
    with store.session() as session:
        alerts = {a.channel: a for a in session.scalars(select(Alert))}
        mention = session.get(Mention, mention_id)
    assert all(a.acked_at == NOW and a.escalate_at is None for a in alerts.values())
    assert alerts["member:bo"].status == alerts["night"].status == "cancelled"
    assert alerts["chat"].status == "sent"
    assert mention is not None and mention.status == "acknowledged"
    assert (mention.acknowledged_by, mention.acknowledged_at) == ("ada", NOW)
    # A second click (someone else, later) changes nothing and says who was first.
    again = acknowledge_alert(store, ids[1], "bo", NOW + timedelta(minutes=3))
    assert again.already and (again.acked_by, again.acked_at) == ("ada", NOW)
    store.close()


def test_acknowledge_mention_keeps_later_statuses(store_url: str) -> None:
    store = Store(store_url)
    store.upgrade()
    mention_id, _ = seed(store)
    with store.session() as session:
        mention = session.get(Mention, mention_id)
        assert mention is not None
        mention.status = "replied"
    result = acknowledge_mention(store, mention_id, "web:carol", NOW)
    assert result.status == "replied" and result.alerts_acked == 4
    with pytest.raises(UnknownAlertError, match="no mention 999"):
        acknowledge_mention(store, 999, "x", NOW)
    with pytest.raises(UnknownAlertError, match="no alert 999"):
        acknowledge_alert(store, 999, "x", NOW)
    store.close()


def test_an_escalation_committed_during_the_ack_is_cancelled_too(store_url: str) -> None:
    """Review 6: acknowledging read the mention's alert ids first and then updated those;
    a tier row another daemon's sweep committed in between stayed pending, was sent after
    the click and, unacknowledged, escalated again."""
    from sqlalchemy import event
    from sqlalchemy.orm import ORMExecuteState, Session

    store = Store(store_url)
    store.upgrade()
    mention_id, ids = seed(store)
    injected: list[int] = []

    def sweep_commits_meanwhile(state: ORMExecuteState) -> None:
        if injected or not state.is_update:
            return
        with store.session() as other:
            row = Alert(mention_id=mention_id, channel="member:lead",
                        idempotency_key="rm-m1-t2-member:lead", status="pending", title="t",
                        body="b", next_attempt_at=NOW, created_at=NOW, tier=2,
                        escalate_at=NOW + timedelta(minutes=30))
            other.add(row)
            other.flush()
            injected.append(row.id or 0)

    event.listen(Session, "do_orm_execute", sweep_commits_meanwhile)
    try:
        acknowledge_alert(store, ids[0], "ada", NOW)
    finally:
        event.remove(Session, "do_orm_execute", sweep_commits_meanwhile)
    assert injected
    with store.session() as session:
        late = session.get(Alert, injected[0])
        assert late is not None
        assert (late.status, late.acked_by, late.escalate_at) == ("cancelled", "ada", None)
    store.close()
