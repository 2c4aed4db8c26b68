"""On-call schedules (monitor.core.oncall, calendars in monitor.notify.targets): hand-offs
across time zones and a daylight-saving change, overrides, schedule hours, .ics files."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor.config import parse_config
from monitor.core.hours import SupportHours
from monitor.core.oncall import Rotation, Schedule, Shift, next_shift, on_call
from monitor.notify.targets import Targets, load_calendar

OSLO = ZoneInfo("Europe/Oslo")
NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")


def at(zone: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=zone)  # type: ignore[misc]


# Weekly, Monday 09:00 Oslo; the first Monday on or after 2026-03-02 is Ada's.
WEEKLY = Schedule("support", "Europe/Oslo",
                  Rotation(("ada", "bo", "cy"), "weekly", time(9, 0), 0, date(2026, 3, 2)))
# Daily at 08:00 New York.
DAILY = Schedule("us", "America/New_York",
                 Rotation(("nia", "oz"), "daily", time(8, 0), 0, date(2026, 3, 1)))


@pytest.mark.parametrize(("schedule", "when", "member", "start", "end"), [
    (WEEKLY, at(OSLO, 2026, 3, 2, 9, 0), "ada", at(OSLO, 2026, 3, 2, 9), at(OSLO, 2026, 3, 9, 9)),
    (WEEKLY, at(OSLO, 2026, 3, 9, 8, 59), "ada", at(OSLO, 2026, 3, 2, 9),
     at(OSLO, 2026, 3, 9, 9)),
    (WEEKLY, at(OSLO, 2026, 3, 9, 9, 0), "bo", at(OSLO, 2026, 3, 9, 9), at(OSLO, 2026, 3, 16, 9)),
    # Ada's second week spans the spring-forward night (29 March): hand-off at 09:00 CEST,
    # i.e. 07:00 UTC instead of 08:00 UTC, and the week is an hour shorter in real time.
    (WEEKLY, at(OSLO, 2026, 3, 29, 3, 30), "ada", at(OSLO, 2026, 3, 23, 9),
     at(OSLO, 2026, 3, 30, 9)),
    (WEEKLY, datetime(2026, 3, 30, 7, 0, tzinfo=UTC), "bo", at(OSLO, 2026, 3, 30, 9),
     at(OSLO, 2026, 4, 6, 9)),
    (WEEKLY, datetime(2026, 3, 30, 6, 59, tzinfo=UTC), "ada", at(OSLO, 2026, 3, 23, 9),
     at(OSLO, 2026, 3, 30, 9)),
    # The same instants asked in other zones give the same answers.
    (WEEKLY, at(TOKYO, 2026, 3, 30, 16, 0), "bo", at(OSLO, 2026, 3, 30, 9),
     at(OSLO, 2026, 4, 6, 9)),
    (WEEKLY, at(NEW_YORK, 2026, 3, 30, 2, 59), "ada", at(OSLO, 2026, 3, 23, 9),
     at(OSLO, 2026, 3, 30, 9)),
    # Before the rotation's first week it runs backwards consistently.
    (WEEKLY, at(OSLO, 2026, 2, 25, 12, 0), "cy", at(OSLO, 2026, 2, 23, 9),
     at(OSLO, 2026, 3, 2, 9)),
    # Daily in New York across the US change (8 March 2026): 08:00 EDT is 12:00 UTC.
    (DAILY, datetime(2026, 3, 8, 12, 30, tzinfo=UTC), "oz", at(NEW_YORK, 2026, 3, 8, 8),
     at(NEW_YORK, 2026, 3, 9, 8)),
    (DAILY, datetime(2026, 3, 8, 11, 59, tzinfo=UTC), "nia", at(NEW_YORK, 2026, 3, 7, 8),
     at(NEW_YORK, 2026, 3, 8, 8)),
    (DAILY, datetime(2026, 3, 8, 13, 0, tzinfo=UTC), "oz", at(NEW_YORK, 2026, 3, 8, 8),
     at(NEW_YORK, 2026, 3, 9, 8)),
])
def test_rotation(schedule: Schedule, when: datetime, member: str, start: datetime,
                  end: datetime) -> None:
    shift = on_call(schedule, when)
    assert shift == Shift(member, start.astimezone(UTC), end.astimezone(UTC), "rotation")


def test_spring_week_is_an_hour_shorter() -> None:
    shift = on_call(WEEKLY, at(OSLO, 2026, 3, 25, 12, 0))
    assert shift is not None and shift.end - shift.start == timedelta(days=7, hours=-1)
    autumn = on_call(WEEKLY, at(OSLO, 2026, 10, 21, 12, 0))
    assert autumn is not None and autumn.end - autumn.start == timedelta(days=7, hours=1)


OVERRIDDEN = Schedule(
    "support", "Europe/Oslo", WEEKLY.rotation,
    overrides=(Shift("dee", at(OSLO, 2026, 3, 13, 17).astimezone(UTC),
                     at(OSLO, 2026, 3, 16, 9).astimezone(UTC), "override"),))


def test_override_takes_over_and_ends() -> None:
    before = on_call(OVERRIDDEN, at(OSLO, 2026, 3, 13, 12))
    assert before is not None and before.member == "bo"
    assert before.end == at(OSLO, 2026, 3, 13, 17)  # cut where the override starts
    during = on_call(OVERRIDDEN, at(OSLO, 2026, 3, 14, 3))
    assert during is not None and (during.member, during.why) == ("dee", "override")
    after = on_call(OVERRIDDEN, at(OSLO, 2026, 3, 16, 9))
    assert after is not None and after.member == "cy"
    nxt = next_shift(OVERRIDDEN, at(OSLO, 2026, 3, 13, 12))
    assert nxt is not None and (nxt.member, nxt.start) == ("dee", at(OSLO, 2026, 3, 13, 17))


def test_schedule_hours_mean_nobody_outside_them() -> None:
    office = Schedule("office", "Europe/Oslo", WEEKLY.rotation,
                      hours=SupportHours.parse("Europe/Oslo", "mon-fri 09:00-17:00"))
    assert on_call(office, at(OSLO, 2026, 3, 14, 12)) is None  # Saturday
    friday = on_call(office, at(OSLO, 2026, 3, 13, 12))
    assert friday is not None and friday.end == at(OSLO, 2026, 3, 13, 17)
    nxt = next_shift(office, at(OSLO, 2026, 3, 14, 12))
    assert nxt is not None and (nxt.member, nxt.start) == ("cy", at(OSLO, 2026, 3, 16, 9))


ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//oncall//EN
BEGIN:VEVENT
UID:1
SUMMARY:On call: Ada Lovelace
DTSTART;TZID=Europe/Oslo:20260327T170000
DTEND;TZID=Europe/Oslo:20260330T090000
END:VEVENT
BEGIN:VEVENT
UID:2
SUMMARY:bo
DTSTART;TZID=Europe/Oslo:20260302T090000
DTEND;TZID=Europe/Oslo:20260302T170000
RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=10
END:VEVENT
BEGIN:VEVENT
UID:3
SUMMARY:Team lunch
DTSTART:20260330T110000Z
DTEND:20260330T120000Z
END:VEVENT
END:VCALENDAR
"""


def test_ics_calendar(tmp_path: Path) -> None:
    path = tmp_path / "oncall.ics"
    path.write_text(ICS.replace("\n", "\r\n"), encoding="utf-8")
    shifts = load_calendar(path, {"ada": "Ada Lovelace", "bo": "Bo"}, OSLO,
                           at(OSLO, 2026, 3, 20, 0))
    members = {shift.member for shift in shifts}
    assert members == {"ada", "bo"}  # "Team lunch" names nobody
    schedule = Schedule("cal", "Europe/Oslo", calendar=shifts)
    weekend = on_call(schedule, at(OSLO, 2026, 3, 28, 12))
    assert weekend is not None and weekend.member == "ada"
    assert weekend.end == at(OSLO, 2026, 3, 30, 9)  # across the DST night, local 09:00
    # Bo's weekly Monday shift (RRULE), after the clocks changed: 09:00 CEST.
    monday = on_call(schedule, datetime(2026, 3, 30, 7, 30, tzinfo=UTC))
    assert monday is not None and monday.member == "bo"
    assert on_call(schedule, at(OSLO, 2026, 3, 31, 12)) is None
    nxt = next_shift(schedule, at(OSLO, 2026, 3, 31, 12))
    assert nxt is not None and (nxt.member, nxt.start) == ("bo", at(OSLO, 2026, 4, 6, 9))


def test_targets_from_config(tmp_path: Path) -> None:
    (tmp_path / "oncall.ics").write_text(ICS, encoding="utf-8")
    config = parse_config({
        "members": {"ada": {"name": "Ada Lovelace", "urls": ["json://127.0.0.1:9/a"],
                            "timezone": "Europe/Oslo"},
                    "bo": {"urls": ["json://127.0.0.1:9/b"]}},
        "oncall": {"rota": {"timezone": "Europe/Oslo", "members": ["ada", "bo"],
                            "rotation": "daily", "handoff": "08:00",
                            "overrides": [{"member": "bo", "start": "2026-03-03T08:00:00",
                                           "end": "2026-03-03T12:00:00"}]},
                   "cal": {"timezone": "Europe/Oslo", "calendar": "oncall.ics"}},
    }, tmp_path / "c.toml")
    targets = Targets(config, tmp_path, at(OSLO, 2026, 3, 1))
    assert targets.resolve("oncall:cal", at(OSLO, 2026, 3, 28, 12)) == ("member:ada", "ada")
    shift = targets.who("rota", at(OSLO, 2026, 3, 3, 9))
    assert shift is not None and (shift.member, shift.why) == ("bo", "override")
    assert targets.resolve("oncall:cal", at(OSLO, 2026, 3, 31, 12)) is None


def test_config_problems() -> None:
    with pytest.raises(Exception, match="no member 'zed'"):
        parse_config({"members": {"ada": {"urls": ["json://x/y"]}},
                      "oncall": {"r": {"members": ["ada", "zed"]}}}, Path("c.toml"))
    with pytest.raises(Exception, match="not a weekday"):
        parse_config({"members": {"ada": {"urls": ["json://x/y"]}},
                      "oncall": {"r": {"members": ["ada"], "handoff_day": "someday"}}},
                     Path("c.toml"))


def test_calendar_edits_are_picked_up(tmp_path: Path) -> None:
    path = tmp_path / "oncall.ics"
    path.write_text(ICS, encoding="utf-8")
    config = parse_config({
        "members": {"ada": {"name": "Ada Lovelace", "urls": ["json://127.0.0.1:9/a"]},
                    "bo": {"urls": ["json://127.0.0.1:9/b"]}},
        "oncall": {"cal": {"timezone": "Europe/Oslo", "calendar": "oncall.ics"}},
    }, tmp_path / "c.toml")
    weekend = at(OSLO, 2026, 3, 28, 12)
    targets = Targets(config, tmp_path, weekend)
    assert targets.resolve("oncall:cal", weekend) == ("member:ada", "ada")
    path.write_text(ICS.replace("On call: Ada Lovelace", "bo"), encoding="utf-8")
    later = weekend + timedelta(minutes=30)
    assert targets.resolve("oncall:cal", later) == ("member:ada", "ada")  # read hourly
    later = weekend + timedelta(hours=1)
    assert targets.resolve("oncall:cal", later) == ("member:bo", "bo")
    path.write_text("not a calendar", encoding="utf-8")
    later = weekend + timedelta(hours=2)
    assert targets.resolve("oncall:cal", later) == ("member:bo", "bo")  # last good kept


EXCEPTIONS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//oncall//EN
BEGIN:VEVENT
UID:weekly-bo
SUMMARY:bo
DTSTART;TZID=Europe/Oslo:20260302T090000
DTEND;TZID=Europe/Oslo:20260302T170000
RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=10
EXDATE;TZID=Europe/Oslo:20260309T090000
END:VEVENT
BEGIN:VEVENT
UID:weekly-bo
RECURRENCE-ID;TZID=Europe/Oslo:20260316T090000
SUMMARY:Ada Lovelace
DTSTART;TZID=Europe/Oslo:20260316T090000
DTEND;TZID=Europe/Oslo:20260316T170000
END:VEVENT
BEGIN:VEVENT
UID:weekly-bo
RECURRENCE-ID;TZID=Europe/Oslo:20260323T090000
SUMMARY:bo
STATUS:CANCELLED
DTSTART;TZID=Europe/Oslo:20260323T090000
DTEND;TZID=Europe/Oslo:20260323T170000
END:VEVENT
END:VCALENDAR
"""


def test_calendar_exceptions_deleted_moved_and_cancelled_occurrences(tmp_path: Path) -> None:
    """Review 6: EXDATE, RECURRENCE-ID and STATUS:CANCELLED were ignored, so a shift
    deleted or handed to someone else for one week ("this event only", as calendar apps
    export it) still paged the original member."""
    path = tmp_path / "oncall.ics"
    path.write_text(EXCEPTIONS.replace("\n", "\r\n"), encoding="utf-8")
    shifts = load_calendar(path, {"ada": "Ada Lovelace", "bo": "Bo"}, OSLO,
                           at(OSLO, 2026, 3, 1, 0))
    schedule = Schedule("cal", "Europe/Oslo", calendar=shifts)
    first = on_call(schedule, at(OSLO, 2026, 3, 2, 12))
    assert first is not None and first.member == "bo"
    assert on_call(schedule, at(OSLO, 2026, 3, 9, 12)) is None  # EXDATE
    swapped = on_call(schedule, at(OSLO, 2026, 3, 16, 12))  # this week only: Ada
    assert swapped is not None and swapped.member == "ada"
    assert on_call(schedule, at(OSLO, 2026, 3, 23, 12)) is None  # cancelled occurrence
    later = on_call(schedule, at(OSLO, 2026, 3, 30, 12))  # after the DST change
    assert later is not None and later.member == "bo"
