"""make_web_app(config, store): the triage inbox, the JSON API, /healthz and /metrics.

Server-rendered Jinja2 (autoescaped: review text and author names are hostile), plain
HTML forms that work without JavaScript, a little of the project's own JS and CSS from
/static, and a Content-Security-Policy that allows no inline script at all.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from monitor.config import Config, WebConfig
from monitor.core.health import redact_secrets
from monitor.core.triage import countdown, next_status
from monitor.errors import ConfigError, MonitorError
from monitor.store import Store
from monitor.web.ops import LoopStatus
from monitor.web.security import ACK_CSP, SECURITY_HEADERS, LoginLimiter, safe_href

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
SESSION_COOKIE = "rm_session"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class WebContext:
    config: Config
    web: WebConfig
    store: Store
    clock: Callable[[], datetime]
    limiter: LoginLimiter
    templates: Environment
    loop: LoopStatus
    cache: dict[str, tuple[float, Any]] = field(default_factory=dict)

    def now(self) -> datetime:
        return self.clock()

    def cached(self, key: str, compute: Callable[[], Any], ttl: float = 60.0) -> Any:
        """Filter choices (languages, assignees) read the whole mention table: once a
        minute is plenty."""
        hit = self.cache.get(key)
        moment = time.monotonic()
        if hit is None or moment - hit[0] > ttl:
            hit = (moment, compute())
            self.cache[key] = hit
        return hit[1]


class LoginRequired(Exception):
    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


def make_web_app(config: Config, store: Store, clock: Callable[[], datetime] = utc_now,
                 loop: LoopStatus | None = None) -> FastAPI:
    web = config.web
    if web is None:
        raise ConfigError(["[web] is not configured: add a [web] section (see docs/web.md)"])
    if len(web.secret) < 16:
        raise ConfigError(["web.secret: set at least 16 random characters from ${ENV}; "
                           "it signs session cookies and acknowledgement links"])
    context = WebContext(config, web, store, clock,
                         LoginLimiter(web.login_attempts, web.login_window),
                         _templates(), loop or LoopStatus())
    app = FastAPI(title="review-monitor", version=_version(),
                  description="Triage inbox API: list, read, acknowledge, assign, resolve "
                              "and annotate mentions. Authenticate with "
                              "`Authorization: Bearer <token>` (tokens in `[web.tokens]`).",
                  # Swagger UI and ReDoc load third-party scripts: the schema is served,
                  # any OpenAPI viewer reads it.
                  docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    app.state.ctx = context
    https = web.base_url.lower().startswith("https://")

    from monitor.web import api, pages

    app.include_router(pages.router)
    app.include_router(api.router)
    _mount_ack(app, config, store, clock)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.middleware("http")
    async def security_headers(request: Request,
                               call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        if request.url.path.startswith("/ack/"):
            # The alert path's ack pages (web/ack.py) style themselves inline; scripts
            # stay forbidden there as everywhere.
            response.headers.setdefault("Content-Security-Policy", ACK_CSP)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if https:
            # Served at an https:// base_url: browsers keep to https from then on (a
            # plain-http first request would carry the session cookie in clear).
            response.headers.setdefault("Strict-Transport-Security",
                                        "max-age=31536000")
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    # Outermost: the session is read before anything else runs.
    app.add_middleware(SessionMiddleware, secret_key=web.secret, session_cookie=SESSION_COOKIE,
                       max_age=int(web.session_lifetime.total_seconds()), same_site="lax",
                       https_only=https)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, error: LoginRequired) -> Response:
        from urllib.parse import quote

        return RedirectResponse(f"/login?next={quote(error.next_path, safe='/')}", 303)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> Response:
        if request.url.path.startswith("/api/"):
            return await request_validation_exception_handler(request, error)
        problems = "; ".join(f"{'.'.join(str(part) for part in detail['loc'][1:])}: "
                             f"{detail['msg']}" for detail in error.errors()[:5])
        return await http_error(request, StarletteHTTPException(
            422, f"That request is not valid ({problems})."))

    @app.exception_handler(MonitorError)
    async def monitor_error(request: Request, error: MonitorError) -> Response:
        # The store is down or refused: one readable line, 503, nothing half-done.
        log.error("web_error path=%s error=%s", request.url.path, error)
        return await http_error(request, StarletteHTTPException(503, str(error)))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/api/") or request.url.path in ("/healthz", "/metrics"):
            return JSONResponse({"detail": error.detail}, error.status_code,
                                headers=getattr(error, "headers", None))
        template = context.templates.get_template("error.html")
        html = template.render(request=request, user=None, status=error.status_code,
                               message=str(error.detail), csrf="", flashes=[],
                               now=context.now())
        return HTMLResponse(html, error.status_code, headers=getattr(error, "headers", None))

    return app


def _mount_ack(app: FastAPI, config: Config, store: Store,
               clock: Callable[[], datetime]) -> None:
    """The alert path's acknowledgement links (monitor/web/ack.py), when installed."""
    try:
        from monitor.web import ack  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return
    factory = getattr(ack, "make_router", None) or getattr(ack, "make_ack_router", None)
    router: Any = getattr(ack, "router", None)
    if factory is not None:
        import inspect

        # Hand the factory what it asks for, by name.
        offered = {"config": config, "store": store, "clock": clock, "web": config.web}
        wanted = inspect.signature(factory).parameters
        router = factory(**{name: value for name, value in offered.items() if name in wanted})
    if router is not None:
        app.include_router(router)


def _templates() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["countdown"] = countdown
    env.filters["href"] = safe_href
    env.filters["when"] = _when
    env.filters["redact"] = _redact
    env.filters["redact_urls"] = _redact_urls
    env.globals["can_do"] = lambda action, status: next_status(action, status) is not None
    return env


_BARE_PATH = re.compile(r"(?i)(\burl: )/\S*")
_URL_REST = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s?#@]*@?[^/\s?#]*)[^\s'\"<>)]*")


def _redact(value: str | None) -> str:
    """An error quoted on a page every viewer can read: a crawl error names the URL it
    failed on, which may carry an API key or a password (masked as in ops alerts)."""
    return "" if not value else redact_secrets(value)


def _redact_urls(value: str | None) -> str:
    """A delivery error: channel URLs keep their secrets in the path (a Slack or Discord
    webhook) as well as in the query, so only the scheme and host are shown."""
    if not value:
        return ""
    text = _URL_REST.sub(lambda found: found.group(1) + "/…", redact_secrets(value))
    # requests' "Max retries exceeded with url: /services/T0/B0/SECRET"
    return _BARE_PATH.sub(r"\1…", text)


def _when(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _version() -> str:
    from monitor import __version__

    return __version__
