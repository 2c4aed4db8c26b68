"""Storm protection and batching in the outbox.

- Held alerts (``alert.held``: waited for business hours, or for a channel's rate
  limit) that come due together for one channel go out as one message listing them.
- ``notify.rate_limit``: a channel that already took that many alerts within
  ``notify.rate_window`` gets no more single messages; further alerts are held for one
  window and then arrive as one summary (counts, links, ack links). Escalations (tier > 0)
  and dead-letter notices are never held: they are the messages that must get through.
- A held alert whose mention (or incident) was handled while it waited (a public reply
  detected, acknowledged, resolved, snoozed or not a complaint in the inbox, the incident
  closed: ``core.triage.handled``, the notion escalation stops on) is not sent when it
  comes due: ``drop_handled`` marks it ``cancelled`` with the reason, and the batch or
  summary carries only the others.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import exists, func, or_, select, update
from sqlmodel import col

from monitor.config import NotifyConfig
from monitor.core.triage import INCIDENT_OPEN, OPEN, SNOOZED, handled
from monitor.notify.escalation import CANCELLED
from monitor.notify.targets import HELD_RATE_LIMIT
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


def drop_handled(store: Store, alerts: Sequence[PendingAlert],
                 now: datetime) -> list[PendingAlert]:
    """The alerts to send: held ones whose mention or incident was handled meanwhile
    are marked ``cancelled`` (``last_error`` says why) instead. Alerts sent at once,
    escalations and dead-letter notices are never held, so never dropped here.

    Each cancel is conditional on the outbox row still pending and the mention (or
    incident) still handled: one reopened in the very moment still gets its alert."""
    held = [a for a in alerts if a.held is not None and a.purpose in MOOT_PURPOSES]
    if not held:
        return list(alerts)
    dropped: set[int] = set()
    with store.session() as session:
        rows = session.execute(
            select(col(Alert.id), col(Alert.status), col(Alert.acked_at),
                   col(Alert.acked_by), col(Mention.status), col(Mention.snoozed_until),
                   col(Incident.status))
            .outerjoin(Mention, col(Mention.id) == col(Alert.mention_id))
            .outerjoin(Incident, col(Incident.id) == col(Alert.incident_id))
            .where(col(Alert.id).in_([a.id for a in held]))).all()
        for alert_id, status, acked_at, acked_by, mention_status, snoozed_until, \
                incident_status in rows:
            if alert_id is None:
                continue
            if status != "pending":
                # Cancelled by an acknowledgement after this process claimed it.
                dropped.add(alert_id)
                continue
            reason = handled(mention_status, incident_status, acked_by, acked_at is not None,
                             snoozed_until=snoozed_until, now=now)
            if reason is None:
                continue
            # Still handled when the row is written (not reopened meanwhile).
            still = [col(Alert.id) == alert_id, col(Alert.status) == "pending"]
            if acked_at is None and handled(mention_status, snoozed_until=snoozed_until,
                                            now=now) is not None:
                # not open, and not a snooze that has ended (core.triage.is_waiting)
                still.append(exists().where(
                    col(Mention.id) == col(Alert.mention_id), col(Mention.status) != OPEN,
                    or_(col(Mention.status) != SNOOZED,
                        col(Mention.snoozed_until) > now)))
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
    return [alert for alert in alerts if alert.id not in dropped]


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
