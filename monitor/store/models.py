"""The store's tables. Stage names: a ``Mention`` is what we stored of a ``MentionItem``;
an ``Alert`` is an outbox row; a ``Delivery`` is what happened when one was sent."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, TypeDecorator, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _time(**kwargs: Any) -> Any:
    return Field(sa_column=Column(UTCDateTime(), **kwargs))


def _json() -> Any:
    return Field(default=None, sa_column=Column(JSON, nullable=True))


class SourceState(SQLModel, table=True):
    __tablename__ = "source_state"

    source_id: str = Field(primary_key=True, max_length=200)
    last_fetch_at: datetime | None = _time(nullable=True)
    last_success_at: datetime | None = _time(nullable=True)
    # never | ok | not_modified | fetch | blocked | parse
    last_status: str = Field(default="never", max_length=20)
    etag: str | None = Field(default=None, max_length=500)
    last_modified: str | None = Field(default=None, max_length=100)
    next_run_at: datetime | None = _time(nullable=True)
    consecutive_failures: int = 0
    last_error: str | None = None
    mentions_total: int = 0
    last_duration_s: float | None = None
    # A paged poll was cut off this many pages deep with new mentions still unread (at
    # max_pages, or by a failed page): the next poll resumes past it. None: caught up.
    backlog_pages: int | None = None


class Mention(SQLModel, table=True):
    __tablename__ = "mention"
    __table_args__ = (
        Index("ix_mention_source_external", "source_id", "external_id"),
        Index("ix_mention_brand_first_seen", "brand", "first_seen_at"),
        # The SLA sweeper and the inbox: open complaints by deadline.
        Index("ix_mention_status_sla_due", "status", "sla_due_at"),
        # Source health (issue 6): a source's latest mentions, to learn its usual rate.
        Index("ix_mention_source_published", "source_id", "published_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # source+external id, else canonical URL, else content hash: see core/dedupe.py
    dedupe_key: str = Field(max_length=600, unique=True)
    source_id: str = Field(max_length=200)
    spider: str = Field(max_length=50)
    brand: str | None = Field(default=None, max_length=200)
    external_id: str | None = Field(default=None, max_length=500)
    url: str | None = None
    canonical_url: str | None = Field(default=None, index=True)
    content_hash: str = Field(max_length=64)
    author: str | None = None
    title: str | None = None
    body: str = ""
    rating: float | None = None
    rating_max: float | None = None
    published_at: datetime | None = _time(nullable=True)
    site_updated_at: datetime | None = _time(nullable=True)
    language: str | None = Field(default=None, max_length=20)
    reply_to: str | None = None
    engagement: dict[str, int] | None = _json()
    company_replies: list[dict[str, Any]] | None = _json()
    removed: bool = False
    extra: dict[str, Any] | None = _json()
    kind: str = Field(max_length=20)
    severity: str = Field(max_length=20)
    reasons: list[str] | None = _json()
    score: float = 0.0
    first_seen_at: datetime = _time(nullable=False)
    last_seen_at: datetime = _time(nullable=False)
    # The site took it down; we keep it (and its history), never delete.
    removed_at: datetime | None = _time(nullable=True)
    # When a complete listing of its source first did not show it since it was last
    # seen: a removal needs that earlier miss (monitor/core/removals.py). In the store
    # so that a restarted daemon, or another one, counts on from it. Cleared when seen
    # again; no index, so the sighting's update stays HOT on PostgreSQL.
    unlisted_at: datetime | None = _time(nullable=True)
    # Lower-cased "spider:author": the key of a customer's thread on one site.
    author_key: str | None = Field(default=None, max_length=300, index=True)
    thread_id: int | None = Field(default=None, foreign_key="thread.id", index=True)
    # 1 for the first message of a thread, 2 for the first follow-up, ...
    thread_position: int | None = None
    revisions: int = 0
    incident_id: int | None = Field(default=None, foreign_key="incident.id", index=True)
    # Triage, in the web inbox and by ack links: open | acknowledged | snoozed | replied
    # | resolved | not_complaint. "replied" is set when the public reply is detected.
    status: str = Field(default="open", max_length=20)
    assignee: str | None = Field(default=None, max_length=200)
    snoozed_until: datetime | None = _time(nullable=True)
    acknowledged_at: datetime | None = _time(nullable=True)
    acknowledged_by: str | None = Field(default=None, max_length=200)
    resolved_at: datetime | None = _time(nullable=True)
    # The public-reply clock: when the company's first public reply appeared (from the
    # site's reply data or a post by one of the brand's own accounts) ...
    first_reply_at: datetime | None = _time(nullable=True)
    # ... when it is due (SLA target counted in business hours), and how far the
    # reminders got: 0 none, 50 and 80 (percent of the target), 100 breached.
    sla_due_at: datetime | None = _time(nullable=True)
    sla_stage: int = 0
    sla_breached_at: datetime | None = _time(nullable=True)
    # The "tell the customer about the delay" reminder was sent.
    delay_notice_at: datetime | None = _time(nullable=True)


class MentionSighting(SQLModel, table=True):
    """Every source that saw a mention, and when: one mention, many ways in."""

    __tablename__ = "mention_sighting"
    __table_args__ = (UniqueConstraint("mention_id", "source_id", name="uq_sighting"),)

    id: int | None = Field(default=None, primary_key=True)
    mention_id: int = Field(foreign_key="mention.id", index=True)
    source_id: str = Field(max_length=200)
    url: str | None = None
    first_seen_at: datetime = _time(nullable=False)
    last_seen_at: datetime = _time(nullable=False)
    times_seen: int = 1


class MentionRevision(SQLModel, table=True):
    """What a mention said before an edit (the mention row holds the latest)."""

    __tablename__ = "mention_revision"

    id: int | None = Field(default=None, primary_key=True)
    mention_id: int = Field(foreign_key="mention.id", index=True)
    changed_at: datetime = _time(nullable=False)
    changed_fields: list[str] | None = _json()
    title: str | None = None
    body: str = ""
    rating: float | None = None
    kind: str = Field(max_length=20)
    severity: str = Field(max_length=20)
    worse: bool = False
    better: bool = False
    # "rating raised 1 → 4 after reply": for the digest
    outcome: str | None = None


class Thread(SQLModel, table=True):
    """One customer's messages on one site within the follow-up window."""

    __tablename__ = "thread"
    __table_args__ = (UniqueConstraint("author_key", "started_at", name="uq_thread"),)

    id: int | None = Field(default=None, primary_key=True)
    brand: str | None = Field(default=None, max_length=200)
    author_key: str = Field(max_length=300, index=True)
    started_at: datetime = _time(nullable=False)
    last_message_at: datetime = _time(nullable=False)
    messages: int = 1


class Incident(SQLModel, table=True):
    """Many customers complaining about one thing at once: alerted once, then updated."""

    __tablename__ = "incident"
    __table_args__ = (Index("ix_incident_brand_status", "brand", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    brand: str = Field(max_length=200)
    # cluster | spike
    cause: str = Field(max_length=20)
    # open | closed
    status: str = Field(default="open", max_length=20)
    reason: str = ""
    opened_at: datetime = _time(nullable=False)
    last_update_at: datetime = _time(nullable=False)
    last_mention_at: datetime = _time(nullable=False)
    closed_at: datetime | None = _time(nullable=True)
    mentions: int = 0
    mentions_at_last_update: int = 0
    updates: int = 0
    sources: list[str] | None = _json()


class PublicReply(SQLModel, table=True):
    """One public reply by the company: from the site's reply data or a post by one of
    the brand's own accounts. Compared with the others to spot copy-paste templates."""

    __tablename__ = "public_reply"
    __table_args__ = (
        UniqueConstraint("mention_id", "body_hash", name="uq_public_reply"),
        Index("ix_public_reply_brand_replied", "brand", "replied_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # The customer's mention this answers.
    mention_id: int = Field(foreign_key="mention.id", index=True)
    brand: str | None = Field(default=None, max_length=200)
    author: str | None = None
    body: str = ""
    # sha256 of the normalised text (names, order numbers, greetings stripped).
    body_hash: str = Field(max_length=64)
    replied_at: datetime = _time(nullable=False)
    # site (the review site's reply field) | account (a post by a brand account)
    detected_by: str = Field(default="site", max_length=20)
    # The mention that *is* the reply, when it came as a post by a brand account.
    reply_mention_id: int | None = Field(default=None, foreign_key="mention.id")
    is_template: bool = False
    # How many other replies of the brand are near-identical to this one.
    template_matches: int = 0
    # The text it is compared by (core/templates.py normalise); issue 6, reply side.
    normalized: str = Field(default="", sa_column_kwargs={"server_default": ""})


class Note(SQLModel, table=True):
    """A responder's note on a mention (web inbox, API)."""

    __tablename__ = "note"

    id: int | None = Field(default=None, primary_key=True)
    mention_id: int = Field(foreign_key="mention.id", index=True)
    author: str = Field(max_length=200)
    body: str
    created_at: datetime = _time(nullable=False)


class SourceEvent(SQLModel, table=True):
    """A change of a source's health (ok → blocked → ok ...): the coverage history the
    digest reports and the source-health alerts are sent from."""

    __tablename__ = "source_event"
    __table_args__ = (Index("ix_source_event_source_at", "source_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    source_id: str = Field(max_length=200)
    at: datetime = _time(nullable=False)
    # ok | failing | blocked | silent
    status: str = Field(max_length=20)
    error: str | None = None


class DigestRun(SQLModel, table=True):
    """One weekly digest for one scope (brand or team) and ISO week: never sent twice."""

    __tablename__ = "digest_run"
    __table_args__ = (UniqueConstraint("scope", "week", name="uq_digest_run"),)

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=200)
    # ISO week, e.g. 2026-W47
    week: str = Field(max_length=10)
    # pending | sending | sent | failed | interrupted (monitor/digest/runner.py)
    status: str = Field(default="pending", max_length=20)
    created_at: datetime = _time(nullable=False)
    sent_at: datetime | None = _time(nullable=True)
    error: str | None = None
    # -- weekly digest (issue 7): status also "sending" (handed to SMTP: never re-sent
    # automatically) and "interrupted" (the process died while sending; see docs/digest.md).
    attempts: int = 0
    # A failed run is retried from then on (None: not retried automatically).
    next_attempt_at: datetime | None = _time(nullable=True)
    # When the current attempt claimed the row (a stale "pending" claim is taken over).
    claimed_at: datetime | None = _time(nullable=True)
    # How many recipients accepted the last send.
    recipients: int = 0
    # Mail servers (hashes of their URL) that took this digest: a retry skips them.
    delivered: list[str] | None = _json()


class Alert(SQLModel, table=True):
    """The outbox: written in the same transaction as its mention, sent afterwards."""

    __tablename__ = "alert"
    __table_args__ = (
        Index("ix_alert_status_next", "status", "next_attempt_at"),
        Index("ix_alert_escalate_at", "escalate_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    mention_id: int | None = Field(default=None, foreign_key="mention.id", index=True)
    channel: str = Field(max_length=200)
    # Carried in every message, so a receiver can drop a repeat after a crash mid-send.
    idempotency_key: str = Field(max_length=300, unique=True)
    # pending | sent | dead
    status: str = Field(default="pending", max_length=20)
    # mention | incident | dead_letter | sla_reminder | sla_breach | delay_notice |
    # template_reply | source_health | source_recovered (docs/response.md) ...
    purpose: str = Field(default="mention", max_length=30)
    title: str
    body: str
    attempts: int = 0
    next_attempt_at: datetime = _time(nullable=False)
    last_error: str | None = None
    created_at: datetime = _time(nullable=False)
    sent_at: datetime | None = _time(nullable=True)
    incident_id: int | None = Field(default=None, foreign_key="incident.id", index=True)
    # Who it is for (an on-call member's name) and the escalation tier it was sent at
    # (0 first responder, 1 backup, 2 lead ...).
    recipient: str | None = Field(default=None, max_length=200)
    tier: int = 0
    # Acknowledged (ack link, CLI, web): stops the escalation of this alert.
    acked_at: datetime | None = _time(nullable=True)
    acked_by: str | None = Field(default=None, max_length=200)
    # When to escalate to the next tier if nobody acknowledged by then.
    escalate_at: datetime | None = _time(nullable=True)
    # -- alert path (issue 6): why it waits (after_hours | rate_limit | snoozed); held alerts of one
    # channel that come due together are sent as one message.
    held: str | None = Field(default=None, max_length=20)


class Delivery(SQLModel, table=True):
    """One attempt to send one alert to one channel URL."""

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("alert_id", "attempt", "target", name="uq_delivery"),
        # Web /healthz (issue 8): the time of the last dispatch, read on every probe.
        Index("ix_delivery_attempted_at", "attempted_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id", index=True)
    # A hash of the apprise URL: identifies the destination without storing a secret twice.
    target: str = Field(max_length=64)
    attempt: int
    attempted_at: datetime = _time(nullable=False)
    ok: bool
    error: str | None = None


# -- web triage (issue 8) -------------------------------------------------------


class IgnoreRule(SQLModel, table=True):
    """"Not a complaint" in the inbox becomes a rule of the brand: later mentions by
    the same author (``field = author``, value the mention's author_key) or with the
    same phrase (``field = phrase``, value matched case-insensitively) are stored as
    kind "other" and alert nobody. Admins delete rules in the web inbox."""

    __tablename__ = "ignore_rule"
    __table_args__ = (UniqueConstraint("brand", "field", "value", name="uq_ignore_rule"),)

    id: int | None = Field(default=None, primary_key=True)
    # None: every brand (mentions of no brand)
    brand: str | None = Field(default=None, max_length=200)
    # author | phrase
    field: str = Field(max_length=20)
    value: str = Field(max_length=500)
    # The mention it was made from.
    mention_id: int | None = Field(default=None, foreign_key="mention.id")
    created_by: str = Field(max_length=200)
    created_at: datetime = _time(nullable=False)


class TriageEvent(SQLModel, table=True):
    """Who did what to a mention in the inbox or the API (acknowledged, assigned to ann,
    snoozed until ..., resolved ...): the mention's history on its page."""

    __tablename__ = "triage_event"

    id: int | None = Field(default=None, primary_key=True)
    mention_id: int = Field(foreign_key="mention.id", index=True)
    # acknowledge | assign | snooze | replied | resolve | reopen | not_complaint
    action: str = Field(max_length=30)
    by: str = Field(max_length=200)
    at: datetime = _time(nullable=False)
    # "to ann", "until 2026-11-24 16:00 UTC", "ignore author; phrase 'x'"
    detail: str | None = None
