"""Incidents in the store: the pure rules of ``core/incidents.py`` applied to stored
complaints, in the ingest transaction (join or open) and from the daemon's sweep
(update or close). One alert when an incident opens, then throttled updates, then a
close notice; complaints that join an open incident do not page anyone again."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session
from sqlmodel import col

from monitor.config import Config
from monitor.core.classify import Kind, Severity
from monitor.core.incidents import (
    Action,
    Cause,
    Complaint,
    IncidentPolicy,
    OpenIncident,
    RecentComplaint,
    Step,
    decide,
    joined,
    opened,
    tick,
    updated,
)
from monitor.core.neardup import signature
from monitor.store import Alert, Incident, Mention, Store

# How sources are named in incident texts ("now on Reddit and Trustpilot").
SITE_NAMES = {
    "trustpilot": "Trustpilot", "appstore": "the App Store", "googleplay": "Google Play",
    "yelp": "Yelp", "reddit": "Reddit", "hackernews": "Hacker News", "mastodon": "Mastodon",
}

# (brand, incident id, key suffix, title, body, severity) -> outbox rows
AlertMaker = Callable[[str, int, str, str, str, Severity], list[dict[str, Any]]]


@dataclass(frozen=True)
class NewComplaint:
    key: str
    mention_id: int
    brand: str
    source_id: str
    at: datetime
    author: str | None
    text: str
    severity: Severity


def policy_from(config: Config) -> IncidentPolicy:
    life = config.lifecycle
    return IncidentPolicy(
        window=life.incident_window, min_cluster=life.incident_min_cluster,
        similarity=life.incident_similarity, spike_bucket=life.spike_bucket,
        baseline=life.spike_baseline, k=life.spike_k, min_count=life.spike_min_count,
        update_every=life.incident_update_every, quiet=life.incident_quiet,
    )


class Incidents:
    def __init__(self, store: Store, config: Config) -> None:
        self.store = store
        self.policy = policy_from(config)
        self.names = {
            source.id: SITE_NAMES.get(source.spider, source.id) for source in config.sources
        }
        # mention id -> MinHash signature: complaints are re-read each batch, signed once.
        self._signatures: dict[int, tuple[int, ...]] = {}

    def assign(self, session: Session, complaints: Sequence[NewComplaint], now: datetime,
               make_alerts: AlertMaker) -> tuple[set[str], list[dict[str, Any]]]:
        """Join or open incidents for new complaints. Returns the keys whose own alert is
        replaced by their incident's, and the incident alerts to queue."""
        quiet: set[str] = set()
        alerts: list[dict[str, Any]] = []
        by_brand: dict[str, list[NewComplaint]] = {}
        for complaint in complaints:
            by_brand.setdefault(complaint.brand, []).append(complaint)
        for brand, group in by_brand.items():
            if self.store.dialect == "postgresql":
                # Two daemons must not open the same incident twice.
                session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:brand))"),
                                {"brand": f"incident:{brand}"})
            rows = {row.id: row for row in session.scalars(select(Incident).where(
                col(Incident.brand) == brand, col(Incident.status) == "open"))}
            live = {key: _open(row) for key, row in rows.items()}
            recent = self._recent(session, brand, now)
            for complaint in sorted(group, key=lambda c: c.at):
                arriving = Complaint(complaint.mention_id, brand, complaint.source_id,
                                     complaint.at, self._sign(complaint.mention_id,
                                                              complaint.text),
                                     complaint.author)
                decision = decide(arriving, list(recent.values()), list(live.values()), now,
                                  self.policy, self.names)
                if decision.action is Action.JOIN and decision.incident_id is not None:
                    state = joined(live[decision.incident_id], arriving)
                    live[decision.incident_id] = state
                    self._save(session, rows[decision.incident_id], state)
                    self._tag(session, [complaint.mention_id], decision.incident_id, recent)
                    quiet.add(complaint.key)
                elif decision.action is Action.OPEN and decision.cause is not None:
                    row = Incident(brand=brand, cause=decision.cause.value, status="open",
                                   reason=decision.reason, opened_at=now, last_update_at=now,
                                   last_mention_at=complaint.at, mentions=0,
                                   mentions_at_last_update=0, sources=[])
                    session.add(row)
                    session.flush()
                    assert row.id is not None
                    state = opened(row.id, decision, arriving, list(recent.values()), now)
                    rows[row.id], live[row.id] = row, state
                    self._save(session, row, state)
                    self._tag(session, [complaint.mention_id, *decision.members], row.id, recent)
                    quiet.add(complaint.key)
                    severity = max(complaint.severity, Severity.HIGH, key=lambda s: s.rank)
                    alerts.extend(make_alerts(
                        brand, row.id, "open",
                        f"Incident: {decision.reason}",
                        self._opening_body(session, row.id, decision.reason, state),
                        severity))
        return quiet, alerts

    def sweep(self, now: datetime, make_alerts: AlertMaker) -> int:
        """Updates for growing incidents, closes for quiet ones. Returns alerts queued."""
        queued = 0
        with self.store.session() as session:
            for row in session.scalars(select(Incident).where(col(Incident.status) == "open")):
                state = _open(row)
                step = tick(state, now, self.policy, self.names)
                if step.step is Step.NONE or row.id is None:
                    continue
                if step.step is Step.CLOSE:
                    row.status, row.closed_at = "closed", now
                    suffix = "close"
                else:
                    self._save(session, row, updated(state, now))
                    row.updates += 1
                    suffix = f"u{row.updates}"
                rows = make_alerts(row.brand, row.id, suffix,
                                   f"Incident {row.id} ({row.brand}): {step.text}",
                                   f"Incident {row.id}: {step.text}\nOpened: {row.reason}",
                                   Severity.HIGH)
                if rows:
                    session.execute(self.store.insert_ignore(Alert), rows)
                queued += len(rows)
        return queued

    # -- helpers ---------------------------------------------------------------

    def _recent(self, session: Session, brand: str, now: datetime) -> dict[int, RecentComplaint]:
        since = now - self.policy.baseline - self.policy.spike_bucket
        window_start = now - self.policy.window * 2
        recent: dict[int, RecentComplaint] = {}
        for mention_id, published, first_seen, source_id, author, incident_id, title, body \
                in session.execute(select(
                    col(Mention.id), col(Mention.published_at), col(Mention.first_seen_at),
                    col(Mention.source_id), col(Mention.author), col(Mention.incident_id),
                    col(Mention.title), col(Mention.body),
                ).where(col(Mention.brand) == brand, col(Mention.first_seen_at) >= since,
                        col(Mention.kind) == Kind.COMPLAINT.value)):
            at = published or first_seen
            mention_id = int(mention_id or 0)
            sig = self._sign(mention_id, f"{title or ''}\n{body}") if at >= window_start else ()
            recent[mention_id] = RecentComplaint(mention_id, at, source_id, sig, author,
                                                 incident_id)
        return recent

    def _sign(self, mention_id: int, content: str) -> tuple[int, ...]:
        found = self._signatures.get(mention_id)
        if found is None:
            if len(self._signatures) > 200_000:
                self._signatures.clear()
            found = self._signatures[mention_id] = signature(content)
        return found

    def _tag(self, session: Session, mention_ids: Sequence[int], incident_id: int,
             recent: dict[int, RecentComplaint]) -> None:
        session.execute(update(Mention).where(col(Mention.id).in_(list(mention_ids)))
                        .values(incident_id=incident_id))
        for mention_id in mention_ids:
            if mention_id in recent:
                old = recent[mention_id]
                recent[mention_id] = RecentComplaint(old.mention_id, old.at, old.source_id,
                                                     old.signature, old.author, incident_id)

    @staticmethod
    def _save(session: Session, row: Incident, state: OpenIncident) -> None:
        row.last_update_at = state.last_update_at
        row.last_mention_at = state.last_mention_at
        row.mentions = state.mentions
        row.mentions_at_last_update = state.mentions_at_last_update
        row.sources = sorted(state.sources)

    def _opening_body(self, session: Session, incident_id: int, reason: str,
                      state: OpenIncident) -> str:
        session.flush()
        samples = session.execute(select(col(Mention.title), col(Mention.body), col(Mention.url))
                                  .where(col(Mention.incident_id) == incident_id)
                                  .order_by(col(Mention.id)).limit(3)).all()
        lines = [f"Incident {incident_id}: {reason}.",
                 f"{state.mentions} mentions so far; updates follow at most every "
                 f"{int(self.policy.update_every.total_seconds() // 60)} min.",
                 "Examples:"]
        for title, body, url in samples:
            excerpt = (title or body or "").replace("\n", " ")[:140]
            lines.append(f"- {excerpt}" + (f" ({url})" if url else ""))
        return "\n".join(lines)


def _open(row: Incident) -> OpenIncident:
    return OpenIncident(
        id=row.id or 0, opened_at=row.opened_at, last_update_at=row.last_update_at,
        last_mention_at=row.last_mention_at, mentions=row.mentions,
        sources=frozenset(row.sources or []), mentions_at_last_update=row.mentions_at_last_update,
        cause=Cause(row.cause),
    )


