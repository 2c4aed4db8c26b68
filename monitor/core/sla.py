"""The public-reply clock: when a complaint's reply is due and which reminder is owed.

Targets are per severity and count business hours only (core/hours.py): a
"normal 24 h" complaint posted on Friday at 16:00 in a Mon-Fri 09:00-17:00 team
is due the following Wednesday at 16:00 (1 + 8 + 8 + 7 business hours) -- the
team's real hours, not a pretend 24/7. Reminders fall at fixed percentages of
the target (50% and 80% by default), measured in business time too; 100 means
breached. The clock starts when the monitor first stores the complaint (the
team cannot answer before it knows) and stops at the first public reply.

Stages only move forward, and only the highest one reached is sent: a daemon
that was down through the 50% and 80% marks and the deadline sends the
breach, not three messages.

The "tell the customer about the delay" notice is different: customer-care
practice gives 3 days as the outer limit for a fix, counted on the customer's
calendar (weekends included), for complaints not yet resolved -- replied or not.

Pure: the clock is a parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from .hours import SupportHours

BREACHED = 100


@dataclass(frozen=True)
class Targets:
    """Reply targets per severity, in business time."""

    critical: timedelta = timedelta(hours=1)
    high: timedelta = timedelta(hours=4)
    normal: timedelta = timedelta(hours=24)
    low: timedelta = timedelta(hours=72)

    def for_severity(self, severity: str) -> timedelta:
        """An unknown severity gets the normal target."""
        return {"critical": self.critical, "high": self.high, "normal": self.normal,
                "low": self.low}.get(severity, self.normal)


def deadline(hours: SupportHours, start: datetime, target: timedelta) -> datetime:
    """When a reply is due: ``target`` of business time after ``start``."""
    return hours.add_business_time(start, target)


def reached_stage(hours: SupportHours, start: datetime, due: datetime, now: datetime,
                  reminders: Sequence[int]) -> int:
    """The furthest stage the clock has reached: 0, a reminder percentage, or BREACHED."""
    if now >= due:
        return BREACHED
    total = hours.business_time_between(start, due)
    if total <= timedelta(0):
        return 0
    elapsed = hours.business_time_between(start, now)
    percent = 100 * (elapsed / total)
    return max((mark for mark in reminders if percent >= mark), default=0)


def stage_marks(hours: SupportHours, start: datetime, due: datetime,
                reminders: Sequence[int]) -> tuple[tuple[int, datetime], ...]:
    """When each stage is reached: (percent, moment) for every reminder, then (BREACHED,
    due). Worked out once per clock; ``reached_at`` then answers any ``now`` without
    counting business time again (the sweep runs every minute over every running clock)."""
    total = hours.business_time_between(start, due)
    marks = [(mark, hours.add_business_time(start, total * mark / 100))
             for mark in sorted(reminders)] if total > timedelta(0) else []
    return (*marks, (BREACHED, due))


def reached_at(marks: Sequence[tuple[int, datetime]], now: datetime) -> int:
    """The furthest stage whose moment has come (same answer as ``reached_stage``)."""
    return max((stage for stage, moment in marks if now >= moment), default=0)


def stage_to_send(current: int, reached: int, snoozed: bool) -> int | None:
    """The stage to notify about now, or None. A snoozed mention gets no reminders but
    still breaches (the lead is told either way)."""
    if reached <= current:
        return None
    if snoozed and reached < BREACHED:
        return None
    return reached


def delay_notice_due(started: datetime, now: datetime, after: timedelta) -> bool:
    """Unresolved for ``after`` of calendar time: time to tell the customer about the delay.
    A zero ``after`` turns the notice off."""
    return after > timedelta(0) and now - started >= after


def business_time_left(hours: SupportHours, now: datetime, due: datetime) -> timedelta:
    """Business time until the deadline (negative once it has passed)."""
    return hours.business_time_between(now, due)


def describe(delta: timedelta) -> str:
    """'1 h 30 min', '45 min', '2 d 3 h' for messages."""
    minutes = int(abs(delta).total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours_, minutes = divmod(minutes, 60)
    parts = []
    if days:
        parts.append(f"{days} d")
    if hours_:
        parts.append(f"{hours_} h")
    if minutes and not days:
        parts.append(f"{minutes} min")
    text = " ".join(parts) or "0 min"
    return f"-{text}" if delta < timedelta(0) else text
