"""Triage actions on stored mentions: acknowledge, assign, snooze, mark replied, resolve,
reopen, "not a complaint" (which feeds the brand's ignore rules) and notes.

Shared by the web inbox, the JSON API and bulk actions. Every action is one
transaction; status changes are conditional UPDATEs following ``core/triage.py`` so
concurrent responders never undo each other's work.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from monitor.core import ignore as ignore_rules
from monitor.core.classify import Verdict
from monitor.core.triage import TRANSITIONS
from monitor.errors import MonitorError
from monitor.store import Alert, Mention, Store
from monitor.store.models import IgnoreRule, Note, PublicReply, TriageEvent, UTCDateTime

log = logging.getLogger(__name__)

MAX_NOTE = 10_000
MAX_BULK = 500


class TriageError(MonitorError):
    """A triage action cannot be done as asked (unknown mention, empty note, ...)."""


class NotFound(TriageError):
    pass


# Row ids are 64-bit; a larger number names nothing and would overflow the driver.
MAX_ID = 2**63 - 1


def _ids(mention_ids: Sequence[int]) -> list[int]:
    asked = {int(i) for i in mention_ids}
    ids = sorted(i for i in asked if 0 < i <= MAX_ID)
    if not ids:
        if asked:
            raise NotFound(f"no mention {min(asked)}" if len(asked) == 1 else
                           "none of those mentions exists")
        raise TriageError("select at least one mention")
    if len(ids) > MAX_BULK:
        raise TriageError(f"at most {MAX_BULK} mentions at once")
    return ids


def _existing(session: Session, ids: list[int]) -> list[int]:
    found = list(session.scalars(select(col(Mention.id)).where(col(Mention.id).in_(ids))))
    if len(ids) == 1 and not found:
        raise NotFound(f"no mention {ids[0]}")
    return [i for i in found if i is not None]


def _transition(session: Session, action: str, ids: list[int], values: dict[str, Any],
                by: str, now: datetime, detail: str | None = None,
                extra: ColumnElement[bool] | None = None) -> int:
    """Apply ``action`` to those of ``ids`` whose status allows it, record who did it for
    each one changed, and return how many changed."""
    transition = TRANSITIONS[action]
    statement = update(Mention).where(col(Mention.id).in_(ids),
                                      col(Mention.status).in_(transition.from_statuses))
    if extra is not None:
        statement = statement.where(extra)
    if transition.to_status is not None:
        values = {"status": transition.to_status, **values}
    changed = list(session.scalars(statement.values(**values).returning(col(Mention.id))))
    _record(session, action, changed, by, now, detail)
    return len(changed)


def _record(session: Session, action: str, ids: Sequence[int | None], by: str,
            now: datetime, detail: str | None = None) -> None:
    for mention_id in ids:
        if mention_id is None:
            continue
        session.add(TriageEvent(mention_id=mention_id, action=action, by=by[:200], at=now,
                                detail=detail))


def _log(action: str, ids: list[int], by: str, changed: int) -> None:
    log.info("triage action=%s mentions=%s changed=%s by=%s", action,
             ",".join(map(str, ids[:20])) + ("..." if len(ids) > 20 else ""), changed, by)


def acknowledge(store: Store, mention_ids: Sequence[int], by: str, now: datetime) -> int:
    """Someone has it: stops the escalation of its alerts (through the alert path's
    ``acknowledge_mention`` when installed) and ends a snooze. Returns how many changed.

    The status moves first, in one conditional UPDATE ... RETURNING: of two responders
    acknowledging at once exactly one is told "Acknowledged 1" and recorded (a status
    read beforehand let both count it). The alerts are acknowledged after, for every id
    (idempotent), so a retry after a failure there still stops the escalation."""
    ids = _ids(mention_ids)
    with store.session() as session:
        ids = _existing(session, ids)
        changed = _transition(session, "acknowledge", ids,
                              {"acknowledged_at": now, "acknowledged_by": by[:200],
                               "snoozed_until": None}, by, now)
    routing_ack = _routing_acknowledge()
    if routing_ack is not None:
        for mention_id in ids:
            routing_ack(store, mention_id, by, now)
    with store.session() as session:
        session.execute(update(Mention).where(col(Mention.id).in_(ids),
                                              col(Mention.acknowledged_at).is_(None))
                        .values(acknowledged_at=now, acknowledged_by=by[:200]))
        if routing_ack is None:
            session.execute(update(Alert).where(col(Alert.mention_id).in_(ids),
                                                col(Alert.acked_at).is_(None))
                            .values(acked_at=now, acked_by=by[:200], escalate_at=None))
    _log("acknowledge", ids, by, changed)
    return changed


def _routing_acknowledge() -> Any:
    try:
        from monitor.notify import escalation  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return None
    return getattr(escalation, "acknowledge_mention", None)


def acknowledge_incident(store: Store, incident_id: int, by: str, now: datetime) -> int:
    """Someone is on the incident: its alerts stop escalating (the mentions in it still
    wait for their own replies). Returns how many alerts were newly acknowledged."""
    if not 0 < incident_id <= MAX_ID:
        raise NotFound(f"no alert was sent about incident {incident_id}")
    with store.session() as session:
        alert_id = session.scalar(select(col(Alert.id)).where(
            col(Alert.incident_id) == incident_id).order_by(col(Alert.id)).limit(1))
    if alert_id is None:
        raise NotFound(f"no alert was sent about incident {incident_id}")
    from monitor.notify.escalation import acknowledge_alert

    result = acknowledge_alert(store, alert_id, by, now)
    log.info("triage action=acknowledge_incident incident=%s alerts=%s by=%s", incident_id,
             result.alerts_acked, by)
    return result.alerts_acked


def assign(store: Store, mention_ids: Sequence[int], assignee: str | None, by: str,
           now: datetime) -> int:
    ids = _ids(mention_ids)
    name = (assignee or "").strip()[:200] or None
    with store.session() as session:
        ids = _existing(session, ids)
        same = col(Mention.assignee).is_not(None) if name is None else \
            or_(col(Mention.assignee).is_(None), col(Mention.assignee) != name)
        changed = _transition(session, "assign", ids, {"assignee": name}, by, now,
                              f"to {name}" if name else "unassigned", extra=same)
    _log("assign", ids, by, changed)
    return changed


def snooze(store: Store, mention_ids: Sequence[int], until: datetime, by: str,
           now: datetime) -> int:
    if until <= now:
        raise TriageError("snooze until a time in the future")
    ids = _ids(mention_ids)
    with store.session() as session:
        ids = _existing(session, ids)
        ends = _snooze_ends(session, ids)
        changed = _transition(session, "snooze", ids, {"snoozed_until": until}, by, now,
                              f"until {until:%Y-%m-%d %H:%M} UTC")
        _follow_snooze(session, ids, until, now, ends)
    _log("snooze", ids, by, changed)
    return changed


# Alert.held of an alert that came due while its mention was snoozed and waits for the
# snooze's end (monitor.notify.targets.HELD_SNOOZED; not imported: the alert path is
# optional here, see _routing_acknowledge).
_HELD_SNOOZED = "snoozed"


def _snooze_ends(session: Session, ids: list[int]) -> dict[int, datetime]:
    """When each of these mentions' running snooze ends (before a transition changes it)."""
    return {mention_id: until for mention_id, until in session.execute(
        select(col(Mention.id), col(Mention.snoozed_until)).where(
            col(Mention.id).in_(ids), col(Mention.status) == "snoozed",
            col(Mention.snoozed_until).is_not(None)))
        if mention_id is not None and until is not None}


def _follow_snooze(session: Session, ids: list[int], due: datetime, now: datetime,
                   ends: dict[int, datetime]) -> None:
    """Held alerts waiting for these mentions' snooze to end (notify/storm.py) wait no
    longer than ``due``: the new, earlier end of a shortened snooze, or ``now`` when the
    mention is reopened (open again: its alert goes out, docs/alerting.md). Their
    ``escalate_at`` moves back by as much, so the escalation still follows the alert. A
    snooze made longer needs nothing: the alert, due at the old end, waits on then.

    An escalation that fell due during the snooze was put off to its end (``ends``, as
    read before the change; notify/escalation.py): it too goes on at ``due``."""
    status = (col(Mention.status) == "snoozed") if due > now else (col(Mention.status) == "open")
    for mention_id, old_end in ends.items():
        if old_end <= due:
            continue
        deferred = session.execute(
            update(Alert).where(
                col(Alert.mention_id) == mention_id, col(Alert.status) == "sent",
                col(Alert.acked_at).is_(None), col(Alert.escalate_at) == old_end,
                col(Alert.mention_id).in_(select(col(Mention.id)).where(
                    col(Mention.id) == mention_id, status)))
            .values(escalate_at=due).execution_options(synchronize_session=False))
        if getattr(deferred, "rowcount", 0):
            log.info("escalation_follows_snooze mention=%s until=%s", mention_id,
                     due.isoformat())
    rows = session.execute(
        select(col(Alert.id), col(Alert.next_attempt_at), col(Alert.escalate_at))
        .join(Mention, col(Mention.id) == col(Alert.mention_id))
        .where(col(Alert.mention_id).in_(ids), col(Alert.status) == "pending",
               col(Alert.held) == _HELD_SNOOZED, col(Alert.next_attempt_at) > due, status)
    ).all()
    for alert_id, waiting_until, escalate_at in rows:
        earlier = waiting_until - due
        session.execute(update(Alert).where(col(Alert.id) == alert_id,
                                            col(Alert.status) == "pending",
                                            col(Alert.next_attempt_at) == waiting_until)
                        .values(next_attempt_at=due,
                                escalate_at=None if escalate_at is None else escalate_at - earlier))
        log.info("held_alert_follows_snooze id=%s until=%s", alert_id, due.isoformat())


def mark_replied(store: Store, mention_ids: Sequence[int], by: str, now: datetime) -> int:
    """The team replied publicly (seen by a person before the crawler saw it): the
    public-reply clock stops at the first reply."""
    ids = _ids(mention_ids)
    with store.session() as session:
        ids = _existing(session, ids)
        # The clock stops only for the mentions this marks replied (a resolved one is
        # not "Marked 0 as replied" yet given a first reply time the digest would use).
        first_reply = func.coalesce(col(Mention.first_reply_at), bindparam(
            "first_reply_now", now, type_=UTCDateTime(timezone=True)))
        changed = _transition(session, "replied", ids,
                              {"snoozed_until": None, "first_reply_at": first_reply}, by, now)
    _log("replied", ids, by, changed)
    return changed


def resolve(store: Store, mention_ids: Sequence[int], by: str, now: datetime) -> int:
    ids = _ids(mention_ids)
    with store.session() as session:
        ids = _existing(session, ids)
        changed = _transition(session, "resolve", ids,
                              {"resolved_at": now, "snoozed_until": None}, by, now)
    _log("resolve", ids, by, changed)
    return changed


def reopen(store: Store, mention_ids: Sequence[int], by: str, now: datetime) -> int:
    """Back to open. A reply clock stopped only by a person's "Mark replied" (no public
    reply was ever seen) runs again: else a mention marked replied by mistake and
    reopened would never get its reminders or its breach (the SLA sweep skips mentions
    with ``first_reply_at``)."""
    ids = _ids(mention_ids)
    with store.session() as session:
        ids = _existing(session, ids)
        ends = _snooze_ends(session, ids)
        changed = _transition(session, "reopen", ids,
                              {"resolved_at": None, "snoozed_until": None}, by, now)
        _follow_snooze(session, ids, now, now, ends)
        replied_seen = set(session.scalars(select(col(PublicReply.mention_id)).where(
            col(PublicReply.mention_id).in_(ids))))
        for mention_id, site_replies in session.execute(
                select(col(Mention.id), col(Mention.company_replies)).where(
                    col(Mention.id).in_(ids), col(Mention.status) == "open",
                    col(Mention.first_reply_at).is_not(None))).all():
            if mention_id in replied_seen or site_replies:
                continue
            session.execute(update(Mention).where(col(Mention.id) == mention_id)
                            .values(first_reply_at=None))
    _log("reopen", ids, by, changed)
    return changed


def not_complaint(store: Store, mention_ids: Sequence[int], by: str, now: datetime,
                  ignore_author: bool = True, phrase: str | None = None) -> int:
    """Mark mentions as not complaints and teach the brand's ignore rules: the same
    author (on the same site) and, if given, a phrase. Returns how many changed."""
    ids = _ids(mention_ids)
    phrase_value = ignore_rules.normalise_phrase(phrase or "")[:500]
    if phrase is not None and phrase.strip() and len(phrase_value) < 3:
        raise TriageError("an ignore phrase needs at least 3 characters")
    with store.session() as session:
        ids = _existing(session, ids)
        learnt = [what for what, wanted in (("ignore the author", ignore_author),
                                             (f"ignore '{phrase_value}'", phrase_value))
                  if wanted]
        changed = _transition(session, "not_complaint", ids, {"snoozed_until": None}, by,
                              now, "; ".join(learnt) or None)
        rows = session.execute(select(col(Mention.id), col(Mention.brand),
                                      col(Mention.author_key))
                               .where(col(Mention.id).in_(ids))).all()
        wanted: dict[tuple[str | None, str, str], int | None] = {}
        for mention_id, brand, author_key in rows:
            if ignore_author and author_key:
                wanted.setdefault((brand, ignore_rules.AUTHOR, author_key), mention_id)
            if phrase_value:
                wanted.setdefault((brand, ignore_rules.PHRASE, phrase_value), mention_id)
        existing = {(rule.brand, rule.field, rule.value)
                    for rule in session.scalars(select(IgnoreRule))}
        for (brand, field, value), mention_id in wanted.items():
            if (brand, field, value) not in existing:
                session.add(IgnoreRule(brand=brand, field=field, value=value,
                                       mention_id=mention_id, created_by=by[:200],
                                       created_at=now))
    _log("not_complaint", ids, by, changed)
    return changed


def add_note(store: Store, mention_id: int, author: str, body: str, now: datetime) -> Note:
    text = body.strip()
    if not text:
        raise TriageError("a note cannot be empty")
    if len(text) > MAX_NOTE:
        raise TriageError(f"a note can be at most {MAX_NOTE} characters")
    [mention_id] = _ids([mention_id])
    with store.session() as session:
        _existing(session, [mention_id])
        note = Note(mention_id=mention_id, author=author[:200], body=text, created_at=now)
        session.add(note)
        session.flush()
    log.info("triage action=note mentions=%s by=%s", mention_id, author)
    return note


def delete_ignore_rule(store: Store, rule_id: int, by: str) -> None:
    if not 0 < rule_id <= MAX_ID:
        raise NotFound(f"no ignore rule {rule_id}")
    with store.session() as session:
        rule = session.get(IgnoreRule, rule_id)
        if rule is None:
            raise NotFound(f"no ignore rule {rule_id}")
        session.delete(rule)
    log.info("triage action=delete_ignore_rule rule=%s by=%s", rule_id, by)


def load_ignore_rules(session: Session) -> list[ignore_rules.IgnoreRule]:
    """Every ignore rule, for ingest (one small query per batch)."""
    return [
        ignore_rules.IgnoreRule(row.id or 0, row.brand, row.field, row.value)
        for row in session.scalars(select(IgnoreRule).order_by(col(IgnoreRule.id)))
    ]



def apply_ignore_rules(rules: Sequence[ignore_rules.IgnoreRule], brand: str | None,
                       author_key: str | None, item: Any, verdict: Verdict) -> Verdict:
    """Ingest's hook: the verdict to store for a new mention (``item`` a MentionItem)."""
    return ignore_rules.apply(rules, brand, author_key, item.title, item.body, verdict)
