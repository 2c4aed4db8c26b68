"""Storm protection and batching in the outbox.

- Held alerts (``alert.held``: waited for business hours, or for a channel's rate
  limit) that come due together for one channel go out as one message listing them.
- ``notify.rate_limit``: a channel that already took that many alerts within
  ``notify.rate_window`` gets no more single messages; further alerts are held for one
  window and then arrive as one summary (counts, links, ack links). Escalations (tier > 0)
  and dead-letter notices are never held: they are the messages that must get through.
- A held alert whose mention (or incident) was handled while it waited (a public reply
  detected, acknowledged, resolved or not a complaint in the inbox, the incident
  closed: ``core.triage.handled``, the notion escalation stops on) is not sent when it
  comes due: ``settle_held`` marks it ``cancelled`` with the reason, and the batch or
  summary carries only the others. One whose mention is snoozed waits for the snooze's
  end ("not now", not "never", as escalation does) and is decided again then: sent if
  still nobody has dealt with it, held to the next opening if the support hours are
  closed by then (``core.triage.held_alert_due``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, func, select, update
from sqlmodel import col

from monitor.config import NotifyConfig
from monitor.core.classify import Severity
from monitor.core.hours import SupportHours
from monitor.core.triage import INCIDENT_OPEN, OPEN, SEND, SNOOZED, WAIT, handled, held_alert_due
from monitor.notify.escalation import CANCELLED
from monitor.notify.targets import HELD_AFTER_HOURS, HELD_RATE_LIMIT, HELD_SNOOZED
from monitor.store import Alert, PendingAlert, Store
from monitor.store.models import Incident, Mention

log = logging.getLogger(__name__)


def split_batches(due: Sequence[PendingAlert]
                  ) -> tuple[list[PendingAlert], dict[str, list[PendingAlert]]]:
    """(alerts sent one by one, held alerts sent as one message per channel)."""
    held: dict[str, list[PendingAlert]] = defaultdict(list)
    singles: list[PendingAlert] = []
    for alert in due:
        if alert.held and alert.purpose != "dead_letter":
            held[alert.channel].append(alert)
        else:
            singles.append(alert)
    batches = {}
    for channel, alerts in held.items():
        if len(alerts) == 1:
            singles.append(alerts[0])
        else:
            batches[channel] = alerts
    return singles, batches


# Alerts that announce a mention or an incident: moot once it is handled. Held SLA
# reminders, delay notices ("tell the customer", due replied or not), template and
# source-health messages are about something else and still go out.
MOOT_PURPOSES = ("mention", "incident")


@dataclass
class Settled:
    """Due alerts after ``settle_held``: those to send now, and how many were cancelled
    (handled while held) or held on (a running snooze, closed business hours)."""

    send: list[PendingAlert]
    cancelled: int = 0
    deferred: int = 0


def _hours_for(hours: SupportHours | None, held: str | None, purpose: str,
               severity: str | None) -> SupportHours | None:
    """The hours a due held alert waits for, or None when it goes out at any hour: one
    held for business hours (not urgent when planned), and one that waited for a snooze
    unless urgent (the planner's rule: incidents and critical mentions go at once)."""
    if hours is None:
        return None
    if held == HELD_AFTER_HOURS:
        return hours
    if held == HELD_SNOOZED and purpose == "mention" and severity != Severity.CRITICAL:
        return hours
    return None


def settle_held(store: Store, alerts: Sequence[PendingAlert], now: datetime,
                hours: SupportHours | None = None,
                escalate_after: timedelta | None = None) -> Settled:
    """Decide the held alerts among ``alerts`` (``core.triage.held_alert_due``): one whose
    mention or incident was handled meanwhile is marked ``cancelled`` (``last_error`` says
    why); one whose mention is snoozed waits for the snooze's end (``held`` =
    "snoozed"); one that waits for business hours (``hours``: the support hours of
    after-hours batching, None when it is off) and comes due while they are closed waits
    for their next opening (``held`` = "after_hours"). A held alert moved on gets
    ``escalate_at`` = its new send time + ``escalate_after`` (the first tier's delay), so
    its escalation still follows the alert. Alerts sent at once, escalations and
    dead-letter notices are never held, so never touched here.

    Each write is conditional on the outbox row still pending (and a cancel on the
    mention or incident still handled, a snooze wait on the snooze still running): one
    reopened in the very moment still gets its alert."""
    held = [a for a in alerts if a.held is not None and a.purpose in MOOT_PURPOSES]
    if not held:
        return Settled(list(alerts))
    dropped: set[int] = set()
    moved: set[int] = set()
    with store.session() as session:
        rows = session.execute(
            select(col(Alert.id), col(Alert.status), col(Alert.acked_at),
                   col(Alert.acked_by), col(Alert.held), col(Alert.purpose),
                   col(Alert.escalate_at), col(Mention.status), col(Mention.snoozed_until),
                   col(Mention.severity), col(Incident.status))
            .outerjoin(Mention, col(Mention.id) == col(Alert.mention_id))
            .outerjoin(Incident, col(Incident.id) == col(Alert.incident_id))
            .where(col(Alert.id).in_([a.id for a in held]))).all()
        for alert_id, status, acked_at, acked_by, held_why, purpose, escalate_at, \
                mention_status, snoozed_until, severity, incident_status in rows:
            if alert_id is None:
                continue
            if status != "pending":
                # Cancelled by an acknowledgement after this process claimed it.
                dropped.add(alert_id)
                continue
            due = held_alert_due(mention_status, incident_status, acked_by,
                                 acked_at is not None, snoozed_until=snoozed_until, now=now,
                                 hours=_hours_for(hours, held_why, purpose, severity))
            if due.action == SEND:
                continue
            still = [col(Alert.id) == alert_id, col(Alert.status) == "pending"]
            if due.action == WAIT and due.until is not None:
                snoozed = due.reason == "mention snoozed"
                if snoozed:
                    still.append(exists().where(
                        col(Mention.id) == col(Alert.mention_id), col(Mention.status) == SNOOZED,
                        col(Mention.snoozed_until) > now))
                later = due.until + escalate_after \
                    if escalate_at is not None and escalate_after is not None else escalate_at
                result = session.execute(
                    update(Alert).where(*still)
                    .values(next_attempt_at=due.until, escalate_at=later,
                            held=HELD_SNOOZED if snoozed else HELD_AFTER_HOURS))
                if getattr(result, "rowcount", 0):
                    moved.add(alert_id)
                    log.info("held_alert_waits id=%s for=%s until=%s", alert_id,
                             "snooze" if snoozed else "business_hours", due.until.isoformat())
                elif session.scalar(select(col(Alert.status))
                                    .where(col(Alert.id) == alert_id)) != "pending":
                    dropped.add(alert_id)  # acknowledged meanwhile
                continue
            reason = due.reason
            # Still handled when the row is written (not reopened meanwhile).
            if acked_at is None and handled(mention_status, snoozed_until=snoozed_until,
                                            now=now) is not None:
                # not open, and not snoozed (a running snooze waits, above)
                still.append(exists().where(
                    col(Mention.id) == col(Alert.mention_id), col(Mention.status) != OPEN,
                    col(Mention.status) != SNOOZED))
            elif acked_at is None:
                still.append(select(col(Incident.status))
                             .where(col(Incident.id) == col(Alert.incident_id))
                             .scalar_subquery() != INCIDENT_OPEN)
            result = session.execute(
                update(Alert).where(*still)
                .values(status=CANCELLED, escalate_at=None,
                        last_error=f"not sent: {reason} while it was held"))
            if getattr(result, "rowcount", 0):
                dropped.add(alert_id)
    if dropped:
        log.info("held_alerts_moot cancelled=%s ids=%s", len(dropped), sorted(dropped))
    return Settled([alert for alert in alerts if alert.id not in dropped | moved],
                   len(dropped), len(moved))


def drop_handled(store: Store, alerts: Sequence[PendingAlert], now: datetime,
                 hours: SupportHours | None = None,
                 escalate_after: timedelta | None = None) -> list[PendingAlert]:
    """The alerts to send now (``settle_held``)."""
    return settle_held(store, alerts, now, hours, escalate_after).send


def _exempt(alert: PendingAlert) -> bool:
    return alert.tier > 0 or alert.purpose == "dead_letter" or alert.held is not None


def apply_rate_limit(store: Store, config: NotifyConfig, alerts: Sequence[PendingAlert],
                     now: datetime) -> list[PendingAlert]:
    """The alerts to send now; the rest are held for one rate window."""
    if config.rate_limit <= 0 or not alerts:
        return list(alerts)
    since = now - config.rate_window
    channels = {alert.channel for alert in alerts if not _exempt(alert)}
    if not channels:
        return list(alerts)
    with store.session() as session:
        rows = session.execute(
            select(col(Alert.channel), func.count())
            .where(col(Alert.channel).in_(channels), col(Alert.status) == "sent",
                   col(Alert.sent_at) >= since)
            .group_by(col(Alert.channel))).all()
        recent = {str(channel): int(count) for channel, count in rows}
    allowed = {channel: max(0, config.rate_limit - int(recent.get(channel, 0)))
               for channel in channels}
    send: list[PendingAlert] = []
    hold: list[int] = []
    for alert in alerts:
        if _exempt(alert):
            send.append(alert)
        elif allowed[alert.channel] > 0:
            allowed[alert.channel] -= 1
            send.append(alert)
        else:
            hold.append(alert.id)
    if hold:
        until = now + config.rate_window
        with store.session() as session:
            session.execute(update(Alert).where(col(Alert.id).in_(hold))
                            .values(held=HELD_RATE_LIMIT, next_attempt_at=until))
        log.warning("alerts_rate_limited held=%s until=%s", len(hold), until.isoformat())
    return send
