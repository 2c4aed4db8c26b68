"""Who is on call: rotations, overrides, calendar shifts and the schedule's own hours.

Pure: the clock is a parameter. A ``Schedule`` answers "who is on call at 03:10 on
Tuesday in Oslo" (``on_call``) and "who is next, from when" (``next_shift``).

Precedence at an instant: an override covering it, else a calendar shift (from an
.ics file, read by ``monitor.notify.targets``), else the rotation. A schedule with its
own support hours has nobody on call outside them (an honest "nobody" instead of
pretending to be 24/7); a rota that is meant to cover nights simply has no hours.

Rotations hand off at a wall-clock time in the schedule's zone (daily, or weekly on a
given weekday), so "09:00 Europe/Oslo" stays 09:00 across daylight-saving changes; a
shift across the spring change is an hour shorter in real time, across the autumn one
an hour longer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from monitor.core.hours import SupportHours

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HORIZON = timedelta(days=400)


@dataclass(frozen=True)
class Shift:
    """``member`` is on call from ``start`` to ``end`` (UTC); ``why`` says by what."""

    member: str
    start: datetime
    end: datetime
    why: Literal["rotation", "override", "calendar"] = "rotation"

    def covers(self, at: datetime) -> bool:
        return self.start <= at < self.end


@dataclass(frozen=True)
class Rotation:
    members: tuple[str, ...]
    every: Literal["daily", "weekly"] = "weekly"
    handoff: time = time(9, 0)
    # Weekly rotations hand off on this weekday (Monday = 0).
    handoff_day: int = 0
    # The first member's first shift starts at the first hand-off on or after this date.
    start: date = date(2026, 1, 5)

    def __post_init__(self) -> None:
        if not self.members:
            raise ValueError("a rotation needs at least one member")


@dataclass(frozen=True)
class Schedule:
    name: str
    timezone: str = "UTC"
    rotation: Rotation | None = None
    overrides: tuple[Shift, ...] = ()
    calendar: tuple[Shift, ...] = ()
    # When this schedule covers; None = around the clock.
    hours: SupportHours | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def members(self) -> list[str]:
        seen: list[str] = []
        for name in [*(self.rotation.members if self.rotation else ()),
                     *(s.member for s in self.overrides), *(s.member for s in self.calendar)]:
            if name not in seen:
                seen.append(name)
        return seen


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError(f"instants must be timezone-aware, got {at.isoformat()}")
    return at.astimezone(UTC)


def rotation_shift(rotation: Rotation, zone: ZoneInfo, at: datetime) -> Shift:
    """The rotation's shift covering ``at``."""
    at = _utc(at)
    local = at.astimezone(zone)
    step = 1 if rotation.every == "daily" else 7
    anchor = rotation.start
    if rotation.every == "weekly":
        anchor += timedelta(days=(rotation.handoff_day - anchor.weekday()) % 7)
    day = local.date()
    # The latest hand-off date at or before `at`.
    offset = (day - anchor).days % step
    period = day - timedelta(days=offset)
    start = datetime.combine(period, rotation.handoff, tzinfo=zone).astimezone(UTC)
    if start > at:
        period -= timedelta(days=step)
        start = datetime.combine(period, rotation.handoff, tzinfo=zone).astimezone(UTC)
    end = datetime.combine(period + timedelta(days=step), rotation.handoff,
                           tzinfo=zone).astimezone(UTC)
    index = ((period - anchor).days // step) % len(rotation.members)
    return Shift(rotation.members[index], start, end, "rotation")


def _covering(shifts: Sequence[Shift], at: datetime) -> Shift | None:
    # The latest-starting shift wins where two overlap (a later override corrects an
    # earlier one).
    best: Shift | None = None
    for shift in shifts:
        if shift.covers(at) and (best is None or shift.start > best.start):
            best = shift
    return best


def _next_start(shifts: Sequence[Shift], at: datetime, before: datetime) -> datetime:
    starts = [s.start for s in shifts if at < s.start < before]
    return min(starts, default=before)


def on_call(schedule: Schedule, at: datetime) -> Shift | None:
    """Who is on call at ``at`` and until when (the end is the next change of person or
    of reason: a hand-off, an override starting or ending, the schedule's hours closing).
    None when nobody is: outside the schedule's hours, or no rotation and no shift."""
    at = _utc(at)
    if schedule.hours is not None and not schedule.hours.is_open(at):
        return None
    shift = _covering(schedule.overrides, at)
    if shift is None:
        shift = _covering(schedule.calendar, at)
        if shift is not None:
            end = _next_start(schedule.overrides, at, shift.end)
            shift = Shift(shift.member, shift.start, end, "calendar")
    elif shift is not None:
        shift = Shift(shift.member, shift.start, shift.end, "override")
    if shift is None and schedule.rotation is not None:
        shift = rotation_shift(schedule.rotation, schedule.zone, at)
        end = _next_start([*schedule.overrides, *schedule.calendar], at, shift.end)
        shift = Shift(shift.member, shift.start, end, "rotation")
    if shift is None:
        return None
    if schedule.hours is not None:
        close = schedule.hours.next_close(at)
        if close < shift.end:
            shift = Shift(shift.member, shift.start, close, shift.why)
    return shift


def next_shift(schedule: Schedule, at: datetime) -> Shift | None:
    """The next shift of a *different* member (or the first shift after a gap) after
    ``at``: "who is next, and from when". None if nobody within about a year."""
    at = _utc(at)
    current = on_call(schedule, at)
    probe = at
    limit = at + _HORIZON
    while probe < limit:
        if current is not None:
            probe = current.end
        else:
            probe = _next_change(schedule, probe, limit)
            if probe >= limit:
                return None
        shift = on_call(schedule, probe)
        if shift is not None and (current is None or shift.member != current.member):
            return Shift(shift.member, probe, shift.end, shift.why)
        if shift is None and current is None and probe >= limit:
            return None
        current = shift
    return None


def _next_change(schedule: Schedule, at: datetime, limit: datetime) -> datetime:
    """The next instant after ``at`` at which someone may come on call (nobody is now)."""
    candidates = [s.start for s in (*schedule.overrides, *schedule.calendar) if s.start > at]
    if schedule.hours is not None:
        try:
            opening = schedule.hours.next_open(at)
        except ValueError:
            opening = limit
        if opening > at:
            candidates.append(opening)
    if schedule.rotation is not None and (schedule.hours is None
                                          or schedule.hours.is_open(at)):
        candidates.append(rotation_shift(schedule.rotation, schedule.zone, at).end)
    if not candidates:
        # Nobody now and nothing scheduled: step past shifts that ended to find the next.
        return limit
    return min(candidates)


def handoff_day(name: str) -> int:
    try:
        return DAYS.index(name.strip().lower()[:3])
    except ValueError:
        raise ValueError(f"'{name}' is not a weekday; use {', '.join(DAYS)}") from None
