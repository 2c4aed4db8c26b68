"""Bad input from a demanding user: every problem is one readable line (config:
'FILE: key.path: what is wrong', exit 2), no traceback, and the rest of the work goes on."""

from __future__ import annotations

from pathlib import Path

import pytest
from feedgen import rss, sample_entries
from httpserver import FixtureServer, Reply

from monitor.app import make_app
from monitor.cli import main
from monitor.config import parse_config
from monitor.daemon import Daemon, run_in_reactor


def check(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    path = tmp_path / "monitor.toml"
    path.write_text(text, encoding="utf-8")
    code = main(["check-config", str(path)])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    return code, captured.err


SOURCE = '[[sources]]\nid = "a"\nspider = "feed"\nurl = "https://example.com/feed"\n'


@pytest.mark.parametrize(("written", "expected"), [
    ("[1]", "sources[0].interval: expected a duration such as '15m', got list"),
    ("{ m = 5 }", "sources[0].interval: expected a duration such as '15m', got dict"),
    ("1e30", "sources[0].interval: '1e+30' is too long a duration; at most 100 years"),
    ('"99999999999d"', "sources[0].interval: '99999999999d' is too long a duration"),
    ("nan", "sources[0].interval: 'nan' is not a duration"),
])
def test_a_duration_of_the_wrong_type_or_size_is_a_config_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], written: str, expected: str) -> None:
    # An array, a table or a huge number used to escape as AttributeError/OverflowError.
    code, err = check(tmp_path, SOURCE + f"interval = {written}\n", capsys)
    assert code == 2
    assert f"monitor.toml: {expected}" in err
    assert len(err.strip().splitlines()) == 1


def test_an_apprise_url_that_does_not_parse_is_reported_without_its_secret(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # apprise logged "Could not load Slack URL: slack://T0KEN" (the whole URL) at ERROR.
    code, err = check(tmp_path, """
[channels.chat]
urls = ["slak://xoxb-SECRET1/care", "slack://SECRET2", "json://user:SECRET3@"]
[members.ada]
urls = ["slack://SECRET4"]
[[routes]]
targets = ["slack://SECRET5"]
""", capsys)
    assert code == 2
    assert "SECRET" not in err
    assert err.strip().splitlines() == [
        f"{tmp_path / 'monitor.toml'}: channels.chat.urls[0]: apprise does not understand a "
        "'slak://' URL",
        f"{tmp_path / 'monitor.toml'}: channels.chat.urls[1]: apprise does not understand a "
        "'slack://' URL",
        f"{tmp_path / 'monitor.toml'}: channels.chat.urls[2]: apprise does not understand a "
        "'json://' URL",
        f"{tmp_path / 'monitor.toml'}: members.ada.urls[0]: apprise does not understand this URL",
        f"{tmp_path / 'monitor.toml'}: routes[0].targets: apprise does not understand a URL "
        "there",
    ]


def make_daemon(tmp_path: Path, sources: dict[str, str], **daemon: object) -> Daemon:
    config = parse_config({
        "store": {"url": f"sqlite:///{tmp_path / 'crawl.db'}"},
        "daemon": {"autothrottle": False, **daemon},
        "brands": {"acme": {"keywords": ["acme"]}},
        "sources": [{"id": source_id, "spider": "feed", "url": url, "brand": "acme",
                     "obey_robots": False} for source_id, url in sources.items()],
    }, tmp_path / "c.toml")
    return Daemon(make_app(config))


def test_a_moved_feed_is_followed_and_a_redirect_loop_is_named(
        tmp_path: Path, server: FixtureServer) -> None:
    # Redirects were never followed: a feed moved to a new address (or http -> https)
    # failed every run as "empty response" or "not a feed: got an HTML page".
    server.set("/new.xml", Reply(200, rss(sample_entries("moved", 2))))
    server.set("/old.xml", Reply(301, b"<html>Moved</html>",
                                 {"Location": "/new.xml", "Content-Type": "text/html"}))
    server.set("/loop-a", Reply(302, b"", {"Location": "/loop-b"}))
    server.set("/loop-b", Reply(302, b"", {"Location": "/loop-a"}))
    daemon = make_daemon(tmp_path, {"moved": server.url("/old.xml"),
                                    "loop": server.url("/loop-a")})
    runs = {run.source_id: run for run in run_in_reactor(lambda: daemon.crawl_due(force=True))}
    assert runs["moved"].status == "ok" and runs["moved"].ingest.new == 2
    assert runs["loop"].status == "fetch"
    assert str(runs["loop"].error) == (f"source loop: could not fetch {server.url('/loop-a')}: "
                                       "max redirections reached")


def test_a_huge_response_is_refused_and_the_other_sources_go_on(
        tmp_path: Path, server: FixtureServer, monkeypatch: pytest.MonkeyPatch) -> None:
    # Scrapy's default limit is 1 GB: a 100 MB "feed" was parsed in the event loop for
    # minutes, holding every other source, their timeouts and the alerts.
    import monitor.crawl

    assert monitor.crawl.MAX_RESPONSE_BYTES <= 32 * 1024 * 1024
    monkeypatch.setattr(monitor.crawl, "MAX_RESPONSE_BYTES", 100_000)
    item = b"<item><title>acme is bad</title><description>acme</description></item>"
    server.set("/huge.xml", Reply(200, b"<rss><channel>" + item * 3000 + b"</channel></rss>"))
    server.set("/good.xml", Reply(200, rss(sample_entries("good", 2))))
    daemon = make_daemon(tmp_path, {"huge": server.url("/huge.xml"),
                                    "good": server.url("/good.xml")})
    runs = {run.source_id: run for run in run_in_reactor(lambda: daemon.crawl_due(force=True))}
    assert runs["good"].status == "ok" and runs["good"].ingest.new == 2
    assert runs["huge"].status == "fetch" and runs["huge"].ingest.new == 0
    assert "larger than download max size (100000)" in str(runs["huge"].error)


def test_zero_waits_and_windows_are_config_errors_not_a_crash_at_start(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # lifecycle windows of 0s passed check-config and then stopped `run` with a
    # ValueError traceback; 0s send_timeout/backoff failed or burnt every alert attempt
    # at once and retried a failing site at every tick.
    code, err = check(tmp_path, """
[daemon]
backoff_max = "0s"
[notify]
send_timeout = "0s"
backoff_initial = "0s"
[lifecycle]
incident_window = "0s"
incident_quiet = "0s"
""", capsys)
    assert code == 2
    path = tmp_path / "monitor.toml"
    assert err.strip().splitlines() == [
        f"{path}: daemon.backoff_max: must be longer than 0s",
        f"{path}: notify.backoff_initial: must be longer than 0s",
        f"{path}: notify.send_timeout: must be longer than 0s",
        f"{path}: lifecycle.incident_window: must be longer than 0s",
        f"{path}: lifecycle.incident_quiet: must be longer than 0s",
    ]
    code, err = check(tmp_path, '[lifecycle]\nspike_bucket = "1h"\nspike_baseline = "30m"\n',
                      capsys)
    assert code == 2
    assert err.strip() == f"{path}: lifecycle: spike_baseline must be at least one " \
                          "spike_bucket long"
    path.write_text('[store]\nurl = "sqlite:///m.db"\n[lifecycle]\nspike_bucket = "1h"\n'
                    'spike_baseline = "30m"\n')
    assert main(["run", "--once", "-c", str(path)]) == 2
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "expected"), [
    (["ack", "424242"], "error: no alert 424242 in the store"),
    (["oncall", "--at", "yesterday"], "error: --at 'yesterday' is not an ISO 8601 date-time"),
    (["routes", "test", "--severity", "high", "--at", "2026-13-01"],
     "error: --at '2026-13-01' is not an ISO 8601 date-time"),
])
def test_a_wrong_argument_is_one_line_and_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
        expected: str) -> None:
    # These exited 1, the code of a failed run, not of a usage problem.
    path = tmp_path / "monitor.toml"
    path.write_text('[store]\nurl = "sqlite:///m.db"\n[members.ada]\nurls = ["json://127.0.0.1:9"]\n'
                    '[oncall.primary]\nmembers = ["ada"]\n')
    main(["db", "upgrade", "-c", str(path)])
    capsys.readouterr()
    code = None
    try:
        code = main([*argv, "-c", str(path)])
    except SystemExit as exit_:
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip() == expected


@pytest.mark.parametrize(("content", "expected"), [
    (b'{"text": "Acme is broken", "label": "complaint"}\n{not json\n',
     "data.jsonl:2: not JSON: Expecting property name enclosed in double quotes at column 2"),
    (b'{"text": "Acme is broken", "label": "complaint"}\n\xff\xfe\n',
     "data.jsonl:2: not UTF-8 text"),
])
def test_classify_eval_names_the_file_and_line_of_a_malformed_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes,
        expected: str) -> None:
    # json's and the codec's messages named neither ("Expecting property name ...:
    # line 1 column 2", "'utf-8' codec can't decode byte 0xff in position 0").
    path = tmp_path / "data.jsonl"
    path.write_bytes(content)
    assert main(["classify", "--eval", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"review-monitor classify --eval: {tmp_path / expected}"


def test_classify_eval_reads_a_file_that_starts_with_a_bom(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "data.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"text": "Acme is broken, refund!", "label": "complaint"}\r\n')
    assert main(["classify", "--eval", str(path)]) == 0
    assert "items: 1" in capsys.readouterr().out


def test_channel_and_digest_problems_are_reported_together(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The digests' recipients were checked only once every channel URL was right.
    code, err = check(tmp_path, """
[channels.chat]
urls = ["nosuchservice://x"]
[[digests]]
name = "weekly"
recipients = ["ftp://x"]
""", capsys)
    path = tmp_path / "monitor.toml"
    assert code == 2
    assert err.strip().splitlines() == [
        f"{path}: channels.chat.urls[0]: apprise does not understand a 'nosuchservice://' URL",
        f"{path}: digests[0].recipients[0]: use a mailto:// or mailtos:// URL or an e-mail "
        "address",
    ]
