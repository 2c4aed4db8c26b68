"""The public-reply SLA clock: pure tables in business hours, then the sweep on SQLite and
PostgreSQL with real deliveries (apprise json:// to a local receiver), a simulated clock."""

from __future__ import annotations

import asyncio
import re
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from httpserver import Receiver
from sqlalchemy import select
from test_replies import complaint, make_config

from monitor.app import App, make_app
from monitor.core.hours import SupportHours
from monitor.core.sla import (
    BREACHED,
    Targets,
    deadline,
    delay_notice_due,
    describe,
    reached_at,
    reached_stage,
    stage_marks,
    stage_to_send,
)
from monitor.sla import SlaClock
from monitor.store import Alert, Mention, SourceState
from spiders.items import CompanyReply

OFFICE = SupportHours.parse("UTC", "mon-fri 09:00-17:00")
OSLO = SupportHours.parse("Europe/Oslo", "mon-fri 09:00-17:00", holidays=["2026-12-25"])


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# (hours, start, target, due) -- 2026-11-20 is a Friday, 2026-11-23 a Monday.
DEADLINES = [
    (OFFICE, "2026-11-23 10:00", timedelta(hours=1), "2026-11-23 11:00"),
    (OFFICE, "2026-11-23 16:30", timedelta(hours=1), "2026-11-24 09:30"),
    # normal 24 h on Friday 16:00: 1 h Friday, then 8 h a day Mon, Tue, 7 h Wed
    (OFFICE, "2026-11-20 16:00", timedelta(hours=24), "2026-11-25 16:00"),
    # posted on Saturday night: the clock starts Monday 09:00
    (OFFICE, "2026-11-21 23:00", timedelta(hours=4), "2026-11-23 13:00"),
    # Oslo, CET (UTC+1): 09:00-17:00 local is 08:00-16:00 UTC; Christmas Day is closed
    (OSLO, "2026-12-24 15:30", timedelta(hours=1), "2026-12-28 08:30"),
    # Oslo in summer time (UTC+2) before the October change, after it UTC+1
    (OSLO, "2026-10-23 14:30", timedelta(hours=2), "2026-10-26 09:30"),
]


@pytest.mark.parametrize(("hours", "start", "target", "due"), DEADLINES)
def test_deadline_counts_business_hours(hours: SupportHours, start: str, target: timedelta,
                                        due: str) -> None:
    assert deadline(hours, utc(start), target) == utc(due)


# (now, stage reached) for a 2 h target started Friday 16:00, due Monday 10:00
STAGES = [
    ("2026-11-20 16:30", 0),
    ("2026-11-20 16:59", 0),
    ("2026-11-20 17:00", 50),
    ("2026-11-22 12:00", 50),   # the weekend does not count
    ("2026-11-23 09:35", 50),
    ("2026-11-23 09:36", 80),
    ("2026-11-23 09:59", 80),
    ("2026-11-23 10:00", BREACHED),
    ("2026-11-30 10:00", BREACHED),
]


@pytest.mark.parametrize(("now", "stage"), STAGES)
def test_reached_stage_in_business_time(now: str, stage: int) -> None:
    start = utc("2026-11-20 16:00")
    due = deadline(OFFICE, start, timedelta(hours=2))
    assert due == utc("2026-11-23 10:00")
    assert reached_stage(OFFICE, start, due, utc(now), [50, 80]) == stage
    # the sweep's cached form gives the same answer
    assert reached_at(stage_marks(OFFICE, start, due, [80, 50]), utc(now)) == stage


def test_stage_marks() -> None:
    start = utc("2026-11-20 16:00")
    due = deadline(OFFICE, start, timedelta(hours=2))
    assert stage_marks(OFFICE, start, due, [50, 80]) == (
        (50, utc("2026-11-20 17:00")), (80, utc("2026-11-23 09:36")), (BREACHED, due))


@pytest.mark.parametrize(("current", "reached", "snoozed", "send"), [
    (0, 0, False, None), (0, 50, False, 50), (50, 50, False, None), (50, 80, False, 80),
    # a daemon down through the marks sends only the furthest one
    (0, BREACHED, False, BREACHED), (80, BREACHED, False, BREACHED),
    (BREACHED, BREACHED, False, None),
    # snoozed: no reminders, but the breach still goes to the lead
    (0, 50, True, None), (50, BREACHED, True, BREACHED),
])
def test_stage_to_send(current: int, reached: int, snoozed: bool, send: int | None) -> None:
    assert stage_to_send(current, reached, snoozed) == send


@pytest.mark.parametrize(("elapsed", "after", "due"), [
    (timedelta(days=2, hours=23), timedelta(days=3), False),
    (timedelta(days=3), timedelta(days=3), True),
    (timedelta(days=9), timedelta(days=3), True),
    (timedelta(days=9), timedelta(0), False),  # off
])
def test_delay_notice_due(elapsed: timedelta, after: timedelta, due: bool) -> None:
    start = utc("2026-11-20 16:00")
    assert delay_notice_due(start, start + elapsed, after) is due


def test_targets_and_describe() -> None:
    targets = Targets()
    assert [targets.for_severity(s) for s in ("critical", "high", "normal", "low", "odd")] == [
        timedelta(hours=1), timedelta(hours=4), timedelta(hours=24), timedelta(hours=72),
        timedelta(hours=24)]
    assert describe(timedelta(hours=1, minutes=30)) == "1 h 30 min"
    assert describe(timedelta(days=2, hours=3, minutes=5)) == "2 d 3 h"
    assert describe(-timedelta(minutes=45)) == "-45 min"


# -- the sweep, through the store and the dispatcher ------------------------------------

FRIDAY_4PM = utc("2026-11-20 16:00")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def sla_app(store_url: str, receiver: Receiver, clock: Clock, **sla: Any) -> App:
    """One 'team' channel for the complaint alerts, a 'lead' channel for breaches; every
    severity gets a 2 h target so the test does not depend on the classifier's severity."""
    targets = {name: "2h" for name in ("critical", "high", "normal", "low")}
    config = make_config(
        store_url,
        channels={"team": [receiver.apprise_url], "lead": [receiver.apprise_url]},
        routes=[{"channels": ["team"], "min_severity": "low"}],
        sla={**targets, "lead_channel": "lead", **sla},
    )
    return make_app(config, clock=clock)


def sweep_and_send(app: App, clock: Clock, at: datetime) -> list[str]:
    """Sweep at ``at``, deliver everything due; the titles of the SLA messages sent."""
    clock.now = at
    app.ingestor.replies.sla.sweep(at)
    asyncio.run(app.dispatcher.drain())
    return [alert.title for alert in alerts(app)
            if alert.sent_at == at and alert.purpose != "mention"]


def unescaped(markdown: str) -> str:
    """A chat message as text: the dispatcher escapes Markdown for json:// channels."""
    return re.sub(r"\\(.)", r"\1", markdown)


def alerts(app: App) -> list[Alert]:
    with app.store.session() as session:
        return list(session.scalars(select(Alert).order_by(Alert.id)))


def only(app: App) -> Mention:
    with app.store.session() as session:
        return session.scalars(select(Mention)).one()


def test_reminders_and_breach_in_business_hours(store_url: str, receiver: Receiver) -> None:
    clock = Clock(FRIDAY_4PM)
    app = sla_app(store_url, receiver, clock)
    app.ingestor.ingest([complaint("r1")], FRIDAY_4PM)
    mention = only(app)
    assert mention.kind == "complaint" and mention.sla_due_at == utc("2026-11-23 10:00")
    assert app.ingestor.replies.sla.due(mention.severity, FRIDAY_4PM) == mention.sla_due_at
    asyncio.run(app.dispatcher.drain())  # the complaint alert itself
    assert [m["title"] for m in receiver.messages][0].startswith("[")
    received = len(receiver.messages)

    assert sweep_and_send(app, clock, utc("2026-11-20 16:30")) == []
    first = sweep_and_send(app, clock, utc("2026-11-20 17:00"))
    assert len(first) == 1 and first[0].startswith("[reply due] 50%")
    # The weekend: nothing new, however often the sweep runs.
    for hour in range(6, 60, 6):
        assert sweep_and_send(app, clock, utc("2026-11-20 17:00") + timedelta(hours=hour)) == []
    second = sweep_and_send(app, clock, utc("2026-11-23 09:36"))
    assert len(second) == 1 and second[0].startswith("[reply due] 80%")
    breach = sweep_and_send(app, clock, utc("2026-11-23 10:00"))
    assert len(breach) == 1 and breach[0].startswith("[reply overdue]")
    assert sweep_and_send(app, clock, utc("2026-11-23 12:00")) == []

    mention = only(app)
    assert (mention.sla_stage, mention.sla_breached_at) == (BREACHED, utc("2026-11-23 10:00"))
    messages = receiver.messages[received:]
    # reminders went where the complaint alert went (team), the breach to the lead
    assert [(a.purpose, a.channel, a.status) for a in alerts(app)] == [
        ("mention", "team", "sent"), ("sla_reminder", "team", "sent"),
        ("sla_reminder", "team", "sent"), ("sla_breach", "lead", "sent")]
    assert "Due Mon 2026-11-23 10:00 UTC (24 min of business time left)" in \
        unescaped(messages[1]["message"])
    assert "was due Mon 2026-11-23 10:00 UTC" in unescaped(messages[2]["message"])
    assert "Reply publicly: https://www.trustpilot.com/reviews/r1" in \
        unescaped(messages[2]["message"])


def test_reply_detection_stops_the_clock(store_url: str, receiver: Receiver) -> None:
    clock = Clock(FRIDAY_4PM)
    # (the delay notice is about resolution, not the reply: tested on its own below)
    app = sla_app(store_url, receiver, clock, delay_notice_after="0s")
    app.ingestor.ingest([complaint("r1")], FRIDAY_4PM)
    assert len(sweep_and_send(app, clock, utc("2026-11-20 17:00"))) == 1
    replied = complaint("r1", company_replies=[CompanyReply("Sorry, fixed!", "Acme", None)])
    app.ingestor.ingest([replied], utc("2026-11-23 09:00"))
    for at in ("2026-11-23 09:40", "2026-11-23 10:00", "2026-11-24 10:00"):
        assert sweep_and_send(app, clock, utc(at)) == []
    mention = only(app)
    assert mention.status == "replied" and mention.sla_stage == 50
    assert mention.first_reply_at == utc("2026-11-23 09:00")


def test_support_hours_come_from_the_config(store_url: str, receiver: Receiver) -> None:
    clock = Clock(FRIDAY_4PM)
    app = sla_app(store_url, receiver, clock)
    config = app.config.model_copy(update={"hours": app.config.hours.model_copy(
        update={"timezone": "Europe/Oslo"})})
    clock_in_oslo = SlaClock(app.store, config)
    # Friday 16:00 UTC is 17:00 in Oslo: closed, so 2 h run Monday 08:00-10:00 UTC.
    assert deadline(clock_in_oslo.hours, FRIDAY_4PM, timedelta(hours=2)) == \
        utc("2026-11-23 10:00")
    assert clock_in_oslo.hours.timezone == "Europe/Oslo"


def test_review_edited_into_a_complaint_starts_its_clock_at_the_edit(
        store_url: str, receiver: Receiver) -> None:
    clock = Clock(FRIDAY_4PM)
    app = sla_app(store_url, receiver, clock)
    app.ingestor.ingest([complaint("r1", rating=5.0, title="Great",
                                   body="Acme delivered fast, love it.")], FRIDAY_4PM)
    assert (only(app).kind, only(app).sla_due_at) == ("praise", None)
    monday = utc("2026-11-23 09:00")
    worse = complaint("r1", rating=1.0, title="Update: awful",
                      body="Acme broke the product on the second day and ignores my e-mails.")
    assert app.ingestor.ingest([worse], monday).alerts == 1  # the "Updated review" alert
    mention = only(app)
    assert mention.kind == "complaint" and mention.sla_due_at == utc("2026-11-23 11:00")
    (reminder,) = sweep_and_send(app, clock, utc("2026-11-23 10:00"))
    assert reminder.startswith("[reply due] 50%")


def test_snoozed_complaint_gets_no_reminder_but_still_breaches(store_url: str,
                                                               receiver: Receiver) -> None:
    clock = Clock(FRIDAY_4PM)
    app = sla_app(store_url, receiver, clock)
    app.ingestor.ingest([complaint("r1")], FRIDAY_4PM)
    with app.store.session() as session:
        row = session.scalars(select(Mention)).one()
        row.status, row.snoozed_until = "snoozed", utc("2026-11-25 09:00")
    assert sweep_and_send(app, clock, utc("2026-11-23 09:40")) == []
    (breach,) = sweep_and_send(app, clock, utc("2026-11-23 10:00"))
    assert breach.startswith("[reply overdue]")


def test_delay_notice_once_for_unresolved_complaints(store_url: str, receiver: Receiver) -> None:
    clock = Clock(FRIDAY_4PM)
    app = sla_app(store_url, receiver, clock, delay_notice_after="3d")
    app.ingestor.ingest([complaint("r1")], FRIDAY_4PM)
    replied = complaint("r1", company_replies=[CompanyReply("Sorry, on it.", "Acme", None)])
    app.ingestor.ingest([replied], FRIDAY_4PM + timedelta(minutes=20))
    assert sweep_and_send(app, clock, FRIDAY_4PM + timedelta(days=2, hours=23)) == []
    (notice,) = sweep_and_send(app, clock, FRIDAY_4PM + timedelta(days=3))
    assert notice.startswith("[tell the customer] still unresolved after 3 d")
    assert sweep_and_send(app, clock, FRIDAY_4PM + timedelta(days=5)) == []
    body = [a for a in alerts(app) if a.purpose == "delay_notice"][0].body
    assert "A public reply was posted, but the complaint is still not resolved" in body
    # A resolved complaint gets none.
    app.ingestor.ingest([complaint("r2", body="Acme lost my parcel. Terrible.")],
                        FRIDAY_4PM + timedelta(days=5))
    with app.store.session() as session:
        row = session.scalars(select(Mention).where(Mention.external_id == "r2")).one()
        row.status = "resolved"
    assert sweep_and_send(app, clock, FRIDAY_4PM + timedelta(days=9)) == []


def test_delay_notice_found_at_night_waits_for_business_hours(store_url: str,
                                                            receiver: Receiver) -> None:
    clock = Clock(utc("2026-11-18 20:00"))  # Wednesday evening
    app = sla_app(store_url, receiver, clock, delay_notice_after="3d")
    app.ingestor.ingest([complaint("r1", company_replies=[
        CompanyReply("Sorry, we are looking into it.", "Acme", None)])], clock.now)
    saturday = utc("2026-11-21 20:00")
    assert app.ingestor.replies.sla.sweep(saturday).delay_notices == 1
    (notice,) = [a for a in alerts(app) if a.purpose == "delay_notice"]
    assert notice.next_attempt_at == utc("2026-11-23 09:00")  # Monday, when the team works
    assert sweep_and_send(app, clock, saturday + timedelta(hours=1)) == []
    assert sweep_and_send(app, clock, utc("2026-11-23 09:00")) == [notice.title]


def test_two_sweepers_send_each_stage_once(store_url: str, receiver: Receiver) -> None:
    clock = Clock(FRIDAY_4PM)
    app = sla_app(store_url, receiver, clock)
    other = make_app(app.config, clock=clock, migrate=False)
    app.ingestor.ingest([complaint(f"r{i}", author=f"Customer {i}") for i in range(6)],
                        FRIDAY_4PM)
    at = utc("2026-11-23 10:00")
    barrier = threading.Barrier(2)

    def sweep(target: App) -> None:
        barrier.wait()
        target.ingestor.replies.sla.sweep(at)

    threads = [threading.Thread(target=sweep, args=(a,)) for a in (app, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    app.ingestor.replies.sla.sweep(at)
    breaches = [a for a in alerts(app) if a.purpose == "sla_breach"]
    assert len(breaches) == 6
    assert len({a.idempotency_key for a in breaches}) == 6


def test_unknown_channels_and_bad_reminders_are_config_errors(tmp_path: Any) -> None:
    from monitor.errors import ConfigError

    with pytest.raises(ConfigError) as error:
        make_config(f"sqlite:///{tmp_path / 'x.db'}",
                    sla={"lead_channel": "boss"},
                    health={"ops_channel": "pager"}, replies={"template_channel": "lead"})
    problems = "\n".join(error.value.problems)
    assert "sla.lead_channel: no channel 'boss' in [channels]" in problems
    assert "health.ops_channel: no channel 'pager' in [channels]" in problems
    assert "replies.template_channel: no channel 'lead' in [channels]" in problems
    with pytest.raises(ConfigError) as error:
        make_config(f"sqlite:///{tmp_path / 'x.db'}", sla={"reminders": [50, 120]})
    assert "sla.reminders: each reminder is a percentage of the target between 1 and 99" \
        in error.value.problems[0]


def test_breach_goes_to_whoever_is_on_call_as_lead(store_url: str, receiver: Receiver) -> None:
    """lead_channel may name an on-call schedule: the breach goes to the member on call
    then, through their own URLs, with them as the recipient."""
    clock = Clock(FRIDAY_4PM)
    targets = {name: "2h" for name in ("critical", "high", "normal", "low")}
    config = make_config(
        store_url, channels={"team": [receiver.apprise_url]},
        routes=[{"channels": ["team"], "min_severity": "low"}],
        members={"ann": {"urls": [receiver.apprise_url]},
                 "bob": {"urls": [receiver.apprise_url]}},
        oncall={"leads": {"members": ["ann", "bob"], "rotation": "weekly",
                          "handoff": "09:00", "handoff_day": "mon",
                          "start": "2026-11-16"}},
        sla={**targets, "lead_channel": "oncall:leads", "delay_notice_after": "0s"},
    )
    app = make_app(config, clock=clock)
    app.ingestor.ingest([complaint("r1")], FRIDAY_4PM)
    (breach,) = sweep_and_send(app, clock, utc("2026-11-23 10:00"))
    assert breach.startswith("[reply overdue]")
    (row,) = [a for a in alerts(app) if a.purpose == "sla_breach"]
    # Ann's week started 2026-11-16 09:00; Bob took over Monday 2026-11-23 09:00.
    assert (row.channel, row.recipient, row.status) == ("member:bob", "bob", "sent")


def test_destinations_must_name_a_channel_member_or_schedule(tmp_path: Any) -> None:
    from monitor.errors import ConfigError

    with pytest.raises(ConfigError) as error:
        make_config(f"sqlite:///{tmp_path / 'x.db'}",
                    sla={"lead_channel": "member:zed"},
                    health={"ops_channel": "https://hooks.example.com/x"},
                    replies={"template_channel": "oncall:nobody"})
    problems = "\n".join(error.value.problems)
    assert "sla.lead_channel: no member 'zed' in [members]" in problems
    assert "health.ops_channel: name a channel of [channels], member:NAME or " \
           "oncall:SCHEDULE" in problems
    assert "replies.template_channel: no schedule 'nobody' in [oncall]" in problems


def test_run_once_sweeps_the_clock(store_url: str, receiver: Receiver) -> None:
    from monitor.daemon import Daemon, run_in_reactor

    clock = Clock(FRIDAY_4PM)
    app = sla_app(store_url, receiver, clock, delay_notice_after="0s")
    app.ingestor.ingest([complaint("r1")], FRIDAY_4PM)
    clock.now = utc("2026-11-23 10:00")
    # No source is due (they are never fetched: tests stay off the network).
    app.store.save_source_states([SourceState(source_id=source.id,
                                              next_run_at=clock.now + timedelta(minutes=10))
                                  for source in app.config.sources])
    assert run_in_reactor(lambda: Daemon(app).run_once()) == 0
    assert [(a.purpose, a.status) for a in alerts(app)] == [
        ("mention", "sent"), ("sla_breach", "sent")]


def test_no_reminder_or_breach_for_a_removed_review(store_url: str, receiver: Receiver) -> None:
    """Review 6: a review the site took down kept its clock running: reminders and a
    breach to the lead asked for a public reply under a post that no longer exists (the
    delay notice and the digest already left removed reviews out)."""
    clock = Clock(FRIDAY_4PM)
    app = sla_app(store_url, receiver, clock, delay_notice_after="0s")
    app.ingestor.ingest([complaint("r1")], FRIDAY_4PM)
    with app.store.session() as session:
        mention = session.scalars(select(Mention)).one()
        mention.removed, mention.removed_at = True, FRIDAY_4PM
    for at in ("2026-11-20 17:00", "2026-11-23 09:36", "2026-11-23 10:00"):
        assert sweep_and_send(app, clock, utc(at)) == []
    assert only(app).sla_stage == 0


def test_breach_to_a_member_abroad_shows_the_deadline_in_their_zone(
        store_url: str, receiver: Receiver) -> None:
    """Review 6: SLA reminders and breaches stated the deadline only in the team's zone; a
    lead in New York read 'due 10:00 UTC' and had to convert it."""
    clock = Clock(FRIDAY_4PM)
    targets = {name: "2h" for name in ("critical", "high", "normal", "low")}
    config = make_config(
        store_url, channels={"team": [receiver.apprise_url]},
        routes=[{"channels": ["team"], "min_severity": "low"}],
        members={"bob": {"urls": [receiver.apprise_url], "timezone": "America/New_York"}},
        sla={**targets, "lead_channel": "member:bob", "delay_notice_after": "0s"},
    )
    app = make_app(config, clock=clock)
    app.ingestor.ingest([complaint("r1")], FRIDAY_4PM)
    asyncio.run(app.dispatcher.drain())
    sent = len(receiver.messages)
    (breach,) = sweep_and_send(app, clock, utc("2026-11-23 10:00"))
    (message,) = receiver.messages[sent:]
    assert "was due Mon 2026-11-23 10:00 UTC" in unescaped(message["message"])
    assert "Reply publicly by (your time):** Mon 23 Nov 05:00 EST (America/New_York)" in \
        unescaped(message["message"])


def test_an_edit_that_makes_a_complaint_critical_brings_its_deadline_forward(
        store_url: str, receiver: Receiver) -> None:
    """Review 6: the deadline was fixed when the complaint was first stored; a review
    edited from 'late delivery' (normal, 24 h) to 'the charger caught fire' (critical,
    1 h) kept its 24 business hours."""
    clock = Clock(FRIDAY_4PM)
    app = sla_app(store_url, receiver, clock, critical="1h", high="4h", normal="24h",
                  low="72h")
    app.ingestor.ingest([complaint("r1")], FRIDAY_4PM)
    before = only(app)
    assert before.severity != "critical"
    monday = utc("2026-11-23 09:00")
    fire = complaint("r1", title="Update: dangerous",
                     body="Acme never delivered my order and now the charger they sent "
                          "caught fire. Dangerous!")
    app.ingestor.ingest([fire], monday)
    after = only(app)
    assert after.severity == "critical"
    assert after.sla_due_at == utc("2026-11-23 10:00")
    assert before.sla_due_at is not None and before.sla_due_at > after.sla_due_at
    breach = sweep_and_send(app, clock, utc("2026-11-23 10:00"))
    assert len(breach) == 1 and breach[0].startswith("[reply overdue]")
