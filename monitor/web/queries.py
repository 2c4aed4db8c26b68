"""What the inbox, the API and the operations endpoints read from the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from monitor.config import Config
from monitor.core.triage import ACKNOWLEDGED, OPEN, SNOOZED, STATUSES
from monitor.store import (
    Alert,
    Delivery,
    Incident,
    Mention,
    MentionRevision,
    MentionSighting,
    SourceState,
    Store,
)
from monitor.store.models import IgnoreRule, Note, PublicReply, SourceEvent, TriageEvent

SEVERITIES = ("critical", "high", "normal", "low")
KINDS = ("complaint", "question", "praise", "other")
# "waiting" (the default): open, acknowledged, and snoozed whose time has come.
STATUS_FILTERS = ("waiting", "all", *STATUSES)
PER_PAGE_MAX = 200
# Row ids are 64-bit: a larger number in a URL names nothing (and would overflow the
# database driver: a 500 on SQLite, a "store error" on PostgreSQL).
MAX_ID = 2**63 - 1
PAGE_MAX = 100_000


def valid_id(value: int | None) -> bool:
    return value is not None and 0 < value <= MAX_ID


@dataclass
class InboxQuery:
    brand: str = ""
    source: str = ""
    severity: str = ""
    kind: str = "complaint"
    language: str = ""
    status: str = "waiting"
    # a name, "none" for unassigned, "" for anyone
    assignee: str = ""
    q: str = ""
    incident: int | None = None
    page: int = 1
    per_page: int = 50

    def clean(self) -> InboxQuery:
        self.page = max(1, min(PAGE_MAX, self.page))
        if self.incident is not None and not valid_id(self.incident):
            self.incident = 0  # no incident has it: nothing matches
        self.per_page = max(1, min(PER_PAGE_MAX, self.per_page))
        if self.status not in STATUS_FILTERS:
            self.status = "waiting"
        if self.kind and self.kind not in KINDS:
            self.kind = ""
        if self.severity and self.severity not in SEVERITIES:
            self.severity = ""
        self.q = self.q.strip()[:200]
        return self


@dataclass
class Page:
    items: list[Mention]
    total: int
    page: int
    per_page: int
    # The highest mention id on the page or after it (None: not computed).
    newest: int = 0

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _waiting(now: datetime) -> ColumnElement[bool]:
    return or_(
        col(Mention.status).in_((OPEN, ACKNOWLEDGED)),
        and_(col(Mention.status) == SNOOZED,
             or_(col(Mention.snoozed_until).is_(None), col(Mention.snoozed_until) <= now)),
    )


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _casefold(value: Any) -> str | None:
    return None if value is None else str(value).casefold()


def _search_ready(session: Any, store: Store) -> bool:
    """SQLite's lower() and LIKE fold ASCII letters only ("ØL" never found "øl",
    "Отказ" never found "отказ"): on SQLite, search compares Python-casefolded text
    through a function registered on the connection. PostgreSQL's ILIKE folds Unicode
    itself. True when the function is in place."""
    if store.engine.dialect.name != "sqlite":
        return False
    raw = session.connection().connection.driver_connection
    raw.create_function("rm_casefold", 1, _casefold, deterministic=True)
    return True


def _conditions(query: InboxQuery, now: datetime,
                fold: bool = False) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if query.status == "waiting":
        where.append(_waiting(now))
    elif query.status != "all":
        where.append(col(Mention.status) == query.status)
    for value, column in ((query.brand, Mention.brand), (query.source, Mention.source_id),
                          (query.severity, Mention.severity), (query.kind, Mention.kind),
                          (query.language, Mention.language)):
        if value:
            where.append(col(column) == value)
    if query.assignee == "none":
        where.append(col(Mention.assignee).is_(None))
    elif query.assignee:
        where.append(col(Mention.assignee) == query.assignee)
    if query.incident is not None:
        where.append(col(Mention.incident_id) == query.incident)
    for term in query.q.split()[:8]:
        if fold:
            pattern = _like(term.casefold())
            where.append(or_(*(func.rm_casefold(col(column)).like(pattern, escape="\\")
                               for column in (Mention.title, Mention.body, Mention.author))))
            continue
        pattern = _like(term)
        where.append(or_(col(Mention.title).ilike(pattern, escape="\\"),
                         col(Mention.body).ilike(pattern, escape="\\"),
                         col(Mention.author).ilike(pattern, escape="\\")))
    return where


_SEVERITY_ORDER = case({"critical": 0, "high": 1, "normal": 2, "low": 3},
                       value=col(Mention.severity), else_=4)


def list_mentions(store: Store, query: InboxQuery, now: datetime) -> Page:
    """The inbox: by SLA deadline (soonest first, none last), then severity, then age."""
    query.clean()
    with store.session() as session:
        where = _conditions(query, now, bool(query.q) and _search_ready(session, store))
        total = int(session.scalar(select(func.count()).select_from(Mention).where(*where))
                    or 0)
        rows = list(session.scalars(
            select(Mention).where(*where)
            .order_by(col(Mention.sla_due_at).is_(None), col(Mention.sla_due_at),
                      _SEVERITY_ORDER, col(Mention.first_seen_at).desc(), col(Mention.id).desc())
            .offset((query.page - 1) * query.per_page).limit(query.per_page)))
        top = session.scalar(select(func.max(col(Mention.id))).where(*where)) or 0
    return Page(rows, total, query.page, query.per_page, int(top))


def newest(store: Store, query: InboxQuery, now: datetime) -> tuple[int, int]:
    """(how many match, the highest mention id among them): lets an open inbox page
    notice new mentions without reloading."""
    query.clean()
    with store.session() as session:
        where = _conditions(query, now, bool(query.q) and _search_ready(session, store))
        total, top = session.execute(
            select(func.count(), func.max(col(Mention.id))).select_from(Mention)
            .where(*where)).one()
    return int(total or 0), int(top or 0)


@dataclass
class Detail:
    mention: Mention
    revisions: list[MentionRevision] = field(default_factory=list)
    thread: list[Mention] = field(default_factory=list)
    public_replies: list[PublicReply] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    sightings: list[MentionSighting] = field(default_factory=list)
    incident: Incident | None = None
    history: list[TriageEvent] = field(default_factory=list)


def mention_detail(store: Store, mention_id: int) -> Detail | None:
    if not valid_id(mention_id):
        return None
    with store.session() as session:
        mention = session.get(Mention, mention_id)
        if mention is None:
            return None
        detail = Detail(mention)
        detail.revisions = list(session.scalars(
            select(MentionRevision).where(col(MentionRevision.mention_id) == mention_id)
            .order_by(col(MentionRevision.changed_at), col(MentionRevision.id))))
        if mention.thread_id is not None:
            detail.thread = list(session.scalars(
                select(Mention).where(col(Mention.thread_id) == mention.thread_id)
                .order_by(col(Mention.thread_position), col(Mention.first_seen_at))
                .limit(100)))
        detail.public_replies = list(session.scalars(
            select(PublicReply).where(col(PublicReply.mention_id) == mention_id)
            .order_by(col(PublicReply.replied_at))))
        detail.notes = list(session.scalars(
            select(Note).where(col(Note.mention_id) == mention_id)
            .order_by(col(Note.created_at), col(Note.id))))
        detail.alerts = list(session.scalars(
            select(Alert).where(col(Alert.mention_id) == mention_id).order_by(col(Alert.id))))
        detail.sightings = list(session.scalars(
            select(MentionSighting).where(col(MentionSighting.mention_id) == mention_id)
            .order_by(col(MentionSighting.first_seen_at))))
        if mention.incident_id is not None:
            detail.incident = session.get(Incident, mention.incident_id)
        detail.history = list(session.scalars(
            select(TriageEvent).where(col(TriageEvent.mention_id) == mention_id)
            .order_by(col(TriageEvent.at), col(TriageEvent.id))))
        return detail


def languages(store: Store) -> list[str]:
    with store.session() as session:
        return sorted(row for row in session.scalars(
            select(col(Mention.language)).where(col(Mention.language).is_not(None)).distinct()
            .limit(100)) if row)


def assignees(store: Store, config: Config) -> list[str]:
    names = set(config.web.users) if config.web else set()
    with store.session() as session:
        names.update(row for row in session.scalars(
            select(col(Mention.assignee)).where(col(Mention.assignee).is_not(None)).distinct()
            .limit(200)) if row)
    return sorted(names)


@dataclass
class IncidentRow:
    incident: Incident
    alerts: int
    acked_by: str | None
    acked_at: datetime | None


def incidents(store: Store, limit: int = 200) -> list[IncidentRow]:
    """Open incidents first, then the latest; with who acknowledged their alerts."""
    with store.session() as session:
        found = list(session.scalars(
            select(Incident).order_by(col(Incident.status) != "open",
                                      col(Incident.last_mention_at).desc()).limit(limit)))
        ids = [incident.id for incident in found]
        alerts: dict[int, list[Any]] = {}
        if ids:
            for incident_id, acked_by, acked_at in session.execute(
                    select(col(Alert.incident_id), col(Alert.acked_by), col(Alert.acked_at))
                    .where(col(Alert.incident_id).in_(ids)).order_by(col(Alert.id))):
                alerts.setdefault(incident_id or 0, []).append((acked_by, acked_at))
    rows = []
    for incident in found:
        sent = alerts.get(incident.id or 0, [])
        acked = [(by, at) for by, at in sent if at is not None]
        first = min(acked, key=lambda pair: pair[1]) if acked else (None, None)
        rows.append(IncidentRow(incident, len(sent), first[0], first[1]))
    return rows


def ignore_rules(store: Store) -> list[IgnoreRule]:
    with store.session() as session:
        return list(session.scalars(select(IgnoreRule).order_by(col(IgnoreRule.id).desc())))


@dataclass
class SourceHealth:
    id: str
    spider: str
    brand: str | None
    enabled: bool
    interval: timedelta
    # ok | failing | blocked | silent | never | disabled
    health: str
    state: SourceState
    last_event: SourceEvent | None


_STATE_HEALTH = {"ok": "ok", "not_modified": "ok", "blocked": "blocked", "fetch": "failing",
                 "parse": "failing", "never": "never"}


def sources(store: Store, config: Config) -> list[SourceHealth]:
    states = store.source_states()
    with store.session() as session:
        latest = (select(col(SourceEvent.source_id), func.max(col(SourceEvent.id)).label("id"))
                  .group_by(col(SourceEvent.source_id)).subquery())
        events = {event.source_id: event for event in session.scalars(
            select(SourceEvent).join(latest, col(SourceEvent.id) == latest.c.id))}
    result = []
    for source in config.sources:
        state = states.get(source.id) or SourceState(source_id=source.id)
        event = events.get(source.id)
        if not source.enabled:
            health = "disabled"
        elif event is not None and state.last_status != "never":
            health = event.status
        else:
            health = _STATE_HEALTH.get(state.last_status, "failing")
        result.append(SourceHealth(source.id, source.spider, source.brand, source.enabled,
                                   source.interval, health, state, event))
    return result


# -- operations -----------------------------------------------------------------


@dataclass
class StoreFigures:
    mentions: list[tuple[str, str, int]]  # brand, kind, count
    waiting: int
    alerts: dict[str, int]  # status -> count
    delivery_failures: int
    sla_breaches: int
    sla_overdue: int
    incidents_open: int
    last_crawl_at: datetime | None
    last_dispatch_at: datetime | None
    oldest_due_alert_at: datetime | None
    states: list[SourceState]


def figures(store: Store, now: datetime, counts: bool = True) -> StoreFigures:
    """Everything /metrics (``counts``) and /healthz report, from the store: right with
    any number of processes. The mention counts read the whole table, so /healthz
    leaves them out."""
    mentions: list[tuple[str, str, int]] = []
    waiting = failures = breaches = overdue = 0
    with store.session() as session:
        if counts:
            mentions = [(brand or "", kind, int(count)) for brand, kind, count in
                        session.execute(select(col(Mention.brand), col(Mention.kind),
                                               func.count())
                                        .group_by(col(Mention.brand), col(Mention.kind)))]
            waiting = int(session.scalar(select(func.count()).select_from(Mention).where(
                col(Mention.kind) == "complaint", _waiting(now))) or 0)
            failures = int(session.scalar(select(func.count()).select_from(Delivery).where(
                col(Delivery.ok).is_(False))) or 0)
            breaches = int(session.scalar(select(func.count()).select_from(Mention).where(
                col(Mention.sla_breached_at).is_not(None))) or 0)
            overdue = int(session.scalar(select(func.count()).select_from(Mention).where(
                _waiting(now), col(Mention.first_reply_at).is_(None),
                col(Mention.sla_due_at) < now)) or 0)
        alerts = {status: int(count) for status, count in session.execute(
            select(col(Alert.status), func.count()).group_by(col(Alert.status)))}
        incidents_open = int(session.scalar(select(func.count()).select_from(Incident).where(
            col(Incident.status) == "open")) or 0)
        last_dispatch = session.scalar(select(func.max(col(Delivery.attempted_at))))
        oldest_due = session.scalar(select(func.min(col(Alert.next_attempt_at))).where(
            col(Alert.status) == "pending"))
        states = list(session.scalars(select(SourceState)))
    crawled = [state.last_fetch_at for state in states if state.last_fetch_at is not None]
    return StoreFigures(mentions, waiting, alerts, failures, breaches, overdue, incidents_open,
                        max(crawled) if crawled else None, _aware(last_dispatch),
                        _aware(oldest_due), states)


def _aware(value: Any) -> datetime | None:
    """func.max/min lose the column type on SQLite: parse and mark UTC."""
    from datetime import UTC

    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return None
