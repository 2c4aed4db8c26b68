"""What an alert says, read from the store when it is sent (so the message carries the
alert's own ack link and the mention's current SLA deadline)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlmodel import col

from monitor.config import Config
from monitor.notify.acklink import ack_url
from monitor.notify.render import AlertView, format_deadline
from monitor.store import Alert, Mention, Store

_EXCERPT = 600
# Alerts about one mention get the structured message; the rest show their stored body.
_MENTION_PURPOSES = ("mention", "escalation")
_SLA_PURPOSES = ("sla_reminder", "sla_breach")


def load_views(store: Store, config: Config, alert_ids: Sequence[int], now: datetime,
               timezones: dict[str, str]) -> dict[int, AlertView]:
    """AlertViews by alert id. ``timezones`` maps a stored channel (member:NAME) to the
    zone its deadlines are shown in; others use the team's [hours] zone."""
    if not alert_ids:
        return {}
    with store.session() as session:
        alerts = list(session.scalars(select(Alert).where(col(Alert.id).in_(alert_ids))))
        mention_ids = {a.mention_id for a in alerts if a.mention_id is not None}
        mentions = {m.id: m for m in session.scalars(
            select(Mention).where(col(Mention.id).in_(mention_ids)))} if mention_ids else {}
    views: dict[int, AlertView] = {}
    for alert in alerts:
        assert alert.id is not None
        link = ack_url(config, alert.id, now) if alert.purpose in (
            "mention", "escalation", "incident") else None
        mention = mentions.get(alert.mention_id) if alert.mention_id is not None else None
        zone = timezones.get(alert.channel) or config.hours.timezone
        if mention is None or alert.purpose not in _MENTION_PURPOSES:
            plain = "\n".join(line for line in alert.body.splitlines()
                              if not line.startswith("ref: "))
            # An SLA reminder or breach states the deadline in the team's zone; a member
            # elsewhere also gets it in their own.
            own_zone = timezones.get(alert.channel)
            due = None
            if mention is not None and mention.sla_due_at is not None and own_zone and \
                    own_zone != config.hours.timezone and alert.purpose in _SLA_PURPOSES:
                due = format_deadline(mention.sla_due_at, own_zone)
            views[alert.id] = AlertView(
                key=alert.idempotency_key, title=alert.title, kind=alert.purpose,
                severity="", brand="", source="", plain=plain, ack_url=link,
                alert_id=alert.id, tier=alert.tier, sla_due=due)
            continue
        brand = config.brands[mention.brand].name if mention.brand in config.brands \
            else (mention.brand or "")
        text = mention.body if len(mention.body) <= _EXCERPT else \
            mention.body[: _EXCERPT - 1] + "…"
        notes = []
        if (mention.thread_position or 0) > 1:
            notes.append(f"Follow-up message {mention.thread_position} from the same "
                         "customer: do not leave it unanswered")
        if mention.revisions:
            notes.append(f"Edited {mention.revisions} time(s) since first seen")
        rating = None
        if mention.rating is not None:
            rating = f"{mention.rating:g}/{(mention.rating_max or 5):g}"
        views[alert.id] = AlertView(
            key=alert.idempotency_key, title=alert.title, kind=mention.kind,
            severity=mention.severity, brand=brand, source=mention.source_id,
            author=mention.author, rating=rating, heading=mention.title, text=text,
            reasons=tuple(mention.reasons or ()), url=mention.url, ack_url=link,
            alert_id=alert.id,
            sla_due=format_deadline(mention.sla_due_at, zone) if mention.sla_due_at else None,
            notes=tuple(notes), tier=alert.tier)
    return views
