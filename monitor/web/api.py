"""The JSON API (OpenAPI at /api/openapi.json): list, get, acknowledge, assign, snooze,
mark replied, resolve, reopen, "not a complaint" and notes. Bearer tokens from
[web.tokens]; viewers read, responders and admins act."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field

from monitor import triage
from monitor.core.triage import is_waiting
from monitor.store import Mention
from monitor.web import queries
from monitor.web.deps import api_responder, api_user, ctx
from monitor.web.security import Principal

router = APIRouter(prefix="/api/v1", tags=["mentions"])

Reader = Annotated[Principal, Depends(api_user)]
Actor = Annotated[Principal, Depends(api_responder)]


class MentionOut(BaseModel):
    id: int
    brand: str | None
    source_id: str
    spider: str
    url: str | None
    author: str | None
    title: str | None
    body: str
    rating: float | None
    rating_max: float | None
    language: str | None
    kind: str
    severity: str
    reasons: list[str]
    status: str
    waiting: bool = Field(description="open, acknowledged, or snoozed and due again")
    assignee: str | None
    snoozed_until: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    first_reply_at: datetime | None
    sla_due_at: datetime | None
    sla_stage: int
    sla_breached_at: datetime | None
    published_at: datetime | None
    first_seen_at: datetime
    thread_id: int | None
    thread_position: int | None
    incident_id: int | None
    removed: bool

    @classmethod
    def of(cls, mention: Mention, now: datetime) -> MentionOut:
        return cls(
            id=mention.id or 0, brand=mention.brand, source_id=mention.source_id,
            spider=mention.spider, url=mention.url, author=mention.author, title=mention.title,
            body=mention.body, rating=mention.rating, rating_max=mention.rating_max,
            language=mention.language, kind=mention.kind, severity=mention.severity,
            reasons=list(mention.reasons or []), status=mention.status,
            waiting=is_waiting(mention.status, mention.snoozed_until, now),
            assignee=mention.assignee, snoozed_until=mention.snoozed_until,
            acknowledged_at=mention.acknowledged_at, acknowledged_by=mention.acknowledged_by,
            resolved_at=mention.resolved_at, first_reply_at=mention.first_reply_at,
            sla_due_at=mention.sla_due_at, sla_stage=mention.sla_stage,
            sla_breached_at=mention.sla_breached_at, published_at=mention.published_at,
            first_seen_at=mention.first_seen_at, thread_id=mention.thread_id,
            thread_position=mention.thread_position, incident_id=mention.incident_id,
            removed=mention.removed,
        )


class MentionList(BaseModel):
    items: list[MentionOut]
    total: int
    page: int
    per_page: int


class RevisionOut(BaseModel):
    changed_at: datetime
    changed_fields: list[str]
    title: str | None
    body: str
    rating: float | None
    worse: bool
    better: bool
    outcome: str | None


class ReplyOut(BaseModel):
    author: str | None
    body: str
    replied_at: datetime | None
    # site | account | site-data (the review site's reply field, as crawled)
    detected_by: str
    is_template: bool = False


class NoteOut(BaseModel):
    id: int
    author: str
    body: str
    created_at: datetime


class EventOut(BaseModel):
    action: str
    by: str
    at: datetime
    detail: str | None


class MentionDetailOut(MentionOut):
    revisions: list[RevisionOut]
    thread: list[MentionOut]
    replies: list[ReplyOut]
    notes: list[NoteOut]
    history: list[EventOut] = Field(description="who did what, oldest first")


class AssignIn(BaseModel):
    assignee: str | None = Field(default=None, max_length=200,
                                 description="a name; empty or null unassigns")


class SnoozeIn(BaseModel):
    minutes: int = Field(ge=1, le=30 * 24 * 60)


class NotComplaintIn(BaseModel):
    ignore_author: bool = Field(default=True, description="ignore this author from now on")
    phrase: str | None = Field(default=None, max_length=500,
                               description="also ignore mentions containing this phrase")


class NoteIn(BaseModel):
    body: str = Field(min_length=1, max_length=triage.MAX_NOTE)


class BulkIn(BaseModel):
    ids: list[int] = Field(min_length=1, max_length=triage.MAX_BULK)
    action: Literal["ack", "assign", "snooze", "replied", "resolve", "reopen",
                    "not-complaint"]
    assignee: str | None = Field(default=None, max_length=200, description="for assign")
    minutes: int | None = Field(default=None, ge=1, le=30 * 24 * 60, description="for snooze")
    ignore_author: bool = Field(default=False, description="for not-complaint: ignore these "
                                "mentions' authors from now on (off: one bulk choice must "
                                "not silence hundreds of people without being asked)")
    phrase: str | None = Field(default=None, max_length=500,
                               description="for not-complaint: also ignore this phrase")


class BulkResult(BaseModel):
    changed: int = Field(description="how many of the mentions the action changed")


class ActionResult(BaseModel):
    changed: int = Field(description="0 when the mention was already past this step")
    mention: MentionOut


@router.get("/mentions", response_model=MentionList)
def list_mentions(request: Request, user: Reader, brand: str = "", source: str = "",
                  severity: str = "", kind: str = "complaint", language: str = "",
                  status: Annotated[str, Query(description="waiting (default), all or a "
                                                           "status")] = "waiting",
                  assignee: Annotated[str, Query(description="a name, 'me' (the token's "
                                                             "name) or 'none'")] = "",
                  q: str = "", incident: int | None = None,
                  page: Annotated[int, Query(ge=1)] = 1,
                  per_page: Annotated[int, Query(ge=1, le=queries.PER_PAGE_MAX)] = 50,
                  ) -> MentionList:
    # The page quietly falls back to its defaults; an API client with a typo
    # (status=resolve) must hear about it instead of reading the wrong list.
    for name, value, allowed in (("status", status, queries.STATUS_FILTERS),
                                 ("kind", kind, ("", *queries.KINDS)),
                                 ("severity", severity, ("", *queries.SEVERITIES))):
        if value not in allowed:
            raise HTTPException(422, f"{name} must be one of: "
                                     f"{', '.join(repr(a) for a in allowed)}")
    context = ctx(request)
    now = context.now()
    result = queries.list_mentions(context.store, queries.InboxQuery(
        brand, source, severity, kind, language, status,
        user.name if assignee == "me" else assignee, q, incident, page, per_page), now)
    return MentionList(items=[MentionOut.of(m, now) for m in result.items], total=result.total,
                       page=result.page, per_page=result.per_page)


def _detail(request: Request, mention_id: int) -> MentionDetailOut:
    context = ctx(request)
    now = context.now()
    detail = queries.mention_detail(context.store, mention_id)
    if detail is None:
        raise HTTPException(404, f"no mention {mention_id}")
    base = MentionOut.of(detail.mention, now).model_dump()
    replies = [ReplyOut(author=r.get("author"), body=str(r.get("text") or ""),
                        replied_at=_parse_time(r.get("published")), detected_by="site-data")
               for r in detail.mention.company_replies or []]
    replies += [ReplyOut(author=r.author, body=r.body, replied_at=r.replied_at,
                         detected_by=r.detected_by, is_template=r.is_template)
                for r in detail.public_replies]
    return MentionDetailOut(
        **base,
        revisions=[RevisionOut(changed_at=r.changed_at, changed_fields=list(r.changed_fields or []),
                               title=r.title, body=r.body, rating=r.rating, worse=r.worse,
                               better=r.better, outcome=r.outcome) for r in detail.revisions],
        thread=[MentionOut.of(m, now) for m in detail.thread if m.id != mention_id],
        replies=replies,
        notes=[NoteOut(id=n.id or 0, author=n.author, body=n.body, created_at=n.created_at)
               for n in detail.notes],
        history=[EventOut(action=e.action, by=e.by, at=e.at, detail=e.detail)
                 for e in detail.history],
    )


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


@router.get("/mentions/{mention_id}", response_model=MentionDetailOut)
def get_mention(request: Request, mention_id: int, user: Reader) -> MentionDetailOut:
    return _detail(request, mention_id)


def _run(request: Request, mention_id: int, action: Any) -> ActionResult:
    context = ctx(request)
    try:
        changed = action(context.store, context.now())
    except triage.NotFound as error:
        raise HTTPException(404, str(error)) from error
    except triage.TriageError as error:
        raise HTTPException(400, str(error)) from error
    with context.store.session() as session:
        mention = session.get(Mention, mention_id)
    if mention is None:
        raise HTTPException(404, f"no mention {mention_id}")
    return ActionResult(changed=changed, mention=MentionOut.of(mention, context.now()))


@router.post("/mentions/{mention_id}/ack", response_model=ActionResult)
def acknowledge(request: Request, mention_id: int, user: Actor) -> ActionResult:
    """Acknowledge: someone has it; stops the escalation of its alerts."""
    return _run(request, mention_id,
                lambda store, now: triage.acknowledge(store, [mention_id], user.name, now))


@router.post("/mentions/{mention_id}/assign", response_model=ActionResult)
def assign(request: Request, mention_id: int, body: AssignIn, user: Actor) -> ActionResult:
    return _run(request, mention_id, lambda store, now: triage.assign(
        store, [mention_id], body.assignee, user.name, now))


@router.post("/mentions/{mention_id}/snooze", response_model=ActionResult)
def snooze(request: Request, mention_id: int, body: SnoozeIn, user: Actor) -> ActionResult:
    return _run(request, mention_id, lambda store, now: triage.snooze(
        store, [mention_id], now + timedelta(minutes=body.minutes), user.name, now))


@router.post("/mentions/{mention_id}/replied", response_model=ActionResult)
def replied(request: Request, mention_id: int, user: Actor) -> ActionResult:
    """The team replied publicly (stops the public-reply clock)."""
    return _run(request, mention_id,
                lambda store, now: triage.mark_replied(store, [mention_id], user.name, now))


@router.post("/mentions/{mention_id}/resolve", response_model=ActionResult)
def resolve(request: Request, mention_id: int, user: Actor) -> ActionResult:
    return _run(request, mention_id,
                lambda store, now: triage.resolve(store, [mention_id], user.name, now))


@router.post("/mentions/{mention_id}/reopen", response_model=ActionResult)
def reopen(request: Request, mention_id: int, user: Actor) -> ActionResult:
    return _run(request, mention_id,
                lambda store, now: triage.reopen(store, [mention_id], user.name, now))


@router.post("/mentions/{mention_id}/not-complaint", response_model=ActionResult)
def not_complaint(request: Request, mention_id: int, body: NotComplaintIn,
                  user: Actor) -> ActionResult:
    """Not a complaint: the brand's ignore rules learn the author (and the phrase)."""
    return _run(request, mention_id, lambda store, now: triage.not_complaint(
        store, [mention_id], user.name, now, body.ignore_author, body.phrase))


@router.get("/mentions/{mention_id}/notes", response_model=list[NoteOut])
def notes(request: Request, mention_id: int, user: Reader) -> list[NoteOut]:
    return _detail(request, mention_id).notes


@router.post("/mentions/{mention_id}/notes", response_model=NoteOut, status_code=201)
def add_note(request: Request, mention_id: int, body: NoteIn, user: Actor) -> NoteOut:
    context = ctx(request)
    try:
        note = triage.add_note(context.store, mention_id, user.name, body.body, context.now())
    except triage.NotFound as error:
        raise HTTPException(404, str(error)) from error
    except triage.TriageError as error:
        raise HTTPException(400, str(error)) from error
    return NoteOut(id=note.id or 0, author=note.author, body=note.body,
                   created_at=note.created_at)


@router.post("/bulk", response_model=BulkResult)
def bulk(request: Request, body: BulkIn, user: Actor) -> BulkResult:
    """One action on many mentions (up to 500); mentions it does not apply to are skipped."""
    context = ctx(request)
    now = context.now()
    store, ids, by = context.store, body.ids, user.name
    try:
        if body.action == "ack":
            changed = triage.acknowledge(store, ids, by, now)
        elif body.action == "assign":
            changed = triage.assign(store, ids, body.assignee, by, now)
        elif body.action == "snooze":
            if body.minutes is None:
                raise HTTPException(422, "snooze needs minutes")
            changed = triage.snooze(store, ids, now + timedelta(minutes=body.minutes), by, now)
        elif body.action == "replied":
            changed = triage.mark_replied(store, ids, by, now)
        elif body.action == "resolve":
            changed = triage.resolve(store, ids, by, now)
        elif body.action == "reopen":
            changed = triage.reopen(store, ids, by, now)
        else:
            changed = triage.not_complaint(store, ids, by, now, body.ignore_author,
                                           body.phrase)
    except triage.NotFound as error:
        raise HTTPException(404, str(error)) from error
    except triage.TriageError as error:
        raise HTTPException(400, str(error)) from error
    return BulkResult(changed=changed)


class IncidentOut(BaseModel):
    id: int
    brand: str
    cause: str
    status: str
    reason: str
    mentions: int
    opened_at: datetime
    last_mention_at: datetime
    closed_at: datetime | None
    alerts: int
    acked_by: str | None
    acked_at: datetime | None


@router.get("/incidents", response_model=list[IncidentOut], tags=["incidents"])
def incidents(request: Request, user: Reader) -> list[IncidentOut]:
    """Open incidents first, then the latest (up to 200)."""
    return [IncidentOut(id=row.incident.id or 0, brand=row.incident.brand,
                        cause=row.incident.cause, status=row.incident.status,
                        reason=row.incident.reason, mentions=row.incident.mentions,
                        opened_at=row.incident.opened_at,
                        last_mention_at=row.incident.last_mention_at,
                        closed_at=row.incident.closed_at, alerts=row.alerts,
                        acked_by=row.acked_by, acked_at=row.acked_at)
            for row in queries.incidents(ctx(request).store)]


@router.post("/incidents/{incident_id}/ack", response_model=BulkResult, tags=["incidents"])
def acknowledge_incident(request: Request, incident_id: int, user: Actor) -> BulkResult:
    """Stop the escalation of every alert sent about the incident."""
    context = ctx(request)
    try:
        return BulkResult(changed=triage.acknowledge_incident(
            context.store, incident_id, user.name, context.now()))
    except triage.NotFound as error:
        raise HTTPException(404, str(error)) from error
