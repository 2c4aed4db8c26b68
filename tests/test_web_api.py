"""The web inbox and JSON API through FastAPI's TestClient, on SQLite and PostgreSQL:
login and sessions, CSRF, roles, every triage action, bulk actions, ignore rules that
ingest obeys, the API's tokens, escaping, security headers, /healthz and /metrics."""

from __future__ import annotations

import hashlib
import io
import re
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlmodel import col

sys.path.insert(0, str(Path(__file__).parent))

from web_helpers import (  # noqa: E402
    NOW,
    PASSWORDS,
    TOKENS,
    Clock,
    Web,
    complaint,
    csrf_of,
    make_web,
)

from monitor.store import Alert, Mention, Store  # noqa: E402
from monitor.store.models import IgnoreRule, Note, TriageEvent  # noqa: E402
from monitor.web.ops import LoopStatus  # noqa: E402


@pytest.fixture
def web(store_url: str) -> Web:
    return make_web(store_url)


def client(web: Web, user: str | None = "alice") -> TestClient:
    test_client = TestClient(web.web)
    if user is not None:
        login(test_client, user, PASSWORDS[user])
    return test_client


def login(test_client: TestClient, user: str, password: str, next_path: str = "/") -> Any:
    token = csrf_of(test_client.get("/login").text)
    return test_client.post("/login", data={"username": user, "password": password,
                                            "csrf": token, "next": next_path},
                            follow_redirects=False)


def post_form(test_client: TestClient, path: str, data: dict[str, Any] | None = None,
              page: str = "/") -> Any:
    token = csrf_of(test_client.get(page).text)
    return test_client.post(path, data={"csrf": token, **(data or {})}, follow_redirects=False)


def mention(web: Web, mention_id: int) -> Mention:
    with web.store.session() as session:
        found = session.get(Mention, mention_id)
        assert found is not None
        return found


def set_due(web: Web, mention_id: int, due: Any) -> None:
    with web.store.session() as session:
        session.execute(update(Mention).where(col(Mention.id) == mention_id)
                        .values(sla_due_at=due))


def bearer(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[name]}"}


# -- login, sessions, CSRF, headers ------------------------------------------------------


def test_pages_need_a_login_and_the_session_cookie_is_safe(web: Web) -> None:
    anonymous = TestClient(web.web)
    response = anonymous.get("/?brand=acme", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/%3Fbrand%3Dacme"
    wrong = login(anonymous, "alice", "not-her-password")
    assert wrong.status_code == 401 and "Wrong user name or password" in wrong.text
    assert login(anonymous, "nobody", "x").status_code == 401
    response = login(anonymous, "alice", PASSWORDS["alice"], "/incidents")
    assert response.status_code == 303 and response.headers["location"] == "/incidents"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    assert anonymous.get("/").status_code == 200
    # An open redirect is not offered.
    assert login(anonymous, "alice", PASSWORDS["alice"], "//evil.example/").headers[
        "location"] == "/"
    # Logging out needs the CSRF token too, and ends the session.
    assert post_form(anonymous, "/logout").status_code == 303
    assert anonymous.get("/", follow_redirects=False).status_code == 303


def test_cookie_is_secure_behind_https(store_url: str) -> None:
    web = make_web(store_url, base_url="https://care.example.com")
    response = login(TestClient(web.web, base_url="https://testserver"), "alice",
                     PASSWORDS["alice"])
    assert "secure" in response.headers["set-cookie"].lower()
    assert response.headers["strict-transport-security"] == "max-age=31536000"
    plain = TestClient(make_web(store_url).web).get("/login")
    assert "strict-transport-security" not in plain.headers


def test_login_without_csrf_token_is_refused(web: Web) -> None:
    anonymous = TestClient(web.web)
    anonymous.get("/login")
    response = anonymous.post("/login", data={"username": "alice",
                                              "password": PASSWORDS["alice"]})
    assert response.status_code in (403, 422)
    assert anonymous.get("/", follow_redirects=False).status_code == 303


def test_login_is_rate_limited_per_user_and_address(web: Web) -> None:
    anonymous = TestClient(web.web)
    for _ in range(5):
        assert login(anonymous, "alice", "guess").status_code == 401
    blocked = login(anonymous, "alice", PASSWORDS["alice"])
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) == 15 * 60
    # Another user from the same address is blocked too (the address is counted).
    assert login(anonymous, "ada", PASSWORDS["ada"]).status_code == 429
    web.clock.advance(minutes=15, seconds=1)
    assert login(anonymous, "alice", PASSWORDS["alice"]).status_code == 303


def test_login_limit_counts_the_client_behind_a_trusted_proxy(store_url: str) -> None:
    web = make_web(store_url, proxy_addresses=["testclient"])
    attacker = TestClient(web.web, headers={"X-Forwarded-For": "203.0.113.7"})
    for name in ("x1", "x2", "x3", "x4", "x5"):
        assert login(attacker, name, "guess").status_code == 401
    assert login(attacker, "alice", PASSWORDS["alice"]).status_code == 429
    # Someone else behind the same proxy can still log in.
    colleague = TestClient(web.web, headers={"X-Forwarded-For": "198.51.100.2"})
    assert login(colleague, "alice", PASSWORDS["alice"]).status_code == 303


def test_a_session_ends_after_its_lifetime(store_url: str) -> None:
    web = make_web(store_url, session_lifetime="2h")
    browser = client(web)
    web.clock.advance(hours=1, minutes=59)
    assert browser.get("/", follow_redirects=False).status_code == 200
    web.clock.advance(minutes=2)
    assert browser.get("/", follow_redirects=False).status_code == 303


def test_changing_the_password_hash_ends_sessions(store_url: str) -> None:
    web = make_web(store_url)
    browser = client(web)
    assert browser.get("/", follow_redirects=False).status_code == 200
    from monitor.web.security import hash_password

    web.config.web.users["alice"].password_hash = hash_password("a-new-password")  # type: ignore[union-attr]
    assert browser.get("/", follow_redirects=False).status_code == 303


def test_security_headers_on_every_response(web: Web) -> None:
    browser = client(web)
    for path in ("/", "/login", "/static/app.js", "/healthz", "/api/v1/mentions", "/nope"):
        headers = browser.get(path).headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["x-frame-options"] == "DENY"


def test_no_inline_script_or_style_in_any_page(web: Web) -> None:
    [mention_id] = web.ingest(complaint("r1"))
    browser = client(web, "ada")
    for path in ("/", f"/mentions/{mention_id}", "/incidents", "/sources", "/ignore-rules",
                 "/login"):
        html = browser.get(path).text
        assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == [], path
        assert not re.search(r"<[^>]+\son[a-z]+\s*=", html), path
        assert "<style" not in html and "style=" not in html, path


def test_hostile_text_is_escaped_everywhere(web: Web) -> None:
    payload = '<script>alert("t")</script><img src=x onerror=alert(1)>'
    [mention_id] = web.ingest(complaint(
        "x1", title=f"Acme {payload}", body=f"refund now {payload} scam",
        author=f"Eve{payload}", url="javascript:alert(1)"))
    browser = client(web)
    token = csrf_of(browser.get(f"/mentions/{mention_id}").text)
    browser.post(f"/mentions/{mention_id}/note", data={"csrf": token, "body": payload})
    for path in ("/", f"/mentions/{mention_id}", "/?q=refund"):
        html = browser.get(path).text
        assert "<script>alert" not in html and "<img src=x" not in html, path
        assert "&lt;script&gt;alert(&#34;t&#34;)&lt;/script&gt;" in html, path
        assert "javascript:" not in html, path
    api = browser.get(f"/api/v1/mentions/{mention_id}", headers=bearer("reader")).json()
    assert api["author"] == f"Eve{payload}"  # JSON carries the text as it was


# -- inbox ----------------------------------------------------------------------------


def test_inbox_orders_by_deadline_and_filters(web: Web) -> None:
    ids = web.ingest(
        complaint("a", title="Late delivery", author="Ann"),
        complaint("b", title="Broken app", author="Bob"),
        complaint("c", title="Rude staff", author="Cid"),
        complaint("d", source="news", title="Globex refund refused", author="Dee",
                  body="Globex never refunded me, awful scam"),
    )
    set_due(web, ids[0], NOW + timedelta(hours=5))
    set_due(web, ids[1], NOW - timedelta(minutes=35))
    set_due(web, ids[2], NOW + timedelta(minutes=20))
    set_due(web, ids[3], None)
    browser = client(web)
    html = browser.get("/").text
    order = [int(found) for found in re.findall(r'<tr class="[^"]*" data-id="(\d+)"', html)]
    assert order == [ids[1], ids[2], ids[0], ids[3]]
    assert "35m overdue" in html and "20m left" in html and "5h 00m left" in html
    assert "no deadline" in html

    def listed(query: str) -> list[int]:
        page = browser.get("/?" + query).text
        return sorted(int(found) for found in re.findall(r'data-id="(\d+)"', page))

    assert listed("brand=globex") == [ids[3]]
    assert listed("source=tp") == sorted(ids[:3])
    assert listed("q=rude") == [ids[2]]
    assert listed("q=refund%20globex") == [ids[3]]
    assert listed("q=100%25") == []  # LIKE wildcards are literal
    assert listed("per_page=2&page=2") == sorted([ids[0], ids[3]])
    assert 'rel="next"' in browser.get("/?per_page=2").text
    # Paging keeps every filter, "any kind" included.
    second = browser.get("/?kind=&status=all&per_page=2").text
    assert 'href="/?kind=&amp;status=all&amp;per_page=2&amp;page=2"' in second


def test_inbox_tells_an_open_page_about_newer_mentions(web: Web) -> None:
    browser = client(web)
    html = browser.get("/?brand=acme").text
    assert 'data-newest="0"' in html and 'data-check="/inbox/newest?brand=acme"' in html
    assert browser.get("/inbox/newest?brand=acme").json() == {"total": 0, "newest": 0}
    [acme] = web.ingest(complaint("n1"))
    web.ingest(complaint("n2", source="news", body="Globex is a scam, refund me"))
    assert browser.get("/inbox/newest?brand=acme").json() == {"total": 1, "newest": acme}
    assert f'data-newest="{acme}"' in browser.get("/?brand=acme").text
    assert TestClient(web.web).get("/inbox/newest", follow_redirects=False).status_code == 303


def test_mention_page_shows_the_reply_clock(web: Web) -> None:
    [mention_id] = web.ingest(complaint("s1"))
    with web.store.session() as session:
        session.execute(update(Mention).where(col(Mention.id) == mention_id).values(
            sla_due_at=NOW - timedelta(hours=1), sla_breached_at=NOW - timedelta(minutes=59),
            sla_stage=100))
    html = client(web).get(f"/mentions/{mention_id}").text
    assert "1h 00m overdue" in html and "deadline missed 2026-11-24 11:01 UTC" in html


def test_mention_page_shows_the_whole_thread(web: Web) -> None:
    first = complaint("t1", author="Tom", title="Order missing", body="Acme lost my order.")
    [first_id] = web.ingest(first)
    web.clock.advance(hours=2)
    [second_id] = web.ingest(complaint("t2", author="Tom", title="Still nothing",
                                       body="Acme still has not answered. Refund me."))
    web.clock.advance(hours=1)
    web.ingest(complaint("t1", author="Tom", title="Order missing",
                         body="Acme lost my order and support ignores me.", rating=1.0))
    from monitor.store.models import PublicReply

    with web.store.session() as session:
        session.add(PublicReply(mention_id=first_id, brand="acme", author="Acme Care",
                                body="Sorry Tom, we are on it.", body_hash="h1",
                                replied_at=web.clock(), detected_by="site"))
    browser = client(web)
    html = browser.get(f"/mentions/{first_id}").text
    assert "Earlier versions (1)" in html and "Acme lost my order." in html
    assert "This customer's thread (2 messages)" in html
    assert f'href="/mentions/{second_id}"' in html
    # The follow-up's words are on the page, not only a link to them.
    assert "Acme still has not answered. Refund me." in html
    assert "Sorry Tom, we are on it." in html
    assert 'href="https://www.trustpilot.com/reviews/t1"' in html
    assert 'rel="noopener noreferrer"' in html
    assert browser.get("/mentions/99999").status_code == 404
    bad = browser.get("/mentions/<b>1")
    assert bad.status_code == 422 and "That request is not valid" in bad.text
    assert "<b>1" not in bad.text
    assert browser.get("/api/v1/mentions/x", headers=bearer("reader")).json()["detail"][0][
        "type"] == "int_parsing"


# -- actions --------------------------------------------------------------------------


def test_every_action_through_the_forms(web: Web) -> None:
    [mention_id] = web.ingest(complaint("r1"))
    browser = client(web)
    page = f"/mentions/{mention_id}"

    def act(action: str, **data: Any) -> None:
        response = post_form(browser, f"/mentions/{mention_id}/{action}", data, page)
        assert response.status_code == 303, response.text
        assert response.headers["location"] == page

    act("acknowledge")
    found = mention(web, mention_id)
    assert (found.status, found.acknowledged_by, found.acknowledged_at) == \
        ("acknowledged", "alice", NOW)
    with web.store.session() as session:
        alerts = list(session.scalars(select(Alert).where(col(Alert.mention_id) == mention_id)))
    assert alerts and all(alert.acked_by == "alice" for alert in alerts)
    act("assign", assignee="me")
    assert mention(web, mention_id).assignee == "alice"
    act("assign", assignee="ada")
    assert mention(web, mention_id).assignee == "ada"
    act("snooze", snooze_for="4h")
    found = mention(web, mention_id)
    assert (found.status, found.snoozed_until) == ("snoozed", NOW + timedelta(hours=4))
    assert f'data-id="{mention_id}"' not in browser.get("/").text  # snoozed: hidden...
    web.clock.advance(hours=4)
    assert f'data-id="{mention_id}"' in browser.get("/").text  # ...until its time
    act("replied")
    found = mention(web, mention_id)
    assert (found.status, found.first_reply_at) == ("replied", web.clock())
    act("resolve")
    assert mention(web, mention_id).resolved_at == web.clock()
    act("resolve")  # twice: nothing changes, and it says so
    assert "Resolved 0." in browser.get(page).text
    act("reopen")
    assert mention(web, mention_id).status == "open"
    post_form(browser, f"/mentions/{mention_id}/note", {"body": "Called the customer."}, page)
    with web.store.session() as session:
        notes = list(session.scalars(select(Note)))
    assert [(n.author, n.body) for n in notes] == [("alice", "Called the customer.")]
    assert "Called the customer." in browser.get(page).text
    with web.store.session() as session:
        events = [(e.action, e.by, e.detail) for e in session.scalars(
            select(TriageEvent).where(col(TriageEvent.mention_id) == mention_id)
            .order_by(col(TriageEvent.id)))]
    assert events == [("acknowledge", "alice", None), ("assign", "alice", "to alice"),
                      ("assign", "alice", "to ada"),
                      ("snooze", "alice", "until 2026-11-24 16:00 UTC"),
                      ("replied", "alice", None), ("resolve", "alice", None),
                      ("reopen", "alice", None)]  # the second resolve changed nothing
    assert "<bdi>alice</bdi>: snooze <bdi>until 2026-11-24 16:00 UTC</bdi>" in browser.get(page).text
    # An unknown action and a bad snooze are refused without changing anything.
    assert post_form(browser, f"/mentions/{mention_id}/explode", {}, page).status_code == 404
    act("snooze", snooze_for="forever")
    assert mention(web, mention_id).status == "open"
    assert "is not a duration" in browser.get(page).text


def test_two_responders_at_once_never_both_change_a_mention(web: Web) -> None:
    import threading

    from monitor import triage

    ids = web.ingest(*(complaint(f"race{i}", author=f"R{i}") for i in range(20)))
    barrier = threading.Barrier(4)
    counts: list[int] = []

    def responder(name: str) -> None:
        barrier.wait()
        counts.append(triage.resolve(web.store, ids, name, NOW))

    threads = [threading.Thread(target=responder, args=(f"r{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(counts) == 20
    with web.store.session() as session:
        events = list(session.scalars(select(TriageEvent)))
    assert len(events) == 20 and len({event.mention_id for event in events}) == 20


def test_two_responders_acknowledging_at_once_are_counted_once(web: Web) -> None:
    import threading

    from monitor import triage

    ids = web.ingest(*(complaint(f"ackrace{i}", author=f"A{i}") for i in range(20)))
    barrier = threading.Barrier(4)
    counts: dict[str, int] = {}

    def responder(name: str) -> None:
        barrier.wait()
        counts[name] = triage.acknowledge(web.store, ids, name, NOW)

    threads = [threading.Thread(target=responder, args=(f"r{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(counts.values()) == 20
    with web.store.session() as session:
        events = [(event.mention_id, event.by) for event in session.scalars(
            select(TriageEvent).where(col(TriageEvent.action) == "acknowledge"))]
        acked = {m.id: m.acknowledged_by for m in session.scalars(
            select(Mention).where(col(Mention.id).in_(ids)))}
    assert len(events) == 20 and dict(events) == acked  # whoever changed it is recorded
    assert all(alert.acked_at is not None for alert in _alerts(web, ids))


def _alerts(web: Web, ids: list[int]) -> list[Alert]:
    with web.store.session() as session:
        return list(session.scalars(select(Alert).where(col(Alert.mention_id).in_(ids))))


def test_forms_without_a_valid_csrf_token_change_nothing(web: Web) -> None:
    [mention_id] = web.ingest(complaint("r1"))
    browser = client(web)
    for data in ({}, {"csrf": "forged"}):
        response = browser.post(f"/mentions/{mention_id}/resolve", data=data)
        assert response.status_code in (403, 422)
    response = browser.post(f"/mentions/{mention_id}/resolve", data={"csrf": "forged"})
    assert response.status_code == 403 and "CSRF" in response.text
    # A token from another session does not work either.
    other = client(web)
    stolen = csrf_of(other.get("/").text)
    assert browser.post("/bulk", data={"csrf": stolen, "action": "resolve",
                                       "ids": [mention_id]}).status_code == 403
    assert mention(web, mention_id).status == "open"


def test_viewers_read_but_cannot_act(web: Web) -> None:
    [mention_id] = web.ingest(complaint("r1"))
    viewer = client(web, "vic")
    html = viewer.get(f"/mentions/{mention_id}").text
    assert "Terrible service" in html and "/acknowledge" not in html
    for action in ("acknowledge", "resolve", "note", "not_complaint"):
        response = post_form(viewer, f"/mentions/{mention_id}/{action}", {"body": "x"})
        assert response.status_code == 403, action
    assert post_form(viewer, "/bulk", {"action": "resolve", "ids": [mention_id]}
                     ).status_code == 403
    assert mention(web, mention_id).status == "open"


def test_bulk_actions(web: Web) -> None:
    ids = web.ingest(*(complaint(f"b{i}", author=f"A{i}") for i in range(4)))
    browser = client(web)
    response = post_form(browser, "/bulk", {"action": "assign", "assignee": "me",
                                            "ids": ids[:3], "next": "/?status=all"})
    assert response.status_code == 303 and response.headers["location"] == "/?status=all"
    assert [mention(web, i).assignee for i in ids] == ["alice"] * 3 + [None]
    post_form(browser, "/bulk", {"action": "resolve", "ids": ids[:2]})
    assert [mention(web, i).status for i in ids] == ["resolved"] * 2 + ["open"] * 2
    post_form(browser, "/bulk", {"action": "resolve"})
    assert "Select at least one mention." in browser.get("/").text
    html = browser.get("/?assignee=me").text
    assert sorted(int(i) for i in re.findall(r'data-id="(\d+)"', html)) == [ids[2]]


def test_not_a_complaint_teaches_the_ignore_rules_that_ingest_obeys(web: Web) -> None:
    [first] = web.ingest(complaint("n1", author="PromoBot", title="Acme deal",
                                   body="Acme is a scam, buy GlobexCoin instead"))
    browser = client(web)
    post_form(browser, f"/mentions/{first}/not_complaint",
              {"ignore_author": "1", "phrase": "buy  GlobexCoin"}, f"/mentions/{first}")
    assert mention(web, first).status == "not_complaint"
    with web.store.session() as session:
        rules = {(r.brand, r.field, r.value) for r in session.scalars(select(IgnoreRule))}
    assert rules == {("acme", "author", "trustpilot:promobot"),
                     ("acme", "phrase", "buy globexcoin")}
    before = web.store.outbox_counts().get("pending", 0)
    by_author, by_phrase, other = web.ingest(
        complaint("n2", author="PromoBot", body="Acme refund scam, terrible"),
        complaint("n3", author="Someone", body="Acme is awful, BUY GlobexCoin now"),
        complaint("n4", author="Real Person", body="Acme never delivered, I want a refund"),
    )
    assert mention(web, by_author).kind == "other"
    assert any("ignore rule" in reason for reason in mention(web, by_author).reasons or [])
    assert mention(web, by_phrase).kind == "other"
    assert mention(web, other).kind == "complaint"
    with web.store.session() as session:
        alerted = set(session.scalars(select(col(Alert.mention_id)).where(
            col(Alert.mention_id).in_([by_author, by_phrase, other]))))
    assert alerted == {other}
    assert web.store.outbox_counts().get("pending", 0) > before
    # The ignored author edits the post for the worse: still nobody is alerted.
    web.clock.advance(hours=1)
    web.ingest(complaint("n2", author="PromoBot", rating=1.0,
                         body="Acme refund scam, terrible, worst company ever, I hate them"))
    assert mention(web, by_author).revisions == 1
    assert mention(web, by_author).kind == "other"
    with web.store.session() as session:
        assert not list(session.scalars(select(Alert).where(col(Alert.mention_id) == by_author)))
    # Only admins delete rules.
    page = browser.get("/ignore-rules").text
    assert "buy globexcoin" in page and "Delete" not in page
    with web.store.session() as session:
        rule_id = session.scalar(select(col(IgnoreRule.id)).where(col(IgnoreRule.field) == "phrase"))
    assert post_form(browser, f"/ignore-rules/{rule_id}/delete").status_code == 403
    admin = client(web, "ada")
    assert post_form(admin, f"/ignore-rules/{rule_id}/delete").status_code == 303
    [again] = web.ingest(complaint("n5", author="Other", body="Acme is awful, buy GlobexCoin"))
    assert mention(web, again).kind == "complaint"


def test_acknowledging_an_incident_stops_its_alerts(web: Web) -> None:
    ids = web.ingest(*(complaint(f"i{i}", author=f"Author {i}", title="Login broken",
                                 body="Acme login is broken again, I cannot get in, refund")
                       for i in range(3)))
    with web.store.session() as session:
        incident_id = session.scalar(select(col(Mention.incident_id)).where(
            col(Mention.id) == ids[0]))
    assert incident_id is not None
    browser = client(web)
    row = f'data-id="{incident_id}"'
    assert row in browser.get("/incidents").text
    viewer = client(web, "vic")
    assert post_form(viewer, f"/incidents/{incident_id}/acknowledge", page="/incidents"
                     ).status_code == 403
    response = post_form(browser, f"/incidents/{incident_id}/acknowledge", page="/incidents")
    assert response.status_code == 303
    html = browser.get("/incidents").text
    assert "alert(s) acknowledged; escalation stopped." in html
    assert "acknowledged by alice 2026-11-24 12:00 UTC" in html
    with web.store.session() as session:
        alerts = list(session.scalars(select(Alert).where(
            col(Alert.incident_id) == incident_id)))
    assert alerts and all(alert.acked_by == "alice" for alert in alerts)
    api = TestClient(web.web, headers=bearer("bot"))
    listed = api.get("/api/v1/incidents").json()
    assert [(i["id"], i["acked_by"]) for i in listed] == [(incident_id, "alice")]
    assert api.post(f"/api/v1/incidents/{incident_id}/ack").json() == {"changed": 0}
    assert api.post("/api/v1/incidents/99999/ack").status_code == 404
    post_form(browser, "/incidents/99999/acknowledge", page="/incidents")
    assert "no alert was sent about incident 99999" in browser.get("/incidents").text


def test_incidents_and_sources_pages(web: Web) -> None:
    from monitor.store import Incident, SourceState
    from monitor.store.models import SourceEvent

    with web.store.session() as session:
        session.add(Incident(brand="acme", cause="cluster", reason="<b>login outage</b>",
                             opened_at=NOW, last_update_at=NOW, last_mention_at=NOW, mentions=7))
        session.add(SourceState(source_id="tp", last_fetch_at=NOW, last_status="blocked",
                                consecutive_failures=3, last_error="blocked: HTTP 403",
                                last_success_at=NOW - timedelta(days=1), last_duration_s=2.5))
        session.add(SourceEvent(source_id="tp", at=NOW - timedelta(hours=2), status="blocked",
                                error="HTTP 403"))
    browser = client(web, "vic")
    html = browser.get("/incidents").text
    assert "&lt;b&gt;login outage&lt;/b&gt;" in html and "7" in html
    html = browser.get("/sources").text
    assert "health-blocked" in html and "blocked: HTTP 403" in html
    assert "2026-11-23 12:00 UTC" in html  # last success
    assert "never" in html  # the news feed never ran


# -- API ------------------------------------------------------------------------------


def test_api_needs_a_valid_token(web: Web) -> None:
    api = TestClient(web.web)
    response = api.get("/api/v1/mentions")
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    assert api.get("/api/v1/mentions",
                   headers={"Authorization": "Bearer wrong-token-0123456789abc"}
                   ).status_code == 401
    # A session cookie is not an API credential (no CSRF on the API).
    assert client(web).get("/api/v1/mentions").status_code == 401
    assert api.get("/api/v1/mentions", headers=bearer("reader")).status_code == 200


def test_api_list_get_ack_assign_resolve_notes(web: Web) -> None:
    first, second = web.ingest(complaint("p1", author="Pat"), complaint("p2", author="Quin"))
    set_due(web, second, NOW + timedelta(hours=1))
    api = TestClient(web.web, headers=bearer("bot"))
    listing = api.get("/api/v1/mentions").json()
    assert listing["total"] == 2 and [m["id"] for m in listing["items"]] == [second, first]
    assert listing["items"][0]["waiting"] is True
    assert api.get("/api/v1/mentions", params={"q": "quin"}).json()["total"] == 1
    ack = api.post(f"/api/v1/mentions/{first}/ack").json()
    assert ack["changed"] == 1 and ack["mention"]["status"] == "acknowledged"
    assert ack["mention"]["acknowledged_by"] == "bot"
    assert api.post(f"/api/v1/mentions/{first}/ack").json()["changed"] == 0
    assert api.post(f"/api/v1/mentions/{first}/assign", json={"assignee": "alice"}
                    ).json()["mention"]["assignee"] == "alice"
    note = api.post(f"/api/v1/mentions/{first}/notes", json={"body": "on it"})
    assert note.status_code == 201 and note.json()["author"] == "bot"
    assert [n["body"] for n in api.get(f"/api/v1/mentions/{first}/notes").json()] == ["on it"]
    assert api.post(f"/api/v1/mentions/{first}/notes", json={"body": ""}).status_code == 422
    snoozed = api.post(f"/api/v1/mentions/{second}/snooze", json={"minutes": 30}).json()
    assert snoozed["mention"]["status"] == "snoozed"
    assert snoozed["mention"]["waiting"] is False
    resolved = api.post(f"/api/v1/mentions/{first}/resolve").json()
    assert resolved["mention"]["status"] == "resolved"
    detail = api.get(f"/api/v1/mentions/{first}").json()
    assert detail["notes"][0]["body"] == "on it" and detail["status"] == "resolved"
    assert [(e["action"], e["by"], e["detail"]) for e in detail["history"]] == [
        ("acknowledge", "bot", None), ("assign", "bot", "to alice"), ("resolve", "bot", None)]
    assert api.get("/api/v1/mentions").json()["total"] == 0  # nothing waiting
    assert api.get("/api/v1/mentions", params={"status": "all"}).json()["total"] == 2
    assert api.post("/api/v1/mentions/99999/ack").status_code == 404
    assert api.get("/api/v1/mentions/99999").status_code == 404
    not_complaint = api.post(f"/api/v1/mentions/{second}/not-complaint",
                             json={"ignore_author": True})
    assert not_complaint.json()["mention"]["status"] == "not_complaint"


def test_api_bulk(web: Web) -> None:
    ids = web.ingest(*(complaint(f"k{i}", author=f"K{i}") for i in range(3)))
    api = TestClient(web.web, headers=bearer("bot"))
    assert api.post("/api/v1/bulk", json={"ids": ids, "action": "assign",
                                           "assignee": "ada"}).json() == {"changed": 3}
    assert api.post("/api/v1/bulk", json={"ids": ids[:2], "action": "resolve"}
                    ).json() == {"changed": 2}
    assert api.post("/api/v1/bulk", json={"ids": ids, "action": "resolve"}
                    ).json() == {"changed": 1}
    assert api.post("/api/v1/bulk", json={"ids": ids, "action": "snooze"}).status_code == 422
    assert api.post("/api/v1/bulk", json={"ids": [], "action": "resolve"}).status_code == 422
    assert api.post("/api/v1/bulk", json={"ids": ids, "action": "explode"}).status_code == 422
    assert TestClient(web.web, headers=bearer("reader")).post(
        "/api/v1/bulk", json={"ids": ids, "action": "reopen"}).status_code == 403
    assert [mention(web, i).status for i in ids] == ["resolved"] * 3


def test_api_roles(web: Web) -> None:
    [mention_id] = web.ingest(complaint("r1"))
    reader = TestClient(web.web, headers=bearer("reader"))
    assert reader.get(f"/api/v1/mentions/{mention_id}").status_code == 200
    for path in ("ack", "resolve", "replied", "reopen"):
        assert reader.post(f"/api/v1/mentions/{mention_id}/{path}").status_code == 403
    assert reader.post(f"/api/v1/mentions/{mention_id}/notes",
                       json={"body": "x"}).status_code == 403
    assert mention(web, mention_id).status == "open"


def test_api_token_may_be_configured_as_its_sha256(store_url: str) -> None:
    token = "a-token-only-the-client-knows-1234"
    web = make_web(store_url, tokens={
        "ops": {"token": "sha256:" + hashlib.sha256(token.encode()).hexdigest(),
                "role": "viewer"}})
    api = TestClient(web.web)
    assert api.get("/api/v1/mentions",
                   headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_openapi_describes_the_api(web: Web) -> None:
    schema = TestClient(web.web).get("/api/openapi.json").json()
    paths = set(schema["paths"])
    assert {"/api/v1/mentions", "/api/v1/mentions/{mention_id}",
            "/api/v1/mentions/{mention_id}/ack", "/api/v1/mentions/{mention_id}/assign",
            "/api/v1/mentions/{mention_id}/resolve",
            "/api/v1/mentions/{mention_id}/notes"} <= paths
    assert not any(path in paths for path in ("/", "/login", "/bulk"))


# -- reverse proxy ----------------------------------------------------------------------


def test_proxy_header_is_off_by_default_and_trusted_only_from_the_proxy(store_url: str) -> None:
    header = {"X-Forwarded-User": "alice"}
    web = make_web(store_url)
    assert TestClient(web.web).get("/", headers=header, follow_redirects=False
                                   ).status_code == 303
    web = make_web(store_url, proxy_header="X-Forwarded-User", proxy_addresses=["10.0.0.1"])
    assert TestClient(web.web).get("/", headers=header, follow_redirects=False
                                   ).status_code == 303
    web = make_web(store_url, proxy_header="X-Forwarded-User",
                   proxy_addresses=["testclient"])
    proxied = TestClient(web.web)
    html = proxied.get("/", headers=header).text
    assert '<span class="user">alice</span> <span class="role">responder</span>' in html
    # Someone the config does not know gets the proxy role (viewer by default).
    stranger = proxied.get("/", headers={"X-Forwarded-User": "zoe"}).text
    assert '<span class="role">viewer</span>' in stranger


# -- operations -----------------------------------------------------------------------


def test_healthz(web: Web) -> None:
    from monitor.store import SourceState

    api = TestClient(web.web)
    body = api.get("/healthz").json()
    assert body["ok"] is True and body["store"]["ok"] is True
    assert body["loop"] == {"in_process": False}
    assert body["backlog"] == {}
    with web.store.session() as session:
        session.add(SourceState(source_id="tp", last_fetch_at=NOW - timedelta(minutes=5),
                                backlog_pages=3))
        # A source no longer in the config: not listed.
        session.add(SourceState(source_id="gone", backlog_pages=5))
    body = api.get("/healthz").json()
    assert body["last_crawl"]["age_s"] == 300
    assert body["backlog"] == {"tp": 3} and body["ok"] is True  # catching up: no problem
    assert 'review_monitor_source_backlog_pages{source="tp"} 3.0' in api.get(
        "/metrics").text
    web.clock.advance(hours=1)
    response = api.get("/healthz")
    assert response.status_code == 503
    assert response.json()["problems"] == ["no crawl for 3900s"]


def test_healthz_sees_a_stalled_outbox_and_a_dead_loop(store_url: str) -> None:
    from fastapi import FastAPI

    from monitor.web.app import make_web_app

    web = make_web(store_url)
    web.ingest(complaint("r1"))  # queues an alert, due now
    loop = LoopStatus(in_process=True)
    app: FastAPI = make_web_app(web.config, web.store, web.clock, loop)
    api = TestClient(app)
    body = api.get("/healthz").json()
    assert body["loop"]["alive"] is False and "daemon loop not alive" in body["problems"]
    loop.beat()
    assert api.get("/healthz").status_code == 200
    web.clock.advance(minutes=11)
    loop.beat()
    response = api.get("/healthz")
    assert response.status_code == 503
    assert response.json()["problems"] == ["outbox stalled: an alert due 660s ago"]


def test_healthz_when_the_store_is_unreachable(store_url: str) -> None:
    from monitor.web.app import make_web_app

    web = make_web(store_url)
    broken = Store("postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=1")
    response = TestClient(make_web_app(web.config, broken, web.clock)).get("/healthz")
    assert response.status_code == 503
    assert response.json()["store"]["ok"] is False
    assert response.json()["problems"] == ["store unreachable"]


def test_an_unreachable_store_is_a_readable_503(store_url: str) -> None:
    from monitor.web.app import make_web_app

    web = make_web(store_url)
    broken = Store("postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=1")
    browser = TestClient(make_web_app(web.config, broken, web.clock))
    login(browser, "alice", PASSWORDS["alice"])
    page = browser.get("/")
    assert page.status_code == 503
    assert "<p>store error: connection failed: connection to server at" in page.text
    assert "content-security-policy" in page.headers
    api = TestClient(make_web_app(web.config, broken, web.clock)).get(
        "/api/v1/mentions", headers=bearer("reader"))
    assert api.status_code == 503 and api.json()["detail"].startswith("store error")


def test_metrics_from_the_store(web: Web) -> None:
    from monitor.store import Delivery, SourceState

    ids = web.ingest(complaint("m1", author="A"), complaint("m2", author="B"),
                     complaint("m3", source="news", author="C", body="Globex is a scam"))
    with web.store.session() as session:
        session.execute(update(Mention).where(col(Mention.id) == ids[0])
                        .values(sla_due_at=NOW - timedelta(minutes=1),
                                sla_breached_at=NOW, sla_stage=100))
        alert_id = session.scalar(select(col(Alert.id)).limit(1))
        session.execute(update(Alert).where(col(Alert.id) == alert_id).values(status="dead"))
        session.add(Delivery(alert_id=alert_id, target="t", attempt=1, attempted_at=NOW,
                             ok=False, error="down"))
        session.add(SourceState(source_id="tp", last_status="ok", last_fetch_at=NOW,
                                last_success_at=NOW, last_duration_s=1.25, mentions_total=2))
    text = TestClient(web.web).get("/metrics").text
    assert 'review_monitor_mentions_total{brand="acme"} 2.0' in text
    assert 'review_monitor_mentions_by_kind{brand="acme",kind="complaint"} 2.0' in text
    assert 'review_monitor_mentions_total{brand="globex"} 1.0' in text
    assert 'review_monitor_alerts_total{status="dead"} 1.0' in text
    assert "review_monitor_alert_delivery_failures_total 1.0" in text
    assert "review_monitor_sla_breaches_total 1.0" in text
    assert "review_monitor_sla_overdue 1.0" in text
    assert "review_monitor_complaints_waiting 3.0" in text
    assert 'review_monitor_source_health{source="tp",status="ok"} 1.0' in text
    assert 'review_monitor_source_health{source="news",status="never"} 1.0' in text
    assert 'review_monitor_source_crawl_duration_seconds{source="tp"} 1.25' in text
    pending = web.store.outbox_counts().get("pending", 0)
    assert f"review_monitor_outbox_depth {float(pending)}" in text


# -- configuration and command line -----------------------------------------------------------


def test_web_app_refuses_a_missing_or_short_secret(tmp_path: Path) -> None:
    from monitor.errors import ConfigError
    from monitor.web.app import make_web_app

    url = f"sqlite:///{tmp_path / 's.db'}"
    web = make_web(url)
    web.config.web.secret = "short"  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match="web.secret"):
        make_web_app(web.config, web.store, Clock())


def test_config_rejects_a_plain_password_and_a_short_token(tmp_path: Path) -> None:
    from monitor.config import parse_config
    from monitor.errors import ConfigError

    with pytest.raises(ConfigError) as error:
        parse_config({"web": {"users": {"bob": {"password_hash": "hunter2"}},
                              "tokens": {"ci": {"token": "short"}}}}, tmp_path / "c.toml")
    text = "\n".join(error.value.problems)
    assert "web.users.bob.password_hash: must be an argon2 hash" in text
    assert "web.tokens.ci.token: use at least 24 random characters" in text
    with pytest.raises(ConfigError) as error:
        parse_config({"web": {"secret": "too-short"}}, tmp_path / "c.toml")
    assert error.value.problems == [
        f"{tmp_path / 'c.toml'}: web.secret: set at least 16 random characters (from ${{ENV}}); "
        "it signs session cookies and acknowledgement links"]


def test_hash_password_command(monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    from monitor.cli import main
    from monitor.web.security import verify_password

    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
    assert main(["web", "hash-password", "--stdin"]) == 0
    hashed = capsys.readouterr().out.strip()
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "correct horse battery")
    assert not verify_password(hashed, "wrong")
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["web", "hash-password", "--stdin"]) == 2


# -- served for real: inside the daemon, and on its own -----------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config_file(tmp_path: Path, port: int) -> Path:
    from web_helpers import HASHES

    path = tmp_path / "web.toml"
    path.write_text(
        f'[store]\nurl = "sqlite:///{tmp_path / "s.db"}"\n\n'
        f'[web]\nhost = "127.0.0.1"\nport = {port}\nsecret = "${{RM_WEB_SECRET}}"\n\n'
        f'[web.users.alice]\npassword_hash = "{HASHES["alice"]}"\nrole = "responder"\n\n'
        f'[web.tokens.bot]\ntoken = "{TOKENS["bot"]}"\n',
        encoding="utf-8")
    return path


def _wait_for(url: str, process: Any, timeout: float = 60) -> Any:
    import time

    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1]
        try:
            return httpx.get(url, timeout=2)
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer")


@pytest.mark.parametrize("command", ["run", "web"])
def test_served_by_the_daemon_and_on_its_own(tmp_path: Path, command: str) -> None:
    import os
    import signal
    import subprocess

    import httpx

    port = _free_port()
    config = _config_file(tmp_path, port)
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor", command, "--config", str(config)],
        cwd=Path(__file__).resolve().parents[1], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, "RM_WEB_SECRET": "s" * 32})
    try:
        health = _wait_for(f"http://127.0.0.1:{port}/healthz", process)
        assert health.status_code == 200, health.text
        loop = health.json()["loop"]
        if command == "run":
            assert loop["in_process"] is True and loop["alive"] is True
        else:
            assert loop == {"in_process": False}
        api = httpx.get(f"http://127.0.0.1:{port}/api/v1/mentions", headers=bearer("bot"))
        assert api.status_code == 200 and api.json()["total"] == 0
        assert httpx.get(f"http://127.0.0.1:{port}/metrics").text.count("review_monitor_") > 10
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    if command == "run":
        assert "web_stopped" in err and "daemon_stopped" in err
    assert "s" * 32 not in err


def test_a_port_in_use_is_one_readable_line(tmp_path: Path) -> None:
    import os
    import socket
    import subprocess

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        config = _config_file(tmp_path, busy.getsockname()[1])
        result = subprocess.run(
            [sys.executable, "-m", "monitor", "run", "--config", str(config)],
            cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True,
            timeout=60, env={**os.environ, "RM_WEB_SECRET": "s" * 32})
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: web: cannot listen on 127.0.0.1:"), result.stderr


def test_ack_links_are_served_by_the_web_app(web: Web) -> None:
    """The alert path's /ack/{token} pages (monitor/web/ack.py) are mounted in the app,
    with the app's security headers, and acknowledge what the inbox shows."""
    pytest.importorskip("monitor.web.ack")
    from monitor.notify.acklink import sign

    [mention_id] = web.ingest(complaint("ack1"))
    with web.store.session() as session:
        alert_id = session.scalar(select(col(Alert.id)).where(col(Alert.mention_id) == mention_id))
    assert alert_id is not None
    token = sign(web.config.web.secret, alert_id, NOW + timedelta(days=1))  # type: ignore[union-attr]
    anonymous = TestClient(web.web)
    page = anonymous.get(f"/ack/{token}")
    assert page.status_code == 200 and "Acknowledge this alert?" in page.text
    csp = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self';" in csp
    done = anonymous.post(f"/ack/{token}", data={"by": "Maria"})
    assert done.status_code == 200 and "Acknowledged" in done.text
    found = mention(web, mention_id)
    assert (found.status, found.acknowledged_by) == ("acknowledged", "Maria")
    assert "Acknowledged" in client(web).get(f"/mentions/{mention_id}").text
    assert anonymous.get(f"/ack/{token[:-2]}xx").status_code == 403


# -- review fixes -------------------------------------------------------------------------


def test_ids_too_large_for_the_database_are_not_found_not_a_server_error(web: Web) -> None:
    [mention_id] = web.ingest(complaint("big1"))
    huge = 10**30
    browser = TestClient(web.web, raise_server_exceptions=False)
    login(browser, "alice", PASSWORDS["alice"])
    assert browser.get(f"/mentions/{huge}").status_code == 404
    assert browser.get(f"/?page={huge}").status_code == 200
    page = browser.get(f"/?incident={huge}&status=all&kind=")
    assert page.status_code == 200 and 'data-id="' not in page.text
    assert browser.get(f"/inbox/newest?incident={huge}").json() == {"total": 0, "newest": 0}
    assert post_form(browser, f"/mentions/{huge}/resolve").status_code == 404
    assert post_form(browser, f"/mentions/{huge}/note", {"body": "x"}).status_code == 404
    response = post_form(browser, "/bulk", {"action": "resolve", "ids": [huge, mention_id]})
    assert response.status_code == 303 and mention(web, mention_id).status == "resolved"
    assert post_form(browser, f"/incidents/{huge}/acknowledge").status_code == 303
    admin = TestClient(web.web, raise_server_exceptions=False)
    login(admin, "ada", PASSWORDS["ada"])
    assert post_form(admin, f"/ignore-rules/{huge}/delete").status_code == 404
    api = TestClient(web.web, headers=bearer("bot"), raise_server_exceptions=False)
    assert api.get(f"/api/v1/mentions/{huge}").status_code == 404
    assert api.post(f"/api/v1/mentions/{huge}/ack").status_code == 404
    assert api.post(f"/api/v1/mentions/{huge}/notes", json={"body": "x"}).status_code == 404
    assert api.post(f"/api/v1/incidents/{huge}/ack").status_code == 404
    assert api.get(f"/api/v1/mentions?page={huge}").status_code == 200
    assert api.post("/api/v1/bulk", json={"ids": [huge], "action": "resolve"}
                    ).status_code == 404


def test_a_form_posted_after_the_session_ended_returns_to_its_page(store_url: str) -> None:
    web = make_web(store_url, session_lifetime="1h")
    [mention_id] = web.ingest(complaint("late1"))
    browser = client(web)
    token = csrf_of(browser.get(f"/mentions/{mention_id}").text)
    web.clock.advance(hours=2)
    response = browser.post(f"/mentions/{mention_id}/resolve", data={"csrf": token},
                            follow_redirects=False)
    # Not /login?next=/mentions/N/resolve: after the login that would GET a POST-only
    # path (405 Method Not Allowed).
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next=/mentions/{mention_id}"
    assert mention(web, mention_id).status == "open"
    response = browser.post("/bulk", data={"csrf": token, "action": "resolve",
                                           "ids": [mention_id]}, follow_redirects=False)
    assert response.headers["location"] == "/login?next=/"
    after = login(browser, "alice", PASSWORDS["alice"], f"/mentions/{mention_id}")
    assert browser.get(after.headers["location"]).status_code == 200


def test_metrics_counters_only_count_what_never_goes_down(web: Web) -> None:
    web.ingest(complaint("mc1"))
    assert web.store.outbox_counts().get("pending", 0) >= 1
    text = TestClient(web.web).get("/metrics").text
    # Pending alerts are sent and leave: a gauge (the outbox depth), not a counter.
    assert 'review_monitor_alerts_total{status="pending"}' not in text
    assert 'review_monitor_alerts_total{status="sent"} 0.0' in text
    assert 'review_monitor_alerts_total{status="cancelled"} 0.0' in text
    assert "# TYPE review_monitor_outbox_depth gauge" in text
    # A review edited into praise leaves the complaint count: that count is a gauge.
    from monitor.store import Mention as Stored

    with web.store.session() as session:
        session.execute(update(Stored).values(kind="praise"))
    text = TestClient(web.web).get("/metrics").text
    assert 'review_monitor_mentions_total{brand="acme"} 1.0' in text
    assert 'review_monitor_mentions_by_kind{brand="acme",kind="praise"} 1.0' in text
    assert "# TYPE review_monitor_mentions_by_kind gauge" in text
    types = dict(re.findall(r"# TYPE (\S+) (\S+)", text))
    for name, kind in types.items():
        assert name.startswith("review_monitor_"), name
        assert name.endswith("_total") == (kind == "counter"), name


def test_hostile_text_stays_isolated_and_the_inbox_shortens_it(web: Web) -> None:
    rlo = "\u202e"
    word = "W" * 3000
    web.ingest(complaint("bidi1", author=f"{rlo}evil", title=f"{rlo}Acme refund scam"))
    web.clock.advance(hours=1)
    [second] = web.ingest(complaint("bidi2", author=f"{rlo}evil", title="Acme " + word,
                                    body="scam " + word))
    browser = client(web)
    inbox = browser.get("/").text
    assert f"<bdi>{rlo}evil</bdi>" in inbox
    assert f"<bdi>{rlo}Acme refund scam</bdi>" in inbox
    assert word not in inbox and "W" * 150 + "…" in inbox
    page = browser.get(f"/mentions/{second}").text
    assert word in page  # the mention's own page shows all of it
    # In the thread list a title is followed by its date: the override stays inside.
    assert f"<bdi>{rlo}Acme refund scam</bdi></a>" in page


def test_an_empty_inbox_says_why(web: Web) -> None:
    from monitor.store import SourceState

    browser = client(web)
    # Nothing crawled yet: not "every complaint has been dealt with".
    html = browser.get("/").text
    assert "no source has been crawled successfully" in html
    assert "Every complaint has been dealt with" not in html
    with web.store.session() as session:
        session.add(SourceState(source_id="tp", last_status="ok", last_fetch_at=NOW,
                                last_success_at=NOW))
    assert "Every complaint has been dealt with." in browser.get("/").text
    web.ingest(complaint("e1"))
    # Filters that match nothing say so, with the search shown as text.
    html = browser.get("/?q=%3Cb%3Enomatch&brand=globex").text
    assert "No mention matches these filters and the search" in html
    assert "<bdi>&lt;b&gt;nomatch</bdi>" in html
    assert "Every complaint has been dealt with" not in html


def test_bulk_not_a_complaint_ignores_authors_only_when_asked(web: Web) -> None:
    ids = web.ingest(*(complaint(f"nb{i}", author=f"N{i}") for i in range(4)))
    browser = client(web)
    post_form(browser, "/bulk", {"action": "not_complaint", "ids": ids[:2]})
    assert [mention(web, i).status for i in ids[:2]] == ["not_complaint"] * 2
    with web.store.session() as session:
        assert session.scalars(select(IgnoreRule)).all() == []
    post_form(browser, "/bulk", {"action": "not_complaint", "ids": [ids[2]],
                                 "ignore_author": "1"})
    api = TestClient(web.web, headers=bearer("bot"))
    assert api.post("/api/v1/bulk", json={"ids": [ids[3]], "action": "not-complaint"}
                    ).json() == {"changed": 1}
    with web.store.session() as session:
        rules = [(rule.field, rule.mention_id) for rule in session.scalars(select(IgnoreRule))]
    assert rules == [("author", ids[2])]
    assert api.post("/api/v1/bulk", json={"ids": [ids[3]], "action": "reopen"}).json() == {
        "changed": 1}
    api.post("/api/v1/bulk", json={"ids": [ids[3]], "action": "not-complaint",
                                   "ignore_author": True, "phrase": "buy coins"})
    with web.store.session() as session:
        assert len(session.scalars(select(IgnoreRule)).all()) == 3


def test_openapi_declares_the_bearer_token(web: Web) -> None:
    schema = TestClient(web.web).get("/api/openapi.json").json()
    schemes = schema["components"]["securitySchemes"]
    [(name, scheme)] = schemes.items()
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert operation.get("security") == [{name: []}], (method, path)
    # Declaring it changes nothing about the checks.
    api = TestClient(web.web)
    assert api.get("/api/v1/mentions", headers={"Authorization": "Basic YTpi"}
                   ).status_code == 401
    assert api.post("/api/v1/bulk", json={"ids": [1], "action": "resolve"},
                    headers=bearer("reader")).status_code == 403


def test_reopening_a_mention_marked_replied_by_mistake_restarts_its_reply_clock(
        web: Web) -> None:
    from monitor import triage
    from monitor.store.models import PublicReply

    first, second = web.ingest(complaint("rc1", author="R1"), complaint("rc2", author="R2"))
    store, now = web.store, web.clock()
    assert triage.mark_replied(store, [first, second], "alice", now) == 2
    with store.session() as session:
        session.add(PublicReply(mention_id=second, brand="acme", author="Acme Care",
                                body="Sorry, on it.", body_hash="h", replied_at=now,
                                detected_by="site"))
    assert triage.reopen(store, [first, second], "alice", now) == 2
    # No public reply was ever seen: the SLA sweep must watch it again.
    assert mention(web, first).first_reply_at is None
    # A reply the crawler saw stays the first reply.
    assert mention(web, second).first_reply_at == now


def test_search_ignores_case_beyond_ascii(web: Web) -> None:
    ids = web.ingest(
        complaint("u1", title="ØL-SERVICE ER DÅRLIG", body="Acme scam refund", author="Åse"),
        complaint("u2", title="Отказ", body="Acme: ВЕРНИТЕ ДЕНЬГИ, scam", author="Пётр"),
        complaint("u3", title="Straße", body="Acme scam refund 100% sure", author="Jörg"))
    browser = client(web)

    def found(q: str) -> list[int]:
        page = browser.get("/", params={"q": q}).text
        return sorted(int(i) for i in re.findall(r'data-id="(\d+)"', page))

    assert found("øl-service") == [ids[0]]
    assert found("åse dårlig") == [ids[0]]
    assert found("верните") == [ids[1]] and found("отказ пётр") == [ids[1]]
    assert found("JÖRG") == [ids[2]]
    assert found("100%") == [ids[2]] and found("10_%") == []  # wildcards stay literal
    assert browser.get("/inbox/newest", params={"q": "ВЕРНИТЕ"}).json() == {
        "total": 1, "newest": ids[1]}
    api = TestClient(web.web, headers=bearer("reader"))
    assert [m["id"] for m in api.get("/api/v1/mentions", params={"q": "øl"}).json()[
        "items"]] == [ids[0]]


def test_api_list_refuses_an_unknown_filter_value(web: Web) -> None:
    [mention_id] = web.ingest(complaint("f1"))
    api = TestClient(web.web, headers=bearer("bot"))
    for params in ({"status": "resolve"}, {"kind": "complaints"}, {"severity": "urgent"}):
        response = api.get("/api/v1/mentions", params=params)
        assert response.status_code == 422 and "must be one of" in response.json()["detail"]
    api.post(f"/api/v1/mentions/{mention_id}/assign", json={"assignee": "bot"})
    mine = api.get("/api/v1/mentions", params={"assignee": "me"}).json()
    assert [m["id"] for m in mine["items"]] == [mention_id]
    assert api.get("/api/v1/mentions", params={"kind": "", "status": "all"}).json()[
        "total"] == 1


def test_mark_replied_stops_the_clock_only_of_what_it_marks(web: Web) -> None:
    from monitor import triage

    first, second = web.ingest(complaint("mr1", author="M1"), complaint("mr2", author="M2"))
    assert triage.resolve(web.store, [second], "alice", NOW) == 1
    web.clock.advance(minutes=5)
    assert triage.mark_replied(web.store, [first, second], "alice", web.clock()) == 1
    assert mention(web, first).first_reply_at == NOW + timedelta(minutes=5)
    assert mention(web, second).first_reply_at is None  # resolved: not marked, no reply
    # A reply time already known (the crawler saw the reply first) is kept.
    triage.reopen(web.store, [first], "alice", web.clock())
    with web.store.session() as session:
        session.execute(update(Mention).where(col(Mention.id) == first)
                        .values(first_reply_at=NOW))
    web.clock.advance(minutes=5)
    assert triage.mark_replied(web.store, [first], "alice", web.clock()) == 1
    assert mention(web, first).first_reply_at == NOW


def test_healthz_notices_a_daemon_that_never_crawled(store_url: str) -> None:
    from monitor.store import SourceState
    from monitor.web.app import make_web_app

    web = make_web(store_url)
    loop = LoopStatus(in_process=True, started_at=NOW)
    api = TestClient(make_web_app(web.config, web.store, web.clock, loop))
    loop.beat()
    assert api.get("/healthz").status_code == 200  # just started
    web.clock.advance(hours=1, seconds=1)
    loop.beat()
    response = api.get("/healthz")
    assert response.status_code == 503
    assert response.json()["problems"] == ["no crawl since the start 3601s ago"]
    with web.store.session() as session:
        session.add(SourceState(source_id="tp", last_status="ok", last_fetch_at=web.clock()))
    assert api.get("/healthz").status_code == 200
    # The inbox on its own (no daemon in the process) cannot know when crawling began.
    assert TestClient(make_web(store_url).web).get("/healthz").status_code == 200


def test_errors_on_pages_do_not_show_secrets_from_urls(web: Web) -> None:
    from monitor.store import SourceState

    [mention_id] = web.ingest(complaint("sec1"))
    with web.store.session() as session:
        session.add(SourceState(
            source_id="tp", last_status="fetch", last_fetch_at=NOW,
            last_error="fetch: https://api.example.com/v1/reviews?api_key=SECRET123&page=2 "
                       "gave HTTP 403"))
        alert_id = session.scalar(select(col(Alert.id)).where(
            col(Alert.mention_id) == mention_id).limit(1))
        session.execute(update(Alert).where(col(Alert.id) == alert_id).values(
            last_error="Failed to send to https://hooks.slack.com/services/T0/B0/SECRETXYZ; "
                       "Max retries exceeded with url: /services/T0/B0/SECRETXYZ"))
    viewer = client(web, "vic")
    sources = viewer.get("/sources").text
    assert "SECRET123" not in sources and "api_key=***&amp;page=2 gave HTTP 403" in sources
    page = viewer.get(f"/mentions/{mention_id}").text
    assert "SECRETXYZ" not in page and "https://hooks.slack.com/…" in page
