"""Triage transitions: which inbox action moves a mention from which status to which.

The store applies them as one conditional UPDATE (``WHERE status IN from``), so two
responders acting on the same mention at once never undo each other's work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from monitor.core.hours import SupportHours, after_hours_hold

OPEN = "open"
ACKNOWLEDGED = "acknowledged"
SNOOZED = "snoozed"
REPLIED = "replied"
RESOLVED = "resolved"
NOT_COMPLAINT = "not_complaint"
STATUSES = (OPEN, ACKNOWLEDGED, SNOOZED, REPLIED, RESOLVED, NOT_COMPLAINT)
# Waiting for the team: what the inbox shows by default.
ACTIVE = (OPEN, ACKNOWLEDGED, SNOOZED)
# An incident's status while it is going on (then "closed").
INCIDENT_OPEN = "open"


@dataclass(frozen=True)
class Transition:
    action: str
    from_statuses: tuple[str, ...]
    to_status: str | None  # None: the status does not change (assign)


TRANSITIONS: dict[str, Transition] = {
    "acknowledge": Transition("acknowledge", (OPEN, SNOOZED), ACKNOWLEDGED),
    "snooze": Transition("snooze", (OPEN, ACKNOWLEDGED, SNOOZED), SNOOZED),
    "replied": Transition("replied", (OPEN, ACKNOWLEDGED, SNOOZED), REPLIED),
    "resolve": Transition("resolve", (OPEN, ACKNOWLEDGED, SNOOZED, REPLIED), RESOLVED),
    "not_complaint": Transition("not_complaint", (OPEN, ACKNOWLEDGED, SNOOZED, REPLIED),
                                NOT_COMPLAINT),
    "reopen": Transition("reopen", (ACKNOWLEDGED, SNOOZED, REPLIED, RESOLVED, NOT_COMPLAINT),
                         OPEN),
    "assign": Transition("assign", STATUSES, None),
}


def next_status(action: str, current: str) -> str | None:
    """The status after ``action`` on a mention in ``current``; None when it does not
    apply (resolving twice, snoozing a resolved mention, ...). KeyError: no such action."""
    transition = TRANSITIONS[action]
    if current not in transition.from_statuses:
        return None
    return transition.to_status or current


def is_waiting(status: str, snoozed_until: datetime | None, now: datetime) -> bool:
    """Does the mention wait for the team now? A snooze ends by itself at its time."""
    if status == SNOOZED:
        return snoozed_until is None or snoozed_until <= now
    return status in (OPEN, ACKNOWLEDGED)


def running_snooze(status: str | None, snoozed_until: datetime | None,
                   now: datetime) -> datetime | None:
    """When the mention's snooze ends, if it is snoozed and the snooze still runs at
    ``now``; None otherwise (not snoozed, no end given, or ended: ``is_waiting``)."""
    if status == SNOOZED and snoozed_until is not None and snoozed_until > now:
        return snoozed_until
    return None


def handled(mention_status: str | None, incident_status: str | None = None,
            acked_by: str | None = None, acked: bool = False, *,
            snoozed_until: datetime | None = None, now: datetime | None = None) -> str | None:
    """Why an alert about this mention or incident need not wake anybody now, or None
    while nobody has dealt with it.

    The one notion of "handled" of the alert path: escalation stops on it
    (notify/escalation.py), and alerts held for business hours or a rate limit are not
    sent on it (notify/storm.py). A snooze that still runs counts ("not now"), but both
    paths then wait for its end rather than give up (``running_snooze``,
    ``held_alert_due``). Handled: the alert was acknowledged, the mention left
    "open" (acknowledged, snoozed, a public reply detected or marked, resolved, not a
    complaint: someone has seen it), or the incident is no longer open. A mention
    reopened in the inbox is open again, so its alerts go out, and so is a snoozed one
    whose snooze has ended by ``now`` (``is_waiting``: nobody has dealt with it since it
    came back). ``None`` for a status: the alert is not about a mention (or an
    incident)."""
    if acked:
        return f"acknowledged by {acked_by or 'someone'}"
    if mention_status == SNOOZED and now is not None and is_waiting(
            mention_status, snoozed_until, now):
        mention_status = OPEN
    if mention_status is not None and mention_status != OPEN:
        return f"mention {mention_status.replace('_', ' ')}"
    if incident_status is not None and incident_status != INCIDENT_OPEN:
        return f"incident {incident_status}"
    return None


# What to do with a held alert that has come due (``held_alert_due``).
SEND = "send"
CANCEL = "cancel"
WAIT = "wait"


@dataclass(frozen=True)
class HeldDue:
    """``action``: SEND it now, CANCEL it (``reason``: why it is moot) or WAIT until
    ``until`` (``reason``: what it waits for)."""

    action: str
    reason: str | None = None
    until: datetime | None = None


def held_alert_due(mention_status: str | None, incident_status: str | None = None,
                   acked_by: str | None = None, acked: bool = False, *,
                   snoozed_until: datetime | None, now: datetime,
                   hours: SupportHours | None = None) -> HeldDue:
    """An alert held (for business hours, a rate limit, or a snooze) has come due at
    ``now``: send it, cancel it, or hold it on.

    - acknowledged, or the mention replied to, resolved or not a complaint, or the
      incident over (``handled``): cancelled, as before;
    - the mention snoozed and the snooze still running: a snooze means "not now", not
      "never", so the alert waits for the snooze's end (as an escalation falling due
      during a snooze does) and is decided again then;
    - nobody has dealt with it: sent, unless ``hours`` (the recipient's support hours,
      given when the alert waits for business hours: not urgent, after-hours batching)
      are closed at ``now``: then it waits for their next opening (``after_hours_hold``,
      the rule alerts made after hours follow).
    """
    until = None if acked else running_snooze(mention_status, snoozed_until, now)
    if until is not None:
        return HeldDue(WAIT, "mention snoozed", until)
    reason = handled(mention_status, incident_status, acked_by, acked,
                     snoozed_until=snoozed_until, now=now)
    if reason is not None:
        return HeldDue(CANCEL, reason)
    opening = after_hours_hold(hours, now) if hours is not None else None
    if opening is not None:
        return HeldDue(WAIT, "outside business hours", opening)
    return HeldDue(SEND)


def countdown(due: datetime | None, now: datetime) -> str:
    """'2h 05m left', '35m overdue', '' without a deadline: the inbox's SLA column."""
    if due is None:
        return ""
    seconds = int((due - now).total_seconds())
    late = seconds < 0
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        text = f"{days}d {hours}h"
    elif hours:
        text = f"{hours}h {minutes:02d}m"
    else:
        text = f"{minutes}m"
    return f"{text} overdue" if late else f"{text} left"
