"""End to end through the real command: local feeds → run → apprise json:// receiver."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from feedgen import rss, sample_entries
from httpserver import FixtureServer, Receiver, Reply, Request

from monitor.store import Store

ROOT = Path(__file__).resolve().parents[1]


def write_config(tmp_path: Path, store_url: str, sources: list[tuple[str, str]],
                 receiver: Receiver, extra: str = "") -> Path:
    blocks = "".join(
        f'\n[[sources]]\nid = "{source_id}"\nspider = "feed"\nurl = "{url}"\nbrand = "acme"\n'
        f'interval = "1h"\n'
        for source_id, url in sources
    )
    path = tmp_path / "monitor.toml"
    path.write_text(
        f'[store]\nurl = "{store_url}"\n\n[daemon]\njitter = 0\ngrace_period = "10s"\n\n'
        f'[notify]\nbackoff_initial = "1s"\nquick_retries = 1\n{extra}\n'
        f'[brands.acme]\nname = "Acme"\nkeywords = ["acme"]\n\n'
        f'[channels.oncall]\nurls = ["{receiver.apprise_url}"]\n{blocks}',
        encoding="utf-8",
    )
    return path


def run_cli(*args: str, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args], cwd=ROOT, capture_output=True, text=True,
        timeout=timeout, env={**os.environ, **(env or {})},
    )


def keys(receiver: Receiver) -> list[str]:
    return sorted(line.removeprefix("ref: ") for message in receiver.messages
                  for line in message["message"].splitlines() if line.startswith("ref: "))


def test_once_stores_alerts_and_a_second_run_sends_nothing_new(
        tmp_path: Path, server: FixtureServer, receiver: Receiver, store_url: str) -> None:
    server.set("/acme.xml", Reply(200, rss(sample_entries("a", 3)),
                                  {"Content-Type": "application/rss+xml"}))
    config = write_config(tmp_path, store_url, [("acme-feed", server.url("/acme.xml"))], receiver)
    first = run_cli("run", "--config", str(config), "--once")
    assert first.returncode == 0, first.stderr
    assert len(receiver.messages) == 3
    assert all(message["title"].startswith("[") for message in receiver.messages)
    assert len(set(keys(receiver))) == 3
    second = run_cli("run", "--config", str(config), "--once", "--force")
    assert second.returncode == 0, second.stderr
    assert server.hits["/acme.xml"] == 2
    assert len(receiver.messages) == 3
    store = Store(store_url)
    assert store.mention_count() == 3
    assert store.outbox_counts() == {"sent": 3}


def test_alert_pending_at_a_crash_is_delivered_exactly_once_after_restart(
        tmp_path: Path, server: FixtureServer, receiver: Receiver) -> None:
    server.set("/acme.xml", Reply(200, rss(sample_entries("c", 2))))
    store_url = f"sqlite:///{tmp_path / 'crash.db'}"
    config = write_config(tmp_path, store_url, [("acme-feed", server.url("/acme.xml"))], receiver)
    crashed = run_cli("run", "--config", str(config), "--once",
                      env={"REVIEW_MONITOR_CRASH_AFTER_INGEST": "1"})
    assert crashed.returncode == 17
    assert receiver.messages == []
    assert Store(store_url).outbox_counts() == {"pending": 2}
    restarted = run_cli("run", "--config", str(config), "--once")
    assert restarted.returncode == 0, restarted.stderr
    assert len(receiver.messages) == 2
    again = run_cli("run", "--config", str(config), "--once", "--force")
    assert again.returncode == 0
    assert len(receiver.messages) == 2
    assert Store(store_url).outbox_counts() == {"sent": 2}


def test_once_exits_1_when_an_alert_goes_dead_in_that_run_only(
        tmp_path: Path, server: FixtureServer, receiver: Receiver) -> None:
    """An alert dead-lettered during a --once run is a failure cron must see (exit 1, one
    line saying how many and where to look); one dead before that run is not this run's."""
    server.set("/acme.xml", Reply(200, rss(sample_entries("x", 1))))
    receiver.failures_left = 100
    store_url = f"sqlite:///{tmp_path / 'dead.db'}"
    config = write_config(tmp_path, store_url, [("acme-feed", server.url("/acme.xml"))],
                          receiver, extra="max_attempts = 1\n")
    first = run_cli("run", "--config", str(config), "--once")
    assert first.returncode == 1, first.stderr
    assert "alert_dead" in first.stderr
    (line,) = [line for line in first.stderr.splitlines() if "once_alerts_dead" in line]
    assert "count=1: an alert could not be delivered" in line
    assert "status dead" in line
    assert "alerts_dead=1" in first.stderr
    assert "source_failed" not in first.stderr
    assert Store(store_url).outbox_counts()["dead"] == 1
    # Next run: the source is not due, the dead alert is old news.
    second = run_cli("run", "--config", str(config), "--once")
    assert second.returncode == 0, second.stderr
    assert "once_alerts_dead" not in second.stderr
    assert Store(store_url).outbox_counts()["dead"] == 1
    assert receiver.messages == []


def test_receiver_down_for_a_while_gets_the_alert_once_it_recovers(
        tmp_path: Path, server: FixtureServer, receiver: Receiver) -> None:
    server.set("/acme.xml", Reply(200, rss(sample_entries("d", 1))))
    receiver.failures_left = 3
    store_url = f"sqlite:///{tmp_path / 'down.db'}"
    config = write_config(tmp_path, store_url, [("acme-feed", server.url("/acme.xml"))], receiver)
    daemon = subprocess.Popen(
        [sys.executable, "-m", "monitor", "run", "--config", str(config)], cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not receiver.messages and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(receiver.messages) == 1
        assert receiver.failures_left == 0
    finally:
        daemon.send_signal(signal.SIGTERM)
        _out, err = daemon.communicate(timeout=30)
    assert daemon.returncode == 0, err
    assert "daemon_stopped" in err
    assert "alert_retry" in err
    assert len(receiver.messages) == 1


def test_conditional_get_304_ingests_nothing(
        tmp_path: Path, server: FixtureServer, receiver: Receiver) -> None:
    body = rss(sample_entries("e", 2))

    def conditional(request: Request) -> Reply:
        if request.headers.get("if-none-match") == '"v1"':
            return Reply(304)
        return Reply(200, body, {"ETag": '"v1"', "Last-Modified": "Mon, 23 Nov 2026 10:00:00 GMT"})

    server.set("/acme.xml", conditional)
    store_url = f"sqlite:///{tmp_path / 'cond.db'}"
    config = write_config(tmp_path, store_url, [("acme-feed", server.url("/acme.xml"))], receiver)
    assert run_cli("run", "--config", str(config), "--once").returncode == 0
    second = run_cli("run", "--config", str(config), "--once", "--force")
    assert second.returncode == 0, second.stderr
    feed_requests = [r for r in server.requests if r.path == "/acme.xml"]
    assert feed_requests[1].headers["if-none-match"] == '"v1"'
    assert feed_requests[1].headers["if-modified-since"] == "Mon, 23 Nov 2026 10:00:00 GMT"
    assert "status=not_modified items=0 new=0" in second.stderr
    state = Store(store_url).source_state("acme-feed")
    assert (state.last_status, state.etag) == ("not_modified", '"v1"')
    assert len(receiver.messages) == 2


def test_bad_sources_fail_alone_with_one_readable_line_each(
        tmp_path: Path, server: FixtureServer, receiver: Receiver) -> None:
    server.set("/good.xml", Reply(200, rss(sample_entries("g", 1))))
    server.set("/malformed.xml", Reply(200, b"<<< this is not <xml> at all &&&"))
    server.set("/page.html", Reply(200, b"<!doctype html><html><body><p>Welcome</p></body></html>",
                                   {"Content-Type": "text/html"}))
    server.set("/empty.xml", Reply(200, b""))
    server.set("/limited.xml", Reply(429, b"slow down", {"Retry-After": "3600"}))
    sources = [("good", "/good.xml"), ("malformed", "/malformed.xml"), ("html", "/page.html"),
               ("empty", "/empty.xml"), ("gone", "/missing.xml"), ("limited", "/limited.xml")]
    store_url = f"sqlite:///{tmp_path / 'bad.db'}"
    config = write_config(tmp_path, store_url,
                          [(source_id, server.url(path)) for source_id, path in sources], receiver)
    result = run_cli("run", "--config", str(config), "--once")
    assert result.returncode == 1
    assert len(receiver.messages) == 1 and "g-0" in receiver.messages[0]["message"]
    assert "Traceback" not in result.stderr
    expected = {
        "malformed": ("parse", "not a feed at"),
        "html": ("parse", "got an HTML page"),
        "empty": ("parse", "empty response"),
        "gone": ("fetch", "HTTP 404"),
        "limited": ("blocked", "HTTP 429"),
    }
    store = Store(store_url)
    for source_id, (reason, words) in expected.items():
        lines = [line for line in result.stderr.splitlines()
                 if f"source_failed source={source_id} " in line]
        assert len(lines) == 1, (source_id, result.stderr)
        assert f"reason={reason}" in lines[0] and words in lines[0]
        state = store.source_state(source_id)
        assert state.consecutive_failures == 1 and state.last_status == reason
        assert words in (state.last_error or "")
    limited = store.source_state("limited")
    assert limited.next_run_at is not None and limited.last_fetch_at is not None
    wait = (limited.next_run_at - limited.last_fetch_at).total_seconds()
    assert 3590 <= wait <= 3700
    assert store.source_state("good").last_status == "ok"


def test_db_upgrade_and_extract_commands(tmp_path: Path, server: FixtureServer,
                                         receiver: Receiver) -> None:
    store_url = f"sqlite:///{tmp_path / 'db.db'}"
    config = write_config(tmp_path, store_url, [], receiver)
    upgraded = run_cli("db", "upgrade", "--config", str(config))
    assert upgraded.returncode == 0 and "revision 0006" in upgraded.stdout
    feed = tmp_path / "feed.xml"
    feed.write_bytes(rss(sample_entries("x", 2)))
    extracted = run_cli("extract", "feed", str(feed), "--url", "https://example.com/feed.xml")
    assert extracted.returncode == 0
    lines = extracted.stdout.strip().splitlines()
    assert len(lines) == 2 and '"external_id": "x-0"' in lines[0]
    assert '"published": "2026-11-20T12:00:00Z"' in lines[0]
    page = tmp_path / "page.html"
    page.write_text("<html><body>hello</body></html>")
    failed = run_cli("extract", "feed", str(page), "--url", "https://example.com/",
                     "--header", "Content-Type: text/html")
    assert failed.returncode == 1
    assert failed.stderr.strip().splitlines() == [
        f"error: {page}: parse: not a feed at https://example.com/: got an HTML page"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_the_daemon_cleanly(tmp_path: Path, server: FixtureServer,
                                         receiver: Receiver, signum: int) -> None:
    server.set("/acme.xml", Reply(200, rss(sample_entries("s", 1))))
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 's.db'}",
                          [("acme-feed", server.url("/acme.xml"))], receiver)
    daemon = subprocess.Popen([sys.executable, "-m", "monitor", "run", "--config", str(config)],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not receiver.messages and time.monotonic() < deadline:
        time.sleep(0.2)
    daemon.send_signal(signum)
    _out, err = daemon.communicate(timeout=30)
    assert daemon.returncode == 0, err
    assert "daemon_stopped" in err
