"""Source health: status changes recorded in ``source_event``, one ops alert per change.

The daemon calls ``SourceHealth.check`` right after it saves the source states of
a crawl batch (daemon.py ``_run_batch``). For each source it reads the saved
state (consecutive failures, last status) and the publication times of the
source's latest mentions (index ``ix_mention_source_published``), decides its
status (core/health.py), and when the status changed it records a
``source_event`` (the digest reads these: "Trustpilot blocked for 6 h") and queues
one alert to ``[health] ops_channel``: "down" when a source leaves ok, "recovered"
when it comes back. The alert's key names the event, so it is queued once; on
PostgreSQL the check holds an advisory lock so two daemons never record the same
change twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session
from sqlmodel import col

from monitor.config import Config
from monitor.core.health import OK, Health, SourceRuns, Thresholds, assess, transition
from monitor.core.sla import describe
from monitor.sla import Destination
from monitor.store import Alert, Mention, SourceState, Store
from monitor.store.models import SourceEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceStatus:
    source_id: str
    status: str
    since: datetime | None
    reason: str | None


@dataclass
class HealthResult:
    changes: int = 0
    alerts: int = 0


class SourceHealth:
    def __init__(self, store: Store, config: Config) -> None:
        self.store = store
        settings = config.health
        self.settings = settings
        self.ops = Destination(config, settings.ops_channel)
        self.thresholds = Thresholds(
            failures=settings.failures, blocked_after=settings.blocked_after,
            silent_factor=settings.silent_factor, silent_floor=settings.silent_floor,
            silent_min_history=settings.silent_min_history)

    def check(self, source_ids: Sequence[str], now: datetime) -> HealthResult:
        """Assess these sources now; record and alert the changes."""
        result = HealthResult()
        if not source_ids:
            return result
        ids = sorted(set(source_ids))
        with self.store.session() as session:
            if self.store.dialect == "postgresql":
                session.execute(text("SELECT pg_advisory_xact_lock(hashtext('rm-health'))"))
            states = {state.source_id: state for state in session.scalars(
                select(SourceState).where(col(SourceState.source_id).in_(ids)))}
            previous = self._latest(session, ids)
            for source_id in ids:
                state = states.get(source_id)
                if state is None:
                    continue
                last = previous.get(source_id)
                last_status = last.status if last is not None else None
                times, stored = self._mention_times(session, source_id) \
                    if state.consecutive_failures == 0 else ([], None)
                health = assess(SourceRuns(state.last_status, state.consecutive_failures,
                                           state.last_error, times, stored), last_status, now,
                                self.thresholds)
                change = transition(last_status, health.status)
                if not change.record:
                    continue
                event_id = session.execute(
                    self.store.insert_ignore(SourceEvent).values(
                        source_id=source_id, at=now, status=health.status,
                        error=health.reason or None)
                    .returning(col(SourceEvent.id))).scalar_one()
                result.changes += 1
                log.warning("source_health source=%s status=%s previous=%s reason=%s",
                            source_id, health.status, last_status or OK, health.reason)
                if change.alert is not None and self.ops:
                    result.alerts += self._alert(session, source_id, event_id, change.alert,
                                                 health, now)
        return result

    def statuses(self) -> list[SourceStatus]:
        """Every source's last recorded status (sources never recorded are ok)."""
        with self.store.session() as session:
            ids = [row[0] for row in session.execute(select(col(SourceState.source_id)))]
            latest = self._latest(session, ids)
        return [SourceStatus(source_id, event.status if event else OK,
                             event.at if event else None, event.error if event else None)
                for source_id in sorted(ids) for event in [latest.get(source_id)]]

    # -- reads ------------------------------------------------------------------------

    def _latest(self, session: Session, ids: Sequence[str]) -> dict[str, SourceEvent]:
        newest = select(func.max(col(SourceEvent.id))).where(
            col(SourceEvent.source_id).in_(list(ids))).group_by(col(SourceEvent.source_id))
        return {event.source_id: event for event in session.scalars(
            select(SourceEvent).where(col(SourceEvent.id).in_(newest.scalar_subquery())))}

    def _mention_times(self, session: Session,
                       source_id: str) -> tuple[list[datetime], datetime | None]:
        """Publication times of the source's latest mentions, and when the newest of
        them was stored."""
        rows = session.execute(
            select(col(Mention.published_at), col(Mention.first_seen_at))
            .where(col(Mention.source_id) == source_id, col(Mention.published_at).is_not(None))
            .order_by(col(Mention.published_at).desc())
            .limit(self.settings.silent_history)).all()
        times = [published for published, _ in rows if published is not None]
        stored = max((first_seen for _, first_seen in rows if first_seen is not None),
                     default=None)
        return times, stored

    def _outage(self, session: Session, source_id: str, event_id: int) -> list[SourceEvent]:
        """The bad events since the source was last ok, oldest first."""
        bad: list[SourceEvent] = []
        for event in session.scalars(
                select(SourceEvent).where(col(SourceEvent.source_id) == source_id,
                                          col(SourceEvent.id) < event_id)
                .order_by(col(SourceEvent.id).desc()).limit(100)):
            if event.status == OK:
                break
            bad.append(event)
        return bad[::-1]

    # -- the alert --------------------------------------------------------------------

    def _alert(self, session: Session, source_id: str, event_id: int, kind: str,
               health: Health, now: datetime) -> int:
        destination = self.ops.resolve(now)
        if destination is None:
            log.warning("source_health_no_recipient source=%s: nobody on call in %s",
                        source_id, self.ops.target)
            return 0
        channel, recipient = destination
        key = f"rm-src-{source_id}-e{event_id}-{channel}"
        if kind == "recovered":
            outage = self._outage(session, source_id, event_id)
            lasted = ""
            if outage:
                states = ", ".join(dict.fromkeys(event.status for event in outage))
                lasted = f" after {describe(now - outage[0].at)} {states}"
            title = f"[source recovered] {source_id} is ok again{lasted}"
            body = f"Source {source_id} works again{lasted}; mentions from it are coming in."
            purpose = "source_recovered"
        else:
            title = f"[source {health.status}] {source_id}: {health.reason}"[:300]
            body = (f"Source {source_id} is {health.status}: {health.reason}.\n"
                    "Complaints posted there are not reaching the team until it is fixed. "
                    "You get one message now and one when it recovers.")
            purpose = "source_health"
        row: dict[str, Any] = {
            "mention_id": None, "channel": channel, "idempotency_key": key,
            "status": "pending", "purpose": purpose, "title": title,
            "body": f"{body}\nref: {key}", "attempts": 0, "next_attempt_at": now,
            "created_at": now, "recipient": recipient,
        }
        inserted = session.execute(self.store.insert_ignore(Alert).values(**row))
        return int(getattr(inserted, "rowcount", 0) or 0)
