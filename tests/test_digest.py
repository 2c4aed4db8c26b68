"""The weekly digest end to end: a constructed week checked number by number (SQLite and
PostgreSQL), real SMTP through aiosmtpd, the HTML rendered in headless Chromium, a quiet
and a very busy week, no double send across a restart, a missed run sent on return."""

from __future__ import annotations

import asyncio
import email
import os
import random
import re
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from digest_week import END, NOW, WEEK, S, digest_config, h, mention, seed_week
from sqlalchemy import select

from monitor.config import Config, WebConfig
from monitor.core.digest import IsoWeek
from monitor.digest import DigestRunner, Scope, build_digest, render
from monitor.digest.cli import run as digest_cli_run
from monitor.digest.runner import LEASE
from monitor.digest.send import SmtpTarget, send_message, smtp_targets
from monitor.errors import ConfigError
from monitor.store import Mention, Store
from monitor.store.models import DigestRun, SourceEvent

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
IN_CI = os.environ.get("CI", "").lower() == "true"


# -- an SMTP server that keeps what it receives ------------------------------------------


@dataclass
class Captured:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class SmtpSink:
    port: int
    messages: list[Captured] = field(default_factory=list)
    controller: Any = None

    def url(self, to: str = "lead@example.com,ops@example.com") -> str:
        return f"mailto://127.0.0.1:{self.port}?to={to}&from=Digest%20%3Cdigest@example.com%3E"


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(message, EmailMessage)
        self.sink.messages.append(Captured(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_sink(port: int | None = None, login: tuple[str, str] | None = None) -> SmtpSink:
    """An SMTP server on 127.0.0.1; with ``login``, one that wants AUTH (over plain TCP,
    which only a test may allow)."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    sink = SmtpSink(port or _free_port())
    options: dict[str, Any] = {}
    if login is not None:
        def authenticator(server: Any, session: Any, envelope: Any, mechanism: str,
                          data: Any) -> AuthResult:
            ok = isinstance(data, LoginPassword) and \
                (data.login.decode(), data.password.decode()) == login
            return AuthResult(success=ok, handled=False)

        options = {"authenticator": authenticator, "auth_required": True,
                   "auth_require_tls": False}
    sink.controller = Controller(_Handler(sink), hostname="127.0.0.1", port=sink.port,
                                 **options)
    sink.controller.start()
    return sink


class _GatedHandler(_Handler):
    """Holds the SMTP conversation at one command (RCPT: before the message; DATA: the
    server has read all of it, final "." included) until ``gate`` opens."""

    def __init__(self, sink: SmtpSink, stage: str) -> None:
        super().__init__(sink)
        self.stage = stage
        self.reached = threading.Event()
        self.gate = threading.Event()

    async def _hold(self) -> None:
        self.reached.set()
        while not self.gate.is_set():
            await asyncio.sleep(0.05)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if self.stage == "RCPT":
            await self._hold()
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.stage == "DATA":
            await self._hold()
        return await super().handle_DATA(server, session, envelope)


def start_gated_sink(stage: str) -> tuple[SmtpSink, _GatedHandler]:
    from aiosmtpd.controller import Controller

    sink = SmtpSink(_free_port())
    handler = _GatedHandler(sink, stage)
    sink.controller = Controller(handler, hostname="127.0.0.1", port=sink.port)
    sink.controller.start()
    return sink, handler


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = start_sink()
    yield sink
    sink.controller.stop()


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def seeded(store_url: str, **kwargs: Any) -> tuple[Config, Store, dict[str, int]]:
    config = digest_config(store_url, **kwargs)
    store = Store(config.store.url)
    store.upgrade()
    return config, store, seed_week(store)


def runs(store: Store) -> list[DigestRun]:
    with store.session() as session:
        return list(session.execute(select(DigestRun)).scalars().all())


# -- the numbers ---------------------------------------------------------------------------


def test_constructed_week_number_by_number(store_url: str) -> None:
    config, store, ids = seeded(store_url)
    digest = build_digest(store, config, config.digests[0], IsoWeek.parse(WEEK), NOW)

    assert (digest.start, digest.end) == (S, END)
    # Volume: m1-m9, m13, m14 (not m10 other brand, m11 old history, m12 the brand's reply).
    # The week before: p1, p2, p3 and x1 (removed later, but it was posted).
    assert (digest.mentions.current, digest.mentions.previous) == (11, 4)
    # m8 was triaged "not a complaint".
    assert (digest.complaints.current, digest.complaints.previous) == (8, 3)
    assert [(t.key, t.current, t.previous) for t in digest.by_source] == [
        ("tp", 5, 3), ("reddit", 5, 1), ("news", 1, 0)]
    assert [(t.key, t.current, t.previous) for t in digest.by_language] == [
        ("en", 7, 4), ("de", 3, 0), ("ru", 1, 0)]
    assert [(t.key, t.current, t.previous) for t in digest.by_severity] == [
        ("critical", 1, 0), ("high", 1, 0), ("normal", 5, 3), ("low", 1, 0)]
    assert digest.per_day == [
        ("Mon 16", 2, 1, 2), ("Tue 17", 2, 2, 1), ("Wed 18", 2, 2, 0), ("Thu 19", 3, 2, 0),
        ("Fri 20", 1, 0, 1), ("Sat 21", 0, 0, 0), ("Sun 22", 1, 1, 0)]
    assert digest.history_found == 1

    # Response: replies 2, 6, 1 and 10 h after first seen, each posted 30 min before it
    # was seen: 2.5, 6.5, 1.5, 10.5 h from the post (the customer's wait, as
    # monitor.replies.time_to_first_reply); the week before 4.5 and 12.5 h.
    response = digest.response
    assert (response.replied, response.unreplied) == (4, 4)
    assert response.reply_hours == [1.5, 2.5, 6.5, 10.5]
    assert response.median_hours == pytest.approx(4.5)
    assert response.p90_hours == pytest.approx(9.3)  # 6.5 + 0.7 × 4
    assert response.previous_median_hours == pytest.approx(8.5)
    assert response.previous_p90_hours == pytest.approx(11.7)  # 4.5 + 0.9 × 8
    assert (response.sla.within, response.sla.breached, response.sla.pending) == (2, 2, 1)
    assert response.sla.share_within == pytest.approx(0.5)
    assert (response.previous_sla.within, response.previous_sla.breached) == (1, 1)
    assert response.buckets == [("< 1 h", 0), ("1-4 h", 2), ("4-12 h", 2), ("12-24 h", 0),
                                ("1-3 d", 0), ("> 3 d", 0)]
    assert [(b.id, b.note) for b in response.breaches] == [
        (ids["m3"], "5.1 d past the deadline, still no reply"),
        (ids["m2"], "2 h past the deadline")]

    # Still open, oldest first: o1, m11, m3, m13, m14, m7 (x1 removed, m8 not a complaint).
    assert digest.open_total == 6
    assert [m.id for m in digest.open_oldest] == [ids[n] for n in
                                                 ("o1", "m11", "m3", "m13", "m14", "m7")]
    assert digest.open_oldest[-1].note == "waiting 26 h"
    assert digest.follow_up_total == 1
    (thread,) = digest.follow_ups
    assert (thread.author, thread.source_id, thread.unanswered) == ("hans", "reddit", 2)
    with store.session() as session:
        assert thread.url == session.get(Mention, ids["m14"]).url  # type: ignore[union-attr]

    # Quality: 3 of 4 replies were the template (week before 1 of 2).
    assert (digest.replies.current, digest.replies.previous) == (4, 2)
    assert (digest.template_replies.current, digest.template_replies.previous) == (3, 1)
    assert digest.template_rate == pytest.approx(0.75)
    assert digest.previous_template_rate == pytest.approx(0.5)
    assert [(e.uses, e.body[:5]) for e in digest.template_examples] == [(3, "Sorry")]
    assert digest.outcomes_total == 1
    assert [(o.id, o.note) for o in digest.outcomes] == [
        (ids["m1"], "rating raised 1 → 4 after reply")]

    # Incidents overlapping the week, of acme only.
    assert digest.incidents_total == 2
    assert [(i.cause, i.mentions) for i in digest.incidents] == [("spike", 14), ("cluster", 3)]

    # Coverage: longest gap first; yelp said nothing all week and has no health record.
    assert [(g.source_id, g.status, g.hours, g.ongoing, g.mentions) for g in digest.coverage] \
        == [("gp", "blocked", 168.0, True, 0), ("news", "silent", 8.0, True, 1),
            ("tp", "blocked", 6.0, False, 5), ("reddit", "failing", 3.0, False, 5)]
    assert digest.coverage[0].sentence == ("gp blocked the whole week (still now): zero "
                                           "mentions there may mean no coverage, not no "
                                           "complaints.")
    assert digest.silent_sources == ["yelp"]

    assert [(t.phrase, t.mentions) for t in digest.themes] == [
        ("late delivery", 3), ("lieferung verspätet", 3)]
    assert digest.theme_sample == 8
    assert not digest.quiet


def test_render_escapes_review_text_and_states_the_numbers(tmp_path: Path) -> None:
    config, store, ids = seeded(f"sqlite:///{tmp_path / 's.db'}")
    digest = build_digest(store, config, config.digests[0], IsoWeek.parse(WEEK), NOW)
    rendered = render(digest, "[Acme]")
    assert rendered.subject == ("[Acme] Acme, week 47: 8 complaints (+5), median reply 4.5 h, "
                                "6 still open, coverage gaps: gp, news, reddit…")
    html = rendered.html
    # m3's body is "<b>and</b> ... <script>x</script>": never markup in the e-mail.
    assert "<script>" not in html and "&lt;script&gt;" not in html  # the title is shown
    for needle in ('<meta name="color-scheme" content="light dark">',
                   "prefers-color-scheme: dark", 'src="cid:volume@review-monitor.digest"',
                   'src="cid:replies@review-monitor.digest"',
                   "gp blocked the whole week (still now)", "Lieferung verspätet",
                   "rating raised 1 → 4 after reply", "75%", "(used 3×)",
                   "https://reviews.example/tp/"):
        assert needle in html, needle
    assert set(rendered.images) == {"volume", "replies"}
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") for png in rendered.images.values())
    text = rendered.text
    for needle in ("Median first reply: 4.5 h (90th percentile 9.3 h)",
                   "Within reply target: 50% (2 late; week before 50%)",
                   "6 complaints without a public reply, oldest first:",
                   "hans on reddit: 2 unanswered follow-ups",
                   "3 of 4 public replies were templates (75%; week before 50%).",
                   "- late delivery: 3", "No mentions all week from: yelp.",
                   # Wording found unclear in review: what the list is, what counts mean.
                   "Past the reply deadline (answered late or not at all), worst first:",
                   "Mentions per day: Mon 16: 2, Tue 17: 2,",
                   "tp blocked for 6 h: 5 mentions arrived this week; some posted while it "
                   "was blocked may have been missed."):
        assert needle in text, needle
    assert "<" not in text.replace("< 1 h", "")
    # A review whose title holds markup is escaped in the HTML, kept as text in the text part.
    with store.session() as session:
        session.add(mention("tp", h(70), title='<img src=x onerror="alert(1)">Evil & co'))
    evil = render(build_digest(store, config, config.digests[0], IsoWeek.parse(WEEK), NOW))
    assert '<img src=x onerror="alert(1)">' not in evil.html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;Evil &amp; co" in evil.html
    assert '<img src=x onerror="alert(1)">Evil & co' in evil.text
    # Line breaks in review text cannot fake a section of the text part.
    with store.session() as session:
        session.add(mention("tp", h(72), title="Fine\n\nSTILL OPEN\n- nothing, all done",
                            author="Bob\r\nREPLY QUALITY"))
    faked = render(build_digest(store, config, config.digests[0], IsoWeek.parse(WEEK), NOW),
                   charts=False).text
    lines = faked.splitlines()
    assert lines.count("STILL OPEN") == 1 and lines.count("REPLY QUALITY") == 1
    assert "- nothing, all done" not in lines
    assert "- Fine STILL OPEN - nothing, all done [tp, Bob REPLY QUALITY, normal]" in faked
    # A link with a line break is not printed (it would start a fake line of the text).
    with store.session() as session:
        session.add(mention("tp", h(73), title="bad link",
                            url="https://x.example/\n\nREPLY QUALITY\n- forged"))
    text = render(build_digest(store, config, config.digests[0], IsoWeek.parse(WEEK), NOW),
                  charts=False).text
    assert any(line.startswith("- bad link [tp, normal] waiting") for line in text.splitlines())
    assert "- forged" not in text.splitlines() and "https://x.example/" not in text
    # Only http(s) review links become hrefs.
    with store.session() as session:
        session.add(mention("tp", h(71), title="js link", url="javascript:alert(1)"))
    assert 'href="javascript:' not in render(build_digest(
        store, config, config.digests[0], IsoWeek.parse(WEEK), NOW), charts=False).html
    # With [web], every listed complaint links to the inbox too.
    assert "/mentions/" not in rendered.html
    config.web = WebConfig(base_url="https://care.example.com/")
    with_inbox = render(build_digest(store, config, config.digests[0], IsoWeek.parse(WEEK), NOW),
                        charts=False)
    assert f'href="https://care.example.com/mentions/{ids["m3"]}"' in with_inbox.html
    assert f"inbox: https://care.example.com/mentions/{ids['o1']}" in with_inbox.text


def test_quiet_week_says_so(store_url: str) -> None:
    config = digest_config(store_url)
    store = Store(config.store.url)
    store.upgrade()
    with store.session() as session:  # only another brand spoke
        session.add(mention("other-tp", h(10), brand="other"))
    digest = build_digest(store, config, config.digests[0], IsoWeek.parse(WEEK), NOW)
    assert digest.quiet and digest.mentions.current == 0 and digest.open_total == 0
    assert digest.response.median_hours is None and digest.themes == []
    rendered = render(digest, "[Acme]")
    assert rendered.subject == "[Acme] Acme, week 47: a quiet week"
    assert "A quiet week: no mentions of Acme arrived." in rendered.html
    assert "No mentions all week from: tp, gp, yelp, reddit, news." in rendered.text
    assert rendered.images == {}
    assert "cid:" not in rendered.html
    assert "Every complaint has a public reply or is closed." in rendered.text


def test_busy_week_of_10000_mentions_stays_readable(store_url: str, tmp_path: Path) -> None:
    config = digest_config(store_url)
    store = Store(config.store.url)
    store.upgrade()
    rng = random.Random(7)
    sources = [f"site-{n:02d}" for n in range(30)]
    languages = ["en", "de", "fr", "es", "nb", "ru", "ro", "et", "ja", "pl", "it", "nl"]
    words = ["late delivery", "refund", "broken screen", "rude staff", "app crashes",
             "login fails", "wrong size", "never arrived", "charged twice", "slow support"]
    rows: list[dict[str, Any]] = []
    expected_complaints = 0
    for n in range(10_000):
        seen = S + timedelta(seconds=rng.randrange(7 * 24 * 3600))
        kind = "complaint" if n % 3 else "praise"
        expected_complaints += kind == "complaint"
        replied = seen + timedelta(minutes=rng.randrange(1, 3000)) if n % 2 else None
        rows.append({
            "dedupe_key": f"busy:{n}", "source_id": rng.choice(sources), "spider": "feed",
            "brand": "acme", "content_hash": f"{n:064d}", "kind": kind,
            "severity": rng.choice(["critical", "high", "normal", "low"]),
            "language": rng.choice(languages), "first_seen_at": seen, "last_seen_at": seen,
            "published_at": seen, "title": rng.choice(words),
            "body": f"{rng.choice(words)} and {rng.choice(words)} #{n}",
            "url": f"https://reviews.example/busy/{n}", "status": "open",
            "first_reply_at": replied, "sla_due_at": seen + timedelta(hours=8),
            "sla_stage": 0, "revisions": 0, "score": 0.0, "removed": False,
        })
    with store.session() as session:
        session.execute(Mention.__table__.insert(), rows)  # type: ignore[attr-defined]
    digest = build_digest(store, config, config.digests[0], IsoWeek.parse(WEEK), NOW)
    assert digest.mentions.current == 10_000
    assert digest.complaints.current == expected_complaints
    assert sum(day[1] for day in digest.per_day) == 10_000
    # Top 10 sources and languages, the rest folded into one row that keeps the total.
    assert len(digest.by_source) == 10 and digest.by_source_other is not None
    assert digest.by_source_other.key == "other (20 more)"
    assert sum(t.current for t in digest.by_source) + digest.by_source_other.current == 10_000
    assert len(digest.by_language) == 10 and digest.by_language_other is not None
    assert len(digest.open_oldest) == 10 and digest.open_total > 3000
    assert len(digest.themes) == 10 and digest.theme_sample == min(5000, expected_complaints)
    assert digest.themes[0].mentions > 500
    rendered = render(digest, "[Acme]")
    assert len(rendered.html) < 120_000  # top-N lists, not ten thousand rows
    assert rendered.html.count("https://reviews.example/busy/") <= 40
    assert "other (20 more)" in rendered.text
    if store_url.startswith("sqlite"):  # the same e-mail on both backends: one screenshot
        path = tmp_path / "busy.html"
        path.write_text(rendered.preview_html(), encoding="utf-8")
        _screenshot(path, "digest-busy-week.png")


# -- sending -------------------------------------------------------------------------------


def test_smtp_capture_multipart_alternative_with_inline_images(
        store_url: str, smtp: SmtpSink) -> None:
    config, store, _ids = seeded(store_url, recipients=[smtp.url(), "boss@example.com"],
                                 smtp={"host": "127.0.0.1", "port": smtp.port, "tls": "none",
                                       "from": "Acme digest <digest@acme.example>"})
    runner = DigestRunner(config, store, Clock(NOW))
    assert [(r.status, r.week, r.recipients) for r in runner.run_due()] == [("sent", WEEK, 3)]
    assert len(smtp.messages) == 2  # one per server entry: the mailto URL and [smtp]
    first, second = smtp.messages
    assert (first.mail_from, sorted(first.rcpt_tos)) == (
        "digest@example.com", ["lead@example.com", "ops@example.com"])
    assert (second.mail_from, second.rcpt_tos) == ("digest@acme.example", ["boss@example.com"])
    message = first.message
    assert message["Subject"].startswith("[Acme] Acme, week 47: 8 complaints")
    assert message["To"] == "lead@example.com, ops@example.com"
    assert message["From"] == "Digest <digest@example.com>"
    assert message["Message-ID"] == "<digest.acme-weekly.2026-W47@example.com>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    text_part, related = message.get_payload()  # type: ignore[misc]
    assert text_part.get_content_type() == "text/plain"
    assert "Median first reply: 4.5 h" in text_part.get_content()
    assert related.get_content_type() == "multipart/related"
    html_part, *images = related.get_payload()
    assert html_part.get_content_type() == "text/html"
    html = html_part.get_content()
    assert {image.get_content_type() for image in images} == {"image/png"}
    for image in images:
        cid = image["Content-ID"].strip("<>")
        assert f'src="cid:{cid}"' in html
        assert image.get_content_disposition() == "inline"
        assert image.get_content().startswith(b"\x89PNG")
    assert len(images) == 2
    (row,) = runs(store)
    assert (row.status, row.week, row.scope, row.recipients, row.attempts) == (
        "sent", WEEK, "acme-weekly", 3, 1)
    assert row.sent_at == NOW and len(row.delivered or []) == 2


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_smtp_login_from_the_mailto_url(store_url: str) -> None:
    sink = start_sink(login=("digest", "s3cret"))
    try:
        good = f"mailto://digest:s3cret@127.0.0.1:{sink.port}?to=lead@example.com&from=d@example.com"
        bad = good.replace("s3cret", "wrong")
        config, store, _ids = seeded(store_url, recipients=[bad])
        results = DigestRunner(config, store, Clock(NOW)).run_due()
        assert [(r.status, r.error) for r in results] == [
            ("failed", f"SMTP 127.0.0.1:{sink.port}: login refused (535)")]
        assert "wrong" not in (runs(store)[0].error or "") and sink.messages == []
        config.digests[0].recipients = [good]
        results = DigestRunner(config, store, Clock(NOW + timedelta(minutes=15))).run_due()
        assert [r.status for r in results] == ["sent"]
        assert [m.rcpt_tos for m in sink.messages] == [["lead@example.com"]]
    finally:
        sink.controller.stop()


def test_no_double_send_across_a_restart(store_url: str, smtp: SmtpSink) -> None:
    config, store, _ids = seeded(store_url, recipients=[smtp.url()])
    assert [r.status for r in DigestRunner(config, store, Clock(NOW)).run_due()] == ["sent"]
    # A new process (same store) a minute later, and a day later: nothing more goes out.
    for later in (timedelta(minutes=1), timedelta(days=1), timedelta(days=6)):
        assert DigestRunner(config, store, Clock(NOW + later)).run_due() == []
    assert len(smtp.messages) == 1
    # Next Monday the next week goes out, once.
    next_monday = NOW + timedelta(days=7)
    assert [(r.status, r.week) for r in DigestRunner(config, store, Clock(next_monday))
            .run_due()] == [("sent", "2026-W48")]
    assert DigestRunner(config, store, Clock(next_monday)).run_due() == []
    assert len(smtp.messages) == 2
    assert [(r.week, r.status) for r in sorted(runs(store), key=lambda r: r.week)] == [
        ("2026-W47", "sent"), ("2026-W48", "sent")]


class ProcessDied(BaseException):
    """Stands for the process being killed: nothing in the runner may catch it."""


def test_crash_mid_send_is_not_sent_twice(store_url: str, smtp: SmtpSink,
                                          tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                          ) -> None:
    config, store, _ids = seeded(store_url, recipients=[smtp.url()])

    def send_then_die(message: EmailMessage, target: SmtpTarget) -> int:
        send_message(message, target)  # the server took it ...
        raise ProcessDied  # ... and the process died before recording that

    with pytest.raises(ProcessDied):
        DigestRunner(config, store, Clock(NOW), send=send_then_die).run_due()
    assert len(smtp.messages) == 1
    assert [r.status for r in runs(store)] == ["sending"]
    # Restarted within the lease: another process may still be sending; leave it.
    assert DigestRunner(config, store, Clock(NOW + timedelta(minutes=2))).run_due() == []
    # After the lease: marked interrupted, never re-sent on its own.
    later = NOW + LEASE + timedelta(minutes=1)
    results = DigestRunner(config, store, Clock(later)).run_due()
    assert [r.status for r in results] == ["interrupted"]
    assert "--resend" in (results[0].error or "")
    assert DigestRunner(config, store, Clock(later + timedelta(hours=1))).run_due() == []
    assert len(smtp.messages) == 1
    (row,) = runs(store)
    assert row.status == "interrupted"
    # The operator decides: --send refuses, --send --resend sends it once more.
    config_path = _write_config(tmp_path, store_url, [smtp.url()])
    assert _cli(config_path, "--send") == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        "digest acme-weekly 2026-W47: the last send was interrupted and may have been "
        "delivered; add --resend to send it again")
    assert _cli(config_path, "--send", "--resend") == 0
    assert "sent to 2 recipients" in capsys.readouterr().out
    assert len(smtp.messages) == 2
    assert [r.status for r in runs(store)] == ["sent"]


def test_stopped_before_the_server_took_it_is_sent_once_at_the_next_start(
        store_url: str, smtp: SmtpSink) -> None:
    """Shutdown's grace period ends while the server is still at RCPT: the runner is
    stopped, the row is due again at once, and when the server moves on the stuck thread
    ends the connection before the final "." (nothing delivered). The next start sends it
    once."""
    slow, handler = start_gated_sink("RCPT")
    try:
        config, store, _ids = seeded(store_url, recipients=[slow.url()])
        runner = DigestRunner(config, store, Clock(NOW))
        with ThreadPoolExecutor(1) as pool:
            sending = pool.submit(runner.run_due)
            assert handler.reached.wait(60), "the digest never reached the server"
            assert [r.status for r in runs(store)] == ["sending"]
            runner.stop()  # the daemon's grace period is over
            (row,) = runs(store)
            assert (row.status, row.next_attempt_at) == ("failed", NOW)
            assert "sent at the next start" in (row.error or "")
            handler.gate.set()  # the server answers RCPT: the thread goes on to DATA
            results = sending.result(timeout=60)
        assert [(r.status, r.week) for r in results] == [("stopped", WEEK)]
        assert slow.messages == []  # the connection ended before the final "."
        (row,) = runs(store)
        assert (row.status, row.next_attempt_at) == ("failed", NOW)
        assert runner.run_due() == []  # a stopped runner starts nothing new
    finally:
        slow.controller.stop()
    config.digests[0].recipients = [smtp.url()]
    restarted = NOW + timedelta(minutes=1)
    assert [r.status for r in DigestRunner(config, store, Clock(restarted)).run_due()] \
        == ["sent"]
    assert DigestRunner(config, store, Clock(restarted)).run_due() == []
    assert len(smtp.messages) == 1
    (row,) = runs(store)
    assert (row.status, row.attempts, row.error) == ("sent", 2, None)


def test_stopped_while_the_server_had_the_whole_message_is_not_sent_again(
        store_url: str, tmp_path: Path) -> None:
    """The server has read the final "." but not answered when the grace period ends:
    delivery is unknown, so the run stays 'sending' and becomes 'interrupted' (at most
    once, as after a crash)."""
    slow, handler = start_gated_sink("DATA")
    try:
        config, store, _ids = seeded(store_url, recipients=[slow.url() + "&rto=2"])
        runner = DigestRunner(config, store, Clock(NOW))
        with ThreadPoolExecutor(1) as pool:
            sending = pool.submit(runner.run_due)
            assert handler.reached.wait(60), "the digest never reached the server"
            runner.stop()
            assert [r.status for r in runs(store)] == ["sending"]
            results = sending.result(timeout=60)  # no answer within rto: it gives up
        assert [r.status for r in results] == ["stopped"]
        assert [r.status for r in runs(store)] == ["sending"]
        handler.gate.set()
        later = NOW + LEASE + timedelta(minutes=1)
        assert [r.status for r in DigestRunner(config, store, Clock(later)).run_due()] \
            == ["interrupted"]
        assert DigestRunner(config, store, Clock(later)).run_due() == []
    finally:
        slow.controller.stop()


def test_crash_while_building_is_taken_over_after_the_lease(store_url: str,
                                                             smtp: SmtpSink) -> None:
    config, store, _ids = seeded(store_url, recipients=[smtp.url()])
    with store.session() as session:  # a process claimed the run and died before sending
        session.add(DigestRun(scope="acme-weekly", week=WEEK, status="pending", created_at=NOW,
                              claimed_at=NOW, attempts=1))
    assert DigestRunner(config, store, Clock(NOW + timedelta(minutes=1))).run_due() == []
    results = DigestRunner(config, store, Clock(NOW + LEASE + timedelta(seconds=1))).run_due()
    assert [r.status for r in results] == ["sent"]
    assert len(smtp.messages) == 1
    assert runs(store)[0].attempts == 2


def test_a_run_taken_over_after_the_lease_is_not_sent_by_the_slow_process(
        store_url: str, smtp: SmtpSink, monkeypatch: pytest.MonkeyPatch) -> None:
    """A build slower than LEASE: meanwhile another daemon took the run over (its own
    claim). The slow process then sends nothing and leaves the row to the other one,
    which sends it once."""
    import monitor.digest.runner as runner_module

    config, store, _ids = seeded(store_url, recipients=[smtp.url()])
    later = NOW + LEASE + timedelta(seconds=1)
    real_build = runner_module.build_digest
    took_over: list[int | None] = []

    def slow_build(*args: Any, **kwargs: Any) -> Any:
        if not took_over:  # while the first process builds, the lease runs out
            took_over.append(DigestRunner(config, store, Clock(later))._claim(
                "acme-weekly", WEEK, later, resend=False))
        return real_build(*args, **kwargs)

    monkeypatch.setattr(runner_module, "build_digest", slow_build)
    slow = DigestRunner(config, store, Clock(NOW)).run_due()
    assert took_over[0] is not None
    assert [r.status for r in slow] == ["stopped"] and smtp.messages == []
    (row,) = runs(store)
    assert (row.status, row.claimed_at, row.attempts) == ("pending", later, 2)
    # The other daemon's run goes on (here: its next check after its own lease).
    monkeypatch.setattr(runner_module, "build_digest", real_build)
    results = DigestRunner(config, store, Clock(later + LEASE + timedelta(seconds=1))).run_due()
    assert [r.status for r in results] == ["sent"] and len(smtp.messages) == 1


def test_partial_failure_retries_only_the_server_that_failed(store_url: str,
                                                             smtp: SmtpSink) -> None:
    down_port = _free_port()
    down = f"mailto://127.0.0.1:{down_port}?to=second@example.com&from=d@example.com"
    config, store, _ids = seeded(store_url, recipients=[smtp.url(), down])
    results = DigestRunner(config, store, Clock(NOW)).run_due()
    assert [r.status for r in results] == ["failed"]
    error = results[0].error or ""
    assert error.startswith(f"SMTP 127.0.0.1:{down_port}: ") and "\n" not in error
    (row,) = runs(store)
    assert (row.status, row.next_attempt_at) == ("failed", NOW + timedelta(minutes=15))
    assert len(smtp.messages) == 1
    # Not before the retry time.
    assert DigestRunner(config, store, Clock(NOW + timedelta(minutes=5))).run_due() == []
    # The second server comes up; the retry sends only to it.
    second = start_sink(down_port)
    try:
        results = DigestRunner(config, store, Clock(NOW + timedelta(minutes=16))).run_due()
        assert [r.status for r in results] == ["sent"]
        assert len(second.messages) == 1 and len(smtp.messages) == 1
        assert second.messages[0].rcpt_tos == ["second@example.com"]
    finally:
        second.controller.stop()
    (row,) = runs(store)
    assert (row.status, row.attempts, row.error) == ("sent", 2, None)


def test_a_failed_digest_tells_the_ops_channel_once(store_url: str) -> None:
    from monitor.store import Alert

    down = f"mailto://127.0.0.1:{_free_port()}?to=lead@example.com&from=d@example.com"
    config, store, _ids = seeded(store_url, recipients=[down])
    config.health.ops_channel = "ops"
    assert [r.status for r in DigestRunner(config, store, Clock(NOW)).run_due()] == ["failed"]
    # The retry fails too: still one message, not one per attempt.
    later = NOW + timedelta(minutes=16)
    assert [r.status for r in DigestRunner(config, store, Clock(later)).run_due()] == ["failed"]
    with store.session() as session:
        (alert,) = session.scalars(select(Alert))
    assert (alert.channel, alert.purpose, alert.status) == ("ops", "digest_failed", "pending")
    assert alert.title.startswith(f"[digest failed] acme-weekly {WEEK}: SMTP 127.0.0.1:")
    assert "\n" not in alert.title
    assert f"review-monitor digest --scope acme-weekly --week {WEEK} --send" in alert.body
    assert "retried automatically at 2026-11-" in alert.body


def test_missed_run_is_sent_when_the_daemon_comes_back(store_url: str, smtp: SmtpSink) -> None:
    from monitor.app import make_app
    from monitor.daemon import Daemon, run_in_reactor

    config, store, _ids = seeded(store_url, recipients=[smtp.url()])
    # No crawling here (nothing to fetch from): only the digest's part of the pass.
    config.sources = [source.model_copy(update={"enabled": False}) for source in config.sources]
    # The daemon was down from Saturday to Wednesday: the Monday 08:00 run never happened.
    back = datetime(2026, 11, 25, 13, 0, tzinfo=NOW.tzinfo)
    app = make_app(config, clock=Clock(back))
    try:
        daemon = Daemon(app)
        assert run_in_reactor(daemon.run_once) == 0
    finally:
        app.store.close()
    assert len(smtp.messages) == 1
    assert "week 47" in smtp.messages[0].message["Subject"]
    assert [(r.week, r.status, r.sent_at) for r in runs(store)] == [(WEEK, "sent", back)]


def test_the_daemon_loop_checks_on_start_and_stops_promptly(store_url: str,
                                                            smtp: SmtpSink) -> None:
    config, store, _ids = seeded(store_url, recipients=[smtp.url()])
    runner = DigestRunner(config, store, Clock(NOW))

    async def main() -> None:
        stopping = asyncio.Event()
        task = asyncio.create_task(runner.run_forever(stopping))
        for _ in range(200):
            if smtp.messages:
                break
            await asyncio.sleep(0.05)
        stopping.set()
        await asyncio.wait_for(task, 5)

    asyncio.run(main())
    assert len(smtp.messages) == 1


# -- configuration and command line ------------------------------------------------------


@pytest.mark.parametrize("recipients,smtp,problem", [
    (["ftp://x"], None, "recipients[0]: use a mailto:// or mailtos:// URL or an e-mail address"),
    (["lead@example.com"], None, "plain addresses need an [smtp] section"),
    (["mailto://127.0.0.1:25"], None, "recipients[0]: not a usable mailto URL"),
    (["mailto://127.0.0.1:99999?to=a@example.com&from=d@example.com"], None,
     "recipients[0]: port 99999 is out of range (1 to 65535)"),
    ([], None, "add at least one mailto:// URL or e-mail address"),
])
def test_recipient_problems_are_one_line_each(recipients: list[str], smtp: dict[str, Any] | None,
                                              problem: str) -> None:
    config = digest_config("sqlite:///:memory:", recipients=recipients or ["x@example.com"])
    digest = config.digests[0].model_copy(update={"recipients": recipients})
    with pytest.raises(ConfigError) as error:
        smtp_targets(digest, None)
    assert any(problem in line for line in error.value.problems), error.value.problems


def test_apprise_urls_give_host_port_tls_and_login() -> None:
    config = digest_config("sqlite:///:memory:", recipients=[
        "mailtos://user:pa%40ss@smtp.example.com:465?to=a@x.com,b@y.com&from=d@x.com&mode=ssl",
        "mailtos://me:secret@gmail.com?to=lead@example.com",
        "mailto://relay.local:2525?to=c@x.com&from=Digest%20%3Cd@x.com%3E"])
    ssl_target, gmail, relay = smtp_targets(config.digests[0], None)
    assert (ssl_target.host, ssl_target.port, ssl_target.tls, ssl_target.user,
            ssl_target.password, ssl_target.recipients) == (
        "smtp.example.com", 465, "ssl", "user", "pa@ss", ("a@x.com", "b@y.com"))
    assert (gmail.host, gmail.port, gmail.tls) == ("smtp.gmail.com", 587, "starttls")
    assert (relay.host, relay.port, relay.tls, relay.user, relay.sender) == (
        "relay.local", 2525, "none", None, "Digest <d@x.com>")
    assert "secret" not in repr(gmail) and "secret" not in gmail.label


def test_config_errors_for_digests(tmp_path: Path) -> None:
    from monitor.config import load_config

    path = tmp_path / "bad.toml"
    path.write_text("""
[brands.acme]
keywords = ["acme"]
[[digests]]
name = "a b"
schedule = "someday 8"
brands = ["nope"]
recipients = ["lead@example.com"]
[[digests]]
name = "x"
schedule = "mon 25:00"
""", encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    text = "\n".join(error.value.problems)
    assert "digests[0].name: use letters, digits" in text
    assert "digests[0].schedule: 'someday' is not a weekday (mon, tue, ... sun)" in text
    path.write_text("""
[[digests]]
name = "weekly"
brands = ["nope"]
recipients = ["lead@example.com"]
""", encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert error.value.problems == [f"{path}: digests[0].brands: no brand 'nope' in [brands]"]
    assert "digests[1].schedule: '25:00' is not a time of day" in text


def _write_config(tmp_path: Path, store_url: str, recipients: list[str]) -> Path:
    path = tmp_path / "digest.toml"
    sources = "\n".join(f'[[sources]]\nid = "{s}"\nspider = "feed"\n'
                        f'url = "https://example.com/{s}.xml"\nbrand = "acme"\n'
                        for s in ("tp", "gp", "yelp", "reddit"))
    path.write_text(f"""
[store]
url = "{store_url}"
[brands.acme]
name = "Acme"
keywords = ["acme"]
[brands.other]
keywords = ["otherco"]
{sources}
[[digests]]
name = "acme-weekly"
schedule = "mon 08:00 Europe/Oslo"
brands = ["acme"]
recipients = {recipients!r}
subject_prefix = "[Acme]"
""".replace("'", '"'), encoding="utf-8")
    return path


def _cli(config: Path, *extra: str, now: datetime = NOW) -> int:
    from monitor.cli import build_parser

    args = build_parser().parse_args(["digest", "--config", str(config), *extra])
    try:
        return digest_cli_run(args, now=now)
    except ConfigError as error:
        print("\n".join(error.problems))
        return 2


def test_cli_preview_writes_html_and_text(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    store_url = f"sqlite:///{tmp_path / 's.db'}"
    _config, _store, _ids = seeded(store_url)
    path = _write_config(tmp_path, store_url, ["lead@example.com"])
    # The [smtp] section is missing for a plain address: one readable line, exit 2.
    assert _cli(path, "--out", str(tmp_path / "d.html")) == 2
    assert "plain addresses need an [smtp] section" in capsys.readouterr().out
    path = _write_config(tmp_path, store_url, ["mailto://127.0.0.1:1?to=a@example.com&from=b@example.com"])
    out, text = tmp_path / "d.html", tmp_path / "d.txt"
    assert _cli(path, "--week", WEEK, "--out", str(out), "--text", str(text)) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"digest acme-weekly {WEEK}: 11 mentions, 8 complaints, 6 open;")
    html = out.read_text(encoding="utf-8")
    assert html.count('src="data:image/png;base64,') == 2 and "cid:" not in html
    assert "Median first reply: 4.5 h" in text.read_text(encoding="utf-8")
    # Without --week: the last full week at "now" (Monday after W47).
    assert _cli(path, "--out", str(out)) == 0
    assert f"{WEEK}:" in capsys.readouterr().out
    assert _cli(path, "--week", "2026-47", "--out", str(out)) == 2
    assert "is not an ISO week" in capsys.readouterr().out
    assert _cli(path, "--scope", "nope", "--out", str(out)) == 2
    assert "no digest named 'nope'" in capsys.readouterr().out
    # Sending to a server that is not there: one line, exit 1, recorded as failed.
    assert _cli(path, "--week", WEEK, "--send") == 1
    err = capsys.readouterr().err
    # One readable line for the user (after the daemon-style log line), no traceback.
    lines = err.strip().splitlines()
    assert lines[-1].startswith(f"error: digest acme-weekly {WEEK}: SMTP 127.0.0.1:1: ")
    assert "Traceback" not in err and len(lines) <= 2


def test_cli_help_lists_the_digest_command(capsys: pytest.CaptureFixture[str]) -> None:
    from monitor.cli import main

    with pytest.raises(SystemExit):
        main(["digest", "--help"])
    assert "--week" in capsys.readouterr().out


# -- the HTML in a real browser -------------------------------------------------------------


def test_html_renders_in_headless_chromium(tmp_path: Path) -> None:
    config, store, _ids = seeded(f"sqlite:///{tmp_path / 's.db'}")
    with store.session() as session:  # hostile reviews: the layout and the order hold
        session.add_all([
            mention("tp", h(7), title="A" * 300, body="B" * 2000, author="C" * 200,
                    sla_due_at=h(8)),
            mention("tp", h(8), title="\u202eGNIHTYREVE DETAEHC\u202c then ours",
                    author="<b>eve</b>\u202e", sla_due_at=h(9)),
            mention("reddit", h(9), language="ar", title="توصيل متأخر جدا", author="سارة"),
        ])
    rendered = render(build_digest(store, config, config.digests[0], IsoWeek.parse(WEEK), NOW),
                      "[Acme]")
    for part in (rendered.html, rendered.text):
        assert "\u202e" not in part and "\u202c" not in part
    assert "<bdi>GNIHTYREVE DETAEHC then ours</bdi>" in rendered.html
    assert "<bdi>&lt;b&gt;eve&lt;/b&gt;</bdi>" in rendered.html
    path = tmp_path / "digest.html"
    path.write_text(rendered.preview_html(), encoding="utf-8")
    checks = _screenshot(path, "digest-week.png")
    assert checks["images"] == 2 and checks["broken"] == 0
    assert checks["title"].startswith("[Acme] Acme, week 47")
    # A 300-letter title wraps instead of making the e-mail 15,000 px wide.
    assert checks["overflow"] <= 0, "the e-mail is wider than a phone screen"


def _screenshot(path: Path, name: str) -> dict[str, Any]:
    """Light desktop and dark phone screenshots under tests/artifacts/; what the page
    reports about its images and width (on the phone)."""
    if not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail(f"{CHROMIUM} not found (CI=true: the browser test must run)")
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium package")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {}
    # Playwright's sync API wants a thread without a running event loop.

    def shoot() -> None:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=["--headless", "--no-sandbox", "--disable-gpu",
                      "--disable-background-networking"])
            try:
                for scheme, width, suffix in (("light", 800, ""), ("dark", 375, "-dark-phone")):
                    page = browser.new_page(color_scheme=scheme,  # type: ignore[arg-type]
                                            viewport={"width": width, "height": 900})
                    page.goto(path.as_uri())
                    page.wait_for_load_state("load")
                    target = ARTIFACTS / name.replace(".png", f"{suffix}.png")
                    page.screenshot(path=str(target), full_page=True)
                    assert target.stat().st_size > 20_000
                    result.update(page.evaluate("""() => ({
                        images: document.images.length,
                        broken: [...document.images].filter(i => !i.complete || i.naturalWidth === 0).length,
                        title: document.title,
                        overflow: document.documentElement.scrollWidth - window.innerWidth,
                        background: getComputedStyle(document.body).backgroundColor,
                    })"""))
                    result[f"background_{scheme}"] = result["background"]
                    page.close()
            finally:
                browser.close()
    with ThreadPoolExecutor(1) as pool:  # raises here what went wrong in the browser
        pool.submit(shoot).result(timeout=120)
    print(f"screenshots: {ARTIFACTS / name} (and -dark-phone)")
    # Dark mode is honoured: the body background changes with the colour scheme.
    assert result["background_light"] != result["background_dark"]
    assert re.match(r"rgb\((\d+), (\d+), (\d+)\)", result["background_dark"])
    return result



# -- the digest over the real pipeline ------------------------------------------------------


def test_digest_of_a_week_ingested_through_the_real_pipeline(store_url: str) -> None:
    """Ingest (classification, public replies, template flags, SLA deadlines) writes the
    rows; the digest reads them. Guards the contract between the two sides."""
    from monitor.app import make_app
    from spiders.items import CompanyReply, MentionItem

    config = digest_config(store_url)
    config.replies.template_min_matches = 3
    clock = Clock(S)
    app = make_app(config, clock=clock)
    template = ("Hi {name}, we are sorry to hear about your experience with order {order}. "
                "Please contact our customer service team so we can look into it. Best "
                "regards, {agent}")
    people = [("Jane Doe", "1001", "Tom"), ("Ola Nordmann", "2002", "Kari"),
              ("Anna Berg", "3003", "Tom"), ("Sam Lee", "4004", "Liz"),
              ("Per Hansen", "5005", "Kari"), ("Eva Ek", "6006", "Tom")]

    def item(index: int, reply: CompanyReply | None = None) -> MentionItem:
        name = people[index][0]
        return MentionItem(
            source_id="tp", external_id=f"w{index}", author=name, rating=1.0,
            title="Late delivery", url=f"https://www.trustpilot.com/reviews/w{index}",
            body="Acme never delivered my order, late delivery again and nobody answers. "
                 "I want a refund.",
            published=S + timedelta(days=1, hours=index),
            company_replies=[reply] if reply else [])

    try:
        for index in range(6):  # Tuesday 10:00 UTC onwards, an hour apart
            clock.now = S + timedelta(days=1, hours=index + 1)
            app.ingestor.ingest([item(index)], clock.now)
        # Replies on later crawls, 1 to 5 hours after each complaint was first seen: four
        # copies of one template, one personal answer; the sixth customer gets none.
        for index in range(5):
            seen = S + timedelta(days=1, hours=index + 1)
            clock.now = seen + timedelta(hours=index + 1)
            name, order, agent = people[index]
            text = (template.format(name=name.split()[0], order=order, agent=agent)
                    if index < 4 else "Per, the courier lost your parcel in Bergen; a new one "
                    "left today and the shipping is refunded.")
            app.ingestor.ingest([item(index, CompanyReply(text, "Acme", clock.now))], clock.now)
        digest = build_digest(app.store, config, config.digests[0], IsoWeek.parse(WEEK), NOW)
    finally:
        app.store.close()
    assert (digest.mentions.current, digest.complaints.current) == (6, 6)
    response = digest.response
    # Each review was posted an hour before the crawl that found it; replies came 1 to 5 h
    # after that crawl: 2 to 6 h after the post.
    assert response.reply_hours == [2.0, 3.0, 4.0, 5.0, 6.0]
    assert response.median_hours == pytest.approx(4.0)
    assert response.p90_hours == pytest.approx(5.6)
    assert (response.replied, response.unreplied) == (5, 1)
    # The four copies are flagged as templates by the reply side: 4 of 5 replies.
    assert (digest.replies.current, digest.template_replies.current) == (5, 4)
    assert digest.template_rate == pytest.approx(0.8)
    assert digest.template_examples[0].uses == 4
    # Every complaint got an SLA deadline from the reply side; the tally accounts for all.
    assert response.sla.within + response.sla.breached + response.sla.pending == 6
    assert digest.open_total == 1 and digest.open_oldest[0].author == "Eva Ek"
    assert digest.themes[0].phrase in ("late delivery", "late delivery again")


def test_coverage_from_the_source_health_records(store_url: str) -> None:
    """The reply side's source health writes the transitions; the digest states the gap."""
    from monitor.health import SourceHealth
    from monitor.store import SourceState

    config = digest_config(store_url)
    store = Store(config.store.url)
    store.upgrade()
    health = SourceHealth(store, config)
    store.save_source_state(SourceState(source_id="tp", last_status="blocked",
                                        consecutive_failures=1, last_error="blocked: HTTP 403"))
    health.check(["tp"], h(30))
    store.save_source_state(SourceState(source_id="tp", last_status="ok",
                                        consecutive_failures=0))
    health.check(["tp"], h(36))
    digest = build_digest(store, config, config.digests[0], IsoWeek.parse(WEEK), NOW)
    (gap,) = digest.coverage
    assert (gap.source_id, gap.status, gap.hours, gap.ongoing) == ("tp", "blocked", 6.0, False)
    assert gap.sentence == ("tp blocked for 6 h: zero mentions there may mean no coverage, "
                            "not no complaints.")
    assert "tp blocked for 6 h: zero mentions there may mean no coverage" in render(
        digest, charts=False).text


def test_sql_sla_rules_agree_with_the_core_rules(store_url: str) -> None:
    """The digest counts SLA outcomes in SQL; core.digest.sla_outcome is the reference."""
    from monitor.core.digest import sla_outcome
    from monitor.digest.build import _Builder

    config, store, _ids = seeded(store_url)
    scope = Scope.of(config, config.digests[0])
    with store.session() as session:
        builder = _Builder(session, scope, IsoWeek.parse(WEEK), NOW)
        rows = session.execute(select(
            Mention.first_reply_at, Mention.sla_due_at, Mention.sla_breached_at,
            builder._within(), builder._late(), builder._pending())).all()
    outcomes = []
    for reply, due, breached, within, late, pending in rows:
        expected = sla_outcome(reply, due, breached, NOW)
        got = "within" if within else "breached" if late else "pending" if pending else None
        assert got == expected, (reply, due, breached)
        outcomes.append(got)
    assert {"within", "breached", "pending", None} <= set(outcomes)


def test_cli_without_digests_previews_every_brand_and_refuses_to_send(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from monitor.cli import main

    store_url = f"sqlite:///{tmp_path / 's.db'}"
    seeded(store_url)
    path = tmp_path / "plain.toml"
    path.write_text(f'[store]\nurl = "{store_url}"\n[brands.acme]\nname = "Acme"\n'
                    '[brands.other]\nname = "Other Co"\n', encoding="utf-8")
    out = tmp_path / "all.txt"
    assert _cli(path, "--week", WEEK, "--text", str(out)) == 0
    text = out.read_text(encoding="utf-8")
    # Every brand: acme's 11 mentions and m10 of the other brand.
    assert text.startswith("WEEKLY DIGEST · All brands\n")
    assert "12 mentions (week before 4)" in text
    assert not (tmp_path / "all.html").exists()
    capsys.readouterr()
    assert _cli(path, "--send") == 2
    assert "no [[digests]] entry to send" in capsys.readouterr().out
    assert _cli(path) == 2
    assert "say where it goes" in capsys.readouterr().out
    # check-config reports an unusable recipient, one line.
    bad = tmp_path / "bad.toml"
    bad.write_text('[[digests]]\nname = "w"\nrecipients = ["lead@example.com"]\n',
                   encoding="utf-8")
    assert main(["check-config", str(bad)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"{bad}: digests[0].recipients: plain addresses need an [smtp] section (or write them "
        "as mailto:// URLs)")


# -- found in review --------------------------------------------------------------------------


def test_a_brand_no_source_watches_is_stated_not_called_quiet(store_url: str) -> None:
    """A digest for a brand without a source is blind, not quiet; a brand beside others
    with no source of its own is named."""
    config = digest_config(store_url, brands=["other"])
    config.sources = [source for source in config.sources if source.brand == "acme"]
    store = Store(config.store.url)
    store.upgrade()
    digest = build_digest(store, config, config.digests[0], IsoWeek.parse(WEEK), NOW)
    assert digest.scope.source_ids == () and digest.blind
    rendered = render(digest, "[Other]", charts=False)
    assert rendered.subject == ("[Other] Other Co, week 47: no source watches it, so no "
                                "complaint can be seen")
    assert ("No enabled source watches Other Co: this digest cannot see a single complaint."
            in rendered.text)
    assert "No enabled source watches Other Co" in rendered.html
    # Not "a quiet week" in green, not "every complaint has a reply, well done".
    for part in (rendered.html, rendered.text):
        assert "A quiet week" not in part and "Well done" not in part
        assert "Every complaint has a public reply" not in part
    assert "No complaint the monitor can see is waiting (it watches nothing for Other Co)." \
        in rendered.text
    both = config.digests[0].model_copy(update={"brands": ["acme", "other"]})
    digest = build_digest(store, config, both, IsoWeek.parse(WEEK), NOW)
    assert digest.scope.unwatched == ("Other Co",)
    assert ("No enabled source watches Other Co: zero mentions of it means no coverage, not "
            "no complaints.") in render(digest, charts=False).text


def test_themes_leave_out_the_brands_keywords(store_url: str) -> None:
    config = digest_config(store_url)
    config.brands["acme"].keywords = ["acme", "acmeshop", "acme app"]
    store = Store(config.store.url)
    store.upgrade()
    with store.session() as session:
        for hour in range(3):
            session.add(mention("tp", h(10 + hour), body="acmeshop app crashes again"))
    digest = build_digest(store, config, config.digests[0], IsoWeek.parse(WEEK), NOW)
    assert [(t.phrase, t.mentions) for t in digest.themes] == [("app crashes", 3)]


def test_cli_errors_and_unfinished_weeks(tmp_path: Path, smtp: SmtpSink,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    store_url = f"sqlite:///{tmp_path / 's.db'}"
    _config, store, _ids = seeded(store_url)
    path = _write_config(tmp_path, store_url, [smtp.url()])
    # An --out that cannot be written: one line, exit 2 (a traceback before).
    assert _cli(path, "--week", WEEK, "--out", str(tmp_path / "no" / "d.html")) == 2
    out = capsys.readouterr().out
    assert out == f"{tmp_path / 'no' / 'd.html'}: cannot write the digest there: No such file or directory\n"
    # The running week: a preview says so; --send refuses and records nothing (recorded as
    # sent, the full week's digest would never go out on Monday).
    text = tmp_path / "d.txt"
    assert _cli(path, "--week", "2026-W48", "--text", str(text)) == 0
    assert "This week is not over yet: the counts are up to Mon 23 Nov 08:00." in \
        text.read_text(encoding="utf-8")
    for week in ("2026-W48", "2026-W52"):
        assert _cli(path, "--week", week, "--send") == 2
        assert "is not over until Mon" in capsys.readouterr().out
    assert runs(store) == [] and smtp.messages == []
    # A finished week is not marked partial.
    assert _cli(path, "--week", WEEK, "--text", str(text)) == 0
    assert "not over yet" not in text.read_text(encoding="utf-8")


def test_cli_send_retries_a_failed_run_at_once_and_says_when_it_was_sent(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store_url = f"sqlite:///{tmp_path / 's.db'}"
    config, store, _ids = seeded(store_url)
    port = _free_port()
    path = _write_config(tmp_path, store_url,
                         [f"mailto://127.0.0.1:{port}?to=lead@example.com&from=d@example.com"])
    assert _cli(path, "--week", WEEK, "--send") == 1  # nothing listening
    capsys.readouterr()
    sink = start_sink(port)
    try:
        # Fixed a minute later: --send sends now, not "already sent" until the retry time.
        later = NOW + timedelta(minutes=1)
        assert _cli(path, "--week", WEEK, "--send", now=later) == 0
        assert "sent to 1 recipient\n" in capsys.readouterr().out
        assert len(sink.messages) == 1
        assert _cli(path, "--week", WEEK, "--send", now=later) == 1
        assert capsys.readouterr().err.splitlines()[-1] == (
            "digest acme-weekly 2026-W47: already sent on 2026-11-23 07:01 UTC; add --resend "
            "to send it again")
    finally:
        sink.controller.stop()


def test_a_thank_you_follow_up_is_not_unanswered(store_url: str) -> None:
    """hans's two open follow-ups count; a third that only says thanks does not."""
    config, store, ids = seeded(store_url)
    with store.session() as session:
        thread_id = session.get(Mention, ids["m14"]).thread_id  # type: ignore[union-attr]
        session.add(mention("reddit", h(99), kind="praise", severity="low", author="hans",
                            body="Thanks, it arrived!", thread_id=thread_id, thread_position=4))
    digest = build_digest(store, config, config.digests[0], IsoWeek.parse(WEEK), NOW)
    (thread,) = digest.follow_ups
    assert (thread.author, thread.unanswered) == ("hans", 2)
    assert thread.last_at == h(95)


def test_a_new_installation_does_not_send_a_digest_of_a_week_nobody_watched(
        store_url: str, smtp: SmtpSink) -> None:
    """First start on Monday 07:00 local, the first crawl stores a mention at once: the
    08:00 run must not mail "a quiet week, every source silent" about last week. The next
    Monday's digest (a week that was watched) goes out as usual."""
    config = digest_config(store_url, recipients=[smtp.url()])
    store = Store(config.store.url)
    store.upgrade()
    assert DigestRunner(config, store, Clock(NOW)).run_due() == []
    with store.session() as session:  # the first crawl, after the week ended
        session.add(mention("tp", END + timedelta(hours=6)))
    assert DigestRunner(config, store, Clock(NOW + timedelta(minutes=1))).run_due() == []
    assert runs(store) == [] and smtp.messages == []
    results = DigestRunner(config, store, Clock(NOW + timedelta(days=7))).run_due()
    assert [(r.week, r.status) for r in results] == [("2026-W48", "sent")]
    # A source health record before the week's end is evidence of watching too (a monitor
    # whose sources were all blocked is not new: that digest must go out).
    other = digest_config(store_url, recipients=[smtp.url()], name="blocked-weekly")
    with store.session() as session:
        session.add(SourceEvent(source_id="gp", at=h(-1), status="blocked"))
    assert [(r.week, r.status) for r in DigestRunner(other, store, Clock(NOW)).run_due()] \
        == [(WEEK, "sent")]


def test_bcc_recipients_are_not_shown_to_the_others(store_url: str, smtp: SmtpSink) -> None:
    """?cc= goes in a Cc header, ?bcc= only to the server: before, every address of the
    URL was written into To, so the team saw who was copied blind."""
    url = (f"mailto://127.0.0.1:{smtp.port}?to=lead@example.com&cc=care@example.com"
           "&bcc=ceo@example.com&from=d@example.com")
    config, store, _ids = seeded(store_url, recipients=[url])
    assert [(r.status, r.recipients) for r in DigestRunner(config, store, Clock(NOW)).run_due()] \
        == [("sent", 3)]
    (captured,) = smtp.messages
    assert sorted(captured.rcpt_tos) == ["care@example.com", "ceo@example.com",
                                         "lead@example.com"]
    message = captured.message
    assert (message["To"], message["Cc"]) == ("lead@example.com", "care@example.com")
    assert "ceo@example.com" not in message.as_string()


def test_a_review_improved_twice_is_one_customer(store_url: str) -> None:
    """Ann raised her rating 1 → 4, then 4 → 5: one customer, her latest outcome."""
    from monitor.store import MentionRevision

    config, store, ids = seeded(store_url)
    with store.session() as session:
        session.add(MentionRevision(mention_id=ids["m1"], changed_at=h(45), body="old 2",
                                    rating=4, kind="praise", severity="low", better=True,
                                    outcome="rating raised 4 → 5 after reply"))
        # A removal's revision has a note, not an outcome for the digest.
        session.add(MentionRevision(mention_id=ids["m1"], changed_at=h(46), body="x",
                                    kind="praise", severity="low", changed_fields=["removed"],
                                    outcome="no longer listed by tp; last seen ..."))
    digest = build_digest(store, config, config.digests[0], IsoWeek.parse(WEEK), NOW)
    assert digest.outcomes_total == 1
    assert [(o.id, o.note) for o in digest.outcomes] == [
        (ids["m1"], "rating raised 4 → 5 after reply")]


def test_a_line_break_in_a_brand_name_does_not_break_the_subject(store_url: str,
                                                                  smtp: SmtpSink) -> None:
    """A brand name is config text; "Acme\\nBcc: x" must stay one Subject line (the e-mail
    library refuses a header with a line break, and the run would have been left
    'sending', then 'interrupted', with nothing sent)."""
    config, store, _ids = seeded(store_url, recipients=[smtp.url()],
                                 subject_prefix="[Acme]\r\n")
    config.brands["acme"].name = "Acme\nBcc: someone@example.com"
    results = DigestRunner(config, store, Clock(NOW)).run_due()
    assert [r.status for r in results] == ["sent"]
    (captured,) = smtp.messages
    assert captured.message["Subject"].startswith(
        "[Acme] Acme Bcc: someone@example.com, week 47: ")
    assert captured.message["Bcc"] is None
    assert sorted(captured.rcpt_tos) == ["lead@example.com", "ops@example.com"]


def test_reply_times_agree_with_the_reply_sides_definition(store_url: str) -> None:
    """docs/response.md: time to first reply = first_reply_at − published_at (or
    first_seen_at). The digest measured from first_seen_at, so a review found late
    looked answered faster than the customer waited."""
    from monitor.replies import time_to_first_reply

    config, store, ids = seeded(store_url)
    with store.session() as session:  # no publication time: the clock starts at first sight
        session.add(mention("tp", h(20), published_at=None, first_reply_at=h(23),
                            sla_due_at=h(30), status="replied"))
    digest = build_digest(store, config, config.digests[0], IsoWeek.parse(WEEK), NOW)
    with store.session() as session:
        rows = session.execute(select(Mention).where(
            Mention.first_seen_at >= S, Mention.first_seen_at < END,  # type: ignore[arg-type]
            Mention.kind == "complaint", Mention.first_reply_at.is_not(None),  # type: ignore[union-attr]
            Mention.brand == "acme")).scalars().all()
        expected = sorted((time_to_first_reply(m) or 0) / 3600 for m in rows)
    assert digest.response.reply_hours == pytest.approx(expected)
    assert 3.0 in digest.response.reply_hours


def test_an_address_listed_twice_gets_one_digest() -> None:
    config = digest_config("sqlite:///:memory:", recipients=[
        "lead@example.com", "Lead@Example.com", "care@example.com",
        "mailto://127.0.0.1:25?to=a@x.com,A@x.com&cc=a@x.com&from=d@x.com"],
        smtp={"host": "relay.local", "tls": "none"})
    relay_url, plain = smtp_targets(config.digests[0], config.smtp)
    assert plain.recipients == ("lead@example.com", "care@example.com")
    assert (relay_url.to, relay_url.cc, relay_url.recipients) == (("a@x.com",), (), ("a@x.com",))
