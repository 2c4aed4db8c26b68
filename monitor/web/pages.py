"""The HTML side: login, inbox, mention detail and its actions, bulk actions, incidents,
sources, ignore rules, /healthz and /metrics. Every POST is a plain form with a CSRF
token and ends in a redirect (so reload never repeats an action)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from monitor import triage
from monitor.core.durations import parse_duration
from monitor.core.triage import STATUSES
from monitor.web import ops, queries
from monitor.web.app import WebContext
from monitor.web.deps import (
    check_csrf,
    ctx,
    flash,
    page_admin,
    page_responder,
    page_user,
    render,
)
from monitor.web.security import (
    Principal,
    authenticate,
    client_address,
    password_fingerprint,
    printable,
    safe_next,
)

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

User = Annotated[Principal, Depends(page_user)]
Responder = Annotated[Principal, Depends(page_responder)]
Admin = Annotated[Principal, Depends(page_admin)]
Csrf = Annotated[str, Form()]

SNOOZE_CHOICES = ("1h", "4h", "1d", "3d", "7d")


# -- login ------------------------------------------------------------------------


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:  # noqa: A002
    return render(request, "login.html", None, next=safe_next(next), error=None)


@router.post("/login")
def login(request: Request, csrf: Csrf, username: Annotated[str, Form()] = "",
          password: Annotated[str, Form()] = "",
          next: Annotated[str, Form()] = "/") -> Response:  # noqa: A002
    check_csrf(request, csrf)
    context = ctx(request)
    now = context.now()
    name = username.strip()[:200]
    address = client_address(context.web, request.client.host if request.client else None,
                             request.headers.get("x-forwarded-for"))
    keys = [f"addr:{address}", f"user:{name.casefold()}"]
    shown = printable(name)
    wait = context.limiter.begin(keys, now)  # counted as failed until it succeeds
    if wait:
        log.warning("login_throttled user=%s address=%s retry_after=%ss", shown, address, wait)
        return render(request, "login.html", None, 429, {"Retry-After": str(wait)},
                      next=safe_next(next),
                      error=f"Too many failed logins: try again in {wait} seconds.")
    user = authenticate(context.web, name, password)
    if user is None:
        log.warning("login_failed user=%s address=%s", shown, address)
        return render(request, "login.html", None, 401, next=safe_next(next),
                      error="Wrong user name or password.")
    context.limiter.release([keys[0]], now)
    context.limiter.succeeded([keys[1]])
    request.session.clear()  # a fresh session (and CSRF token) at every login
    request.session["user"] = user.name
    request.session["pw"] = password_fingerprint(context.web.users[user.name].password_hash)
    request.session["at"] = int(now.timestamp())
    log.info("login user=%s address=%s", shown, address)
    return RedirectResponse(safe_next(next), 303)


@router.post("/logout")
def logout(request: Request, csrf: Csrf) -> Response:
    check_csrf(request, csrf)
    request.session.clear()
    return RedirectResponse("/login", 303)


# -- inbox ------------------------------------------------------------------------


@router.get("/")
def inbox(request: Request, user: User, brand: str = "", source: str = "",
          severity: str = "", kind: str = "complaint", language: str = "",
          status: str = "waiting", assignee: str = "", q: str = "",
          incident: int | None = None, page: int = 1,
          per_page: Annotated[int, Query(ge=1, le=queries.PER_PAGE_MAX)] = 50) -> Response:
    context = ctx(request)
    query = queries.InboxQuery(brand, source, severity, kind, language, status,
                               user.name if assignee == "me" else assignee, q, incident,
                               page, per_page).clean()
    result = queries.list_mentions(context.store, query, context.now())
    # The filters that differ from the defaults, for the pager's links.
    params = {key: value for key, value, default in (
        ("brand", brand, ""), ("source", source, ""), ("severity", severity, ""),
        ("kind", kind, "complaint"), ("language", language, ""), ("status", status, "waiting"),
        ("assignee", assignee, ""), ("q", q, ""),
        ("incident", "" if incident is None else str(incident), ""),
        ("per_page", str(per_page), "50")) if value != default}
    # An empty page says why: the filters, or that nothing was ever crawled (not a false
    # "every complaint has been dealt with").
    filtered = any((query.brand, query.source, query.severity, query.language,
                    query.assignee, query.q, query.incident is not None,
                    query.kind not in ("complaint", "")))
    crawled = bool(result.items) or filtered or any(
        state.last_success_at is not None
        for state in context.store.source_states().values())
    return render(request, "inbox.html", user, result=result, query=query, params=params,
                  filtered=filtered, crawled=crawled,
                  filter_assignee=assignee,
                  brands=sorted(context.config.brands),
                  sources=[source.id for source in context.config.sources],
                  severities=queries.SEVERITIES, kinds=queries.KINDS,
                  statuses=queries.STATUS_FILTERS,
                  languages=context.cached("languages",
                                           lambda: queries.languages(context.store)),
                  assignees=_assignees(context),
                  snooze_choices=SNOOZE_CHOICES,
                  here=request.url.path + (f"?{request.url.query}" if request.url.query else ""))


@router.get("/inbox/newest")
def inbox_newest(request: Request, user: User, brand: str = "", source: str = "",
                 severity: str = "", kind: str = "complaint", language: str = "",
                 status: str = "waiting", assignee: str = "", q: str = "",
                 incident: int | None = None) -> Response:
    """For the inbox script: is there anything newer than what the page shows?"""
    context = ctx(request)
    query = queries.InboxQuery(brand, source, severity, kind, language, status,
                               user.name if assignee == "me" else assignee, q, incident)
    total, top = queries.newest(context.store, query, context.now())
    return JSONResponse({"total": total, "newest": top})


@router.get("/mentions/{mention_id}")
def mention_page(request: Request, mention_id: int, user: User) -> Response:
    context = ctx(request)
    detail = queries.mention_detail(context.store, mention_id)
    if detail is None:
        raise HTTPException(404, f"There is no mention {mention_id}.")
    return render(request, "mention.html", user, d=detail, m=detail.mention,
                  assignees=_assignees(context),
                  snooze_choices=SNOOZE_CHOICES, statuses=STATUSES)


def _assignees(context: WebContext) -> list[str]:
    names: list[str] = context.cached(
        "assignees", lambda: queries.assignees(context.store, context.config))
    return names


def _act(request: Request, user: Principal, action: str, ids: list[int],
         assignee: str = "", snooze_for: str = "", phrase: str = "",
         ignore_author: bool = True) -> str:
    context = ctx(request)
    now = context.now()
    store = context.store
    if action == "acknowledge":
        changed = triage.acknowledge(store, ids, user.name, now)
        return f"Acknowledged {changed} of {len(ids)}."
    if action in ("assign", "take"):
        name = user.name if assignee == "me" or action == "take" else assignee
        changed = triage.assign(store, ids, name, user.name, now)
        return f"Assigned {changed} to {name}." if name else f"Unassigned {changed}."
    if action == "snooze":
        try:
            length = parse_duration(snooze_for or "4h")
        except ValueError as error:
            raise triage.TriageError(f"snooze for: {error}") from error
        if length > timedelta(days=30):
            raise triage.TriageError("snooze for at most 30 days")
        changed = triage.snooze(store, ids, now + length, user.name, now)
        return f"Snoozed {changed} for {snooze_for or '4h'}."
    if action == "replied":
        changed = triage.mark_replied(store, ids, user.name, now)
        return f"Marked {changed} as replied."
    if action == "resolve":
        changed = triage.resolve(store, ids, user.name, now)
        return f"Resolved {changed}."
    if action == "reopen":
        changed = triage.reopen(store, ids, user.name, now)
        return f"Reopened {changed}."
    if action == "not_complaint":
        changed = triage.not_complaint(store, ids, user.name, now, ignore_author,
                                       phrase or None)
        if ignore_author or phrase:
            return f"Marked {changed} as not a complaint; the brand's ignore rules learnt it."
        return f"Marked {changed} as not a complaint."
    raise HTTPException(404, f"No action '{action}'.")


@router.post("/mentions/{mention_id}/note")
def add_note(request: Request, mention_id: int, user: Responder, csrf: Csrf,
             body: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf)
    try:
        triage.add_note(ctx(request).store, mention_id, user.name, body, ctx(request).now())
        flash(request, "Note added.")
    except triage.NotFound as error:
        raise HTTPException(404, str(error)) from error
    except triage.TriageError as error:
        flash(request, str(error), "error")
    return RedirectResponse(f"/mentions/{mention_id}#notes", 303)


@router.post("/mentions/{mention_id}/{action}")
def mention_action(request: Request, mention_id: int, action: str, user: Responder,
                   csrf: Csrf, assignee: Annotated[str, Form()] = "",
                   snooze_for: Annotated[str, Form()] = "",
                   phrase: Annotated[str, Form()] = "",
                   ignore_author: Annotated[str, Form()] = "",
                   next: Annotated[str, Form()] = "") -> Response:  # noqa: A002
    check_csrf(request, csrf)
    try:
        flash(request, _act(request, user, action, [mention_id], assignee, snooze_for, phrase,
                            bool(ignore_author)))
    except triage.NotFound as error:
        raise HTTPException(404, str(error)) from error
    except triage.TriageError as error:
        flash(request, str(error), "error")
    return RedirectResponse(safe_next(next, f"/mentions/{mention_id}"), 303)


@router.post("/bulk")
def bulk(request: Request, user: Responder, csrf: Csrf,
         action: Annotated[str, Form()] = "",
         ids: Annotated[list[int] | None, Form()] = None,
         assignee: Annotated[str, Form()] = "", snooze_for: Annotated[str, Form()] = "",
         ignore_author: Annotated[str, Form()] = "",
         next: Annotated[str, Form()] = "/") -> Response:  # noqa: A002
    check_csrf(request, csrf)
    if not ids:
        flash(request, "Select at least one mention.", "error")
    else:
        try:
            # Ignoring the authors is a tick box of its own (off): one bulk choice must
            # not silence everybody selected without being asked.
            flash(request, _act(request, user, action, ids, assignee, snooze_for,
                                ignore_author=bool(ignore_author)))
        except triage.TriageError as error:
            flash(request, str(error), "error")
    return RedirectResponse(safe_next(next), 303)


# -- incidents, sources, ignore rules ---------------------------------------------------


@router.get("/incidents")
def incidents_page(request: Request, user: User) -> Response:
    return render(request, "incidents.html", user,
                  incidents=queries.incidents(ctx(request).store))


@router.post("/incidents/{incident_id}/acknowledge")
def acknowledge_incident(request: Request, incident_id: int, user: Responder,
                         csrf: Csrf) -> Response:
    check_csrf(request, csrf)
    context = ctx(request)
    try:
        acked = triage.acknowledge_incident(context.store, incident_id, user.name,
                                            context.now())
        flash(request, f"Incident {incident_id}: {acked} alert(s) acknowledged; escalation "
                       "stopped.")
    except triage.NotFound as error:
        flash(request, str(error), "error")
    return RedirectResponse("/incidents", 303)


@router.get("/sources")
def sources_page(request: Request, user: User) -> Response:
    context = ctx(request)
    return render(request, "sources.html", user,
                  sources=queries.sources(context.store, context.config))


@router.get("/ignore-rules")
def ignore_rules_page(request: Request, user: User) -> Response:
    return render(request, "ignore_rules.html", user,
                  rules=queries.ignore_rules(ctx(request).store))


@router.post("/ignore-rules/{rule_id}/delete")
def delete_ignore_rule(request: Request, rule_id: int, user: Admin, csrf: Csrf) -> Response:
    check_csrf(request, csrf)
    try:
        triage.delete_ignore_rule(ctx(request).store, rule_id, user.name)
        flash(request, f"Ignore rule {rule_id} deleted.")
    except triage.NotFound as error:
        raise HTTPException(404, str(error)) from error
    return RedirectResponse("/ignore-rules", 303)


# -- operations -------------------------------------------------------------------------


@router.get("/healthz")
def healthz(request: Request) -> Response:
    context = ctx(request)
    ok, body = ops.health(context.config, context.store, context.loop, context.now())
    return JSONResponse(body, 200 if ok else 503)


@router.get("/metrics")
def metrics(request: Request) -> Response:
    context = ctx(request)
    return Response(ops.metrics_text(context.config, context.store, context.clock),
                    media_type=CONTENT_TYPE_LATEST)
