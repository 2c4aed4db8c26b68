"""The SLA sweeper: reminders, breaches and delay notices for unanswered complaints.

Ingest starts a complaint's clock (``SlaClock.start``: ``sla_due_at`` from the
severity's target counted in business hours). The daemon calls ``sweep`` every
``[sla] sweep_every``; it writes outbox rows, the dispatcher sends them:

- a reminder at each of ``[sla] reminders`` percent of the target, to the
  channels (and recipient) the mention's first alert went to;
- a breach at 100%, to ``[sla] lead_channel`` (or those channels);
- a "tell the customer about the delay" notice for complaints still unresolved
  ``delay_notice_after`` after we first saw them, replied or not.

Each happens once, also with two daemons on one store: a stage is claimed with
a conditional UPDATE (``... WHERE sla_stage < X``, ``... WHERE delay_notice_at IS
NULL``) before its alert is written in the same transaction, and the alert's
idempotency key names the mention and the stage. The public reply stops the
clock: the sweep only looks at mentions without ``first_reply_at``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from monitor.config import Config
from monitor.core.hours import SupportHours
from monitor.core.sla import (
    BREACHED,
    Targets,
    business_time_left,
    deadline,
    delay_notice_due,
    describe,
    reached_at,
    stage_marks,
    stage_to_send,
)
from monitor.store import Alert, Mention, Store

log = logging.getLogger(__name__)

#: Statuses whose clock runs (replied, resolved and not-a-complaint have stopped it).
RUNNING = ("open", "acknowledged", "snoozed")
#: Statuses that still owe the customer a fix (the delay notice).
UNRESOLVED = ("open", "acknowledged", "snoozed", "replied")

_EXCERPT = 300


def support_hours(config: Config) -> SupportHours:
    """The team's support hours from ``[hours]`` (default Mon-Fri 09:00-17:00 UTC)."""
    return config.hours.hours()


class Destination:
    """Where a ``[sla] lead_channel``, ``[health] ops_channel`` or ``[replies]
    template_channel`` points: a channel of ``[channels]``, ``member:NAME`` (their own
    URLs) or ``oncall:SCHEDULE`` (whoever is on call then, as a route target does)."""

    def __init__(self, config: Config, target: str | None) -> None:
        self.config = config
        self.target = target
        self._targets: Any = None

    def __bool__(self) -> bool:
        return bool(self.target)

    def resolve(self, at: datetime) -> tuple[str, str | None] | None:
        """(stored channel, recipient), or None when unset or nobody is on call."""
        if not self.target:
            return None
        kind, _, name = self.target.partition(":")
        if kind == "member" and name:
            return self.target, name
        if kind == "oncall" and name:
            if self._targets is None:
                from monitor.notify.targets import Targets

                self._targets = Targets(self.config, now=at)
            resolved: tuple[str, str | None] | None = self._targets.resolve(self.target, at)
            return resolved
        return self.target, None


@dataclass
class SweepResult:
    reminders: int = 0
    breaches: int = 0
    delay_notices: int = 0

    @property
    def alerts(self) -> int:
        return self.reminders + self.breaches + self.delay_notices


class SlaClock:
    def __init__(self, store: Store, config: Config, hours: SupportHours | None = None) -> None:
        self.store = store
        self.settings = config.sla
        self.hours = hours if hours is not None else support_hours(config)
        self.targets = Targets(critical=config.sla.critical, high=config.sla.high,
                               normal=config.sla.normal, low=config.sla.low)
        self.brand_names = {key: brand.name for key, brand in config.brands.items()}
        self.lead = Destination(config, config.sla.lead_channel)
        self._mark_cache: dict[tuple[int, datetime, datetime], tuple[tuple[int, datetime], ...]] \
            = {}

    def _marks(self, mention_id: int, started: datetime,
               due: datetime) -> tuple[tuple[int, datetime], ...]:
        """A clock's stage moments, cached per process (keyed by its start and deadline,
        so a changed deadline is worked out again)."""
        key = (mention_id, started, due)
        marks = self._mark_cache.get(key)
        if marks is None:
            if len(self._mark_cache) > 100_000:
                self._mark_cache.clear()
            marks = self._mark_cache[key] = stage_marks(self.hours, started, due,
                                                        self.settings.reminders)
        return marks

    # -- ingest -----------------------------------------------------------------------

    def due(self, severity: str, started: datetime) -> datetime:
        """The reply deadline of a complaint of this severity whose clock starts at
        ``started`` (what ``start`` stores; alert messages show it)."""
        return deadline(self.hours, started, self.targets.for_severity(severity))

    def start(self, session: Session, complaints: Sequence[tuple[int, str, datetime]]) -> None:
        """Set ``sla_due_at`` for new complaints: (mention id, severity, clock start)."""
        # A batch's complaints share their start (ingest's now): one deadline per severity.
        deadlines: dict[tuple[str, datetime], datetime] = {}
        params = []
        for mention_id, severity, started in sorted(complaints):
            due = deadlines.get((severity, started))
            if due is None:
                due = deadlines[(severity, started)] = self.due(severity, started)
            params.append({"m": mention_id, "d": due})
        table: Any = Mention.__table__  # type: ignore[attr-defined]
        session.execute(update(table).where(table.c.id == bindparam("m"),
                                            table.c.sla_due_at.is_(None))
                        .values(sla_due_at=bindparam("d")), params)

    # -- the sweep --------------------------------------------------------------------

    def sweep(self, now: datetime) -> SweepResult:
        """Queue every reminder, breach and delay notice due at ``now`` (idempotent)."""
        result = SweepResult()
        with self.store.session() as session:
            self._clock_stages(session, now, result)
            self._delay_notices(session, now, result)
        if result.alerts:
            log.info("sla_sweep reminders=%s breaches=%s delay_notices=%s", result.reminders,
                     result.breaches, result.delay_notices)
        return result

    def _clock_stages(self, session: Session, now: datetime, result: SweepResult) -> None:
        running = session.execute(select(
            col(Mention.id), col(Mention.first_seen_at), col(Mention.sla_due_at),
            col(Mention.sla_stage), col(Mention.status), col(Mention.snoozed_until),
        ).where(
            col(Mention.status).in_(RUNNING), col(Mention.sla_due_at).is_not(None),
            col(Mention.first_reply_at).is_(None), col(Mention.sla_stage) < BREACHED,
            col(Mention.kind) == "complaint",
            # Taken down by the site or its author: there is nothing left to reply under.
            col(Mention.removed).is_(False),
        ).order_by(col(Mention.sla_due_at), col(Mention.id))).all()
        for mention_id, started, due, current, status, snoozed_until in running:
            assert mention_id is not None and due is not None
            snoozed = status == "snoozed" and snoozed_until is not None and snoozed_until > now
            stage = stage_to_send(current, reached_at(self._marks(mention_id, started, due),
                                                      now), snoozed)
            if stage is None:
                continue
            mention = session.get(Mention, mention_id)
            if mention is None:
                continue
            values: dict[str, Any] = {"sla_stage": stage}
            if stage == BREACHED:
                values["sla_breached_at"] = now
            claimed = session.execute(
                update(Mention).where(col(Mention.id) == mention.id,
                                      col(Mention.sla_stage) < stage,
                                      col(Mention.first_reply_at).is_(None))
                .values(**values).returning(col(Mention.id))
                .execution_options(synchronize_session=False)).first()
            if claimed is None:
                continue  # another daemon got there first, or the reply just arrived
            if stage == BREACHED:
                lead = self.lead.resolve(now)
                targets = [lead] if lead else self._first_targets(session, mention, now)
                self._queue(session, mention, targets, f"rm-sla{mention.id}-breach",
                            "sla_breach", self._breach_text(mention, now), now)
                result.breaches += 1
            else:
                self._queue(session, mention, self._first_targets(session, mention, now),
                            f"rm-sla{mention.id}-{stage}", "sla_reminder",
                            self._reminder_text(mention, stage, now), now)
                result.reminders += 1

    def _delay_notices(self, session: Session, now: datetime, result: SweepResult) -> None:
        after = self.settings.delay_notice_after
        if after.total_seconds() <= 0:
            return
        waiting = session.scalars(select(Mention).where(
            col(Mention.status).in_(UNRESOLVED), col(Mention.sla_due_at).is_not(None),
            col(Mention.delay_notice_at).is_(None), col(Mention.kind) == "complaint",
            col(Mention.first_seen_at) <= now - after, col(Mention.removed).is_(False),
        ).order_by(col(Mention.first_seen_at), col(Mention.id))).all()
        for mention in waiting:
            if not delay_notice_due(mention.first_seen_at, now, after):
                continue
            claimed = session.execute(
                update(Mention).where(col(Mention.id) == mention.id,
                                      col(Mention.delay_notice_at).is_(None))
                .values(delay_notice_at=now).returning(col(Mention.id))
                .execution_options(synchronize_session=False)).first()
            if claimed is None:
                continue
            # Not urgent: it waits for the team's hours instead of waking anybody.
            self._queue(session, mention, self._first_targets(session, mention, now),
                        f"rm-delay{mention.id}", "delay_notice",
                        self._delay_text(mention, now), now, send_at=self.hours.next_open(now))
            result.delay_notices += 1

    # -- where and what ---------------------------------------------------------------

    def _first_targets(self, session: Session, mention: Mention,
                       now: datetime) -> list[tuple[str, str | None]]:
        """The channels (and recipients) the mention's first alert went to: its own
        alerts, else its incident's; the lead channel when it was never alerted."""
        rows = self._targets(session, (col(Alert.mention_id) == mention.id)
                             & (col(Alert.purpose) == "mention"))
        if not rows and mention.incident_id is not None:
            rows = self._targets(session, (col(Alert.incident_id) == mention.incident_id)
                                 & (col(Alert.purpose) == "incident"))
        if not rows:
            lead = self.lead.resolve(now)
            rows = [lead] if lead else []
        return list(dict.fromkeys(rows))

    @staticmethod
    def _targets(session: Session, where: Any) -> list[tuple[str, str | None]]:
        return [(row[0], row[1]) for row in session.execute(
            select(col(Alert.channel), col(Alert.recipient)).where(where)
            .where(col(Alert.tier) == 0).order_by(col(Alert.id)))]

    def _queue(self, session: Session, mention: Mention, targets: list[tuple[str, str | None]],
               key: str, purpose: str, text: tuple[str, str], now: datetime,
               send_at: datetime | None = None) -> None:
        if not targets:
            log.warning("sla_no_channel mention=%s purpose=%s: it was never alerted and "
                        "[sla] lead_channel is not set", mention.id, purpose)
            return
        title, body = text
        rows = []
        for channel, recipient in targets:
            full_key = f"{key}-{channel}" + (f"-{recipient}" if recipient else "")
            rows.append({
                "mention_id": mention.id, "channel": channel, "idempotency_key": full_key[:300],
                "status": "pending", "purpose": purpose, "title": title[:300],
                "body": f"{body}\nref: {full_key[:300]}", "attempts": 0,
                "next_attempt_at": send_at or now, "created_at": now, "recipient": recipient,
                "tier": 0,
            })
        self.store.queue_alerts(session, rows)

    def _where(self, mention: Mention) -> str:
        brand = self.brand_names.get(mention.brand or "", mention.brand or "")
        who = f" by {mention.author}" if mention.author else ""
        return f"{brand} on {mention.source_id}{who}"

    def _local(self, moment: datetime) -> str:
        return f"{moment.astimezone(self.hours.zone):%a %Y-%m-%d %H:%M} {self.hours.timezone}"

    def _summary(self, mention: Mention) -> list[str]:
        text = (mention.title + ": " if mention.title else "") + mention.body
        lines = [text if len(text) <= _EXCERPT else text[:_EXCERPT - 1] + "…"]
        if mention.url:
            lines.append(f"Reply publicly: {mention.url}")
        return lines

    def _reminder_text(self, mention: Mention, stage: int, now: datetime) -> tuple[str, str]:
        assert mention.sla_due_at is not None
        left = describe(business_time_left(self.hours, now, mention.sla_due_at))
        title = f"[reply due] {stage}% of the reply time used: {self._where(mention)}"
        body = [f"No public reply yet to this {mention.severity} complaint about "
                f"{self._where(mention)}.",
                f"Due {self._local(mention.sla_due_at)} ({left} of business time left).",
                *self._summary(mention)]
        return title, "\n".join(body)

    def _breach_text(self, mention: Mention, now: datetime) -> tuple[str, str]:
        assert mention.sla_due_at is not None
        title = f"[reply overdue] {self._where(mention)}"
        body = [f"The public reply to this {mention.severity} complaint about "
                f"{self._where(mention)} was due {self._local(mention.sla_due_at)} and "
                "has not appeared.",
                f"Assignee: {mention.assignee or 'nobody'}; status: {mention.status}.",
                *self._summary(mention)]
        return title, "\n".join(body)

    def _delay_text(self, mention: Mention, now: datetime) -> tuple[str, str]:
        waited = describe(now - mention.first_seen_at)
        title = f"[tell the customer] still unresolved after {waited}: {self._where(mention)}"
        replied = "A public reply was posted, but the complaint" if mention.first_reply_at \
            else "The complaint"
        body = [f"{replied} is still not resolved {waited} after it appeared. Tell the "
                "customer, in the same thread, that it is taking longer and when to expect "
                "the fix, before they have to ask.",
                *self._summary(mention)]
        return title, "\n".join(body)
