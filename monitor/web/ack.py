"""The acknowledgement links of alerts: ``GET /ack/{token}`` and ``POST /ack/{token}``.

Works without logging in: the signed token (monitor/notify/acklink.py) is the
permission, for one alert, until it expires. Opening the link shows what it
acknowledges and one button; the button (a POST) acknowledges. Acknowledging on GET
would let mail scanners and chat link previews, which open every link, silence the
pager. An expired or forged link gets a page saying so (HTTP 410 / 403), never a
traceback.

Mounted by the web app (``make_ack_router(store, config, clock)``); the daemon serves it
when ``[web]`` is configured.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from html import escape

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse

from monitor.config import Config
from monitor.notify.acklink import AckLinkError, verify
from monitor.notify.escalation import UnknownAlertError, acknowledge_alert
from monitor.store import Alert, Mention, Store

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}}
button{{font-size:1.2rem;padding:.6rem 1.4rem}} .muted{{color:#666}}</style>
</head><body><h1>{title}</h1>{body}</body></html>"""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=escape(title), body=body), status_code=status,
                        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


def _problem(error: AckLinkError) -> HTMLResponse:
    expired = "expired" in str(error)
    return _page("Link expired" if expired else "Link not valid",
                 f"<p>{escape(str(error))}.</p>", 410 if expired else 403)


def make_ack_router(store: Store, config: Config,
                    clock: Callable[[], datetime]) -> APIRouter:
    router = APIRouter(tags=["acknowledge"])
    secret = config.web.secret if config.web is not None else ""

    def _summary(alert_id: int) -> tuple[Alert | None, Mention | None]:
        with store.session() as session:
            alert = session.get(Alert, alert_id)
            mention = session.get(Mention, alert.mention_id) \
                if alert is not None and alert.mention_id is not None else None
            return alert, mention

    @router.get("/ack/{token}", response_class=HTMLResponse, include_in_schema=False)
    async def confirm(token: str) -> HTMLResponse:
        try:
            verified = verify(secret, token, clock())
        except AckLinkError as error:
            return _problem(error)
        alert, mention = await asyncio.to_thread(_summary, verified.alert_id)
        if alert is None:
            return _page("Alert not found", f"<p>There is no alert {verified.alert_id} "
                         "(the store may have been reset).</p>", 404)
        if alert.acked_at is not None:
            return _page("Already acknowledged",
                         f"<p>Acknowledged by {escape(alert.acked_by or 'someone')} at "
                         f"{alert.acked_at:%Y-%m-%d %H:%M} UTC.</p>")
        what = escape(alert.title)
        text = ""
        if mention is not None:
            text = f"<blockquote>{escape(mention.body[:400])}</blockquote>"
        return _page("Acknowledge this alert?", f"""<p><strong>{what}</strong></p>{text}
<form method="post"><p><label>Your name <input name="by" autocomplete="name"></label></p>
<p><button type="submit">Acknowledge</button></p></form>
<p class="muted">Acknowledging stops the escalation to the next tier.</p>""")

    @router.post("/ack/{token}", response_class=HTMLResponse, include_in_schema=False)
    async def acknowledge(token: str, by: str = Form(default="")) -> HTMLResponse:
        now = clock()
        try:
            verified = verify(secret, token, now)
        except AckLinkError as error:
            return _problem(error)
        who = (by.strip() or "ack link")[:200]
        try:
            result = await asyncio.to_thread(acknowledge_alert, store, verified.alert_id,
                                             who, now)
        except UnknownAlertError as error:
            return _page("Alert not found", f"<p>{escape(str(error))}.</p>", 404)
        if result.already:
            return _page("Already acknowledged",
                         f"<p>Acknowledged by {escape(result.acked_by or 'someone')}"
                         + (f" at {result.acked_at:%Y-%m-%d %H:%M} UTC" if result.acked_at
                            else "") + ".</p>")
        return _page("Acknowledged",
                     f"<p>Thank you, {escape(who)}. {result.alerts_acked} alert(s) "
                     "acknowledged; escalation stopped.</p><p>Now reply publicly, in the "
                     "thread, where everyone can see it.</p>")

    return router


# The name the brief gave; both are the same factory.
ack_router = make_ack_router
