"""Storm protection and batching in the outbox.

- Held alerts (``alert.held``: waited for business hours, or for a channel's rate
  limit) that come due together for one channel go out as one message listing them.
- ``notify.rate_limit``: a channel that already took that many alerts within
  ``notify.rate_window`` gets no more single messages; further alerts are held for one
  window and then arrive as one summary (counts, links, ack links). Escalations (tier > 0)
  and dead-letter notices are never held: they are the messages that must get through.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlmodel import col

from monitor.config import NotifyConfig
from monitor.notify.targets import HELD_RATE_LIMIT
from monitor.store import Alert, PendingAlert, Store

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
