"""The daemon's schedule and lifecycle: when a source runs next, what a failure inside
one batch does, that the loops survive a bad sweep, and that SIGTERM keeps to the
grace period."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from feedgen import rss, sample_entries
from httpserver import FixtureServer, Receiver, Reply, Request
from test_crawl import trustpilot_page

from monitor.app import make_app
from monitor.config import parse_config
from monitor.core.schedule import RETRY_AFTER_MAX, alert_retry_delay, backoff_delay, is_due
from monitor.daemon import Daemon, run_in_reactor
from monitor.store import SourceState, Store

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def make_daemon(tmp_path: Path, sources: list[dict[str, object]],
                receiver: Receiver | None = None, **daemon: object) -> Daemon:
    raw: dict[str, Any] = {
        "store": {"url": f"sqlite:///{tmp_path / 'life.db'}"},
        "daemon": {"autothrottle": False, "jitter": 0, **daemon},
        "brands": {"acme": {"keywords": ["acme"]}},
        "sources": sources,
    }
    if receiver is not None:
        raw["channels"] = {"oncall": {"urls": [receiver.apprise_url]}}
        raw["notify"] = {"backoff_initial": "1s", "quick_retries": 1}
    return Daemon(make_app(parse_config(raw, tmp_path / "c.toml")))


def feed_source(source_id: str, server: FixtureServer, **extra: object) -> dict[str, object]:
    return {"id": source_id, "spider": "feed", "url": server.url(f"/{source_id}.xml"),
            "brand": "acme", "obey_robots": False, **extra}


# -- when does a source run next (pure) ----------------------------------------------


@pytest.mark.parametrize("interval", [timedelta(days=1), timedelta(days=7),
                                      timedelta(days=365)])
def test_backoff_after_months_of_failures_stays_at_the_cap(interval: timedelta) -> None:
    """interval * 2**30 overflowed timedelta for a daily source: the run's state was never
    saved, so the failing source was retried every second."""
    cap = timedelta(hours=6)
    for failures in (1, 29, 31, 40, 10_000):
        assert backoff_delay(interval, failures, cap) == cap
    assert alert_retry_delay(10_000, timedelta(days=1), timedelta(hours=1)) == timedelta(hours=1)


@pytest.mark.parametrize(("retry_after", "expected"), [
    (1e15, RETRY_AFTER_MAX),                 # overflowed timedelta
    (float("inf"), RETRY_AFTER_MAX),         # a 400-digit header parses as inf
    (400 * 86400.0, RETRY_AFTER_MAX),        # a year: parked the source for good
    (3 * 86400.0, timedelta(days=3)),        # honoured, beyond our own cap
    (0.0, timedelta(minutes=10)),            # an HTTP date in the past: plain backoff
])
def test_retry_after_is_honoured_up_to_a_limit(retry_after: float,
                                               expected: timedelta) -> None:
    delay = backoff_delay(timedelta(minutes=10), 1, timedelta(hours=6), retry_after)
    assert delay == expected
    assert NOW + delay > NOW  # and the next run can be computed


@pytest.mark.parametrize(("next_run_in", "failures", "due"), [
    (None, 0, True),
    (timedelta(0), 0, True),
    (timedelta(minutes=10), 0, False),          # on schedule
    (timedelta(minutes=16), 0, False),          # within interval + jitter
    (timedelta(hours=23), 0, True),             # stored from an older 1-day interval
    (timedelta(days=300), 0, True),             # the clock went back
    (timedelta(hours=5), 3, False),             # backing off
    (timedelta(days=6), 3, False),              # a site's Retry-After
    (timedelta(days=30), 3, True),              # beyond anything we would schedule
])
def test_a_stored_next_run_beyond_what_the_config_schedules_is_due(
        next_run_in: timedelta | None, failures: int, due: bool) -> None:
    next_run_at = None if next_run_in is None else NOW + next_run_in
    assert is_due(next_run_at, failures, NOW, timedelta(minutes=15), 0.1,
                  timedelta(hours=6)) is due


# -- the daemon over a local server --------------------------------------------------


def test_a_shortened_interval_applies_at_once_after_a_restart(
        tmp_path: Path, server: FixtureServer) -> None:
    server.set("/acme.xml", Reply(200, rss(sample_entries("i", 1))))
    daemon = make_daemon(tmp_path, [feed_source("acme", server, interval="15m")])
    now = daemon.app.clock()
    # What a run under the old `interval = "1d"` stored an hour ago.
    daemon.app.store.save_source_states([SourceState(
        source_id="acme", last_status="ok", last_success_at=now - timedelta(hours=1),
        next_run_at=now + timedelta(hours=23))])
    runs = run_in_reactor(lambda: daemon.crawl_due())
    assert [run.source_id for run in runs] == ["acme"]
    state = daemon.app.store.source_state("acme")
    assert state.next_run_at is not None
    assert timedelta(minutes=14) < state.next_run_at - now < timedelta(minutes=16)


def test_a_daily_source_failing_for_a_month_still_backs_off(
        tmp_path: Path, server: FixtureServer) -> None:
    server.set("/acme.xml", Reply(503, b"down"))
    daemon = make_daemon(tmp_path, [feed_source("acme", server, interval="1d")])
    daemon.app.store.save_source_states([SourceState(
        source_id="acme", last_status="fetch", consecutive_failures=35)])
    runs = run_in_reactor(lambda: daemon.crawl_due(force=True))
    assert runs[0].failed
    state = daemon.app.store.source_state("acme")
    assert state.consecutive_failures == 36 and state.next_run_at is not None
    assert state.next_run_at - daemon.app.clock() <= timedelta(hours=6)


def test_a_huge_retry_after_is_capped(tmp_path: Path, server: FixtureServer) -> None:
    server.set("/acme.xml", Reply(429, b"slow down", {"Retry-After": "9" * 20}))
    daemon = make_daemon(tmp_path, [feed_source("acme", server)])
    runs = run_in_reactor(lambda: daemon.crawl_due())
    assert runs[0].failed
    state = daemon.app.store.source_state("acme")
    assert state.next_run_at is not None
    assert state.next_run_at - daemon.app.clock() <= RETRY_AFTER_MAX


def test_a_batch_that_cannot_be_stored_fails_only_its_source_and_is_fetched_again(
        tmp_path: Path, server: FixtureServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """One source's mentions crash ingest: it is marked failed (one line), the other
    source crawled with it is stored, and the next run stores the failed ones."""
    etag = {"ETag": '"v1"', "Content-Type": "application/rss+xml"}
    server.set("/bad.xml", Reply(200, rss(sample_entries("bad", 2)), etag))
    server.set("/good.xml", Reply(200, rss(sample_entries("good", 3)), etag))
    daemon = make_daemon(tmp_path, [feed_source("bad", server), feed_source("good", server)])
    ingestor = daemon.app.ingestor
    real_ingest = ingestor.ingest

    def flaky(items: Sequence[Any], now: datetime, listings: Sequence[Any] = ()) -> Any:
        if any(item.source_id == "bad" for item in items):
            raise RuntimeError("database is locked\n[SQL: INSERT INTO mention ...]")
        return real_ingest(items, now, listings)

    monkeypatch.setattr(ingestor, "ingest", flaky)
    assert run_in_reactor(lambda: daemon.run_once()) == 1
    states = daemon.app.store.source_states()
    assert states["good"].consecutive_failures == 0 and states["good"].mentions_total == 3
    bad = states["bad"]
    assert bad.consecutive_failures == 1 and bad.last_status == "ingest"
    assert bad.etag is None  # not kept: the next run fetches the feed in full
    assert bad.last_error == ("ingest: could not store 2 mentions: "
                              "RuntimeError: database is locked")
    assert daemon.app.store.mention_count() == 3

    monkeypatch.setattr(ingestor, "ingest", real_ingest)
    assert run_in_reactor(lambda: daemon.run_once(force=True)) == 0
    assert daemon.app.store.mention_count() == 5
    assert daemon.app.store.source_state("bad").consecutive_failures == 0


def test_once_still_sends_the_alerts_when_a_sweep_fails(
        tmp_path: Path, server: FixtureServer, receiver: Receiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    server.set("/acme.xml", Reply(200, rss(sample_entries("w", 2))))
    daemon = make_daemon(tmp_path, [feed_source("acme", server)], receiver)

    def broken(now: datetime) -> None:
        raise RuntimeError("sla sweep broke")

    monkeypatch.setattr(daemon.sla, "sweep", broken)
    assert run_in_reactor(lambda: daemon.run_once()) == 1
    assert len(receiver.messages) == 2
    assert daemon.app.store.outbox_counts() == {"sent": 2}


def test_the_main_loop_survives_a_store_hiccup(
        tmp_path: Path, server: FixtureServer, monkeypatch: pytest.MonkeyPatch) -> None:
    server.set("/acme.xml", Reply(200, rss(sample_entries("h", 1))))
    daemon = make_daemon(tmp_path, [feed_source("acme", server)])
    daemon.tick = 0.1
    store = daemon.app.store
    real_states = store.source_states
    calls = {"n": 0}

    def hiccup() -> dict[str, SourceState]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("could not connect to server")
        return real_states()

    monkeypatch.setattr(store, "source_states", hiccup)

    async def main() -> int:
        async def stop_when_crawled() -> None:
            for _ in range(300):
                if real_states().get("acme") is not None:
                    break
                await asyncio.sleep(0.1)
            daemon.stop()

        stopper = asyncio.create_task(stop_when_crawled())
        try:
            return await daemon.run_forever()
        finally:
            stopper.cancel()

    assert run_in_reactor(main) == 0
    assert real_states()["acme"].last_status == "ok"
    assert store.mention_count() == 1


def test_stop_cuts_a_slow_digest_send_off_at_the_grace_period(tmp_path: Path) -> None:
    """The mail server stalls (at RCPT) while the weekly digest goes out and the daemon is
    told to stop: it ends within the grace period instead of SMTP's own timeout, and the
    digest, not delivered, goes out once at the next start."""
    from digest_week import NOW as DIGEST_NOW
    from digest_week import WEEK, digest_config, seed_week
    from test_digest import Clock, runs, start_gated_sink, start_sink

    from monitor.digest import DigestRunner

    store_url = f"sqlite:///{tmp_path / 'digest.db'}"
    slow, handler = start_gated_sink("RCPT")
    try:
        config = digest_config(store_url, recipients=[slow.url()])
        for source in config.sources:  # the digest only: nothing to crawl
            source.enabled = False
        config.daemon.grace_period = timedelta(seconds=1)
        app = make_app(config, clock=Clock(DIGEST_NOW))
        app.store.upgrade()
        seed_week(app.store)
        daemon = Daemon(app)
        daemon.tick = 0.1
        took: list[float] = []

        async def main() -> int:
            async def stop_while_sending() -> None:
                while not handler.reached.is_set():
                    await asyncio.sleep(0.05)
                took.append(time.monotonic())
                daemon.stop()

            stopper = asyncio.create_task(stop_while_sending())
            try:
                return await asyncio.wait_for(daemon.run_forever(), 120)
            finally:
                stopper.cancel()

        assert run_in_reactor(main) == 0
        took[0] = time.monotonic() - took[0]
        assert took[0] < 1 + 15, f"stopping took {took[0]:.1f}s with grace_period 1s"
        assert daemon.cut_off  # the CLI ends the process without the stuck thread
        (row,) = runs(app.store)
        assert (row.week, row.status, row.next_attempt_at) == (WEEK, "failed", DIGEST_NOW)
        # The stuck thread, let go, never hands the message over.
        handler.gate.set()
        for _ in range(600):
            if daemon.digests.guard.run_id is None:
                break
            time.sleep(0.05)
        assert slow.messages == []
        assert runs(app.store)[0].status == "failed"
    finally:
        slow.controller.stop()
    good = start_sink()
    try:
        config.digests[0].recipients = [good.url()]
        restarted = DIGEST_NOW + timedelta(minutes=2)
        results = DigestRunner(config, app.store, Clock(restarted)).run_due()
        assert [(r.status, r.week) for r in results] == [("sent", WEEK)]
        assert DigestRunner(config, app.store, Clock(restarted)).run_due() == []
        assert len(good.messages) == 1
    finally:
        good.controller.stop()
        app.close()


# -- signals, with the real command --------------------------------------------------


def write_config(tmp_path: Path, server: FixtureServer, receiver: Receiver,
                 grace: str = "2s", extra: str = "") -> Path:
    path = tmp_path / "monitor.toml"
    path.write_text(
        f'[store]\nurl = "sqlite:///{tmp_path / "sig.db"}"\n\n'
        f'[daemon]\njitter = 0\ngrace_period = "{grace}"\n\n'
        f'[notify]\nbackoff_initial = "1s"\nquick_retries = 1\nsend_timeout = "60s"\n{extra}\n'
        f'[brands.acme]\nname = "Acme"\nkeywords = ["acme"]\n\n'
        f'[channels.oncall]\nurls = ["{receiver.apprise_url}?rto=60"]\n\n'
        f'[[sources]]\nid = "acme"\nspider = "feed"\nurl = "{server.url("/acme.xml")}"\n'
        f'brand = "acme"\ninterval = "1h"\n',
        encoding="utf-8",
    )
    return path


def test_sigterm_with_a_hanging_channel_exits_within_the_grace_period(
        tmp_path: Path, server: FixtureServer, receiver: Receiver) -> None:
    """The channel takes the alert but never answers: SIGTERM still ends the daemon
    within the grace period (plus start-up slack), exit 0, the alert kept for next start."""
    server.set("/acme.xml", Reply(200, rss(sample_entries("g", 1))))

    def hang(request: Request) -> Reply:
        time.sleep(90)
        return Reply(200, b"{}")

    receiver.set("/hook", hang)
    config = write_config(tmp_path, server, receiver, grace="2s")
    daemon = subprocess.Popen([sys.executable, "-m", "monitor", "run", "--config", str(config)],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    try:
        deadline = time.monotonic() + 60
        while not receiver.hits["/hook"] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert receiver.hits["/hook"], "the alert never reached the channel"
        daemon.send_signal(signal.SIGTERM)
        stopped = time.monotonic()
        _out, err = daemon.communicate(timeout=60)
        took = time.monotonic() - stopped
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.communicate()
    assert daemon.returncode == 0, err
    assert "daemon_stopped" in err
    assert took < 2 + 6, f"took {took:.1f}s with grace_period 2s: {err}"
    assert Store(f"sqlite:///{tmp_path / 'sig.db'}").outbox_counts() == {"pending": 1}


def test_sigterm_during_a_slow_crawl_stores_what_it_fetched(
        tmp_path: Path, server: FixtureServer, receiver: Receiver) -> None:
    """Page 1 is in, page 2 hangs past the grace period: the crawl is stopped, but the
    mentions of page 1 are stored and their alerts queued, not dropped with the task."""
    def pages(request: Request) -> Reply:
        if "page=" in request.path and "page=1" not in request.path:
            time.sleep(60)
        return Reply(200, trustpilot_page(["r1", "r2", "r3"], pages=5),
                     {"Content-Type": "text/html"})

    server.set("/review/acme.example", pages)
    path = tmp_path / "monitor.toml"
    path.write_text(
        f'[store]\nurl = "sqlite:///{tmp_path / "slow.db"}"\n\n'
        f'[daemon]\njitter = 0\ngrace_period = "2s"\nautothrottle = false\n\n'
        f'[brands.acme]\nname = "Acme"\nkeywords = ["acme"]\n\n'
        f'[channels.oncall]\nurls = ["{receiver.apprise_url}"]\n\n'
        f'[[sources]]\nid = "tp"\nspider = "trustpilot"\n'
        f'url = "{server.url("/review/acme.example")}"\nbrand = "acme"\nobey_robots = false\n',
        encoding="utf-8")
    daemon = subprocess.Popen([sys.executable, "-m", "monitor", "run", "--config", str(path)],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    try:
        deadline = time.monotonic() + 60
        while server.hits["/review/acme.example"] < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        daemon.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        daemon.send_signal(signal.SIGTERM)  # a second signal changes nothing
        _out, err = daemon.communicate(timeout=60)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.communicate()
    assert daemon.returncode == 0, err
    assert "shutdown_abandoning_crawls" in err
    store = Store(f"sqlite:///{tmp_path / 'slow.db'}")
    assert store.mention_count() == 3, err
    assert sum(store.outbox_counts().values()) == 3



def test_tune_gc_collects_less_often_and_never_over_what_start_up_loaded() -> None:
    import gc

    from monitor.daemon import GC_YOUNG_THRESHOLD, tune_gc

    before = gc.get_threshold()
    try:
        tune_gc()
        assert (gc.get_threshold()[0], gc.get_freeze_count() > 0) == (GC_YOUNG_THRESHOLD, True)
        assert gc.get_threshold()[1:] == before[1:]
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_warm_up_loads_every_brand_and_language_lexicon_before_the_first_batch(
        tmp_path: Path) -> None:
    from monitor.core.learned import LearnedClassifier

    app = make_daemon(tmp_path, []).app
    try:
        app.warm_up()
        languages = set(app.config.classifier.languages)
        for classifier in app.classifiers.values():
            assert isinstance(classifier, LearnedClassifier)
            assert languages <= set(classifier.rules._compiled)
    finally:
        app.close()
