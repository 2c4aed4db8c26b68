"""Support hours (monitor.core.hours): tables of cases, Europe/Oslo across both DST changes.

Oslo 2026: CET (+01) until Sun 29 March 01:00 UTC, CEST (+02) until Sun 25 October
01:00 UTC, then CET again.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from monitor.config import Config
from monitor.core.hours import ALWAYS, SupportHours, parse_range, parse_weekly

OSLO = ZoneInfo("Europe/Oslo")


def oslo(*args: int) -> datetime:
    return datetime(*args, tzinfo=OSLO)  # type: ignore[misc]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


WEEKDAYS = SupportHours.parse("Europe/Oslo", "mon-fri 09:00-17:00; sat 10:00-14:00",
                              ["2026-12-25", "2026-03-30"])
NIGHT = SupportHours.parse("Europe/Oslo", "mon-sun 22:00-06:00")
SPLIT = SupportHours.parse("UTC", {"mon-fri": ["08:00-12:00", "13:00-17:00"]})


@pytest.mark.parametrize(("text", "expected"), [
    ("09:00-17:00", (540, 1020)),
    ("9:30-12:00", (570, 720)),
    ("00:00-24:00", (0, 1440)),
    ("22:00-06:00", (1320, 1800)),
])
def test_parse_range(text: str, expected: tuple[int, int]) -> None:
    assert parse_range(text) == expected


@pytest.mark.parametrize("text", ["9-17", "09:00-09:00", "24:00-01:00", "09:60-10:00",
                                  "25:00-26:00", "nine to five"])
def test_parse_range_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_range(text)


def test_weekly_forms_agree() -> None:
    compact = parse_weekly("mon-fri 09:00-17:00; sat 10:00-14:00")
    table = parse_weekly({"mon-fri": "09:00-17:00", "sat": "10:00-14:00", "sun": "closed"})
    lines = parse_weekly(["mon,tue,wed,thu,fri 09:00-17:00", "sat 10:00-14:00"])
    assert compact == table == lines
    assert compact[6] == ()
    assert parse_weekly("fri-mon 10:00-11:00")[1] == ()  # wraps fri, sat, sun, mon
    assert parse_weekly("fri-mon 10:00-11:00")[0] == ((600, 660),)


@pytest.mark.parametrize("spec", ["", "sun closed", "someday 09:00-17:00", "mon-fri"])
def test_weekly_rejects(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_weekly(spec)


def test_unknown_zone() -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        SupportHours.parse("Europe/Olso")


@pytest.mark.parametrize(("hours", "at", "expected"), [
    (WEEKDAYS, oslo(2026, 3, 27, 9, 0), True),     # Friday opening minute
    (WEEKDAYS, oslo(2026, 3, 27, 17, 0), False),   # closing minute is closed
    (WEEKDAYS, oslo(2026, 3, 27, 8, 59), False),
    (WEEKDAYS, oslo(2026, 3, 28, 11, 0), True),    # Saturday
    (WEEKDAYS, oslo(2026, 3, 29, 11, 0), False),   # Sunday
    (WEEKDAYS, oslo(2026, 3, 30, 11, 0), False),   # holiday Monday
    (WEEKDAYS, oslo(2026, 3, 31, 9, 0), True),     # first Tuesday of summer time
    (WEEKDAYS, utc(2026, 3, 31, 7, 30), True),     # 09:30 CEST
    (WEEKDAYS, utc(2026, 3, 27, 7, 30), False),    # 08:30 CET
    (WEEKDAYS, utc(2026, 10, 26, 8, 30), True),    # 09:30 CET after the change
    (WEEKDAYS, utc(2026, 10, 23, 7, 30), True),    # 09:30 CEST before
    (NIGHT, oslo(2026, 3, 28, 23, 0), True),
    (NIGHT, oslo(2026, 3, 29, 5, 59), True),       # over midnight into the DST night
    (NIGHT, oslo(2026, 3, 29, 6, 0), False),
    (NIGHT, oslo(2026, 3, 29, 21, 59), False),
    (SPLIT, utc(2026, 3, 26, 12, 30), False),      # lunch
    (SPLIT, utc(2026, 3, 26, 13, 0), True),
    (ALWAYS, utc(2026, 3, 29, 3, 0), True),
])
def test_is_open(hours: SupportHours, at: datetime, expected: bool) -> None:
    assert hours.is_open(at) is expected


@pytest.mark.parametrize(("hours", "at", "expected"), [
    (WEEKDAYS, oslo(2026, 3, 27, 10, 0), oslo(2026, 3, 27, 10, 0)),
    (WEEKDAYS, oslo(2026, 3, 27, 17, 0), oslo(2026, 3, 28, 10, 0)),
    (WEEKDAYS, oslo(2026, 3, 28, 15, 0), oslo(2026, 3, 31, 9, 0)),  # skips Sun + holiday
    (WEEKDAYS, oslo(2026, 12, 24, 18, 0), oslo(2026, 12, 26, 10, 0)),
    (SPLIT, utc(2026, 3, 26, 12, 0), utc(2026, 3, 26, 13, 0)),
    (NIGHT, oslo(2026, 10, 25, 12, 0), oslo(2026, 10, 25, 22, 0)),
])
def test_next_open(hours: SupportHours, at: datetime, expected: datetime) -> None:
    assert hours.next_open(at) == expected


@pytest.mark.parametrize(("hours", "start", "duration", "expected"), [
    # Critical 1 h counted in business hours.
    (WEEKDAYS, oslo(2026, 3, 27, 10, 0), timedelta(hours=1), oslo(2026, 3, 27, 11, 0)),
    (WEEKDAYS, oslo(2026, 3, 27, 16, 30), timedelta(hours=1), oslo(2026, 3, 28, 10, 30)),
    (WEEKDAYS, oslo(2026, 3, 27, 20, 0), timedelta(hours=1), oslo(2026, 3, 28, 11, 0)),
    # Saturday 13:00 + 4 h: 1 h Saturday, Sunday closed, Monday holiday, 3 h Tuesday
    # (the clocks went forward on Sunday: 09:00 CEST is one hour earlier in UTC).
    (WEEKDAYS, oslo(2026, 3, 28, 13, 0), timedelta(hours=4), oslo(2026, 3, 31, 12, 0)),
    # Friday 1 h, Saturday 4 h, Monday 3 h (the clocks went back on Sunday).
    (WEEKDAYS, oslo(2026, 10, 23, 16, 0), timedelta(hours=8), oslo(2026, 10, 26, 12, 0)),
    # 24 h of business time = three 8 h weekdays.
    (WEEKDAYS, oslo(2026, 11, 2, 9, 0), timedelta(hours=24), oslo(2026, 11, 4, 17, 0)),
    (SPLIT, utc(2026, 3, 26, 11, 30), timedelta(hours=1), utc(2026, 3, 26, 13, 30)),
    (WEEKDAYS, oslo(2026, 3, 27, 20, 0), timedelta(0), oslo(2026, 3, 27, 20, 0)),
])
def test_add_business_time(hours: SupportHours, start: datetime, duration: timedelta,
                           expected: datetime) -> None:
    assert hours.add_business_time(start, duration) == expected


def test_night_shift_over_dst_changes_lasts_real_hours() -> None:
    # 22:00-06:00 local: 7 real hours on the spring-forward night, 9 on the fall-back one.
    spring = NIGHT.business_time_between(oslo(2026, 3, 28, 21, 0), oslo(2026, 3, 29, 12, 0))
    autumn = NIGHT.business_time_between(oslo(2026, 10, 24, 21, 0), oslo(2026, 10, 25, 12, 0))
    normal = NIGHT.business_time_between(oslo(2026, 5, 2, 21, 0), oslo(2026, 5, 3, 12, 0))
    assert (spring, autumn, normal) == (timedelta(hours=7), timedelta(hours=9),
                                        timedelta(hours=8))


@pytest.mark.parametrize(("a", "b", "expected"), [
    (oslo(2026, 3, 27, 8, 0), oslo(2026, 3, 27, 18, 0), timedelta(hours=8)),
    (oslo(2026, 3, 27, 16, 0), oslo(2026, 3, 31, 10, 0), timedelta(hours=6)),
    (oslo(2026, 3, 31, 10, 0), oslo(2026, 3, 27, 16, 0), -timedelta(hours=6)),
    (oslo(2026, 3, 29, 0, 0), oslo(2026, 3, 29, 23, 0), timedelta(0)),
])
def test_business_time_between(a: datetime, b: datetime, expected: timedelta) -> None:
    assert WEEKDAYS.business_time_between(a, b) == expected


def test_add_and_between_agree() -> None:
    start = oslo(2026, 3, 20, 15, 17)
    for hours in range(1, 80, 7):
        end = WEEKDAYS.add_business_time(start, timedelta(hours=hours))
        assert WEEKDAYS.business_time_between(start, end) == timedelta(hours=hours)


def test_next_close() -> None:
    assert WEEKDAYS.next_close(oslo(2026, 3, 27, 10, 0)) == oslo(2026, 3, 27, 17, 0)
    assert WEEKDAYS.next_close(oslo(2026, 3, 27, 18, 0)) == oslo(2026, 3, 28, 14, 0)
    # Never-closing hours: next_close answers "a year or more" instead of looping.
    assert utc(2027, 1, 1) < ALWAYS.next_close(utc(2026, 1, 1)) < utc(2027, 2, 1)
    assert ALWAYS.add_business_time(utc(2026, 1, 1), timedelta(days=30)) == utc(2026, 1, 31)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        WEEKDAYS.is_open(datetime(2026, 3, 27, 10, 0))


def test_config_default_and_forms() -> None:
    default = Config().hours.hours()
    assert default.describe() == "mon-fri 09:00-17:00 (UTC)"
    config = Config.model_validate({"hours": {
        "timezone": "Europe/Oslo", "weekly": {"mon-fri": "09:00-17:00", "sat": "10:00-14:00"},
        "holidays": ["2026-12-25"]}})
    hours = config.hours.hours()
    assert hours.holidays == {date(2026, 12, 25)}
    assert hours.describe() == "mon-fri 09:00-17:00; sat 10:00-14:00 (Europe/Oslo), 1 holidays"
    with pytest.raises(ValueError, match="not a time range"):
        Config.model_validate({"hours": {"weekly": "mon-fri 9-17"}})


# -- held alerts: after-hours hold and a snooze (core.hours.after_hours_hold,
# core.triage.held_alert_due) -------------------------------------------------------

# 2026-11-25 is a Wednesday; 2026-12-25 (Friday) a holiday of WEEKDAYS.
@pytest.mark.parametrize(("at", "expected"), [
    (oslo(2026, 11, 25, 12, 0), None),                        # open: at once
    (oslo(2026, 11, 25, 18, 0), oslo(2026, 11, 26, 9, 0)),    # evening: next morning
    (oslo(2026, 11, 25, 8, 59), oslo(2026, 11, 25, 9, 0)),
    (oslo(2026, 12, 24, 18, 0), oslo(2026, 12, 26, 10, 0)),   # holiday, then Saturday
])
def test_after_hours_hold(at: datetime, expected: datetime | None) -> None:
    from monitor.core.hours import after_hours_hold

    assert after_hours_hold(WEEKDAYS, at) == expected


_DUE = oslo(2026, 11, 25, 9, 0)  # the opening a held alert waited for


@pytest.mark.parametrize(("status", "snoozed_until", "acked", "now", "hours", "expected"), [
    # Snoozed past the opening: not cancelled, waits for the snooze's end.
    ("snoozed", _DUE + timedelta(hours=2), False, _DUE, WEEKDAYS,
     ("wait", "mention snoozed", _DUE + timedelta(hours=2))),
    # ... and so whether or not the alert waits for business hours.
    ("snoozed", _DUE + timedelta(hours=2), False, _DUE, None,
     ("wait", "mention snoozed", _DUE + timedelta(hours=2))),
    # At the snooze's end, inside hours, nobody has dealt with it: sent.
    ("snoozed", _DUE + timedelta(hours=2), False, _DUE + timedelta(hours=2), WEEKDAYS,
     ("send", None, None)),
    # The snooze ends at 18:00, after hours: held again to Thursday 09:00.
    ("snoozed", _DUE + timedelta(hours=9), False, _DUE + timedelta(hours=9), WEEKDAYS,
     ("wait", "outside business hours", oslo(2026, 11, 26, 9, 0))),
    # ... unless the alert goes out at any hour (urgent, or no after-hours batching).
    ("snoozed", _DUE + timedelta(hours=9), False, _DUE + timedelta(hours=9), None,
     ("send", None, None)),
    # Snoozed without an end: waits for the team again (core.triage.is_waiting).
    ("snoozed", None, False, _DUE, WEEKDAYS, ("send", None, None)),
    ("open", None, False, _DUE, WEEKDAYS, ("send", None, None)),
    # Replied to, resolved, not a complaint, acknowledged: cancelled as before.
    ("resolved", None, False, _DUE, WEEKDAYS, ("cancel", "mention resolved", None)),
    ("replied", None, False, _DUE, WEEKDAYS, ("cancel", "mention replied", None)),
    ("not_complaint", None, False, _DUE, WEEKDAYS,
     ("cancel", "mention not complaint", None)),
    ("acknowledged", None, False, _DUE, WEEKDAYS, ("cancel", "mention acknowledged", None)),
    ("snoozed", _DUE + timedelta(hours=2), True, _DUE, WEEKDAYS,
     ("cancel", "acknowledged by ada", None)),
])
def test_held_alert_due(status: str, snoozed_until: datetime | None, acked: bool,
                        now: datetime, hours: SupportHours | None,
                        expected: tuple[str, str | None, datetime | None]) -> None:
    from monitor.core.triage import held_alert_due

    due = held_alert_due(status, None, "ada" if acked else None, acked,
                         snoozed_until=snoozed_until, now=now, hours=hours)
    assert (due.action, due.reason, due.until) == expected


def test_held_incident_alert_due() -> None:
    from monitor.core.triage import held_alert_due

    assert held_alert_due(None, "open", snoozed_until=None, now=_DUE).action == "send"
    closed = held_alert_due(None, "closed", snoozed_until=None, now=_DUE)
    assert (closed.action, closed.reason) == ("cancel", "incident closed")
