"""Build a digest: the week's numbers from the store, as SQL aggregates where the database
can do the work (counts, per-day buckets, top-N lists), and the pure parts in
``monitor.core.digest``. Only the reply times (two timestamps per replied complaint)
and a bounded sample of complaint texts (themes) come into Python row by row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select, true
from sqlalchemy.orm import Session
from sqlmodel import col

from monitor.config import Config, DigestConfig
from monitor.core.digest import (
    DAYS,
    CoverageGap,
    HealthEvent,
    IsoWeek,
    SlaTally,
    Theme,
    Trend,
    complaint_themes,
    coverage_gaps,
    day_starts,
    display_text,
    format_age,
    format_hours,
    parse_schedule,
    percentile,
    reply_buckets,
    trends,
    week_bounds,
)
from monitor.store import Incident, Mention, MentionRevision, Store, Thread
from monitor.store.models import PublicReply, SourceEvent

OPEN_STATES = ("open", "acknowledged", "snoozed")
# Complaint texts read for themes: the most recent ones when a week has more.
THEME_SAMPLE = 5000
# A mention first seen this week but published this long before the week began is old
# history found late (a backfill, a new source): counted apart, not as this week's volume.
HISTORY_AGE = timedelta(days=7)


@dataclass(frozen=True)
class Scope:
    """Who a digest is about: brands (empty = all) and the enabled sources that watch
    them (a disabled source is not expected to say anything)."""

    name: str
    title: str
    brands: tuple[str, ...]
    source_ids: tuple[str, ...]
    zone: str
    top: int
    # The web inbox ([web] base_url), for "open in the inbox" links; None without [web].
    inbox_url: str | None = None
    # Brands of the scope that no enabled source watches (display names): the digest
    # cannot see their complaints at all, and says so.
    unwatched: tuple[str, ...] = ()
    # The brands' names and keywords: not a complaint theme ("acme" in every complaint).
    brand_words: tuple[str, ...] = ()

    @staticmethod
    def of(config: Config, digest: DigestConfig | None) -> Scope:
        inbox = config.web.base_url.rstrip("/") if config.web is not None else None
        brands = tuple(digest.brands) if digest is not None else ()
        keys = brands or tuple(config.brands)
        enabled = [source for source in config.sources if source.enabled]
        sources = tuple(source.id for source in enabled if (
            not brands or source.brand is None or source.brand in brands))
        # A source of no brand reads every brand's keywords.
        watched = {source.brand for source in enabled}
        unwatched = () if None in watched else tuple(
            config.brands[key].name or key for key in keys if key not in watched)
        # Whole names, but only one-word keywords ("acme app" must not hide "app crashes").
        words = tuple(word for key in keys for word in (
            key, config.brands[key].name,
            *(keyword for keyword in config.brands[key].keywords if len(keyword.split()) == 1))
            if word)
        if digest is None:
            return Scope("all", "All brands", (), sources, "UTC", 10, inbox, unwatched, words)
        if brands:
            title = ", ".join(config.brands[key].name or key for key in brands)
        else:
            names = [brand.name or key for key, brand in config.brands.items()]
            title = ", ".join(names) if 0 < len(names) <= 3 else "All brands"
        return Scope(digest.name, title, brands, sources, parse_schedule(digest.schedule).zone,
                     digest.top, inbox, unwatched, words)


@dataclass(frozen=True)
class MentionLink:
    id: int
    source_id: str
    url: str | None
    title: str
    author: str | None
    at: datetime
    severity: str
    # Context: "open 3.2 d", "reply 5 h late", "rating raised 1 → 4 after reply" ...
    note: str = ""


@dataclass(frozen=True)
class FollowUpThread:
    author: str
    source_id: str
    unanswered: int
    first_at: datetime
    last_at: datetime
    url: str | None


@dataclass(frozen=True)
class TemplateExample:
    body: str
    uses: int


@dataclass(frozen=True)
class IncidentRow:
    id: int
    brand: str
    cause: str
    status: str
    reason: str
    opened_at: datetime
    closed_at: datetime | None
    mentions: int
    sources: tuple[str, ...]


@dataclass
class Response:
    replied: int = 0
    unreplied: int = 0
    median_hours: float | None = None
    p90_hours: float | None = None
    previous_median_hours: float | None = None
    previous_p90_hours: float | None = None
    sla: SlaTally = field(default_factory=lambda: SlaTally(0, 0, 0))
    previous_sla: SlaTally = field(default_factory=lambda: SlaTally(0, 0, 0))
    breaches: list[MentionLink] = field(default_factory=list)
    reply_hours: list[float] = field(default_factory=list)
    buckets: list[tuple[str, int]] = field(default_factory=list)
    previous_buckets: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class Digest:
    scope: Scope
    week: IsoWeek
    start: datetime
    end: datetime
    built_at: datetime
    mentions: Trend
    complaints: Trend
    by_source: list[Trend]
    by_source_other: Trend | None
    by_language: list[Trend]
    by_language_other: Trend | None
    by_severity: list[Trend]
    # Local days: (label, mentions, complaints, mentions the week before on that weekday).
    per_day: list[tuple[str, int, int, int]]
    history_found: int
    response: Response
    open_total: int
    open_oldest: list[MentionLink]
    follow_up_total: int
    follow_ups: list[FollowUpThread]
    replies: Trend
    template_replies: Trend
    template_examples: list[TemplateExample]
    outcomes_total: int
    outcomes: list[MentionLink]
    incidents: list[IncidentRow]
    incidents_total: int
    coverage: list[CoverageGap]
    # Sources of the scope with no mention all week and no recorded health problem.
    silent_sources: list[str]
    themes: list[Theme]
    theme_sample: int

    @property
    def quiet(self) -> bool:
        return self.mentions.current == 0

    @property
    def partial(self) -> bool:
        """Built before the week ended (a preview of the running week): counts so far."""
        return self.built_at < self.end

    @property
    def blind(self) -> bool:
        """Something to say under "coverage": the numbers may not be the whole story."""
        return bool(self.coverage or self.silent_sources or self.scope.unwatched
                    or not self.scope.source_ids)

    @property
    def template_rate(self) -> float | None:
        total = self.replies.current
        return None if total == 0 else self.template_replies.current / total

    @property
    def previous_template_rate(self) -> float | None:
        total = self.replies.previous
        return None if total == 0 else self.template_replies.previous / total


def build_digest(store: Store, config: Config, digest: DigestConfig | None, week: IsoWeek,
                 now: datetime) -> Digest:
    scope = Scope.of(config, digest)
    with store.session() as session:
        return _Builder(session, scope, week, now).build()


class _Builder:
    def __init__(self, session: Session, scope: Scope, week: IsoWeek, now: datetime) -> None:
        self.session = session
        self.scope = scope
        self.week = week
        self.now = now
        self.start, self.end = week_bounds(week, scope.zone)
        self.previous_start, _ = week_bounds(week.previous(), scope.zone)
        self.top = scope.top
        self.dialect = session.get_bind().dialect.name

    # -- filters ----------------------------------------------------------------------

    def _brand(self, column: Any) -> ColumnElement[bool]:
        return col(column).in_(self.scope.brands) if self.scope.brands else true()

    def _volume(self, since: datetime, until: datetime) -> ColumnElement[bool]:
        """Mentions of the scope that arrived in [since, until): not old history found
        late, not the brand's own replies."""
        # NOT IN over the (few) reply posts: evaluated once, hashed, on both databases
        # (public_reply.reply_mention_id has no index for a correlated NOT EXISTS).
        reply_posts = select(col(PublicReply.reply_mention_id)).where(
            col(PublicReply.reply_mention_id).is_not(None))
        seen, published = col(Mention.first_seen_at), col(Mention.published_at)
        return and_(
            self._brand(col(Mention.brand)), seen >= since, seen < until,
            or_(published.is_(None),
                and_(seen >= self.start, published >= self.start - HISTORY_AGE),
                and_(seen < self.start, published >= self.previous_start - HISTORY_AGE)),
            col(Mention.id).not_in(reply_posts),
        )

    @staticmethod
    def _is_complaint() -> ColumnElement[bool]:
        return and_(col(Mention.kind) == "complaint", col(Mention.status) != "not_complaint")

    def _current(self, column: Any) -> Any:
        return case((col(column) >= self.start, 1), else_=0)

    # -- the whole digest ---------------------------------------------------------------

    def build(self) -> Digest:
        mentions, complaints = self._totals()
        by_source, source_other = self._by("source_id", complaints_only=False)
        by_language, language_other = self._by("language", complaints_only=False)
        by_severity, _ = self._by("severity", complaints_only=True, top=None)
        replies, templates, examples = self._templates()
        outcomes_total, outcomes = self._outcomes()
        incidents_total, incidents = self._incidents()
        open_total, open_oldest = self._still_open()
        follow_up_total, follow_ups = self._follow_ups()
        source_counts = {trend.key: trend.current for trend in by_source}
        if source_other is not None:
            source_counts.update(self._source_counts_current())
        coverage = self._coverage(source_counts)
        gap_sources = {gap.source_id for gap in coverage}
        silent = [source_id for source_id in self.scope.source_ids
                  if source_counts.get(source_id, 0) == 0 and source_id not in gap_sources]
        themes, sample = self._themes()
        return Digest(
            scope=self.scope, week=self.week, start=self.start, end=self.end,
            built_at=self.now, mentions=mentions, complaints=complaints,
            by_source=by_source, by_source_other=source_other,
            by_language=by_language, by_language_other=language_other,
            by_severity=by_severity, per_day=self._per_day(),
            history_found=self._history_found(), response=self._response(),
            open_total=open_total, open_oldest=open_oldest,
            follow_up_total=follow_up_total, follow_ups=follow_ups,
            replies=replies, template_replies=templates, template_examples=examples,
            outcomes_total=outcomes_total, outcomes=outcomes,
            incidents=incidents, incidents_total=incidents_total,
            coverage=coverage, silent_sources=silent, themes=themes, theme_sample=sample,
        )

    # -- volume -------------------------------------------------------------------------

    def _totals(self) -> tuple[Trend, Trend]:
        current = self._current(col(Mention.first_seen_at))
        complaint = case((self._is_complaint(), 1), else_=0)
        row = self.session.execute(
            select(func.count(), func.coalesce(func.sum(current), 0),
                   func.coalesce(func.sum(complaint), 0),
                   func.coalesce(func.sum(complaint * current), 0))
            .where(self._volume(self.previous_start, self.end))
        ).one()
        total, this_week, complaints, complaints_this_week = (int(value) for value in row)
        return (Trend("mentions", this_week, total - this_week),
                Trend("complaints", complaints_this_week, complaints - complaints_this_week))

    def _by(self, attribute: str, complaints_only: bool,
            top: int | None = -1) -> tuple[list[Trend], Trend | None]:
        column = getattr(Mention, attribute)
        where = self._volume(self.previous_start, self.end)
        if complaints_only:
            where = and_(where, self._is_complaint())
        # Grouped outside a subquery: PostgreSQL cannot group by an expression that holds
        # bound parameters (each use is a new parameter).
        inner = select(func.coalesce(col(column), "unknown").label("key"),
                       self._current(col(Mention.first_seen_at)).label("current")) \
            .where(where).subquery()
        rows = self.session.execute(
            select(inner.c.key, inner.c.current, func.count())
            .group_by(inner.c.key, inner.c.current)
        ).all()
        this_week: dict[str, int] = {}
        last_week: dict[str, int] = {}
        for value, is_current, count in rows:
            target = this_week if is_current else last_week
            target[str(value)] = target.get(str(value), 0) + int(count)
        if attribute == "severity":
            order = {"critical": 0, "high": 1, "normal": 2, "low": 3}
            rows_out, _ = trends(this_week, last_week)
            return sorted(rows_out, key=lambda row: (order.get(row.key, 9), row.key)), None
        return trends(this_week, last_week, self.top if top == -1 else top)

    def _source_counts_current(self) -> dict[str, int]:
        rows = self.session.execute(
            select(col(Mention.source_id), func.count())
            .where(self._volume(self.start, self.end)).group_by(col(Mention.source_id))
        ).all()
        return {str(source): int(count) for source, count in rows}

    def _per_day(self) -> list[tuple[str, int, int, int]]:
        bounds = day_starts(self.week, self.scope.zone)
        previous = day_starts(self.week.previous(), self.scope.zone)
        seen = col(Mention.first_seen_at)
        columns: list[Any] = []
        for index in range(7):
            in_day = and_(seen >= bounds[index], seen < bounds[index + 1])
            in_previous_day = and_(seen >= previous[index], seen < previous[index + 1])
            columns.append(func.coalesce(func.sum(case((in_day, 1), else_=0)), 0))
            columns.append(func.coalesce(func.sum(
                case((and_(in_day, self._is_complaint()), 1), else_=0)), 0))
            columns.append(func.coalesce(func.sum(case((in_previous_day, 1), else_=0)), 0))
        row = self.session.execute(
            select(*columns).where(self._volume(self.previous_start, self.end))).one()
        return [(f"{DAYS[index].title()} {(self.week.monday + timedelta(days=index)).day}",
                 int(row[3 * index]), int(row[3 * index + 1]), int(row[3 * index + 2]))
                for index in range(7)]

    def _history_found(self) -> int:
        count = self.session.execute(
            select(func.count()).where(
                self._brand(col(Mention.brand)),
                col(Mention.first_seen_at) >= self.start, col(Mention.first_seen_at) < self.end,
                col(Mention.published_at) < self.start - HISTORY_AGE)
        ).scalar_one()
        return int(count)

    # -- response -------------------------------------------------------------------------

    def _response(self) -> Response:
        """Reply times and SLA tallies of the complaints that arrived in each week, as of
        ``now``. Counts are SQL sums; only the reply durations (one number each) and the
        worst breaches come back as rows."""
        response = Response()
        hours: dict[bool, list[float]] = {}
        for current, (since, until) in ((True, (self.start, self.end)),
                                        (False, (self.previous_start, self.start))):
            cohort = and_(self._volume(since, until), self._is_complaint())
            within, late, pending, unreplied = self.session.execute(
                select(*(func.coalesce(func.sum(case((condition, 1), else_=0)), 0)
                         for condition in (self._within(), self._late(), self._pending(),
                                           ~self._replied_by_now()))).where(cohort)
            ).one()
            tally = SlaTally(int(within), int(late), int(pending))
            # Rounded (to well under a second): SQLite's julianday arithmetic is a float.
            hours[current] = sorted(
                round(float(value), 7) for value in self.session.execute(
                    select(self._hours(col(Mention.first_reply_at), self._posted()))
                    .where(cohort, self._replied_by_now())).scalars())
            if current:
                response.sla, response.unreplied = tally, int(unreplied)
            else:
                response.previous_sla = tally
        response.replied = len(hours[True])
        response.reply_hours = [max(0.0, value) for value in hours[True]]
        positive = {key: [max(0.0, value) for value in values] for key, values in hours.items()}
        response.median_hours = percentile(positive[True], 50)
        response.p90_hours = percentile(positive[True], 90)
        response.previous_median_hours = percentile(positive[False], 50)
        response.previous_p90_hours = percentile(positive[False], 90)
        response.buckets = reply_buckets(positive[True])
        response.previous_buckets = reply_buckets(positive[False])
        lateness = self._hours(func.coalesce(col(Mention.first_reply_at), self.now),
                               col(Mention.sla_due_at)).label("late")
        worst = self.session.execute(
            select(col(Mention.id), lateness)
            .where(self._volume(self.start, self.end), self._is_complaint(), self._late())
            .order_by(lateness.desc(), col(Mention.id)).limit(self.top)
        ).all()
        links = {link.id: link for link in self._links([_id(row[0]) for row in worst])}
        response.breaches = [
            _with_note(links[_id(mention_id)], f"{format_hours(max(0.0, float(late)))} past "
                       "the deadline" + ("" if self._replied(links[_id(mention_id)])
                                         else ", still no reply"))
            for mention_id, late in worst if _id(mention_id) in links
        ]
        return response

    # The SLA outcome of a complaint as SQL (the same rules as core.digest.sla_outcome).

    def _replied_by_now(self) -> ColumnElement[bool]:
        reply = col(Mention.first_reply_at)
        return and_(reply.is_not(None), reply <= self.now)

    def _within(self) -> ColumnElement[bool]:
        due = col(Mention.sla_due_at)
        return and_(due.is_not(None), self._replied_by_now(), col(Mention.first_reply_at) <= due)

    def _late(self) -> ColumnElement[bool]:
        due = col(Mention.sla_due_at)
        return and_(due.is_not(None), or_(
            and_(self._replied_by_now(), col(Mention.first_reply_at) > due),
            and_(~self._replied_by_now(),
                 or_(col(Mention.sla_breached_at).is_not(None), due <= self.now))))

    def _pending(self) -> ColumnElement[bool]:
        return and_(col(Mention.sla_due_at).is_not(None), ~self._within(), ~self._late())

    @staticmethod
    def _posted() -> ColumnElement[Any]:
        """Where the reply clock starts: the customer's post, or our first sight of it when
        the site gives no time (monitor.replies.time_to_first_reply, docs/response.md).
        The customer and everyone reading the thread waited from the post on."""
        return func.coalesce(col(Mention.published_at), col(Mention.first_seen_at))

    def _hours(self, later: Any, earlier: Any) -> ColumnElement[Any]:
        """``later - earlier`` in hours, in the store's SQL dialect."""
        if self.dialect == "postgresql":
            return func.extract("epoch", later - earlier) / 3600.0
        return (func.julianday(later) - func.julianday(earlier)) * 24.0

    def _replied(self, link: MentionLink) -> bool:
        return link.note == "replied"

    def _links(self, ids: Sequence[int]) -> list[MentionLink]:
        if not ids:
            return []
        rows = self.session.execute(
            select(col(Mention.id), col(Mention.source_id), col(Mention.url), col(Mention.title), col(Mention.body),
                   col(Mention.author), col(Mention.first_seen_at), col(Mention.severity),
                   col(Mention.first_reply_at))
            .where(col(Mention.id).in_(list(ids)))
        ).all()
        return [
            MentionLink(_id(row[0]), str(row[1]), row[2], _headline(row[3], row[4]),
                        display_text(row[5], 80) or None, row[6], str(row[7]),
                        "replied" if row[8] is not None and row[8] <= self.now else "")
            for row in rows
        ]

    # -- still open ------------------------------------------------------------------------

    def _still_open(self) -> tuple[int, list[MentionLink]]:
        where = and_(
            self._brand(col(Mention.brand)), self._is_complaint(),
            col(Mention.status).in_(OPEN_STATES), col(Mention.first_reply_at).is_(None),
            col(Mention.removed_at).is_(None), col(Mention.first_seen_at) < self.end,
        )
        total = int(self.session.execute(select(func.count()).where(where)).scalar_one())
        ids = self.session.execute(
            select(col(Mention.id)).where(where)
            .order_by(col(Mention.first_seen_at), col(Mention.id)).limit(self.top)
        ).scalars().all()
        links = {link.id: link for link in self._links([_id(i) for i in ids])}
        return total, [_with_note(links[_id(i)], f"waiting {format_age(self.now - links[_id(i)].at)}")
                       for i in ids]

    def _follow_ups(self) -> tuple[int, list[FollowUpThread]]:
        # A "thanks, sorted!" needs no answer: praise is not an unanswered follow-up.
        where = and_(
            self._brand(col(Mention.brand)), col(Mention.thread_position) >= 2,
            col(Mention.thread_id).is_not(None), col(Mention.kind) != "praise",
            col(Mention.status).in_(OPEN_STATES), col(Mention.first_reply_at).is_(None),
            col(Mention.removed_at).is_(None), col(Mention.first_seen_at) < self.end,
        )
        total = int(self.session.execute(
            select(func.count(func.distinct(col(Mention.thread_id)))).where(where)).scalar_one())
        first = func.min(col(Mention.first_seen_at))
        rows = self.session.execute(
            select(col(Mention.thread_id), func.count(), first, func.max(col(Mention.first_seen_at)),
                   func.max(col(Mention.id)))
            .where(where).group_by(col(Mention.thread_id))
            .order_by(first, col(Mention.thread_id)).limit(self.top)
        ).all()
        if not rows:
            return total, []
        latest = {_id(row[4]) for row in rows}
        details = {
            _id(row[0]): row for row in self.session.execute(
                select(col(Mention.thread_id), col(Mention.author), col(Mention.source_id), col(Mention.url),
                       col(Thread.author_key))
                .join(Thread, col(Thread.id) == col(Mention.thread_id))
                .where(col(Mention.id).in_(latest))
            ).all()
        }
        threads = []
        for thread_id, count, first_at, last_at, _latest in rows:
            detail = details.get(_id(thread_id))
            if detail is None:
                continue
            author = display_text(detail[1] or str(detail[4]).split(":", 1)[-1], 80)
            threads.append(FollowUpThread(author, str(detail[2]), int(count), first_at, last_at,
                                          detail[3]))
        return total, threads

    # -- quality ------------------------------------------------------------------------------

    def _templates(self) -> tuple[Trend, Trend, list[TemplateExample]]:
        replied = col(PublicReply.replied_at)
        where = and_(self._brand(col(PublicReply.brand)), replied >= self.previous_start,
                     replied < self.end)
        current = case((replied >= self.start, 1), else_=0)
        template = case((col(PublicReply.is_template), 1), else_=0)
        row = self.session.execute(
            select(func.count(), func.coalesce(func.sum(current), 0),
                   func.coalesce(func.sum(template), 0),
                   func.coalesce(func.sum(template * current), 0)).where(where)
        ).one()
        total, this_week, templates, templates_this_week = (int(value) for value in row)
        uses = func.count()
        examples = self.session.execute(
            select(col(PublicReply.body_hash), uses, func.min(col(PublicReply.body)))
            .where(self._brand(col(PublicReply.brand)), replied >= self.start, replied < self.end,
                   col(PublicReply.is_template))
            .group_by(col(PublicReply.body_hash)).order_by(uses.desc(), col(PublicReply.body_hash))
            .limit(3)
        ).all()
        return (Trend("replies", this_week, total - this_week),
                Trend("templates", templates_this_week, templates - templates_this_week),
                [TemplateExample(display_text(str(body), 400), int(count))
                 for _hash, count, body in examples])

    def _outcomes(self) -> tuple[int, list[MentionLink]]:
        changed = col(MentionRevision.changed_at)
        # Changes for the better only: a removal's revision carries a note too.
        where = and_(col(MentionRevision.outcome).is_not(None),
                     col(MentionRevision.better).is_(True), changed >= self.start,
                     changed < self.end, self._brand(col(Mention.brand)))
        # Per customer's review, not per edit: a review improved twice in the week is one
        # customer, shown with its latest outcome ("rating raised 1 → 4 after reply").
        latest = (
            select(func.max(col(MentionRevision.id)).label("id"))
            .join(Mention, col(Mention.id) == col(MentionRevision.mention_id)).where(where)
            .group_by(col(MentionRevision.mention_id)).subquery()
        )
        total = int(self.session.execute(select(func.count()).select_from(latest)).scalar_one())
        rows = self.session.execute(
            select(col(MentionRevision.mention_id), col(MentionRevision.outcome))
            .join(latest, latest.c.id == col(MentionRevision.id))
            .order_by(changed, col(MentionRevision.id)).limit(self.top)
        ).all()
        links = {link.id: link for link in self._links([int(row[0]) for row in rows])}
        return total, [_with_note(links[int(mention_id)], str(outcome))
                       for mention_id, outcome in rows if int(mention_id) in links]

    # -- incidents ------------------------------------------------------------------------------

    def _incidents(self) -> tuple[int, list[IncidentRow]]:
        where = and_(
            self._brand(col(Incident.brand)), col(Incident.opened_at) < self.end,
            or_(col(Incident.closed_at).is_(None), col(Incident.closed_at) >= self.start),
        )
        total = int(self.session.execute(select(func.count()).where(where)
                                         .select_from(Incident)).scalar_one())
        rows = self.session.execute(
            select(Incident).where(where)
            .order_by(col(Incident.mentions).desc(), col(Incident.opened_at)).limit(self.top)
        ).scalars().all()
        return total, [
            IncidentRow(int(row.id or 0), row.brand, row.cause, row.status,
                        display_text(row.reason, 300),
                        row.opened_at, row.closed_at, row.mentions, tuple(row.sources or ()))
            for row in rows
        ]

    # -- coverage -------------------------------------------------------------------------------

    def _coverage(self, mentions_by_source: dict[str, int]) -> list[CoverageGap]:
        if not self.scope.source_ids:
            return []
        sources = list(self.scope.source_ids)
        at = col(SourceEvent.at)
        in_week = self.session.execute(
            select(SourceEvent).where(col(SourceEvent.source_id).in_(sources), at >= self.start,
                                      at < self.end)
        ).scalars().all()
        latest = (
            select(col(SourceEvent.source_id), func.max(col(SourceEvent.at)).label("at"))
            .where(col(SourceEvent.source_id).in_(sources), at < self.start)
            .group_by(col(SourceEvent.source_id)).subquery()
        )
        before = self.session.execute(
            select(SourceEvent).join(latest, and_(
                col(SourceEvent.source_id) == latest.c.source_id, at == latest.c.at))
        ).scalars().all()
        events = [HealthEvent(event.source_id, event.at, event.status, event.error)
                  for event in [*before, *in_week]]
        return coverage_gaps(events, self.start, self.end, mentions_by_source)

    # -- themes ---------------------------------------------------------------------------------

    def _themes(self) -> tuple[list[Theme], int]:
        rows = self.session.execute(
            select(col(Mention.id), col(Mention.title), col(Mention.body))
            .where(self._volume(self.start, self.end), self._is_complaint())
            .order_by(col(Mention.first_seen_at).desc()).limit(THEME_SAMPLE)
        ).all()
        texts = [(_id(row[0]), f"{row[1] or ''}\n{row[2] or ''}") for row in rows]
        ignore = [*self.scope.brands, self.scope.title, *self.scope.brand_words]
        return complaint_themes(texts, top=self.top, ignore=ignore), len(texts)


def _headline(title: str | None, body: str | None) -> str:
    return display_text(title, 140) or display_text(body, 140) or "(no text)"


def _with_note(link: MentionLink, note: str) -> MentionLink:
    return MentionLink(link.id, link.source_id, link.url, link.title, link.author, link.at,
                       link.severity, note)


def _id(value: Any) -> int:
    """A primary key read back from a query (never None there)."""
    return int(value)
