"""Support hours: when a team (or an on-call schedule) is actually at work.

Pure: the clock is a parameter. A ``SupportHours`` is a time zone, weekly ranges per
weekday (several a day allowed; ``22:00-06:00`` runs over midnight and belongs to the
day it starts on; ``24:00`` ends at midnight) and holidays (local dates on which no range
*starts*). Every instant given or returned is timezone-aware; the weekly ranges are wall
clock times in the schedule's zone, so "09:00-17:00 Europe/Oslo" stays 09:00-17:00 local
across daylight-saving changes, and business time is counted in real elapsed time (an
overnight range across a change lasts 7 or 9 real hours, as the people working it notice).

Wall times that do not exist (the spring-forward gap) or happen twice (the autumn
fall-back hour) resolve as zoneinfo does with ``fold=0``: a gap time is read with the
offset before the change (02:30 on the spring-forward night in Oslo is 03:30 CEST), a
repeated time means its first occurrence.

Used by: the SLA clock (``add_business_time``: "critical 1 h counted in business hours"),
after-hours batching (``after_hours_hold``) and on-call schedules
(``monitor.core.oncall``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")
# Holidays and closed weeks make long gaps; a schedule open on no day of ten years is empty.
_SEARCH_DAYS = 3660

# One open range: (start minute of the local day, end minute, which may exceed 1440 when
# the range runs over midnight).
Range = tuple[int, int]


def _minutes(hours: str, minutes: str, text: str) -> int:
    h, m = int(hours), int(minutes)
    if m > 59 or h > 24 or (h == 24 and m != 0):
        raise ValueError(f"'{text}' is not a time range; write e.g. '09:00-17:00'")
    return h * 60 + m


def parse_clock(text: str) -> time:
    """'09:00' -> time(9, 0)."""
    match = re.match(r"^(\d{1,2}):(\d{2})$", text.strip())
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValueError(f"'{text}' is not a time of day; write e.g. '09:00'")
    return time(int(match.group(1)), int(match.group(2)))


def parse_range(text: str) -> Range:
    """'09:00-17:00' -> (540, 1020); '22:00-06:00' runs over midnight -> (1320, 1800)."""
    match = _RANGE.match(text.strip())
    if not match:
        raise ValueError(f"'{text}' is not a time range; write e.g. '09:00-17:00'")
    start = _minutes(match.group(1), match.group(2), text)
    end = _minutes(match.group(3), match.group(4), text)
    if start == 1440:
        raise ValueError(f"'{text}': a range cannot start at 24:00")
    if end == start:
        raise ValueError(f"'{text}': empty range (use '00:00-24:00' for the whole day)")
    if end < start:
        end += 1440
    return start, end


def _parse_days(text: str) -> list[int]:
    """'mon-fri' | 'sat' | 'mon,wed' | 'fri-mon' (wraps) -> weekday numbers (Monday = 0)."""
    days: list[int] = []
    for part in text.lower().split(","):
        part = part.strip()
        if "-" in part:
            first, _, last = part.partition("-")
            if first.strip() not in DAYS or last.strip() not in DAYS:
                raise ValueError(f"'{part}' is not a day range; write e.g. 'mon-fri'")
            a, b = DAYS.index(first.strip()), DAYS.index(last.strip())
            days.extend((a + i) % 7 for i in range((b - a) % 7 + 1))
        elif part in DAYS:
            days.append(DAYS.index(part))
        else:
            raise ValueError(f"'{part}' is not a day; use {', '.join(DAYS)}")
    return days


def _ranges(value: str | Sequence[str]) -> list[Range]:
    texts = [value] if isinstance(value, str) else list(value)
    out: list[Range] = []
    for text in texts:
        for piece in text.split(","):
            piece = piece.strip()
            if piece and piece.lower() != "closed":
                out.append(parse_range(piece))
    return out


def parse_weekly(spec: str | Sequence[str] | Mapping[str, str | Sequence[str]]
                 ) -> tuple[tuple[Range, ...], ...]:
    """Weekly hours from the config's forms, as seven tuples of ranges (Monday first).

    - a table: ``{ mon = "09:00-17:00", sat = "10:00-14:00", "mon-fri" = ["08:00-12:00",
      "13:00-17:00"] }`` (keys are days or day ranges; "closed" or "" for none);
    - compact text: ``"mon-fri 09:00-17:00; sat 10:00-14:00"`` (or a list of such lines);
      several ranges a day: ``"mon-fri 08:00-12:00,13:00-17:00"``.
    A day named twice gets both sets of ranges.
    """
    week: list[list[Range]] = [[] for _ in DAYS]
    if isinstance(spec, Mapping):
        for key, value in spec.items():
            for day in _parse_days(str(key)):
                week[day].extend(_ranges(value))
    else:
        lines = [spec] if isinstance(spec, str) else list(spec)
        for line in lines:
            for clause in line.split(";"):
                clause = clause.strip()
                if not clause:
                    continue
                days_text, _, ranges_text = clause.partition(" ")
                if not ranges_text.strip():
                    raise ValueError(f"'{clause}': write days then ranges, e.g. "
                                     "'mon-fri 09:00-17:00'")
                for day in _parse_days(days_text):
                    week[day].extend(_ranges(ranges_text.replace(" ", "")))
    if not any(week):
        raise ValueError("no open hours in the week; state the team's real support hours")
    return tuple(tuple(sorted(day)) for day in week)


def _aware(at: datetime, what: str) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got {at.isoformat()}")
    return at.astimezone(UTC)


@dataclass(frozen=True)
class SupportHours:
    """A time zone, weekly ranges (Monday first) and holidays; see the module docstring."""

    timezone: str = "UTC"
    weekly: tuple[tuple[Range, ...], ...] = field(
        default_factory=lambda: parse_weekly("mon-fri 09:00-17:00"))
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        if len(self.weekly) != 7:
            raise ValueError("weekly hours need seven days, Monday first")
        if not any(self.weekly):
            raise ValueError("no open hours in the week; state the team's real support hours")
        self.zone  # noqa: B018 - fail early on an unknown zone

    @classmethod
    def parse(cls, timezone: str = "UTC",
              weekly: str | Sequence[str] | Mapping[str, str | Sequence[str]] =
              "mon-fri 09:00-17:00",
              holidays: Iterable[date | str] = ()) -> SupportHours:
        days = frozenset(d if isinstance(d, date) else date.fromisoformat(d) for d in holidays)
        return cls(timezone=timezone, weekly=parse_weekly(weekly), holidays=days)

    @property
    def zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone '{self.timezone}'; use an IANA name such "
                             "as 'Europe/Oslo'") from error

    def describe(self) -> str:
        """'mon-fri 09:00-17:00; sat 10:00-14:00 (Europe/Oslo)' for people."""
        def fmt(r: Range) -> str:
            s, e = r
            e = e - 1440 if e > 1440 else e
            return f"{s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d}"
        groups: list[tuple[int, int, tuple[Range, ...]]] = []
        for index, ranges in enumerate(self.weekly):
            if groups and groups[-1][2] == ranges and groups[-1][1] == index - 1:
                groups[-1] = (groups[-1][0], index, ranges)
            else:
                groups.append((index, index, ranges))
        parts = []
        for first, last, ranges in groups:
            if not ranges:
                continue
            days = DAYS[first] if first == last else f"{DAYS[first]}-{DAYS[last]}"
            parts.append(f"{days} {','.join(fmt(r) for r in ranges)}")
        text = "; ".join(parts) + f" ({self.timezone})"
        if self.holidays:
            text += f", {len(self.holidays)} holidays"
        return text

    # -- the open intervals, in UTC ------------------------------------------------------

    def _local(self, day: date, minute: int) -> datetime:
        extra, minute = divmod(minute, 1440)
        local = datetime.combine(day + timedelta(days=extra), time(minute // 60, minute % 60),
                                 tzinfo=self.zone)
        return local.astimezone(UTC)

    def _day_intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        if day in self.holidays:
            return []
        out = []
        for start, end in self.weekly[day.weekday()]:
            a, b = self._local(day, start), self._local(day, end)
            if b > a:  # a range wholly inside a spring-forward gap is empty
                out.append((a, b))
        return out

    def intervals(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open intervals (UTC) that end after ``start``, in order, never overlapping;
        touching ones are merged, except that a stretch open for days on end (a 24/7 rota)
        comes in pieces of about a week. Stops after ten years without any."""
        start = _aware(start, "start")
        day = start.astimezone(self.zone).date() - timedelta(days=2)
        pending: tuple[datetime, datetime] | None = None
        shipped = datetime.min.replace(tzinfo=UTC)  # end of the last interval yielded
        empty_days = 0
        while empty_days < _SEARCH_DAYS:
            found = self._day_intervals(day)
            empty_days = 0 if found else empty_days + 1
            for a, b in found:
                a = max(a, shipped)
                if b <= a:
                    continue
                if pending is not None and a <= pending[1]:
                    pending = (pending[0], max(pending[1], b))
                    continue
                if pending is not None and pending[1] > start:
                    yield pending
                    shipped = pending[1]
                pending = (a, b)
            day += timedelta(days=1)
            # Nothing starting on a later day can merge into a stretch that ends before that
            # day begins; a week-long stretch is cut where it stands.
            if pending is not None and (pending[1] < self._local(day, 0)
                                        or pending[1] - pending[0] >= timedelta(days=7)):
                if pending[1] > start:
                    yield pending
                    shipped = pending[1]
                pending = None
        if pending is not None and pending[1] > start:
            yield pending

    # -- the questions ---------------------------------------------------------------

    def is_open(self, at: datetime) -> bool:
        at = _aware(at, "at")
        for a, b in self.intervals(at):
            return a <= at < b
        return False

    def next_open(self, at: datetime) -> datetime:
        """``at`` itself when open, else the next moment the team is at work."""
        at = _aware(at, "at")
        for a, _ in self.intervals(at):
            return max(a, at)
        raise ValueError("these support hours never open")

    def next_close(self, at: datetime) -> datetime:
        """When the current (or next) open stretch ends (at most about a year ahead)."""
        at = _aware(at, "at")
        end: datetime | None = None
        for a, b in self.intervals(at):
            if end is not None and (a > end or end - at > timedelta(days=366)):
                return end  # hours that never close answer "in a year or more"
            end = b
        if end is not None:
            return end
        raise ValueError("these support hours never open")

    def add_business_time(self, start: datetime, duration: timedelta) -> datetime:
        """The moment ``duration`` of business time has passed since ``start`` (an SLA
        deadline). A zero duration gives ``start``."""
        start = _aware(start, "start")
        if duration <= timedelta(0):
            return start
        left = duration
        for a, b in self.intervals(start):
            a = max(a, start)
            if left <= b - a:
                return a + left
            left -= b - a
        raise ValueError("these support hours never open")

    def business_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Business time from ``a`` to ``b`` (negative when ``b`` is before ``a``)."""
        a, b = _aware(a, "a"), _aware(b, "b")
        if b < a:
            return -self.business_time_between(b, a)
        total = timedelta(0)
        for start, end in self.intervals(a):
            if start >= b:
                break
            total += min(end, b) - max(start, a)
        return total


def after_hours_hold(hours: SupportHours, now: datetime) -> datetime | None:
    """When an alert that waits for business hours (after-hours batching, not urgent) goes
    out: None while ``hours`` are open at ``now`` (at once), else their next opening. The
    one rule for the alert made after hours (``AlertPlanner.plan``) and for a held alert
    that comes due again outside hours (a snooze that ended at night)."""
    return None if hours.is_open(now) else hours.next_open(now)


# Module-level forms, for callers that prefer functions.

def is_open(hours: SupportHours, at: datetime) -> bool:
    return hours.is_open(at)


def next_open(hours: SupportHours, at: datetime) -> datetime:
    return hours.next_open(at)


def add_business_time(hours: SupportHours, start: datetime, duration: timedelta) -> datetime:
    return hours.add_business_time(start, duration)


def business_time_between(hours: SupportHours, a: datetime, b: datetime) -> timedelta:
    return hours.business_time_between(a, b)


ALWAYS = SupportHours(weekly=parse_weekly("mon-sun 00:00-24:00"))
