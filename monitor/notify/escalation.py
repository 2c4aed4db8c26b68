"""Acknowledgement and escalation of alerts (the alert path's store side).

Stable entry points (used by the web inbox, the ack links and the CLI):

- ``acknowledge_alert(store, alert_id, by, now) -> AckResult``
- ``acknowledge_mention(store, mention_id, by, now) -> AckResult``

Acknowledging stops escalation: every alert of the same mention (or, for an incident
alert, of the same incident) gets ``acked_at``/``acked_by`` and loses its ``escalate_at``,
and escalation alerts of it that were queued but not yet sent are cancelled (so are
alerts still held for business hours or a rate limit: someone has it already). The
mention moves from "open" to "acknowledged" (other statuses are left alone: a mention
already replied to or resolved stays so).

``escalate_due(store, config, now)`` is the daemon's sweep: an alert still
unacknowledged at its ``escalate_at`` gets a new Alert row for the next tier of the
escalation policy (same mention, tier + 1), in one transaction with clearing the old
``escalate_at``, so a crash can neither lose nor double an escalation.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from monitor.core.triage import handled, running_snooze
from monitor.errors import MonitorError
from monitor.notify.targets import AlertPlanner, Planned, planned_rows
from monitor.store import Store
from monitor.store.models import Alert, Incident, Mention

log = logging.getLogger(__name__)

# Alert statuses an acknowledgement cancels (queued escalations not yet sent).
CANCELLED = "cancelled"


class UnknownAlertError(MonitorError):
    """The alert or mention to acknowledge does not exist."""


@dataclass(frozen=True)
class AckResult:
    mention_id: int | None
    incident_id: int | None
    # Alerts newly marked acknowledged (0 when someone else was first).
    alerts_acked: int
    # Queued escalations that will now not be sent.
    escalations_cancelled: int
    # The mention's status after the acknowledgement (None for incident-only alerts).
    status: str | None
    # Who acknowledged first, and when (this call or an earlier one).
    acked_by: str | None
    acked_at: datetime | None

    @property
    def already(self) -> bool:
        return self.alerts_acked == 0 and self.escalations_cancelled == 0


def acknowledge_alert(store: Store, alert_id: int, by: str, now: datetime) -> AckResult:
    """Acknowledge one alert and, with it, everything sent about the same mention or
    incident. Idempotent: a second click reports who was first."""
    with store.session() as session:
        alert = session.get(Alert, alert_id)
        if alert is None:
            raise UnknownAlertError(f"no alert {alert_id} in the store")
        if alert.mention_id is not None:
            return _acknowledge(session, alert.mention_id, None, by, now)
        if alert.incident_id is not None:
            return _acknowledge(session, None, alert.incident_id, by, now)
        return _acknowledge_ids(session, [alert_id], None, None, by, now)


def acknowledge_mention(store: Store, mention_id: int, by: str, now: datetime) -> AckResult:
    """Acknowledge a mention (web inbox): its alerts stop escalating, status "open" →
    "acknowledged". Idempotent."""
    with store.session() as session:
        if session.get(Mention, mention_id) is None:
            raise UnknownAlertError(f"no mention {mention_id} in the store")
        return _acknowledge(session, mention_id, None, by, now)


def _acknowledge(session: Session, mention_id: int | None, incident_id: int | None,
                 by: str, now: datetime) -> AckResult:
    where = col(Alert.mention_id) == mention_id if mention_id is not None \
        else col(Alert.incident_id) == incident_id
    return _acknowledge_where(session, where, mention_id, incident_id, by, now)


def _acknowledge_ids(session: Session, ids: Sequence[int], mention_id: int | None,
                     incident_id: int | None, by: str, now: datetime) -> AckResult:
    return _acknowledge_where(session, col(Alert.id).in_(ids), mention_id, incident_id, by,
                              now)


def _acknowledge_where(session: Session, where: Any, mention_id: int | None,
                       incident_id: int | None, by: str, now: datetime) -> AckResult:
    # Every statement names the mention (or incident), never a list of ids read first: an
    # escalation another daemon commits meanwhile (its new tier row) is acknowledged and
    # cancelled too, instead of being sent, and escalating again, after the click.
    by = by.strip()[:200] or "someone"
    acked = _count(session.execute(
        update(Alert).where(where, col(Alert.acked_at).is_(None))
        .values(acked_at=now, acked_by=by, escalate_at=None)))
    session.execute(update(Alert).where(where).values(escalate_at=None))
    cancelled = _count(session.execute(
        update(Alert).where(where, col(Alert.status) == "pending",
                            or_(col(Alert.tier) > 0, col(Alert.held).is_not(None)))
        .values(status=CANCELLED, last_error=f"acknowledged by {by}")))
    # Rows that appeared after the first statement (see above).
    acked += _count(session.execute(
        update(Alert).where(where, col(Alert.acked_at).is_(None))
        .values(acked_at=now, acked_by=by, escalate_at=None)))
    status: str | None = None
    if mention_id is not None:
        session.execute(
            update(Mention).where(col(Mention.id) == mention_id, col(Mention.status) == "open")
            .values(status="acknowledged", acknowledged_at=now, acknowledged_by=by))
        session.execute(
            update(Mention).where(col(Mention.id) == mention_id,
                                  col(Mention.acknowledged_at).is_(None))
            .values(acknowledged_at=now, acknowledged_by=by))
        mention = session.get(Mention, mention_id)
        if mention is not None:
            session.refresh(mention)
            status = mention.status
    first = session.execute(
        select(col(Alert.acked_by), col(Alert.acked_at))
        .where(where, col(Alert.acked_at).is_not(None))
        .order_by(col(Alert.acked_at), col(Alert.id)).limit(1)).first()
    log.info("acknowledged mention=%s incident=%s alerts=%s cancelled=%s", mention_id,
             incident_id, acked, cancelled)
    return AckResult(mention_id, incident_id, acked, cancelled, status,
                     first[0] if first else None, first[1] if first else None)


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def unacknowledged(session: Session, now: datetime) -> Any:
    """Alerts whose escalation is due: the sweep's query."""
    return select(Alert).where(
        col(Alert.escalate_at).is_not(None), col(Alert.escalate_at) <= now,
        col(Alert.acked_at).is_(None),
        or_(col(Alert.status) == "sent", col(Alert.status) == "pending",
            col(Alert.status) == "dead"),
    ).order_by(col(Alert.escalate_at), col(Alert.id))


def escalate_due(store: Store, planner: AlertPlanner, now: datetime, limit: int = 200) -> int:
    """The sweep: every unacknowledged alert past its ``escalate_at`` is escalated once
    (per mention or incident) to the next tier that has somebody to reach; returns how
    many new alert rows were queued. One transaction per mention, so two processes or a
    crash never double an escalation (idempotency keys are per mention and tier)."""
    with store.session() as session:
        due = list(session.scalars(unacknowledged(session, now).limit(limit)))
    created = 0
    done: set[tuple[str, int, int]] = set()
    for alert in due:
        subject = ("m", alert.mention_id) if alert.mention_id is not None else \
            ("i", alert.incident_id) if alert.incident_id is not None else ("a", alert.id)
        group = (subject[0], subject[1] or 0, alert.tier)
        if group in done:
            continue
        done.add(group)
        created += _escalate_one(store, planner, alert, subject, now)
    return created


def _escalate_one(store: Store, planner: AlertPlanner, alert: Alert,
                  subject: tuple[str, int | None], now: datetime) -> int:
    tiers = len(planner.config.escalation.tiers)
    tier, planned = alert.tier + 1, list[Planned]()
    while tier <= tiers and not planned:
        planned = planner.plan_tier(tier, now)
        if not planned:
            tier += 1
    kind, subject_id = subject
    with store.session() as session:
        same = [col(Alert.tier) == alert.tier, col(Alert.acked_at).is_(None),
                col(Alert.escalate_at).is_not(None), col(Alert.escalate_at) <= now]
        if kind == "m":
            same.append(col(Alert.mention_id) == subject_id)
        elif kind == "i":
            same.append(col(Alert.incident_id) == subject_id)
        else:
            same.append(col(Alert.id) == alert.id)
        snoozed_until = _running_snooze(session, subject_id, now) if kind == "m" else None
        if snoozed_until is not None:
            # Snoozed: not now. If nobody has dealt with it when the snooze ends, the
            # escalation goes on then (handled() no longer counts an ended snooze).
            if _count(session.execute(update(Alert).where(*same)
                                      .values(escalate_at=snoozed_until))):
                log.info("escalation_deferred alert=%s until=%s", alert.id,
                         snoozed_until.isoformat())
            return 0
        cleared = _count(session.execute(update(Alert).where(*same).values(escalate_at=None)))
        if cleared == 0:
            return 0  # another process took it, or it was acknowledged meanwhile
        handled = _handled(session, kind, subject_id, now)
        if handled:
            # Replied to, resolved, snoozed or not a complaint (in the inbox, or a public
            # reply was detected), or the incident closed: somebody dealt with it, so
            # nobody else is woken up about it.
            log.info("escalation_moot alert=%s %s", alert.id, handled)
            return 0
        if not planned:
            log.warning("escalation_exhausted alert=%s tier=%s", alert.id, alert.tier)
            return 0
        prefix = f"rm-{kind}{subject_id}-t{tier}"
        rows = planned_rows(planned, prefix, now,
                            lambda key: _escalation_body(alert, tier, key),
                            mention_id=alert.mention_id, incident_id=alert.incident_id,
                            purpose="escalation" if alert.mention_id is not None
                            else alert.purpose, title=alert.title)
        inserted = 0
        for row in rows:
            row["tier"] = tier
            table = Alert.__table__.c  # type: ignore[attr-defined]
            result = session.execute(
                store.insert_ignore(Alert).values(**row).returning(table.id))
            inserted += len(result.all())
    log.info("escalated alert=%s to_tier=%s new=%s", alert.id, tier, inserted)
    return inserted


def _running_snooze(session: Session, mention_id: int | None,
                    now: datetime) -> datetime | None:
    """When the mention's snooze ends, if it is snoozed and the snooze still runs."""
    found = session.execute(select(col(Mention.status), col(Mention.snoozed_until))
                            .where(col(Mention.id) == mention_id)).first()
    if found is None:
        return None
    status, until = found
    return running_snooze(status, until, now)


def _handled(session: Session, kind: str, subject_id: int | None,
             now: datetime) -> str | None:
    """Why escalating this mention or incident is moot, or None while nobody handled it
    (``core.triage.handled``: the same notion that keeps held alerts from being sent)."""
    if kind == "m" and subject_id is not None:
        found = session.execute(select(col(Mention.status), col(Mention.snoozed_until))
                                .where(col(Mention.id) == subject_id)).first()
        status, snoozed_until = found if found is not None else (None, None)
        reason = handled(status, snoozed_until=snoozed_until, now=now)
        return None if reason is None else f"mention={subject_id} {reason}"
    if kind == "i" and subject_id is not None:
        status = session.scalar(select(col(Incident.status))
                                .where(col(Incident.id) == subject_id))
        reason = handled(None, status)
        return None if reason is None else f"incident={subject_id} {reason}"
    return None


def _escalation_body(alert: Alert, tier: int, key: str) -> str:
    lines = [line for line in alert.body.splitlines() if not line.startswith("ref: ")]
    return "\n".join([f"Escalated to tier {tier}: nobody acknowledged the alert sent to "
                      f"{alert.recipient or alert.channel}.", *lines, f"ref: {key}"])
