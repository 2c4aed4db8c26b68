"""Incidents in the store: the pure rules of ``core/incidents.py`` applied to stored
complaints, in the ingest transaction (join or open) and from the daemon's sweep
(update or close). One alert when an incident opens, then throttled updates, then a
close notice; complaints that join an open incident do not page anyone again."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, func, select, text, update
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
    RecentWindow,
    Step,
    decide,
    joined,
    opened,
    tick,
    updated,
)
from monitor.core.neardup import signature
from monitor.store import Incident, Mention, Store

# How sources are named in incident texts ("now on Reddit and Trustpilot").
SITE_NAMES = {
    "trustpilot": "Trustpilot", "appstore": "the App Store", "googleplay": "Google Play",
    "yelp": "Yelp", "reddit": "Reddit", "hackernews": "Hacker News", "mastodon": "Mastodon",
}

# (brand, incident id, key suffix, title, body, severity) -> outbox rows
AlertMaker = Callable[[str, int, str, str, str, Severity], list[dict[str, Any]]]


# Seconds between full reloads of a brand's recent complaints (see Incidents._recent).
FULL_RELOAD_S = 60.0


@dataclass
class _BrandComplaints:
    now: datetime
    loaded_at: float
    window: RecentWindow = field(default_factory=RecentWindow)
    max_id: int = 0


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
        # mention id -> incident id, written once per batch (see _tag).
        self._pending_tags: dict[int, int] = {}
        # brand -> its complaints within the spike baseline (see _recent).
        self._cache: dict[str, _BrandComplaints] = {}

    def assign(self, session: Session, complaints: Sequence[NewComplaint], now: datetime,
               make_alerts: AlertMaker) -> tuple[set[str], list[dict[str, Any]]]:
        """Join or open incidents for new complaints. Returns the keys whose own alert is
        replaced by their incident's, and the incident alerts to queue."""
        quiet: set[str] = set()
        alerts: list[dict[str, Any]] = []
        self._pending_tags.clear()
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
                decision = decide(arriving, recent, list(live.values()), now,
                                  self.policy, self.names)
                if decision.action is Action.JOIN and decision.incident_id is not None:
                    state = joined(live[decision.incident_id], arriving)
                    live[decision.incident_id] = state
                    self._save(session, rows[decision.incident_id], state)
                    self._tag([complaint.mention_id], decision.incident_id, recent)
                    quiet.add(complaint.key)
                elif decision.action is Action.OPEN and decision.cause is not None:
                    row = Incident(brand=brand, cause=decision.cause.value, status="open",
                                   reason=decision.reason, opened_at=now, last_update_at=now,
                                   last_mention_at=complaint.at, mentions=0,
                                   mentions_at_last_update=0, sources=[])
                    session.add(row)
                    session.flush()
                    assert row.id is not None
                    state = opened(row.id, decision, arriving, recent, now)
                    rows[row.id], live[row.id] = row, state
                    self._save(session, row, state)
                    self._tag([complaint.mention_id, *decision.members], row.id, recent)
                    quiet.add(complaint.key)
                    severity = max(complaint.severity, Severity.HIGH, key=lambda s: s.rank)
                    alerts.extend(make_alerts(
                        brand, row.id, "open",
                        f"Incident: {decision.reason}",
                        self._opening_body(session, row.id, decision.reason, state),
                        severity))
        self._write_tags(session)
        return quiet, alerts

    def forget(self) -> None:
        """Drop what is kept between batches: after a rolled-back batch it may hold
        complaints and incident tags that were never stored."""
        self._cache.clear()
        self._pending_tags.clear()

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
                    self.store.queue_alerts(session, rows)
                queued += len(rows)
        return queued

    # -- helpers ---------------------------------------------------------------

    def _recent(self, session: Session, brand: str, now: datetime) -> RecentWindow:
        """The brand's complaints first seen within the spike baseline, as a window.

        Kept between batches and topped up with the rows stored since (by id), so a
        batch reads its own rows and the few others stored meanwhile, not a week of
        complaints. On SQLite writers take turns, so the top-up misses nothing. On
        PostgreSQL a row another process stored in a transaction still open at the last
        top-up can have a lower id than rows already read: such stragglers are picked up
        by a full reload every ``FULL_RELOAD_S`` seconds (PostgreSQL only), and the members of the open
        incidents are re-read on every batch, so a complaint like an incident's always
        finds it. Rows older than the baseline stay until that reload; they fall outside
        every bucket and window the rules look at.
        """
        since = now - self.policy.baseline - self.policy.spike_bucket
        cache = self._cache.get(brand)
        clock = time.monotonic()
        # A full reload when there is nothing to top up (first batch, a clock that went
        # back, a week without batches) and, on PostgreSQL only, every FULL_RELOAD_S for
        # the stragglers (SQLite's writers take turns: its top-ups miss nothing).
        stale = cache is None or now < cache.now or cache.now < since
        straggling = self.store.dialect == "postgresql" and cache is not None \
            and clock - cache.loaded_at > FULL_RELOAD_S
        if cache is None or stale or straggling:
            cache = self._cache[brand] = _BrandComplaints(now=now, loaded_at=clock)
            self._load(session, cache, now, col(Mention.brand) == brand,
                       col(Mention.first_seen_at) >= since,
                       col(Mention.kind) == Kind.COMPLAINT.value)
        else:
            cache.now = now
            # Rows stored since, first seen within the baseline (a backfill of old posts
            # stores rows that no rule here looks at).
            self._load(session, cache, now, col(Mention.id) > cache.max_id,
                       col(Mention.brand) == brand,
                       col(Mention.kind) == Kind.COMPLAINT.value,
                       col(Mention.first_seen_at) >= since)
        if self.store.dialect == "postgresql":
            open_ids = select(col(Incident.id)).where(col(Incident.brand) == brand,
                                                     col(Incident.status) == "open")
            members: dict[int, int] = {
                int(member or 0): int(incident_id or 0)
                for member, incident_id in session.execute(
                    select(col(Mention.id), col(Mention.incident_id))
                    .where(col(Mention.incident_id).in_(open_ids)))}
            missing = [m for m in members if m not in cache.window.position]
            if missing:
                self._load(session, cache, now, col(Mention.id).in_(missing),
                           col(Mention.first_seen_at) >= since)
            for member, incident_id in members.items():
                row = cache.window.get(member)
                if row is not None and row.incident_id != incident_id:
                    cache.window.set_incident([member], incident_id)
        return cache.window

    def _load(self, session: Session, cache: _BrandComplaints, now: datetime,
              *conditions: Any) -> None:
        window_start = now - self.policy.window * 2
        # Only complaints that can still be near-duplicates of new ones need a signature,
        # so only their texts are read: a week of a busy brand's complaints is tens of
        # thousands of rows, of which a few hours' are signed.
        posted = func.coalesce(col(Mention.published_at), col(Mention.first_seen_at))
        signable = posted >= window_start
        rows: list[RecentComplaint] = []
        for mention_id, published, first_seen, source_id, author, incident_id, title, body \
                in session.execute(select(
                    col(Mention.id), col(Mention.published_at), col(Mention.first_seen_at),
                    col(Mention.source_id), col(Mention.author), col(Mention.incident_id),
                    case((signable, col(Mention.title)), else_=None),
                    case((signable, col(Mention.body)), else_=None),
                ).where(*conditions)):
            at = published or first_seen
            mention_id = int(mention_id or 0)
            sig = self._sign(mention_id, f"{title or ''}\n{body}") \
                if at >= window_start and body is not None else ()
            rows.append(RecentComplaint(mention_id, at, source_id, sig, author, incident_id))
            cache.max_id = max(cache.max_id, mention_id)
        cache.window.add(rows)

    def _sign(self, mention_id: int, content: str) -> tuple[int, ...]:
        found = self._signatures.get(mention_id)
        if found is None:
            if len(self._signatures) > 200_000:
                self._signatures.clear()
            found = self._signatures[mention_id] = signature(content)
        return found

    def _tag(self, mention_ids: Sequence[int], incident_id: int,
             window: RecentWindow) -> None:
        """Mark complaints as the incident's: in the window now, in the table at the next
        ``_write_tags`` (one statement for the batch, not one per complaint)."""
        window.set_incident(mention_ids, incident_id)
        for mention_id in mention_ids:
            self._pending_tags[mention_id] = incident_id

    def _write_tags(self, session: Session) -> None:
        if not self._pending_tags:
            return
        table: Any = Mention.__table__  # type: ignore[attr-defined]
        session.execute(
            update(table).where(table.c.id == bindparam("mention"))
            .values(incident_id=bindparam("incident")),
            [{"mention": mention_id, "incident": incident_id}
             for mention_id, incident_id in sorted(self._pending_tags.items())])
        self._pending_tags.clear()

    @staticmethod
    def _save(session: Session, row: Incident, state: OpenIncident) -> None:
        row.last_update_at = state.last_update_at
        row.last_mention_at = state.last_mention_at
        row.mentions = state.mentions
        row.mentions_at_last_update = state.mentions_at_last_update
        row.sources = sorted(state.sources)

    def _opening_body(self, session: Session, incident_id: int, reason: str,
                      state: OpenIncident) -> str:
        self._write_tags(session)
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


