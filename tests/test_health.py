"""Source health: pure decisions (tables), transitions recorded in source_event on SQLite and
PostgreSQL, one ops alert per outage and one per recovery, silence learned from a source's
own history, and the daemon hook after a real crawl of a local server."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from feedgen import rss, sample_entries
from httpserver import FixtureServer, Receiver, Reply
from sqlalchemy import select

from monitor.app import App, make_app
from monitor.config import parse_config
from monitor.core.health import (
    BLOCKED,
    FAILING,
    OK,
    SILENT,
    SourceRuns,
    Thresholds,
    assess,
    silence_limit,
    transition,
    usual_gap,
)
from monitor.daemon import Daemon, run_in_reactor
from monitor.health import SourceHealth
from monitor.store import Alert, Mention, SourceState
from monitor.store.models import SourceEvent

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
HOURLY = [NOW - timedelta(hours=hours) for hours in range(1, 21)]


# -- pure -------------------------------------------------------------------------------

def test_usual_gap_and_silence_limit() -> None:
    assert usual_gap([]) is None and usual_gap([NOW]) is None
    assert usual_gap(HOURLY) == timedelta(hours=1)
    # one long gap does not move the median
    assert usual_gap([*HOURLY, NOW - timedelta(days=30)]) == timedelta(hours=1)
    thresholds = Thresholds(silent_factor=6, silent_floor=timedelta(hours=2),
                            silent_min_history=10)
    assert silence_limit(HOURLY, thresholds) == timedelta(hours=6)
    assert silence_limit(HOURLY[:5], thresholds) is None  # too little history
    floor = Thresholds(silent_floor=timedelta(hours=24))
    assert silence_limit(HOURLY, floor) == timedelta(hours=24)


T = Thresholds(failures=3, blocked_after=1, silent_factor=6, silent_floor=timedelta(hours=2),
               silent_min_history=10)

# (last status, consecutive failures, mention times, previous, now offset, expected status)
ASSESS: list[tuple[str, int, list[datetime], str | None, timedelta, str]] = [
    ("ok", 0, HOURLY, None, timedelta(0), OK),
    ("not_modified", 0, HOURLY, OK, timedelta(hours=4), OK),
    ("fetch", 1, [], None, timedelta(0), OK),          # one failure is not news
    ("fetch", 2, [], OK, timedelta(0), OK),
    ("fetch", 3, [], OK, timedelta(0), FAILING),
    ("parse", 7, [], FAILING, timedelta(0), FAILING),
    ("fetch", 1, [], FAILING, timedelta(0), FAILING),  # below the threshold: keep
    ("blocked", 1, [], None, timedelta(0), BLOCKED),
    ("blocked", 4, [], FAILING, timedelta(0), BLOCKED),
    ("ok", 0, HOURLY, FAILING, timedelta(0), OK),
    ("ok", 0, HOURLY, None, timedelta(hours=5), OK),   # 6 h since the last: limit 6 h
    ("ok", 0, HOURLY, None, timedelta(hours=6), SILENT),
    ("ok", 0, HOURLY[:5], None, timedelta(days=30), OK),  # no usual rate yet
    ("never", 0, [], None, timedelta(0), OK),
]


@pytest.mark.parametrize(("last", "failures", "times", "previous", "later", "status"), ASSESS)
def test_assess(last: str, failures: int, times: list[datetime], previous: str | None,
                later: timedelta, status: str) -> None:
    # "later": how long after the newest mention (NOW - 1 h) we look
    now = NOW - timedelta(hours=1) + later
    health = assess(SourceRuns(last, failures, "HTTP 500", times), previous, now, T)
    assert health.status == status
    if status == SILENT:
        assert health.reason == "no new mention for 6 h; usually one every 1 h"
    if status == FAILING and previous is None:
        assert "HTTP 500" in health.reason


def test_a_first_crawl_of_old_posts_is_not_silence() -> None:
    """A source added today whose feed holds last month's posts has just delivered them:
    silence counts from when the newest was stored, not from when it was written."""
    month_ago = [NOW - timedelta(days=23, hours=hours) for hours in range(20)]
    stored_now = SourceRuns("ok", 0, None, month_ago, NOW)
    assert assess(stored_now, None, NOW + timedelta(minutes=1), T).status == OK
    assert assess(stored_now, None, NOW + timedelta(hours=6), T).status == SILENT
    assert assess(SourceRuns("ok", 0, None, month_ago), None, NOW, T).status == SILENT


@pytest.mark.parametrize(("previous", "current", "record", "alert"), [
    (None, OK, False, None), (OK, OK, False, None),
    (None, FAILING, True, "down"), (OK, BLOCKED, True, "down"), (OK, SILENT, True, "down"),
    (FAILING, FAILING, False, None), (FAILING, BLOCKED, True, None),
    (BLOCKED, OK, True, "recovered"), (SILENT, OK, True, "recovered"),
])
def test_transition(previous: str | None, current: str, record: bool, alert: str | None) -> None:
    change = transition(previous, current)
    assert (change.record, change.alert) == (record, alert)


# -- the store --------------------------------------------------------------------------

def health_app(store_url: str, receiver: Receiver, clock: dict[str, datetime],
               **health: Any) -> App:
    config = parse_config({
        "store": {"url": store_url},
        "brands": {"acme": {"keywords": ["acme"]}},
        "sources": [{"id": "tp", "spider": "trustpilot",
                     "url": "https://www.trustpilot.com/review/acme.com", "brand": "acme"},
                    {"id": "feed", "spider": "feed", "url": "https://example.com/feed.xml"}],
        "channels": {"ops": {"urls": [receiver.apprise_url]}},
        "health": {"ops_channel": "ops", "failures": 3, **health},
    }, Path("/tmp/test.toml"))
    return make_app(config, clock=lambda: clock["now"])


def run(app: App, health: SourceHealth, at: datetime, status: str,
        source: str = "tp") -> None:
    """Record one crawl run as the daemon does, then check health."""
    state = app.store.source_state(source)
    state.last_status = status
    state.last_fetch_at = at
    if status in ("ok", "not_modified"):
        state.consecutive_failures, state.last_error = 0, None
    else:
        state.consecutive_failures += 1
        state.last_error = f"{status}: HTTP 403" if status == "blocked" else f"{status}: HTTP 500"
    app.store.save_source_state(state)
    health.check([source], at)


def events(app: App) -> list[tuple[str, str]]:
    with app.store.session() as session:
        return [(e.source_id, e.status) for e in session.scalars(
            select(SourceEvent).order_by(SourceEvent.id))]


def test_one_alert_per_outage_and_one_per_recovery(store_url: str, receiver: Receiver) -> None:
    clock = {"now": NOW}
    app = health_app(store_url, receiver, clock)
    health = SourceHealth(app.store, app.config)
    at = NOW
    for status in ["ok", "fetch", "fetch", "fetch", "fetch", "parse", "fetch", "blocked",
                   "blocked", "ok", "ok"]:
        at += timedelta(minutes=15)
        run(app, health, at, status)
    assert events(app) == [("tp", FAILING), ("tp", BLOCKED), ("tp", OK)]
    clock["now"] = at
    asyncio.run(app.dispatcher.drain())
    titles = sorted(message["title"] for message in receiver.messages)
    assert titles == ["[source failing] tp: failed 3 runs in a row: fetch: HTTP 500",
                      "[source recovered] tp is ok again after 1 h 30 min failing, blocked"]
    with app.store.session() as session:
        purposes = [a.purpose for a in session.scalars(select(Alert).order_by(Alert.id))]
    assert purposes == ["source_health", "source_recovered"]
    # Checking again changes nothing (and two daemons checking the same state neither).
    SourceHealth(app.store, app.config).check(["tp"], at + timedelta(minutes=1))
    health.check(["tp"], at + timedelta(minutes=1))
    assert len(events(app)) == 3
    assert [s.status for s in health.statuses()] == [OK]


def test_blocked_alerts_at_once(store_url: str, receiver: Receiver) -> None:
    clock = {"now": NOW}
    app = health_app(store_url, receiver, clock)
    health = SourceHealth(app.store, app.config)
    run(app, health, NOW, "blocked")
    assert events(app) == [("tp", BLOCKED)]
    (status,) = [s for s in health.statuses() if s.source_id == "tp"]
    assert (status.status, status.since) == (BLOCKED, NOW)
    asyncio.run(app.dispatcher.drain())
    (message,) = receiver.messages
    assert message["title"] == "[source blocked] tp: blocked on 1 run in a row: blocked: HTTP 403"
    assert "one when it recovers" in message["message"]


def test_silent_source_alerts_and_recovers_when_mentions_return(store_url: str,
                                                               receiver: Receiver) -> None:
    clock = {"now": NOW}
    app = health_app(store_url, receiver, clock, silent_factor=6, silent_floor="2h",
                     silent_min_history=10)
    health = SourceHealth(app.store, app.config)
    from spiders.items import MentionItem

    items = [MentionItem(source_id="tp", external_id=f"r{index}", author=f"c{index}",
                         body=f"Acme review number {index}", published=at)
             for index, at in enumerate(sorted(HOURLY))]
    app.ingestor.ingest(items, NOW)
    # Runs keep succeeding; the newest mention, published at NOW - 1 h, was stored at NOW
    # (one an hour before that): silence counts from NOW.
    run(app, health, NOW + timedelta(hours=5), "ok")
    assert events(app) == []
    run(app, health, NOW + timedelta(hours=6), "ok")
    assert events(app) == [("tp", SILENT)]
    run(app, health, NOW + timedelta(hours=9), "not_modified")
    assert events(app) == [("tp", SILENT)]  # still silent: no second alert
    fresh = MentionItem(source_id="tp", external_id="new", author="x", body="Acme again",
                        published=NOW + timedelta(hours=9, minutes=30))
    app.ingestor.ingest([fresh], NOW + timedelta(hours=10))
    run(app, health, NOW + timedelta(hours=10), "ok")
    assert events(app) == [("tp", SILENT), ("tp", OK)]
    clock["now"] = NOW + timedelta(hours=10)
    asyncio.run(app.dispatcher.drain())
    health_titles = sorted(m["title"] for m in receiver.messages
                           if m["title"].startswith("[source"))
    assert health_titles == [
        "[source recovered] tp is ok again after 4 h silent",
        "[source silent] tp: no new mention for 6 h; usually one every 1 h"]
    with app.store.session() as session:
        assert session.scalars(select(Mention)).all()


def test_no_ops_channel_still_records_the_history(store_url: str, receiver: Receiver) -> None:
    clock = {"now": NOW}
    app = health_app(store_url, receiver, clock)
    config = app.config.model_copy(update={"health": app.config.health.model_copy(
        update={"ops_channel": None})})
    health = SourceHealth(app.store, config)
    run(app, health, NOW, "blocked")
    assert events(app) == [("tp", BLOCKED)]
    with app.store.session() as session:
        assert session.scalars(select(Alert)).all() == []


# -- the daemon, after a real crawl ------------------------------------------------------

def test_daemon_records_health_after_each_crawl(tmp_path: Path, server: FixtureServer,
                                                receiver: Receiver) -> None:
    feed = Reply(200, rss(sample_entries("f", 2)), {"Content-Type": "application/rss+xml"})
    down = Reply(500, b"down")
    server.set("/feed.xml", down, down, down, down, feed)
    config = parse_config({
        "store": {"url": f"sqlite:///{tmp_path / 'h.db'}"},
        "daemon": {"autothrottle": False},
        "brands": {"acme": {"keywords": ["acme"]}},
        "sources": [{"id": "news", "spider": "feed", "url": server.url("/feed.xml"),
                     "brand": "acme", "obey_robots": False,
                     "scrapy_settings": {"RETRY_ENABLED": False}}],
        "channels": {"ops": {"urls": [receiver.apprise_url]}},
        "routes": [{"channels": ["console"]}],
        "health": {"ops_channel": "ops", "failures": 3},
    }, tmp_path / "c.toml")
    daemon = Daemon(make_app(config, console=lambda: open("/dev/null", "w")))  # noqa: SIM115
    for _ in range(5):
        run_in_reactor(lambda: daemon.crawl_due(force=True))
    assert daemon.app.store.source_state("news").consecutive_failures == 0
    assert events(daemon.app) == [("news", FAILING), ("news", OK)]
    run_in_reactor(daemon.app.dispatcher.drain)
    titles = sorted(m["title"] for m in receiver.messages)
    assert len(titles) == 2
    assert titles[0].startswith("[source failing] news: failed 3 runs in a row")
    assert titles[1].startswith("[source recovered] news is ok again after")


def test_health_and_sla_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from monitor.cli import main
    from monitor.config import load_config

    path = tmp_path / "c.toml"
    path.write_text(
        '[store]\nurl = "sqlite:///rm.db"\n[brands.acme]\nkeywords = ["acme"]\n'
        '[[sources]]\nid = "tp"\nspider = "trustpilot"\n'
        'url = "https://www.trustpilot.com/review/acme.com"\nbrand = "acme"\n'
        '[[sources]]\nid = "news"\nspider = "feed"\nurl = "https://example.com/f.xml"\n')
    app = make_app(load_config(path), clock=lambda: NOW)
    health = SourceHealth(app.store, app.config)
    run(app, health, NOW, "blocked")
    from spiders.items import MentionItem

    app.ingestor.ingest([MentionItem(source_id="tp", external_id="r1", author="Kim",
                                     title="Awful", rating=1.0,
                                     body="Acme never delivered my order. Terrible.")], NOW)
    assert main(["health", "--config", str(path)]) == 1  # a source is not ok
    out = capsys.readouterr().out.splitlines()
    assert out[1].split()[:2] == ["tp", "blocked"] and "HTTP 403" in out[1]
    assert out[2].split()[:2] == ["news", "ok"] and out[2].endswith("never")
    # A poll cut off with new mentions unread: said, though the source is ok.
    with app.store.session() as session:
        state = session.get(SourceState, "news") or SourceState(source_id="news")
        state.backlog_pages = 4
        session.add(state)
    assert main(["health", "--config", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[2].split()[:2] == ["news", "ok"]
    assert out[2].endswith("catching up: resumes past page 4")
    assert main(["sla", "--config", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "due (UTC)" in out[0] and len(out) == 2
    assert "2026-11-" in out[1] and "Awful" in out[1] and " tp " in out[1]


def test_ops_channel_may_be_a_member(store_url: str, receiver: Receiver) -> None:
    config = parse_config({
        "store": {"url": store_url},
        "sources": [{"id": "tp", "spider": "trustpilot",
                     "url": "https://www.trustpilot.com/review/acme.com"}],
        "members": {"olga": {"urls": [receiver.apprise_url], "timezone": "Europe/Oslo"}},
        "health": {"ops_channel": "member:olga"},
    }, Path("/tmp/test.toml"))
    app = make_app(config, clock=lambda: NOW)
    run(app, SourceHealth(app.store, app.config), NOW, "blocked")
    asyncio.run(app.dispatcher.drain())
    (message,) = receiver.messages
    assert message["title"].startswith("[source blocked] tp")
    with app.store.session() as session:
        (alert,) = session.scalars(select(Alert))
    assert (alert.channel, alert.recipient) == ("member:olga", "olga")


def test_a_source_urls_secrets_stay_out_of_the_ops_alert(store_url: str,
                                                         receiver: Receiver) -> None:
    """Review 6: a crawl error names the URL it failed on, and a source URL may carry an
    API key or a password; the health alert (ops chat), the event row and
    `review-monitor health` showed it in full."""
    from monitor.core.health import redact_secrets

    app = health_app(store_url, receiver, {"now": NOW})
    health = SourceHealth(app.store, app.config)
    state = app.store.source_state("tp")
    state.last_status, state.consecutive_failures = "blocked", 1
    state.last_error = ("blocked: HTTP 403 from https://bob:hunter2@api.example.com/v1/reviews"
                        "?place=1&key=AIzaSECRET&access_token=TOKSECRET")
    app.store.save_source_state(state)
    health.check(["tp"], NOW)
    asyncio.run(app.dispatcher.drain())
    (message,) = receiver.messages
    (status,) = [s for s in health.statuses() if s.source_id == "tp"]
    for text in (message["title"], message["message"], status.reason or ""):
        assert "AIzaSECRET" not in text and "TOKSECRET" not in text and "hunter2" not in text
    assert "place=1&key=***" in message["title"]
    assert redact_secrets("HTTP 429 from https://www.trustpilot.com/review/acme.com?page=2") \
        == "HTTP 429 from https://www.trustpilot.com/review/acme.com?page=2"
