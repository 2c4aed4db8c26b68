"""The inbox in a real browser: Playwright drives Debian's headless Chromium
(/usr/bin/chromium) against the app served by uvicorn on 127.0.0.1.

A responder logs in, sees a new complaint, acknowledges, assigns and resolves it; a page
full of XSS payloads runs none of them; a forged cross-site form is refused; a viewer
gets no action buttons. Screenshots go to test-artifacts/web/ (git-ignored)."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn

sys.path.insert(0, str(Path(__file__).parent))

from httpserver import FixtureServer, Reply  # noqa: E402
from web_helpers import NOW, PASSWORDS, Web, complaint, make_web  # noqa: E402

from monitor.store import Mention  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "web"
IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} not found (apt-get install chromium)"
        if IN_CI:
            pytest.fail(message + " (CI=true: browser tests must run)")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking"])
        yield browser
        browser.close()


class Served:
    def __init__(self, web: Web) -> None:
        self.web = web
        config = uvicorn.Config(web.web, host="127.0.0.1", port=0, log_config=None,
                                access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.base = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with Served(make_web(f"sqlite:///{tmp_path / 'web.db'}")) as running:
        yield running


@pytest.fixture
def page(chromium: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    browser_page = context.new_page()
    browser_page.set_default_timeout(10_000)
    errors: list[str] = []
    browser_page.on("pageerror", lambda error: errors.append(str(error)))
    yield browser_page
    context.close()
    assert errors == [], f"JavaScript errors: {errors}"


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def log_in(page: Any, served: Served, user: str = "alice") -> None:
    page.goto(served.base + "/")
    assert "/login" in page.url
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORDS[user])
    page.click("button:has-text('Log in')")
    page.wait_for_url(served.base + "/")


def status_of(web: Web, mention_id: int) -> tuple[str, str | None]:
    with web.store.session() as session:
        found = session.get(Mention, mention_id)
        assert found is not None
        return found.status, found.assignee


def test_log_in_see_a_new_complaint_acknowledge_assign_resolve(served: Served,
                                                                page: Any) -> None:
    log_in(page, served)
    assert "Nothing here" in page.inner_text("main")
    shot(page, "01-empty-inbox")

    [mention_id] = served.web.ingest(complaint(
        "new1", title="Card charged twice", author="Maria",
        body="Acme charged my card twice and nobody answers. Refund me."))
    from sqlalchemy import update
    from sqlmodel import col

    with served.web.store.session() as session:
        session.execute(update(Mention).where(col(Mention.id) == mention_id)
                        .values(sla_due_at=NOW + timedelta(hours=2, seconds=30)))
    # The open inbox notices it (it asks every minute and when the tab gets focus).
    assert page.locator("#fresh").is_hidden()
    page.evaluate("window.dispatchEvent(new Event('focus'))")
    page.locator("#fresh").wait_for(state="visible")
    page.click("#fresh a")
    row = page.locator(f"tr[data-id='{mention_id}']")
    assert "Card charged twice" in row.inner_text()
    assert "Maria" in row.inner_text()
    # The countdown script runs on the server's clock.
    assert row.locator("time.countdown").inner_text() == "2h 00m left"
    shot(page, "02-new-complaint")

    page.click("a:has-text('Card charged twice')")
    page.wait_for_url(f"{served.base}/mentions/{mention_id}")
    reply = page.locator("a:has-text('Reply in the public thread')")
    assert reply.get_attribute("href") == "https://www.trustpilot.com/reviews/new1"
    assert reply.get_attribute("rel") == "noopener noreferrer"

    page.click("button:has-text('Acknowledge')")
    assert "Acknowledged 1 of 1." in page.inner_text(".flash")
    assert status_of(served.web, mention_id) == ("acknowledged", None)
    shot(page, "03-acknowledged")

    page.select_option("select[name=assignee]", "ada")
    page.click("button:has-text('Assign')")
    assert "Assigned 1 to ada." in page.inner_text(".flash")
    assert status_of(served.web, mention_id) == ("acknowledged", "ada")

    page.fill("textarea[name=body]", "Called Maria, refund on its way.")
    page.click("button:has-text('Add note')")
    assert "Called Maria, refund on its way." in page.inner_text("#notes")

    page.click("button:has-text('Resolve')")
    assert "Resolved 1." in page.inner_text(".flash")
    assert status_of(served.web, mention_id) == ("resolved", "ada")
    shot(page, "04-resolved")

    page.click("header nav a:has-text('Inbox')")
    assert "Nothing here" in page.inner_text("main")


def test_bulk_resolve_with_select_all(served: Served, page: Any) -> None:
    ids = served.web.ingest(*(complaint(f"b{i}", author=f"Customer {i}") for i in range(3)))
    log_in(page, served)
    # The row buttons: take one, acknowledge another.
    page.click(f"tr[data-id='{ids[0]}'] button:has-text('Take')")
    assert "Assigned 1 to alice." in page.inner_text(".flash")
    page.click(f"tr[data-id='{ids[1]}'] button:has-text('Ack')")
    assert "Acknowledged 1 of 1." in page.inner_text(".flash")
    assert status_of(served.web, ids[0]) == ("open", "alice")
    assert status_of(served.web, ids[1]) == ("acknowledged", None)
    page.check("#select-all")  # shown by the script
    assert page.locator("input.pick:checked").count() == 3
    page.select_option("select[name=action]", "resolve")
    page.click("form#bulk button:has-text('Apply')")
    assert "Resolved 3." in page.inner_text(".flash")
    assert [status_of(served.web, i)[0] for i in ids] == ["resolved"] * 3
    # Filters apply on change, without a click.
    page.select_option("select[name=status]", "resolved")
    page.wait_for_url("**status=resolved**")
    assert page.locator("tr[data-id]").count() == 3


PAYLOADS = [
    "<script>window.__xss=1;alert('script')</script>",
    "<img src=x onerror=\"window.__xss=1;alert('img')\">",
    "\"><svg onload=\"window.__xss=1;alert('svg')\">",
    "'><iframe src=\"javascript:alert('iframe')\"></iframe>",
    "</textarea></title><script>window.__xss=1</script>",
    "<a href=\"javascript:alert('a')\" id=\"injected\">click</a>",
    "{{ 7*7 }}{% raw %}<b id=\"injected-b\">bold</b>{% endraw %}",
    "<style>body{display:none}</style><div id=\"injected-div\">x</div>",
]


def test_xss_payloads_in_titles_bodies_and_authors_never_execute(served: Served,
                                                                  page: Any) -> None:
    items = [complaint(f"x{i}", title=f"Acme {payload}", body=f"Acme scam refund {payload}",
                       author=f"Mallory{payload}",
                       url="javascript:alert('url')" if i % 2 else f"https://e.com/{i}")
             for i, payload in enumerate(PAYLOADS)]
    ids = served.web.ingest(*items)
    from monitor import triage

    triage.add_note(served.web.store, ids[0], "alice", " ".join(PAYLOADS), NOW)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    log_in(page, served)
    for path in ["/", "/?q=scam", f"/mentions/{ids[0]}", f"/mentions/{ids[1]}",
                 f"/mentions/{ids[5]}", "/?status=all&kind="]:
        page.goto(served.base + path)
        page.wait_for_load_state("load")
        assert dialogs == [], path
        assert page.evaluate("window.__xss") is None, path
        injected = page.evaluate("""() => document.querySelectorAll(
            'script:not([src]), img[src="x"], svg, iframe, #injected, #injected-b,'
            + ' #injected-div, style, [onerror], [onload]').length""")
        assert injected == 0, path
        assert page.evaluate("""() => [...document.querySelectorAll('a[href]')]
            .filter(a => a.href.toLowerCase().startsWith('javascript:')).length""") == 0
        assert page.is_visible("main"), path
    page.goto(served.base + f"/mentions/{ids[0]}")
    text = page.inner_text("main")
    assert "<script>window.__xss=1;alert('script')</script>" in text  # shown, as text
    assert "{{ 7*7 }}" in text  # not evaluated as a template either
    shot(page, "05-xss-payloads")
    page.goto(served.base + "/")
    shot(page, "06-xss-inbox")


def test_a_forged_cross_site_form_is_refused(served: Served, page: Any) -> None:
    [mention_id] = served.web.ingest(complaint("c1"))
    log_in(page, served)
    evil = FixtureServer().start()
    try:
        evil.set("/", Reply(200, (
            f'<form method="post" action="{served.base}/mentions/{mention_id}/resolve">'
            '<input type="hidden" name="csrf" value="guessed">'
            '<button id="go">Win a prize</button></form>').encode(),
            {"Content-Type": "text/html"}))
        page.goto(evil.url("/"))
        page.click("#go")
        page.wait_for_load_state("load")
        assert "CSRF check failed" in page.inner_text("main")
    finally:
        evil.stop()
    assert status_of(served.web, mention_id)[0] == "open"
    shot(page, "07-csrf-refused")


def test_a_viewer_gets_no_action_buttons(served: Served, page: Any) -> None:
    [mention_id] = served.web.ingest(complaint("v1"))
    log_in(page, served, "vic")
    assert page.locator("form#bulk").count() == 0
    page.goto(f"{served.base}/mentions/{mention_id}")
    assert page.locator("button:has-text('Acknowledge')").count() == 0
    assert page.locator("textarea[name=body]").count() == 0
    assert "Terrible service" in page.inner_text("h1")
    shot(page, "08-viewer")


def test_incidents_sources_and_a_busy_inbox(served: Served, page: Any) -> None:
    from monitor.store import Incident, SourceState
    from monitor.store.models import SourceEvent

    web = served.web
    items = [complaint(f"busy{i}", author=f"Customer {i}", title=title, rating=float(i % 3 + 1),
                       body=f"Acme {title.lower()}: refund me, this is a scam.")
             for i, title in enumerate(["App crashes on login", "Double charge",
                                        "Courier never came", "Support is rude",
                                        "Cancelled without notice", "Wrong size again"])]
    ids = web.ingest(*items)
    from sqlalchemy import update
    from sqlmodel import col

    with web.store.session() as session:
        for offset, mention_id in enumerate(ids):
            session.execute(update(Mention).where(col(Mention.id) == mention_id).values(
                sla_due_at=NOW + timedelta(minutes=45 * offset - 60, seconds=30)))
        session.add(Incident(brand="acme", cause="cluster", reason="login fails after update",
                             opened_at=NOW - timedelta(hours=1), last_update_at=NOW,
                             last_mention_at=NOW, mentions=12, sources=["tp"]))
        session.add(SourceState(source_id="tp", last_fetch_at=NOW, last_status="ok",
                                last_success_at=NOW, last_duration_s=1.8, mentions_total=420,
                                next_run_at=NOW + timedelta(minutes=15)))
        session.add(SourceState(source_id="news", last_fetch_at=NOW, last_status="blocked",
                                consecutive_failures=4, last_error="blocked: HTTP 429",
                                last_success_at=NOW - timedelta(days=2)))
        session.add(SourceEvent(source_id="news", at=NOW - timedelta(hours=3),
                                status="blocked", error="HTTP 429"))
    log_in(page, served)
    clocks = page.locator("time.countdown").all_inner_texts()
    assert clocks[:3] == ["59m overdue", "14m overdue", "30m left"]
    assert page.locator("time.countdown.overdue").count() == 2
    shot(page, "09-busy-inbox")
    page.click("header nav a:has-text('Incidents')")
    assert "login fails after update" in page.inner_text("main")
    shot(page, "10-incidents")
    page.click("header nav a:has-text('Sources')")
    assert page.inner_text("tr.health-blocked td:nth-child(4)").startswith("blocked")
    assert "blocked: HTTP 429" in page.inner_text("tr.health-blocked")
    shot(page, "11-sources")


def test_long_words_and_a_phone_screen_never_widen_the_page(served: Served, chromium: Any) -> None:
    """A 3,000-letter 'word' in a title, an author name, a body and a note wraps; on a
    390 px phone every page fits its width (rows become cards, wide tables scroll inside
    themselves)."""
    from monitor import triage

    word = "W" * 3000
    ids = served.web.ingest(
        complaint("long1", title="Acme " + word, author="Mal" + word, body="scam " + word),
        complaint("long2", title="Card charged twice", author="Maria",
                  body="Acme charged my card twice and nobody answers. Refund me."))
    triage.add_note(served.web.store, ids[0], "alice", "note " + word, NOW)
    for name, width in (("desktop", 1280), ("phone", 390)):
        context = chromium.new_context(viewport={"width": width, "height": 800})
        page = context.new_page()
        try:
            log_in(page, served)
            for path in ["/", f"/mentions/{ids[0]}", f"/mentions/{ids[1]}", "/incidents",
                         "/sources", "/ignore-rules"]:
                page.goto(served.base + path)
                assert page.evaluate("document.documentElement.scrollWidth") <= width, \
                    (name, path)
            page.goto(served.base + "/")
            assert page.locator(f"tr[data-id='{ids[1]}'] button:has-text('Ack')").is_visible()
            shot(page, f"12-long-words-{name}")
        finally:
            context.close()


def test_filters_from_the_keyboard_apply_on_enter_not_on_each_arrow(served: Served,
                                                                     page: Any) -> None:
    served.web.ingest(complaint("kb1"))
    log_in(page, served)
    page.focus("select[name=severity]")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.wait_for_timeout(300)
    assert page.url == served.base + "/"  # still choosing
    assert page.eval_on_selector("select[name=severity]", "s => s.value") == "high"
    page.keyboard.press("Enter")
    page.wait_for_url("**severity=high**")
    # With the mouse (select_option), a choice applies at once, as before.
    page.select_option("select[name=status]", "all")
    page.wait_for_url("**status=all**")
