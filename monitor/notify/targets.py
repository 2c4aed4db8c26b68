"""From the config to concrete alert rows: routes, on-call, after hours, escalation.

A route's targets are written as:

- ``NAME``: a channel of ``[channels]`` (or the built-in ``console``);
- ``oncall:SCHEDULE``: whoever is on call in ``[oncall.SCHEDULE]`` when the alert is
  made; stored as ``member:NAME`` with ``recipient`` = NAME, so a hand-off later does
  not change who was paged;
- ``member:NAME``: one member of ``[members]`` (their own apprise URLs);
- ``tag:TAG``: the entries of ``notify.apprise_config`` (an apprise YAML/TEXT file)
  carrying that tag;
- an apprise URL: stored as ``url:HASH`` (the URL itself never goes into the store).

``AlertPlanner.plan`` turns a mention's routing sample into ``Planned`` rows: which
stored channel, for whom, when to send (after hours: critical now and the on-call member
paged; the rest held until business hours, ``held = "after_hours"``), and when to
escalate if nobody acknowledges.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from monitor.config import CONSOLE_CHANNEL, Config, OnCallConfig
from monitor.core.classify import Kind, Severity
from monitor.core.hours import after_hours_hold, parse_clock
from monitor.core.oncall import Rotation, Schedule, Shift, handoff_day, next_shift, on_call
from monitor.core.routing import Rule, Sample, route_sample
from monitor.errors import ConfigError
from monitor.store import target_hash

log = logging.getLogger(__name__)

HELD_AFTER_HOURS = "after_hours"
HELD_RATE_LIMIT = "rate_limit"
# Came due while its mention was snoozed: waits for the snooze's end (notify/storm.py).
HELD_SNOOZED = "snoozed"
REFRESH_EVERY = timedelta(hours=1)


@dataclass(frozen=True)
class Planned:
    """One alert row to write: the stored channel string and its schedule."""

    channel: str
    target: str  # as written in the config (for `routes test`)
    rule: str
    recipient: str | None = None
    send_at: datetime | None = None
    held: str | None = None
    escalate_at: datetime | None = None
    tier: int = 0


def url_channel(url: str) -> str:
    return "url:" + target_hash(url)[:24]


def rules_from_config(config: Config) -> list[Rule]:
    return [
        Rule(
            channels=tuple(route.all_targets()),
            brands=frozenset(route.brands),
            sources=frozenset(route.sources),
            kinds=frozenset(route.kinds),
            min_severity=route.min_severity,
            severities=frozenset(route.severities),
            languages=frozenset(code.lower() for code in route.languages),
            incident=route.incident,
            name=route.name,
        )
        for route in config.routes
    ]


def _local(value: datetime, zone: ZoneInfo) -> datetime:
    return value.replace(tzinfo=zone) if value.tzinfo is None else value.astimezone(UTC)


def load_calendar(path: Path, members: dict[str, str], zone: ZoneInfo,
                  around: datetime) -> tuple[Shift, ...]:
    """Shifts from an iCalendar file: each VEVENT whose summary names a member (by key
    or display name, case-insensitive). Recurring events (RRULE) are expanded from a
    month before ``around`` to a year after it."""
    import icalendar
    from dateutil.rrule import rrulestr

    try:
        calendar = icalendar.Calendar.from_ical(path.read_bytes())
    except FileNotFoundError:
        raise ConfigError([f"{path}: on-call calendar not found"]) from None
    except (OSError, ValueError) as error:
        raise ConfigError([f"{path}: not a readable iCalendar file: {error}"]) from error
    lowered = {name.casefold(): key for key, name in members.items() if name}
    lowered.update({key.casefold(): key for key in members})
    shifts: list[Shift] = []
    window_start, window_end = around - timedelta(days=31), around + timedelta(days=366)

    def instant(value: Any) -> datetime | None:
        value = getattr(value, "dt", value)
        if isinstance(value, datetime):
            return _local(value, zone).astimezone(UTC)
        if hasattr(value, "toordinal"):
            return datetime.combine(value, time(0), tzinfo=zone).astimezone(UTC)
        return None

    # One occurrence of a recurring shift moved or cancelled ("this event only"): a VEVENT
    # with the same UID and a RECURRENCE-ID replaces the occurrence it names.
    moved: dict[str, set[datetime]] = {}
    for event in calendar.walk("VEVENT"):
        if event.get("RECURRENCE-ID") is not None:
            when = instant(event.get("RECURRENCE-ID"))
            if when is not None:
                moved.setdefault(str(event.get("UID", "")), set()).add(when)
    for event in calendar.walk("VEVENT"):
        if str(event.get("STATUS", "")).upper() == "CANCELLED":
            continue
        summary = str(event.get("SUMMARY", "")).strip()
        member = lowered.get(summary.casefold()) or next(
            (name for key, name in lowered.items() if key in summary.casefold()), None)
        if member is None:
            continue
        start_value = event.decoded("DTSTART")
        end_value = event.decoded("DTEND") if event.get("DTEND") else None
        if not isinstance(start_value, datetime):  # all-day: midnight to midnight local
            start_value = datetime.combine(start_value, time(0), tzinfo=zone)
            end_value = datetime.combine(end_value, time(0), tzinfo=zone) \
                if end_value is not None else start_value + timedelta(days=1)
        start = _local(start_value, zone)
        end = _local(end_value, zone) if isinstance(end_value, datetime) else \
            start + (event.decoded("DURATION") if event.get("DURATION") else timedelta(hours=1))
        length = end - start
        if event.get("RRULE"):
            text = event["RRULE"].to_ical()
            rule = rrulestr(text.decode() if isinstance(text, bytes) else str(text),
                            dtstart=start_value if start_value.tzinfo else start)
            skip = set(moved.get(str(event.get("UID", "")), set()))
            exdates = event.get("EXDATE")
            for entry in exdates if isinstance(exdates, list) else [exdates]:
                for value in getattr(entry, "dts", []):
                    when = instant(value)
                    if when is not None:
                        skip.add(when)
            for occurrence in rule.between(window_start - length, window_end, inc=True):
                begin = _local(occurrence, zone).astimezone(UTC)
                if begin in skip:  # deleted (EXDATE) or moved (RECURRENCE-ID)
                    continue
                shifts.append(Shift(member, begin, begin + length, "calendar"))
        else:
            shifts.append(Shift(member, start.astimezone(UTC), end.astimezone(UTC),
                                "calendar"))
    return tuple(sorted(shifts, key=lambda shift: shift.start))


def build_schedule(name: str, schedule: OnCallConfig, config_dir: Path,
                   now: datetime, members: dict[str, str] | None = None) -> Schedule:
    """A core Schedule from the config; ``members`` maps member keys to display names
    (both name a member in a calendar's event summaries)."""
    zone = ZoneInfo(schedule.timezone)
    rotation = None
    if schedule.members:
        rotation = Rotation(tuple(schedule.members), schedule.rotation,
                            parse_clock(schedule.handoff), handoff_day(schedule.handoff_day),
                            schedule.start)
    overrides = tuple(
        Shift(o.member, _local(o.start, zone).astimezone(UTC),
              _local(o.end, zone).astimezone(UTC), "override")
        for o in schedule.overrides)
    calendar: tuple[Shift, ...] = ()
    if schedule.calendar:
        path = Path(schedule.calendar)
        if not path.is_absolute():
            path = config_dir / path
        calendar = load_calendar(path, members or {m: m for m in schedule.members}, zone, now)
    hours = schedule.hours.hours() if schedule.hours is not None else None
    return Schedule(name, schedule.timezone, rotation, overrides, calendar, hours)


class Targets:
    """Resolves route targets for one config (schedules built once, calendars read)."""

    def __init__(self, config: Config, config_dir: Path | None = None,
                 now: datetime | None = None) -> None:
        self.config = config
        self.config_dir = config_dir or Path(".")
        self.built_at = now or datetime.now(UTC)
        self.schedules: dict[str, Schedule] = self._build(self.built_at)
        self.hours = config.hours.hours()

    def _build(self, now: datetime) -> dict[str, Schedule]:
        names = {key: member.name or key for key, member in self.config.members.items()}
        schedules = {}
        for name, schedule in self.config.oncall.items():
            built = build_schedule(name, schedule, self.config_dir, now, names)
            if schedule.calendar and not built.calendar and not built.rotation:
                log.warning("oncall_calendar_empty schedule=%s", name)
            schedules[name] = built
        return schedules

    def refresh(self, now: datetime) -> None:
        """Re-read on-call calendars hourly (edits to the .ics file take effect, and
        recurring shifts stay expanded around now). A calendar that became unreadable
        keeps the last good schedule, with a warning."""
        if not any(s.calendar for s in self.config.oncall.values()) or \
                abs(now - self.built_at) < REFRESH_EVERY:
            return
        try:
            self.schedules = self._build(now)
        except ConfigError as error:
            log.warning("oncall_calendar_unreadable error=%s", error)
        self.built_at = now

    def who(self, schedule: str, at: datetime) -> Shift | None:
        self.refresh(at)
        return on_call(self.schedules[schedule], at)

    def next(self, schedule: str, at: datetime) -> Shift | None:
        self.refresh(at)
        return next_shift(self.schedules[schedule], at)

    def resolve(self, target: str, at: datetime) -> tuple[str, str | None] | None:
        """(stored channel, recipient) for a target at ``at``; None when nobody is on
        call in that schedule."""
        kind, _, name = target.partition(":")
        if kind == "oncall" and name in self.schedules:
            shift = self.who(name, at)
            if shift is None:
                return None
            return f"member:{shift.member}", shift.member
        if kind == "member" and name:
            return target, name
        if kind == "tag" and name:
            return target, None
        if "://" in target:
            return url_channel(target), None
        return target, None


class AlertPlanner:
    """Who gets an alert, when, and when it escalates (pure given the config)."""

    def __init__(self, config: Config, targets: Targets) -> None:
        self.config = config
        self.targets = targets
        self.rules = rules_from_config(config)
        self.default_channels = list(config.channels) or [CONSOLE_CHANNEL]
        self.first_only = config.notify.route_mode == "first"
        self.fallback = config.notify.fallback or CONSOLE_CHANNEL

    def plan(self, sample: Sample, now: datetime) -> list[Planned]:
        matched = route_sample(self.rules, self.default_channels, sample, self.first_only)
        if not matched:
            return []
        urgent = sample.severity is Severity.CRITICAL or sample.incident
        hold_until: datetime | None = None
        if self.config.notify.after_hours == "batch" and not urgent:
            hold_until = after_hours_hold(self.targets.hours, now)
        planned: list[Planned] = []
        seen: set[str] = set()
        targets = list(matched)
        page = self.config.notify.page_oncall
        if page and urgent and not self.targets.hours.is_open(now):
            targets.append((f"oncall:{page}", "page_oncall (after hours)"))
        for target, rule in targets:
            resolved = self.targets.resolve(target, now)
            if resolved is None:
                log.warning("nobody_on_call target=%s rule=%s", target, rule)
                continue
            channel, recipient = resolved
            if channel in seen:
                continue
            seen.add(channel)
            send_at = hold_until or now
            planned.append(Planned(channel, target, rule, recipient, send_at,
                                   HELD_AFTER_HOURS if hold_until else None))
        if not planned:
            # Routes matched but every target was an empty on-call slot: nothing is lost.
            planned.append(Planned(self.fallback, self.fallback, "fallback (nobody on call)",
                                   None, hold_until or now,
                                   HELD_AFTER_HOURS if hold_until else None))
        tiers = self.config.escalation.tiers
        if tiers and (sample.incident or (
                sample.kind in (Kind.COMPLAINT, Kind.QUESTION)
                and sample.severity.rank >= self.config.escalation.min_severity.rank)):
            planned = [replace(p, escalate_at=(p.send_at or now) + tiers[0].after)
                       for p in planned]
        return planned

    def plan_tier(self, tier: int, now: datetime) -> list[Planned]:
        """Rows for escalation tier ``tier`` (1 = the first entry of escalation.tiers)."""
        tiers = self.config.escalation.tiers
        if not 1 <= tier <= len(tiers):
            return []
        planned = []
        for target in tiers[tier - 1].targets:
            resolved = self.targets.resolve(target, now)
            if resolved is None:
                log.warning("nobody_on_call target=%s tier=%s", target, tier)
                continue
            channel, recipient = resolved
            escalate_at = now + tiers[tier].after if tier < len(tiers) else None
            planned.append(Planned(channel, target, f"escalation tier {tier}", recipient, now,
                                   None, escalate_at, tier))
        return planned


def planned_rows(planned: Sequence[Planned], key_prefix: str, now: datetime,
                 body: Callable[[str], str], **fields: Any) -> list[dict[str, Any]]:
    """Outbox rows (for ``insert_ignore(Alert)``) for a plan; the idempotency key is
    ``{key_prefix}-{channel}`` and ``body(key)`` gives the stored plain-text body."""
    rows = []
    for plan in planned:
        key = f"{key_prefix}-{plan.channel}"
        rows.append({
            # Every row names both, so mention and incident rows share one executemany.
            "mention_id": None, "incident_id": None,
            "channel": plan.channel, "idempotency_key": key, "status": "pending",
            "attempts": 0, "next_attempt_at": plan.send_at or now, "created_at": now,
            "recipient": plan.recipient, "tier": plan.tier, "escalate_at": plan.escalate_at,
            "held": plan.held, "body": body(key), **fields,
        })
    return rows
