"""The alert path end to end with a simulated clock and real deliveries: local apprise
json:// receivers and a local SMTP server (aiosmtpd, apprise mailto://), on SQLite and
PostgreSQL. Routing tables, after-hours batching, escalation stopped by an ack-link click,
rate-limit coalescing, per-channel formats, and exactly-once across a restart."""

from __future__ import annotations

import asyncio
import email
import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpserver import Receiver
from sqlalchemy import select

from monitor.app import App, make_app
from monitor.config import parse_config
from monitor.core.classify import Kind, Severity
from monitor.core.routing import Rule, Sample, route_sample
from monitor.notify.acklink import AckLinkError, sign, verify
from monitor.notify.escalation import escalate_due
from monitor.notify.render import AlertView, escape_markdown, render_batch, render_view
from monitor.notify.targets import AlertPlanner, Targets
from monitor.store import Alert, Delivery, Mention
from monitor.web.ack import make_ack_router
from spiders.items import MentionItem

# Tuesday 24 November 2026, 23:00 in Oslo (CET): after hours.
NIGHT = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)
# Wednesday 09:00 Oslo: the team is back.
MORNING = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
DAY = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
SECRET = "test-secret-0123456789abcdef"


# -- the routing table (pure) -------------------------------------------------------

RULES = [
    Rule(("pager",), severities=frozenset({Severity.CRITICAL}), name="critical"),
    Rule(("nordic",), languages=frozenset({"nb", "sv"}), name="nordic"),
    Rule(("incidents",), incident=True, kinds=frozenset({Kind.COMPLAINT}), name="incidents"),
    Rule(("app-team",), sources=frozenset({"appstore"}), min_severity=Severity.HIGH,
         name="app"),
    Rule(("team",), brands=frozenset({"acme"}), incident=False, name="acme"),
]


@pytest.mark.parametrize(("sample", "first_only", "expected"), [
    (Sample("acme", "tp", Kind.COMPLAINT, Severity.CRITICAL), False, ["pager", "team"]),
    (Sample("acme", "tp", Kind.COMPLAINT, Severity.CRITICAL), True, ["pager"]),
    (Sample("acme", "tp", Kind.COMPLAINT, Severity.NORMAL, "nb-NO"), False, ["nordic", "team"]),
    (Sample("acme", "tp", Kind.COMPLAINT, Severity.NORMAL, "en"), False, ["team"]),
    (Sample("acme", "", Kind.COMPLAINT, Severity.HIGH, None, True), False, ["incidents"]),
    (Sample("acme", "appstore", Kind.COMPLAINT, Severity.HIGH), False, ["app-team", "team"]),
    (Sample("acme", "appstore", Kind.COMPLAINT, Severity.NORMAL), False, ["team"]),
    (Sample("other", "appstore", Kind.QUESTION, Severity.LOW), False, []),  # below normal
    (Sample("acme", "tp", Kind.PRAISE, Severity.NORMAL), False, []),
    (Sample(None, "tp", Kind.COMPLAINT, Severity.CRITICAL), False, []),  # no brand: stored
])
def test_routing_table(sample: Sample, first_only: bool, expected: list[str]) -> None:
    assert [target for target, _ in route_sample(RULES, ["default"], sample, first_only)] \
        == expected


# -- helpers --------------------------------------------------------------------------


def config_for(store_url: str, receivers: dict[str, Receiver], **extra: Any) -> Any:
    raw: dict[str, Any] = {
        "store": {"url": store_url},
        "hours": {"timezone": "Europe/Oslo", "weekly": "mon-fri 09:00-17:00"},
        "notify": {"after_hours": "batch", "page_oncall": "rota", "backoff_initial": "1s",
                   "quick_retries": 1},
        "web": {"base_url": "http://testserver", "secret": SECRET},
        "brands": {"acme": {"name": "Acme", "keywords": ["acme"]}},
        "sources": [{"id": "tp", "spider": "trustpilot",
                     "url": "https://www.trustpilot.com/review/acme.com", "brand": "acme"}],
        "channels": {"team": {"urls": [receivers["team"].apprise_url]}},
        "members": {
            "ada": {"urls": [receivers["ada"].apprise_url], "timezone": "Europe/Oslo"},
            "bo": {"urls": [receivers["bo"].apprise_url], "timezone": "America/New_York"},
        },
        "oncall": {"rota": {"timezone": "Europe/Oslo", "members": ["ada", "bo"]}},
        "escalation": {"min_severity": "normal",
                       "tiers": [{"after": "15m", "targets": ["member:bo"]},
                                 {"after": "30m", "targets": ["team"]}]},
        "routes": [{"name": "high to on-call", "severities": ["high", "critical"],
                    "targets": ["oncall:rota"]},
                   {"name": "team", "targets": ["team"], "kinds": ["complaint", "question"]}],
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key] = {**raw[key], **value}
        else:
            raw[key] = value
    return parse_config(raw, Path("/tmp/test.toml"))


@pytest.fixture
def receivers() -> Iterator[dict[str, Receiver]]:
    started = {name: Receiver().start() for name in ("team", "ada", "bo")}
    yield started
    for receiver in started.values():
        receiver.stop()


def question(n: int, **fields: Any) -> MentionItem:
    values: dict[str, Any] = {"title": None, "body": f"Does Acme deliver to postcode {n}?",
                              "author": f"asker{n}", "url": f"https://example.com/q/{n}",
                              "published": NIGHT - timedelta(minutes=5)}
    values.update(fields)
    return MentionItem(source_id="tp", external_id=f"q{n}", **values)


def complaint(n: int, **fields: Any) -> MentionItem:
    values: dict[str, Any] = {
        "title": "Never again", "rating": 1.0, "author": "Jane <script>",
        "body": "Acme never delivered my order. I want a refund. <b>*now*</b> [x](http://evil)",
        "url": f"https://example.com/r/{n}", "published": NIGHT - timedelta(minutes=5)}
    values.update(fields)
    return MentionItem(source_id="tp", external_id=f"r{n}", **values)


def refs(receiver: Receiver) -> list[str]:
    return sorted(line.removeprefix("ref: ") for message in receiver.messages
                  for line in message["message"].splitlines() if line.startswith("ref: "))


def dispatch(app: App) -> Any:
    return asyncio.run(app.dispatcher.drain())


# -- after hours -------------------------------------------------------------------------


def test_after_hours_batching_and_critical_paging(store_url: str,
                                                  receivers: dict[str, Receiver]) -> None:
    clock = [NIGHT]
    app = make_app(config_for(store_url, receivers), clock=lambda: clock[0])
    app.ingestor.ingest([question(n) for n in range(3)], NIGHT)
    assert dispatch(app).sent == 0  # normal questions wait for business hours
    clock[0] = MORNING - timedelta(minutes=1)
    assert dispatch(app).sent == 0
    clock[0] = MORNING
    assert dispatch(app).sent == 3
    assert len(receivers["team"].messages) == 1  # one message for the three
    message = receivers["team"].messages[0]
    assert message["title"].startswith("3 alerts held for business hours")
    assert len(refs(receivers["team"])) == 3
    assert message["message"].count("[ack](http://testserver/ack/") == 3
    # A high complaint at night waits too; a critical one pages whoever is on call at
    # once (Ada's week), and its team-channel copy is not held either.
    clock[0] = NIGHT + timedelta(days=1)
    app.ingestor.ingest([complaint(1)], clock[0])
    assert dispatch(app).sent == 0
    app.ingestor.ingest([complaint(2, body="My Acme charger caught fire. Dangerous!")],
                        clock[0])
    assert dispatch(app).sent == 2
    assert len(receivers["ada"].messages) == 1 and len(receivers["bo"].messages) == 0
    assert "caught fire" in receivers["ada"].messages[0]["message"]
    assert len(receivers["team"].messages) == 2
    app.store.close()


def test_planner_pages_on_call_after_hours_and_falls_back(tmp_path: Path,
                                                          receivers: dict[str, Receiver]
                                                          ) -> None:
    config = config_for(f"sqlite:///{tmp_path / 's.db'}", receivers,
                        oncall={"rota": {"timezone": "Europe/Oslo", "members": ["ada", "bo"],
                                         "hours": {"timezone": "Europe/Oslo",
                                                   "weekly": "mon-fri 08:00-20:00"}}})
    planner = AlertPlanner(config, Targets(config, now=NIGHT))
    critical = Sample("acme", "tp", Kind.COMPLAINT, Severity.CRITICAL)
    normal = Sample("acme", "tp", Kind.COMPLAINT, Severity.NORMAL)
    daytime = planner.plan(critical, DAY)
    assert [(p.channel, p.recipient, p.held) for p in daytime] == [
        ("member:ada", "ada", None), ("team", None, None)]
    assert daytime[0].escalate_at == DAY + timedelta(minutes=15)
    # At night the rota (08:00-20:00) has nobody: the team channel still gets it now.
    night = planner.plan(critical, NIGHT)
    assert [(p.channel, p.send_at) for p in night] == [("team", NIGHT)]
    held = planner.plan(normal, NIGHT)
    assert [(p.channel, p.held, p.send_at) for p in held] == [
        ("team", "after_hours", MORNING)]
    assert held[0].escalate_at == MORNING + timedelta(minutes=15)


# -- acknowledgement and escalation --------------------------------------------------------


def ack_link(message: dict[str, Any]) -> str:
    match = re.search(r"\[Acknowledge\]\((http://testserver/ack/[^)]+)\)", message["message"])
    assert match, message["message"]
    return match.group(1)


def test_escalation_chain_stopped_by_ack_link_click(store_url: str,
                                                   receivers: dict[str, Receiver]) -> None:
    clock = [DAY]
    app = make_app(config_for(store_url, receivers), clock=lambda: clock[0])
    app.ingestor.ingest([complaint(1)], DAY)
    dispatch(app)
    assert len(receivers["ada"].messages) == 1  # tier 0: on call
    assert len(receivers["team"].messages) == 1
    planner = app.ingestor.planner
    clock[0] = DAY + timedelta(minutes=14)
    assert escalate_due(app.store, planner, clock[0]) == 0
    clock[0] = DAY + timedelta(minutes=15)
    assert escalate_due(app.store, planner, clock[0]) == 1  # once per mention, not per row
    assert escalate_due(app.store, planner, clock[0]) == 0
    dispatch(app)
    assert len(receivers["bo"].messages) == 1  # tier 1: the backup
    escalated = receivers["bo"].messages[0]
    assert escalated["title"].startswith("[ESCALATED t1]")
    # Bo is in New York: no SLA yet, but the deadline would be shown in his zone.
    web = FastAPI()
    web.include_router(make_ack_router(app.store, app.config, lambda: clock[0]))
    client = TestClient(web)
    link = ack_link(escalated).removeprefix("http://testserver")
    page = client.get(link)
    assert page.status_code == 200 and "Acknowledge this alert?" in page.text
    with app.store.session() as session:
        assert all(a.acked_at is None for a in session.scalars(select(Alert)))
    clock[0] = DAY + timedelta(minutes=20)
    done = client.post(link, data={"by": "Bo"})
    assert done.status_code == 200 and "escalation stopped" in done.text
    again = client.post(link, data={"by": "Eve"})
    assert "Already acknowledged" in again.text and "Bo" in again.text
    # Past tier 2's time: nothing more is sent, the lead channel hears nothing new.
    clock[0] = DAY + timedelta(hours=2)
    assert escalate_due(app.store, planner, clock[0]) == 0
    dispatch(app)
    assert len(receivers["team"].messages) == 1
    with app.store.session() as session:
        mention = session.scalars(select(Mention)).one()
    assert (mention.status, mention.acknowledged_by) == ("acknowledged", "Bo")
    # Forged and expired links get a page, not a traceback.
    forged = client.get(link[:-3] + "AAA")
    assert forged.status_code == 403 and "not genuine" in forged.text
    old = sign(SECRET, 1, DAY - timedelta(minutes=1))
    expired = client.post(f"/ack/{old}", data={"by": "x"})
    assert expired.status_code == 410 and "expired" in expired.text
    assert client.get("/ack/garbage").status_code == 403
    app.store.close()


def test_unacknowledged_escalates_through_every_tier(store_url: str,
                                                    receivers: dict[str, Receiver]) -> None:
    clock = [DAY]
    app = make_app(config_for(store_url, receivers), clock=lambda: clock[0])
    app.ingestor.ingest([complaint(1)], DAY)
    dispatch(app)
    for minutes in (15, 45):
        clock[0] = DAY + timedelta(minutes=minutes)
        assert app.ingestor.planner is not None
        assert escalate_due(app.store, app.ingestor.planner, clock[0]) == 1
        dispatch(app)
    clock[0] = DAY + timedelta(hours=5)
    assert escalate_due(app.store, app.ingestor.planner, clock[0]) == 0  # no tier 3
    assert len(receivers["bo"].messages) == 1
    assert [m["title"][:15] for m in receivers["team"].messages] == [
        "[high complaint", "[ESCALATED t2] "]
    app.store.close()


def test_ack_tokens() -> None:
    token = sign(SECRET, 42, DAY + timedelta(days=7))
    assert verify(SECRET, token, DAY).alert_id == 42
    with pytest.raises(AckLinkError, match="not genuine"):
        verify("another-secret-0123456789", token, DAY)
    with pytest.raises(AckLinkError, match="not genuine"):
        verify(SECRET, token.replace("42.", "43.", 1), DAY)
    with pytest.raises(AckLinkError, match="expired"):
        verify(SECRET, token, DAY + timedelta(days=7))


# -- storm protection ----------------------------------------------------------------------


def test_rate_limit_coalesces_a_burst(store_url: str, receivers: dict[str, Receiver]) -> None:
    clock = [DAY]
    config = config_for(store_url, receivers,
                        notify={"rate_limit": 2, "rate_window": "10m", "after_hours": "batch",
                                "page_oncall": "rota"})
    app = make_app(config, clock=lambda: clock[0])
    app.ingestor.ingest([question(n, published=DAY) for n in range(6)], DAY)
    assert dispatch(app).sent == 2
    assert len(receivers["team"].messages) == 2
    clock[0] = DAY + timedelta(minutes=9)
    assert dispatch(app).sent == 0
    clock[0] = DAY + timedelta(minutes=10)
    assert dispatch(app).sent == 4
    assert len(receivers["team"].messages) == 3
    summary = receivers["team"].messages[2]
    assert summary["title"].startswith("4 alerts in a burst (rate limit) (4 normal)")
    assert len(refs(receivers["team"])) == 6  # every alert's ref arrived, each once
    app.store.close()


# -- exactly once ----------------------------------------------------------------------------


def test_alert_delivered_exactly_once_across_a_restart(store_url: str,
                                                       receivers: dict[str, Receiver]) -> None:
    clock = [DAY]
    config = config_for(store_url, receivers)
    first = make_app(config, clock=lambda: clock[0])
    first.ingestor.ingest([complaint(1), question(2, published=DAY)], DAY)
    receivers["team"].failures_left = 1  # the team channel is down for the first try
    dispatch(first)
    first.store.close()
    # A new process on the same store (the old one died): sends what is left, only that.
    clock[0] = DAY + timedelta(minutes=1)
    second = make_app(config, clock=lambda: clock[0], migrate=False)
    dispatch(second)
    dispatch(second)
    assert len(receivers["ada"].messages) == 1
    assert refs(receivers["team"]) == sorted(set(refs(receivers["team"])))
    assert len(refs(receivers["team"])) == 2
    with second.store.session() as session:
        statuses = {a.idempotency_key: a.status for a in session.scalars(select(Alert))}
        oks = [d for d in session.scalars(select(Delivery)) if d.ok]
    assert set(statuses.values()) == {"sent"} and len(oks) == 3
    second.store.close()


# -- message content per channel ---------------------------------------------------------------


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[int, _Mailbox]]:
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mailbox = _Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, mailbox
    controller.stop()


def test_email_gets_html_with_escaped_review_and_deadline(
        store_url: str, receivers: dict[str, Receiver], smtp: tuple[int, _Mailbox]) -> None:
    port, mailbox = smtp
    clock = [DAY]
    mail = f"mailto://127.0.0.1:{port}?to=bo@example.com&from=rm@example.com"
    config = config_for(store_url, receivers, members={
        "ada": {"urls": [receivers["ada"].apprise_url], "timezone": "Europe/Oslo"},
        "bo": {"urls": [mail], "timezone": "America/New_York"}},
        routes=[{"targets": ["member:bo", "member:ada"]}])
    app = make_app(config, clock=lambda: clock[0])
    app.ingestor.ingest([complaint(1)], DAY)
    with app.store.session() as session:
        mention = session.scalars(select(Mention)).one()
        mention.sla_due_at = DAY + timedelta(hours=1)
    dispatch(app)
    assert len(mailbox.messages) == 1
    html_part = mailbox.messages[0].get_body(("html",))
    assert html_part is not None
    html = html_part.get_content()
    assert "&lt;b&gt;*now*&lt;/b&gt;" in html and "<b>*now*</b>" not in html
    assert "Jane &lt;script&gt;" in html
    assert "Reply publicly by:</strong> Tue 24 Nov 06:00 EST (America/New_York)" in html
    assert '<a href="http://testserver/ack/' in html
    chat = receivers["ada"].messages[0]["message"]
    assert r"\<b\>\*now\*\</b\> \[x\]\(http://evil\)" in chat  # markdown escaped
    assert "Tue 24 Nov 12:00 CET (Europe/Oslo)" in chat
    assert "[Reply publicly](https://example.com/r/1)" in chat
    app.store.close()


def test_sms_text_is_short() -> None:
    view = AlertView(key="rm-m1-member:ada", title="[high complaint] Acme on tp: x",
                     kind="complaint", severity="high", brand="Acme", source="tp",
                     text="word " * 200, ack_url="https://rm.example/ack/1.2.abc", alert_id=1,
                     sla_due="Tue 24 Nov 12:00 CET (Europe/Oslo)")
    rendered = render_view(view)
    assert len(rendered.text) <= 320
    assert rendered.text.endswith("Ack: https://rm.example/ack/1.2.abc ref: rm-m1-member:ada")
    assert "Due Tue 24 Nov 12:00 CET" in rendered.text
    assert escape_markdown("*a* [b](c) <d>") == r"\*a\* \[b\]\(c\) \<d\>"


# -- apprise config tags and the commands -------------------------------------------------------


def test_tags_from_an_apprise_config_file_and_the_commands(
        tmp_path: Path, receivers: dict[str, Receiver], capsys: pytest.CaptureFixture[str]
) -> None:
    from monitor.cli import main

    (tmp_path / "apprise.yml").write_text(
        f"urls:\n  - {receivers['team'].apprise_url}:\n    - tag: ops\n", encoding="utf-8")
    config_path = tmp_path / "monitor.toml"
    config_path.write_text(f"""
[store]
url = "sqlite:///{tmp_path / 'store.db'}"
[hours]
timezone = "Europe/Oslo"
weekly = "mon-fri 09:00-17:00"
[notify]
after_hours = "batch"
apprise_config = "apprise.yml"
[brands.acme]
keywords = ["acme"]
[members.ada]
urls = ["{receivers['ada'].apprise_url}"]
timezone = "Europe/Oslo"
[members.bo]
urls = ["{receivers['bo'].apprise_url}"]
[oncall.rota]
timezone = "Europe/Oslo"
members = ["ada", "bo"]
rotation = "daily"
handoff = "08:00"
[[routes]]
name = "critical"
severities = ["critical"]
targets = ["oncall:rota", "tag:ops"]
[[routes]]
name = "nordic"
languages = ["nb"]
targets = ["member:bo"]
""", encoding="utf-8")
    assert main(["routes", "test", "-c", str(config_path), "--severity", "critical",
                 "--at", "2026-11-24T22:00:00+00:00"]) == 0
    out = capsys.readouterr().out
    assert "support hours closed" in out
    assert "member:bo -> bo (on call) [critical]: now" in out  # 24 Nov is Bo's day
    assert "tag:ops [critical]: now" in out
    assert main(["routes", "test", "-c", str(config_path), "--severity", "normal",
                 "--lang", "nb", "--at", "2026-11-24T22:00:00+00:00"]) == 0
    assert "held until Wed 2026-11-25 09:00 CET" in capsys.readouterr().out
    assert main(["routes", "test", "-c", str(config_path), "--at", "2026-11-24T10:00:00Z",
                 "--text", "Acme charger caught fire, dangerous"]) == 0
    out = capsys.readouterr().out
    assert "severity=critical" in out and "tag:ops" in out
    assert main(["oncall", "-c", str(config_path), "--at", "2026-11-24T22:00:00+00:00"]) == 0
    out = capsys.readouterr().out
    assert "now:  bo (rotation) until Wed 2026-11-25 08:00 CET" in out
    assert "next: ada from Wed 2026-11-25 08:00 CET" in out
    # Real deliveries through the tag, then `review-monitor ack`.
    from monitor.config import load_config

    config = load_config(config_path)
    clock = [NIGHT]
    app = make_app(config, clock=lambda: clock[0])
    app.ingestor.ingest([complaint(7, body="My Acme charger caught fire. Dangerous!")], NIGHT)
    dispatch(app)
    assert len(receivers["team"].messages) == 1 and len(receivers["bo"].messages) == 1
    with app.store.session() as session:
        alert_id = session.scalars(select(Alert)).first().id  # type: ignore[union-attr]
    app.store.close()
    assert main(["ack", str(alert_id), "-c", str(config_path), "--by", "bo"]) == 0
    assert "acknowledged alert" in capsys.readouterr().out
    assert main(["ack", str(alert_id), "-c", str(config_path), "--by", "ada"]) == 0
    assert "already acknowledged by bo" in capsys.readouterr().out
    assert main(["ack", "999", "-c", str(config_path)]) == 2
    assert "no alert 999" in capsys.readouterr().err


def test_check_config_names_bad_alerting_values(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from monitor.cli import main

    path = tmp_path / "bad.toml"
    path.write_text("""
[members.bo]
urls = ["json://127.0.0.1:9/bo"]
[oncall.cal]
calendar = "missing.ics"
""", encoding="utf-8")
    assert main(["check-config", str(path)]) == 2
    assert "oncall.cal.calendar:" in capsys.readouterr().err
    path.write_text("""
[notify]
page_oncall = "nights"
[members.ada]
urls = ["nonsense://x"]
[[routes]]
targets = ["oncall:rota", "member:zed", "tag:ops"]
""", encoding="utf-8")
    assert main(["check-config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "routes[0].targets: no schedule 'rota' in [oncall]" in err
    assert "routes[0].targets: no member 'zed' in [members]" in err
    assert "routes[0].targets: 'tag:ops' needs notify.apprise_config" in err
    assert "notify.page_oncall: no schedule 'nights' in [oncall]" in err


def test_console_gets_the_full_plain_message(tmp_path: Path,
                                             receivers: dict[str, Receiver]) -> None:
    import io

    console = io.StringIO()
    config = config_for(f"sqlite:///{tmp_path / 's.db'}", receivers,
                        routes=[{"targets": ["console"]}])
    app = make_app(config, clock=lambda: DAY, console=lambda: console)
    app.ingestor.ingest([complaint(1)], DAY)
    dispatch(app)
    out = console.getvalue()
    assert "Complaint (high) about Acme on tp by Jane <script>, rating 1/5" in out
    assert "Acme never delivered my order. I want a refund. <b>*now*</b>" in out
    assert "Acknowledge: http://testserver/ack/" in out and "ref: rm-m1-console" in out
    app.store.close()


def test_incident_alerts_route_escalate_and_ack_together(store_url: str,
                                                         receivers: dict[str, Receiver]) -> None:
    from monitor.notify.escalation import acknowledge_alert

    clock = [DAY]
    config = config_for(store_url, receivers, routes=[
        {"name": "incidents", "incident": True, "targets": ["oncall:rota"]},
        {"name": "singles", "incident": False, "targets": ["team"]}])
    app = make_app(config, clock=lambda: clock[0])
    body = "The Acme app login is broken since the update, I cannot log in at all"
    app.ingestor.ingest([complaint(n, author=f"user{n}", title=None, rating=None,
                                   body=f"{body} ({n})", published=DAY) for n in range(4)], DAY)
    app.ingestor.ingest([complaint(9)], DAY)  # a single complaint, not part of it
    dispatch(app)
    with app.store.session() as session:
        incident_alerts = [a for a in session.scalars(select(Alert)) if a.purpose == "incident"]
    assert incident_alerts and all(a.incident_id is not None for a in incident_alerts)
    assert {a.channel for a in incident_alerts} == {"member:ada"}
    assert all(a.escalate_at is not None for a in incident_alerts)  # incidents always do
    result = acknowledge_alert(app.store, incident_alerts[0].id or 0, "ada", DAY)
    assert result.incident_id == incident_alerts[0].incident_id and result.alerts_acked >= 1
    clock[0] = DAY + timedelta(hours=1)
    escalate_due(app.store, app.ingestor.planner, clock[0])
    with app.store.session() as session:
        escalated = [a for a in session.scalars(select(Alert)) if a.tier > 0]
    # The unacknowledged single complaint escalates; the acknowledged incident does not.
    assert [(a.mention_id is not None, a.incident_id) for a in escalated] == [(True, None)]
    app.store.close()


def test_the_web_app_serves_the_ack_links(tmp_path: Path, receivers: dict[str, Receiver]) -> None:
    from monitor.web.app import make_web_app

    clock = [DAY]
    config = config_for(f"sqlite:///{tmp_path / 's.db'}", receivers)
    app = make_app(config, clock=lambda: clock[0])
    app.ingestor.ingest([complaint(1)], DAY)
    dispatch(app)
    client = TestClient(make_web_app(config, app.store, lambda: clock[0]))
    link = ack_link(receivers["ada"].messages[0]).removeprefix("http://testserver")
    assert "Acknowledge this alert?" in client.get(link).text
    assert "escalation stopped" in client.post(link, data={"by": "ada"}).text
    assert client.get("/ack/1.2.forged").status_code == 403
    app.store.close()


def test_held_batch_retried_after_a_failure_and_a_restart(store_url: str,
                                                          receivers: dict[str, Receiver]
                                                          ) -> None:
    from monitor.daemon import Daemon

    clock = [NIGHT]
    config = config_for(store_url, receivers)
    first = make_app(config, clock=lambda: clock[0])
    first.ingestor.ingest([question(n) for n in range(3)], NIGHT)
    clock[0] = MORNING
    receivers["team"].failures_left = 1
    assert dispatch(first).retrying == 3 and receivers["team"].messages == []
    first.store.close()
    clock[0] = MORNING + timedelta(minutes=5)
    second = make_app(config, clock=lambda: clock[0], migrate=False)
    assert dispatch(second).sent == 3
    assert dispatch(second).sent == 0
    assert len(receivers["team"].messages) == 1 and len(refs(receivers["team"])) == 3
    # The daemon's sweep escalates the three unacknowledged questions (min_severity
    # normal here) to tier 1, one row each, and the backup gets them.
    clock[0] = MORNING + timedelta(minutes=30)
    assert Daemon(second).sweep_escalations() == 3
    dispatch(second)
    assert len(receivers["bo"].messages) == 3
    second.store.close()


@pytest.mark.parametrize(("url", "expected"), [
    ("mailto://user:pw@example.com", "html"),
    ("mailtos://mail.example.com?to=a@example.com", "html"),
    ("twilio://sid:token@15551234567/15557654321", "text"),
    ("sns://key/secret/us-east-1/+4790000000", "text"),
    ("slack://T000/B000/XXXX/#care", "markdown"),
    ("json://127.0.0.1/hook", "markdown"),
    (None, "text"),
])
def test_message_form_per_channel(url: str | None, expected: str) -> None:
    from monitor.notify.channels import body_format_for

    assert body_format_for(url) == expected


def test_hostile_review_text_cannot_ping_link_or_break_out() -> None:
    """Review 6: '@everyone'/'<!channel>' in a review pinged the whole chat channel
    (backslash escapes do not stop mentions), and the post's URL went into the markdown
    link and the HTML href as it came: a ')' ended the link early and a javascript: URL
    was a link."""
    hostile = AlertView(
        key="k", title="[critical complaint] Acme on tp: @everyone look", kind="complaint",
        severity="critical", brand="Acme", source="tp", author="@here",
        heading="<!channel> urgent", text="@everyone [x](javascript:alert(1)) <@123>",
        url="https://tp.example/r?a=(1)", ack_url="https://rm.example/ack/1.2.abc",
        alert_id=1)
    rendered = render_view(hostile)
    for body in (rendered.markdown, rendered.title):
        for mention in ("@everyone", "@here", "!channel", "@123"):
            assert mention not in body
    assert "@\u200beveryone" in rendered.markdown
    assert "[Reply publicly](https://tp.example/r?a=%281%29)" in rendered.markdown
    assert 'href="https://tp.example/r?a=%281%29"' in rendered.html
    for url in ("javascript:alert(1)", "data:text/html,x", "https://a.example/x y",
                "https://a.example/\nforged"):
        evil = render_view(AlertView(key="k", title="t", kind="complaint", severity="high",
                                     brand="Acme", source="tp", text="x", url=url))
        assert "Reply publicly]" not in evil.markdown
        assert "href" not in evil.html
        batch = render_batch("team", [evil_view(url), evil_view(url)], "held")
        assert "[reply]" not in batch.markdown and "reply</a>" not in batch.html


def evil_view(url: str) -> AlertView:
    return AlertView(key="k", title="t", kind="complaint", severity="high", brand="Acme",
                     source="tp", heading="@channel hi", url=url)


def test_member_without_a_zone_reads_deadlines_in_the_teams_zone(
        receivers: dict[str, Receiver]) -> None:
    """Review 6: a member with no timezone got 'UTC' deadlines in an Oslo team; unset now
    means the team's [hours] zone, as for channels."""
    from monitor.notify.channels import Channels

    config = config_for("sqlite://", receivers, members={
        "ada": {"urls": [receivers["ada"].apprise_url]},
        "bo": {"urls": [receivers["bo"].apprise_url], "timezone": "America/New_York"}})
    channels = Channels(config)
    assert channels.timezone("member:ada") is None
    assert channels.timezone("member:bo") == "America/New_York"


def test_a_targets_label_never_shows_its_secrets() -> None:
    """Review 6: the label (logs, last_error, the dead-letter notice sent to the fallback
    channel) kept the URL's path, which for webhooks is the secret."""
    from monitor.notify.channels import Target

    label = Target("json://user:supersecret@127.0.0.1:9/hooks/T0KENSECRET?token=QSECRET").label
    assert label == "json://127.0.0.1:9"
    slack = Target("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#chan").label
    assert "TIiajkdnlazkcOXrIdevi7FQ" not in slack and slack.startswith("slack://")


def _complaint_alerted_by_day(tmp_path: Path,
                              receivers: dict[str, Receiver]) -> tuple[App, list[datetime]]:
    """An app whose clock is the returned list's one item, with ``complaint(1)`` stored
    and its alert sent at ``DAY``."""
    clock = [DAY]
    app = make_app(config_for(f"sqlite:///{tmp_path / 's.db'}", receivers),
                   clock=lambda: clock[0])
    app.ingestor.ingest([complaint(1)], DAY)
    dispatch(app)
    return app, clock


@pytest.mark.parametrize("status", ["replied", "resolved", "not_complaint"])
def test_no_escalation_once_the_mention_is_handled(tmp_path: Path, receivers: dict[str, Receiver],
                                                   status: str) -> None:
    """Review 6: a complaint already answered publicly (reply detected) or closed in the
    inbox without anyone pressing 'acknowledge' still woke the backup and then the lead."""
    app, clock = _complaint_alerted_by_day(tmp_path, receivers)
    with app.store.session() as session:
        mention = session.scalars(select(Mention)).one()
        mention.status = status
    clock[0] = DAY + timedelta(minutes=15)
    assert app.ingestor.planner is not None
    assert escalate_due(app.store, app.ingestor.planner, clock[0]) == 0
    clock[0] = DAY + timedelta(hours=2)
    assert escalate_due(app.store, app.ingestor.planner, clock[0]) == 0
    dispatch(app)
    assert receivers["bo"].messages == []
    with app.store.session() as session:
        assert all(a.escalate_at is None for a in session.scalars(select(Alert)))
    app.store.close()


def test_long_chat_messages_are_split_not_refused() -> None:
    """Review 6: apprise passes an over-long message on as it is ('upstream'), so a
    morning batch of 30 alerts (7,000+ characters) to Discord (2,000) failed every retry
    and went to the dead letters. Chat targets split unless the URL says otherwise."""
    from apprise import OverflowMode

    from monitor.notify.channels import Target

    discord = "discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js"
    assert Target(discord)._apprise is not None
    assert Target(discord)._apprise[0].overflow_mode == OverflowMode.SPLIT  # type: ignore[index]
    chosen = Target(discord + "?overflow=truncate")._apprise
    assert chosen is not None and chosen[0].overflow_mode == OverflowMode.TRUNCATE
    mail = Target("mailto://127.0.0.1:2525?to=a@example.com&from=rm@example.com")._apprise
    assert mail is not None and mail[0].overflow_mode != OverflowMode.SPLIT


@pytest.mark.parametrize("token", ["1." + "9" * 5000 + ".abc", "9" * 5000 + ".1.abc",
                                   "\u0661.1796162400.abc", "1.2", "..", "-1.5.x"])
def test_malformed_ack_tokens_are_one_line_errors(token: str) -> None:
    """Review 6: a 5,000-digit number in a link made int() raise ValueError (a server
    error page) instead of 'malformed'."""
    with pytest.raises(AckLinkError, match="malformed"):
        verify(SECRET, token, DAY)


def test_check_config_names_each_bad_hours_and_oncall_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Review 6: [hours] and [oncall.X] were checked as a whole: one problem at a time,
    named 'hours:' or 'oncall.primary:' instead of the key to fix."""
    from monitor.cli import main

    path = tmp_path / "bad.toml"
    path.write_text("""
[hours]
timezone = "Europe/Olso"
weekly = "mon-fri 09:00-25:00"
[members.ada]
urls = ["json://127.0.0.1:9/ada"]
[oncall.primary]
timezone = "Europe/Oslo"
members = ["ada"]
handoff = "9am"
handoff_day = "funday"
""", encoding="utf-8")
    assert main(["check-config", str(path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert [line.split(": ")[1] for line in err] == [
        "hours.timezone", "hours.weekly", "oncall.primary.handoff",
        "oncall.primary.handoff_day"]


def test_batch_retry_does_not_repeat_alerts_a_target_already_took(
        tmp_path: Path, receivers: dict[str, Receiver]) -> None:
    """Review 6: a held batch that reached one URL of a channel and failed on another was
    sent again, whole, to both once an alert joined it: the URL that had taken it got its
    alerts twice. Each URL now gets only what it has not taken."""
    clock = [NIGHT]
    config = config_for(f"sqlite:///{tmp_path / 's.db'}", receivers, channels={
        "team": {"urls": [receivers["team"].apprise_url, receivers["bo"].apprise_url]}})
    app = make_app(config, clock=lambda: clock[0])
    app.ingestor.ingest([question(1), question(2)], NIGHT)
    clock[0] = MORNING
    receivers["bo"].failures_left = 1
    assert dispatch(app).retrying == 2
    assert refs(receivers["team"]) == ["rm-m1-team", "rm-m2-team"]
    app.ingestor.ingest([question(3)], NIGHT)  # held for the same morning
    clock[0] = MORNING + timedelta(minutes=5)
    assert dispatch(app).sent == 3
    assert refs(receivers["team"]) == ["rm-m1-team", "rm-m2-team", "rm-m3-team"]
    assert refs(receivers["bo"]) == ["rm-m1-team", "rm-m2-team", "rm-m3-team"]
    app.store.close()


def test_ack_command_without_a_user_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """Review 6: in a container whose user has no passwd entry and no $USER,
    getpass.getuser() raised and `review-monitor ack 5` ended in a traceback."""
    import getpass

    from monitor.cli import main
    from monitor.store import Store

    path = tmp_path / "m.toml"
    path.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "s.db"}"\n', encoding="utf-8")
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    store.upgrade()
    with store.session() as session:
        alert = Alert(channel="console", idempotency_key="k", status="sent", title="t",
                      body="b", next_attempt_at=DAY, created_at=DAY)
        session.add(alert)
        session.flush()
        alert_id = alert.id
    store.close()

    def nobody() -> str:
        raise KeyError("getpwuid(): uid not found: 1234")

    monkeypatch.setattr(getpass, "getuser", nobody)
    assert main(["ack", str(alert_id), "-c", str(path)]) == 0
    assert "as cli" in capsys.readouterr().out


def test_title_is_one_line_whatever_the_author_holds() -> None:
    """Review 6: SLA titles name the author; a line break there reached the e-mail
    Subject (refused by the mail library on every retry, or a forged header)."""
    view = AlertView(key="k", title="[reply due] 50%: Acme on tp by Eve\r\nBcc: x@evil.example",
                     kind="sla_reminder", severity="", brand="", source="", plain="body")
    title = render_view(view).title
    assert "\n" not in title and "\r" not in title
    assert title.replace("\u200b", "") == "[reply due] 50%: Acme on tp by Eve Bcc: x@evil.example"


# -- held alerts of mentions handled while they waited -------------------------------------


def _mid(app: App, n: int) -> int:
    """The stored id of ``question(n)`` (PostgreSQL's ids do not restart at 1)."""
    with app.store.session() as session:
        return int(session.scalars(select(Mention.id).where(
            Mention.external_id == f"q{n}")).one())


def _handle(app: App, how: str, n: int, at: datetime, tmp_path: Path) -> str:
    """Handle ``question(n)`` one way; returns what its outbox row's reason says."""
    from monitor import triage
    from monitor.cli import main
    from monitor.notify.escalation import acknowledge_alert
    from spiders.items import CompanyReply

    if how == "public reply":
        # The site now shows the company's answer under the review: reply detection.
        app.ingestor.ingest([question(n, company_replies=[
            CompanyReply("Yes, we deliver there: next day.", "Acme", at)])], at)
        return "mention replied"
    mention_id = _mid(app, n)
    with app.store.session() as session:
        alert_id = session.scalars(select(Alert.id).where(Alert.mention_id == mention_id)).one()
    if how == "ack link":
        acknowledge_alert(app.store, alert_id, "ada", at)
        return "acknowledged by ada"
    if how == "ack command":
        path = tmp_path / "m.toml"
        path.write_text(f'[store]\nurl = "{app.store.url}"\n', encoding="utf-8")
        assert main(["ack", str(alert_id), "-c", str(path), "--by", "bo"]) == 0
        return "acknowledged by bo"
    if how == "resolved":
        assert triage.resolve(app.store, [mention_id], "cy", at) == 1
        return "mention resolved"
    assert how == "not a complaint"
    assert triage.not_complaint(app.store, [mention_id], "cy", at) == 1
    return "mention not complaint"


@pytest.mark.parametrize("how", ["public reply", "ack link", "ack command", "resolved",
                                 "not a complaint"])
def test_held_alert_of_a_mention_handled_before_opening_is_not_sent(
        store_url: str, receivers: dict[str, Receiver], tmp_path: Path, how: str) -> None:
    """Held for business hours, then handled before the opening (a public reply detected,
    acknowledged by link or command, resolved or not a complaint in the inbox): not sent
    at the opening, marked cancelled with the reason; the still-open ones of the same
    batch go out once, in a message that counts only them, and only they escalate."""
    clock = [NIGHT]
    app = make_app(config_for(store_url, receivers), clock=lambda: clock[0])
    app.ingestor.ingest([question(n) for n in (1, 2, 3)], NIGHT)
    assert dispatch(app).sent == 0
    clock[0] = NIGHT + timedelta(hours=2)
    reason = _handle(app, how, 2, clock[0], tmp_path)
    assert dispatch(app).sent == 0  # still night
    clock[0] = MORNING
    result = dispatch(app)
    assert (result.sent, result.cancelled) == (2, 0 if how.startswith("ack") else 1)
    assert len(receivers["team"].messages) == 1
    message = receivers["team"].messages[0]
    assert message["title"].startswith("2 alerts held for business hours (2 normal)")
    one, two, three = (_mid(app, n) for n in (1, 2, 3))
    assert refs(receivers["team"]) == [f"rm-m{one}-team", f"rm-m{three}-team"]
    assert "postcode 2?" not in message["message"]
    with app.store.session() as session:
        rows = {a.mention_id: a for a in session.scalars(select(Alert))}
        deliveries = session.scalars(select(Delivery.alert_id)).all()
    assert rows[two].status == "cancelled" and rows[two].sent_at is None
    assert reason in (rows[two].last_error or "")
    assert rows[two].escalate_at is None and rows[two].id not in deliveries
    assert (rows[one].status, rows[three].status) == ("sent", "sent")
    # Nothing more goes out later, and only the open ones escalate.
    clock[0] = MORNING + timedelta(minutes=15)
    assert dispatch(app).sent == 0
    assert app.ingestor.planner is not None
    assert escalate_due(app.store, app.ingestor.planner, clock[0]) == 2
    dispatch(app)
    assert refs(receivers["bo"]) == [f"rm-m{one}-t1-member:bo", f"rm-m{three}-t1-member:bo"]
    assert len(receivers["team"].messages) == 1
    app.store.close()


def _held_then_snoozed(store_url: str, receivers: dict[str, Receiver],
                       until: datetime) -> tuple[App, list[datetime], int]:
    """``question(1)`` held at NIGHT for the opening (MORNING), its mention snoozed at
    MORNING-2h until ``until``; the app's clock is the list's one item (at MORNING)."""
    from monitor import triage

    clock = [NIGHT]
    app = make_app(config_for(store_url, receivers), clock=lambda: clock[0])
    app.ingestor.ingest([question(1)], NIGHT)
    assert dispatch(app).sent == 0
    snoozed_at = MORNING - timedelta(hours=2)
    mention_id = _mid(app, 1)
    assert triage.snooze(app.store, [mention_id], until, "cy", snoozed_at) == 1
    clock[0] = MORNING
    return app, clock, mention_id


def _the_alert(app: App) -> Alert:
    with app.store.session() as session:
        return session.scalars(select(Alert).where(Alert.tier == 0)).one()


def test_held_alert_of_a_mention_whose_snooze_ended_at_night_goes_out_at_the_opening(
        tmp_path: Path, receivers: dict[str, Receiver]) -> None:
    """A snoozed mention waits for the team again when its snooze ends (the inbox shows
    it as waiting), so an alert held for business hours goes out at the opening."""
    app, _, mention_id = _held_then_snoozed(f"sqlite:///{tmp_path / 's.db'}", receivers,
                                            MORNING - timedelta(hours=1))
    result = dispatch(app)
    assert (result.sent, result.cancelled, result.deferred) == (1, 0, 0)
    assert _the_alert(app).status == "sent"
    assert refs(receivers["team"]) == [f"rm-m{mention_id}-team"]
    app.store.close()


def test_held_alert_of_a_mention_snoozed_past_the_opening_waits_for_the_snooze_end(
        store_url: str, receivers: dict[str, Receiver]) -> None:
    """Snoozed past the opening means "not now", not "never": the held alert is not
    cancelled but waits for the snooze's end (as escalation does); then, nobody having
    dealt with it and the team at work, it goes out once, and escalates after that."""
    snooze_end = MORNING + timedelta(hours=2)
    app, clock, mention_id = _held_then_snoozed(store_url, receivers, snooze_end)
    result = dispatch(app)
    assert (result.sent, result.cancelled, result.deferred) == (0, 0, 1)
    alert = _the_alert(app)
    assert (alert.status, alert.held, alert.next_attempt_at, alert.escalate_at) == (
        "pending", "snoozed", snooze_end, snooze_end + timedelta(minutes=15))
    assert alert.last_error is None
    # Nothing before the end: no message, no escalation (it follows the alert).
    clock[0] = snooze_end - timedelta(minutes=1)
    assert dispatch(app).sent == 0
    assert app.ingestor.planner is not None
    assert escalate_due(app.store, app.ingestor.planner, clock[0]) == 0
    assert receivers["team"].messages == []
    clock[0] = snooze_end
    result = dispatch(app)
    assert (result.sent, result.cancelled, result.deferred) == (1, 0, 0)
    clock[0] = snooze_end + timedelta(minutes=5)
    assert dispatch(app).sent == 0
    assert refs(receivers["team"]) == [f"rm-m{mention_id}-team"]
    assert "held" not in receivers["team"].messages[0]["title"]
    assert _the_alert(app).status == "sent"
    clock[0] = snooze_end + timedelta(minutes=15)
    assert escalate_due(app.store, app.ingestor.planner, clock[0]) == 1
    dispatch(app)
    assert refs(receivers["bo"]) == [f"rm-m{mention_id}-t1-member:bo"]
    assert len(receivers["team"].messages) == 1
    app.store.close()


def test_held_alert_whose_snooze_ends_after_hours_waits_for_the_next_opening(
        store_url: str, receivers: dict[str, Receiver]) -> None:
    """The snooze ends at 18:00 Oslo, after the team went home: the alert is held again
    for the next opening (Thursday 09:00), then sent once."""
    snooze_end = MORNING + timedelta(hours=9)  # Wednesday 18:00 Oslo
    thursday = MORNING + timedelta(days=1)     # Thursday 09:00 Oslo
    app, clock, mention_id = _held_then_snoozed(store_url, receivers, snooze_end)
    assert dispatch(app).deferred == 1
    clock[0] = snooze_end
    result = dispatch(app)
    assert (result.sent, result.cancelled, result.deferred) == (0, 0, 1)
    alert = _the_alert(app)
    assert (alert.status, alert.held, alert.next_attempt_at, alert.escalate_at) == (
        "pending", "after_hours", thursday, thursday + timedelta(minutes=15))
    clock[0] = thursday - timedelta(minutes=1)
    assert dispatch(app).sent == 0
    assert receivers["team"].messages == []
    clock[0] = thursday
    assert dispatch(app).sent == 1
    clock[0] = thursday + timedelta(minutes=5)
    assert dispatch(app).sent == 0
    assert refs(receivers["team"]) == [f"rm-m{mention_id}-team"]
    assert _the_alert(app).status == "sent"
    app.store.close()


@pytest.mark.parametrize("how", ["resolved", "public reply", "not a complaint"])
def test_held_alert_of_a_mention_handled_during_its_snooze_is_cancelled(
        store_url: str, receivers: dict[str, Receiver], tmp_path: Path, how: str) -> None:
    """Deferred to the snooze's end, then resolved (replied to, not a complaint) while the
    snooze ran: cancelled at the end with the reason, never sent, never escalated."""
    snooze_end = MORNING + timedelta(hours=2)
    app, clock, _ = _held_then_snoozed(store_url, receivers, snooze_end)
    assert dispatch(app).deferred == 1
    clock[0] = MORNING + timedelta(hours=1)
    reason = _handle(app, how, 1, clock[0], tmp_path)
    clock[0] = snooze_end
    result = dispatch(app)
    assert (result.sent, result.cancelled, result.deferred) == (0, 1, 0)
    alert = _the_alert(app)
    assert alert.status == "cancelled" and alert.escalate_at is None
    assert reason in (alert.last_error or "")
    assert app.ingestor.planner is not None
    assert escalate_due(app.store, app.ingestor.planner,
                        snooze_end + timedelta(hours=1)) == 0
    dispatch(app)
    assert receivers["team"].messages == [] and receivers["bo"].messages == []
    app.store.close()


@pytest.mark.parametrize("how", ["reopened", "snoozed shorter"])
def test_held_alert_of_a_mention_reopened_or_snoozed_shorter_does_not_wait_for_the_old_end(
        store_url: str, receivers: dict[str, Receiver], how: str) -> None:
    """Waiting for a snooze that ends at 14:00 UTC, the mention is reopened at 08:30 (open
    again: its alert goes out, docs/alerting.md), or snoozed again until 10:00 only: the
    alert goes out then, not at the old end, and its escalation moves with it."""
    from monitor import triage

    old_end = MORNING + timedelta(hours=6)
    app, clock, mention_id = _held_then_snoozed(store_url, receivers, old_end)
    assert dispatch(app).deferred == 1
    clock[0] = MORNING + timedelta(minutes=30)
    due = clock[0] if how == "reopened" else MORNING + timedelta(hours=2)
    if how == "reopened":
        assert triage.reopen(app.store, [mention_id], "cy", clock[0]) == 1
    else:
        assert triage.snooze(app.store, [mention_id], due, "cy", clock[0]) == 1
    alert = _the_alert(app)
    assert (alert.next_attempt_at, alert.escalate_at) == (due, due + timedelta(minutes=15))
    clock[0] = due
    assert dispatch(app).sent == 1
    assert refs(receivers["team"]) == [f"rm-m{mention_id}-team"]
    app.store.close()


def test_held_alert_of_a_mention_snoozed_again_waits_for_the_new_end(
        tmp_path: Path, receivers: dict[str, Receiver]) -> None:
    """Snoozed on while it waited: at the first end it waits for the second."""
    from monitor import triage

    first_end = MORNING + timedelta(hours=2)
    second_end = MORNING + timedelta(hours=5)
    app, clock, mention_id = _held_then_snoozed(f"sqlite:///{tmp_path / 's.db'}",
                                                receivers, first_end)
    assert dispatch(app).deferred == 1
    assert triage.snooze(app.store, [mention_id], second_end, "cy",
                         MORNING + timedelta(hours=1)) == 1
    clock[0] = first_end
    assert dispatch(app).deferred == 1
    assert _the_alert(app).next_attempt_at == second_end
    clock[0] = second_end
    assert dispatch(app).sent == 1
    assert refs(receivers["team"]) == [f"rm-m{mention_id}-team"]
    app.store.close()


def _escalates_once_to_bo(app: Any, clock: list[datetime], receivers: dict[str, Receiver],
                          mention_id: int) -> None:
    """At clock[0] the tier-1 escalation goes to bo, and a minute later nothing more."""
    assert escalate_due(app.store, app.ingestor.planner, clock[0]) == 1
    clock[0] += timedelta(minutes=1)
    assert escalate_due(app.store, app.ingestor.planner, clock[0]) == 0
    dispatch(app)
    assert refs(receivers["bo"]) == [f"rm-m{mention_id}-t1-member:bo"]
    app.store.close()


@pytest.mark.parametrize("snoozed_for", [timedelta(minutes=4), timedelta(minutes=29)])
def test_escalation_of_a_snoozed_mention_goes_on_when_the_snooze_ends(
        tmp_path: Path, receivers: dict[str, Receiver], snoozed_for: timedelta) -> None:
    """Snoozed at DAY+1m with nobody acknowledging; the tier-1 escalation falls due at
    DAY+10m. A snooze that ended before (DAY+5m) no longer counts as handled: the next
    person is woken at the sweep. One that runs on (to DAY+30m) defers the escalation to
    its end, and it goes on then. Either way: once."""
    from monitor import triage

    app, clock = _complaint_alerted_by_day(tmp_path, receivers)
    with app.store.session() as session:
        mention_id = int(session.scalars(select(Mention.id)).one())
    snooze_end = DAY + timedelta(minutes=1) + snoozed_for
    assert triage.snooze(app.store, [mention_id], snooze_end, "cy",
                         DAY + timedelta(minutes=1)) == 1
    assert app.ingestor.planner is not None
    clock[0] = DAY + timedelta(minutes=15)
    if snooze_end > clock[0]:
        assert escalate_due(app.store, app.ingestor.planner, clock[0]) == 0
        with app.store.session() as session:
            assert {a.escalate_at for a in session.scalars(
                select(Alert).where(Alert.tier == 0))} == {snooze_end}
        clock[0] = snooze_end
    _escalates_once_to_bo(app, clock, receivers, mention_id)


@pytest.mark.parametrize("how", ["reopened", "snoozed shorter"])
def test_escalation_put_off_by_a_snooze_follows_a_reopen_or_a_shorter_snooze(
        tmp_path: Path, receivers: dict[str, Receiver], how: str) -> None:
    """Snoozed at DAY+1m to DAY+60m, the tier-1 escalation due at DAY+10m is put off to
    DAY+60m. Reopened at DAY+20m, it goes on at once; snoozed again to DAY+30m only, it
    goes on then, not at the old end. Once either way."""
    from monitor import triage

    app, clock = _complaint_alerted_by_day(tmp_path, receivers)
    with app.store.session() as session:
        mention_id = int(session.scalars(select(Mention.id)).one())
    old_end = DAY + timedelta(minutes=60)
    assert triage.snooze(app.store, [mention_id], old_end, "cy",
                         DAY + timedelta(minutes=1)) == 1
    assert app.ingestor.planner is not None
    clock[0] = DAY + timedelta(minutes=15)
    assert escalate_due(app.store, app.ingestor.planner, clock[0]) == 0
    clock[0] = DAY + timedelta(minutes=20)
    if how == "reopened":
        due = clock[0]
        assert triage.reopen(app.store, [mention_id], "cy", clock[0]) == 1
    else:
        due = DAY + timedelta(minutes=30)
        assert triage.snooze(app.store, [mention_id], due, "cy", clock[0]) == 1
    with app.store.session() as session:
        assert {a.escalate_at for a in session.scalars(
            select(Alert).where(Alert.tier == 0))} == {due}
    if due > clock[0]:
        assert escalate_due(app.store, app.ingestor.planner, clock[0]) == 0
        clock[0] = due
    _escalates_once_to_bo(app, clock, receivers, mention_id)


def test_held_alert_goes_out_alone_when_the_rest_of_its_batch_was_handled(
        tmp_path: Path, receivers: dict[str, Receiver]) -> None:
    """Two held, one replied before the opening: the other is sent once, as itself (not
    as "1 alerts held ..."); a mention reopened before the opening is sent too."""
    from monitor import triage

    clock = [NIGHT]
    app = make_app(config_for(f"sqlite:///{tmp_path / 's.db'}", receivers),
                   clock=lambda: clock[0])
    app.ingestor.ingest([question(n) for n in (1, 2, 3)], NIGHT)
    _handle(app, "public reply", 1, NIGHT + timedelta(hours=1), tmp_path)
    assert triage.resolve(app.store, [_mid(app, 3)], "cy", NIGHT + timedelta(hours=1)) == 1
    assert triage.reopen(app.store, [_mid(app, 3)], "cy", NIGHT + timedelta(hours=2)) == 1
    clock[0] = MORNING
    result = dispatch(app)
    assert (result.sent, result.cancelled) == (2, 1)
    assert refs(receivers["team"]) == ["rm-m2-team", "rm-m3-team"]
    clock[0] = MORNING + timedelta(hours=1)
    assert dispatch(app).sent == 0
    _handle(app, "public reply", 2, clock[0], tmp_path)
    app.ingestor.ingest([question(4)], NIGHT + timedelta(days=1))
    app.ingestor.ingest([question(5)], NIGHT + timedelta(days=1))
    _handle(app, "public reply", 4, NIGHT + timedelta(days=1, hours=1), tmp_path)
    clock[0] = MORNING + timedelta(days=1)
    assert dispatch(app).sent == 1
    last = receivers["team"].messages[-1]
    assert "held for business hours" not in last["title"]
    assert "postcode 5?" in last["message"] and "postcode 4?" not in last["message"]
    app.store.close()


def test_rate_limited_alerts_of_replied_mentions_are_left_out_of_the_summary(
        store_url: str, receivers: dict[str, Receiver]) -> None:
    clock = [DAY]
    config = config_for(store_url, receivers,
                        notify={"rate_limit": 2, "rate_window": "10m", "after_hours": "batch",
                                "page_oncall": "rota"})
    app = make_app(config, clock=lambda: clock[0])
    app.ingestor.ingest([question(n, published=DAY) for n in range(1, 7)], DAY)
    assert dispatch(app).sent == 2  # 1 and 2; 3-6 held for the window
    clock[0] = DAY + timedelta(minutes=5)
    for n in (3, 5):
        _handle(app, "public reply", n, clock[0], Path("/nonexistent"))
    clock[0] = DAY + timedelta(minutes=10)
    result = dispatch(app)
    assert (result.sent, result.cancelled) == (2, 2)
    assert len(receivers["team"].messages) == 3
    summary = receivers["team"].messages[2]
    assert summary["title"].startswith("2 alerts in a burst (rate limit) (2 normal)")
    assert refs(receivers["team"]) == sorted(f"rm-m{_mid(app, n)}-team" for n in (1, 2, 4, 6))
    with app.store.session() as session:
        cancelled = {a.mention_id: a.last_error for a in session.scalars(
            select(Alert).where(Alert.status == "cancelled"))}
    assert sorted(cancelled) == [_mid(app, 3), _mid(app, 5)]
    assert all("mention replied" in (error or "") for error in cancelled.values())
    app.store.close()


def test_held_alert_acknowledged_after_the_dispatcher_claimed_it_is_not_sent(
        tmp_path: Path, receivers: dict[str, Receiver]) -> None:
    """The click lands between the claim and the send: the row is cancelled by then."""
    from monitor.notify.escalation import acknowledge_alert
    from monitor.notify.storm import drop_handled

    app = make_app(config_for(f"sqlite:///{tmp_path / 's.db'}", receivers),
                   clock=lambda: MORNING)
    app.ingestor.ingest([question(1), question(2)], NIGHT)
    claimed = app.store.due_alerts(MORNING)
    assert [a.held for a in claimed] == ["after_hours", "after_hours"]
    acknowledge_alert(app.store, claimed[0].id, "ada", MORNING)
    assert [a.id for a in drop_handled(app.store, claimed, MORNING)] == [claimed[1].id]
    with app.store.session() as session:
        first = session.get(Alert, claimed[0].id)
        assert first is not None and first.status == "cancelled"
    app.store.close()
