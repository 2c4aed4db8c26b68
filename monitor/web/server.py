"""Serving the web app: inside the daemon's asyncio loop (``review-monitor run`` with a
[web] section) or on its own (``review-monitor web --config F``, see monitor/web/cli.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Generator
from datetime import UTC, datetime
from typing import Any

import uvicorn

from monitor.config import Config
from monitor.errors import MonitorError
from monitor.store import Store
from monitor.web.ops import LoopStatus

log = logging.getLogger(__name__)


class _QuietServer(uvicorn.Server):
    """Signals belong to the daemon (it finishes in-flight work first); uvicorn must not
    take SIGTERM/SIGINT over."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class WebServer:
    """The web app served by uvicorn on the running asyncio loop."""

    def __init__(self, config: Config, store: Store,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 loop_status: LoopStatus | None = None) -> None:
        from monitor.web.app import make_web_app

        assert config.web is not None
        self.config = config
        self.status = loop_status or LoopStatus()
        self.app = make_web_app(config, store, clock, self.status)
        settings = uvicorn.Config(self.app, host=config.web.host, port=config.web.port,
                                  log_config=None, access_log=False, lifespan="off",
                                  server_header=False, proxy_headers=False)
        self.server = _QuietServer(settings)
        # uvicorn's start/stop chatter: web_started / web_stopped say it in our format.
        logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
        self.task: asyncio.Task[None] | None = None
        self.beat_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Bind and start serving; a port in use is a one-line MonitorError."""
        web = self.config.web
        assert web is not None
        self.task = asyncio.create_task(self._serve())
        while not self.server.started:
            if self.task.done():
                raise MonitorError(f"web: cannot listen on {web.host}:{web.port} "
                                   "(address in use, or not an address of this machine)")
            await asyncio.sleep(0.02)
        if self.status.in_process:
            self.beat_task = asyncio.create_task(self._beat())
        log.info("web_started url=%s", self.url)

    async def _serve(self) -> None:
        try:
            await self.server.serve()
        except SystemExit:  # uvicorn's answer to a bind error: must not end the daemon
            log.error("web_failed: cannot listen on %s:%s", self.server.config.host,
                      self.server.config.port)

    @property
    def url(self) -> str:
        web = self.config.web
        assert web is not None
        port = web.port
        for server in getattr(self.server, "servers", []):
            for sock in server.sockets:
                port = sock.getsockname()[1]
        return f"http://{web.host}:{port}"

    async def _beat(self) -> None:
        while True:
            self.status.beat()
            await asyncio.sleep(1.0)

    def request_stop(self) -> None:
        self.server.should_exit = True

    async def stop(self) -> None:
        if self.beat_task is not None:
            self.beat_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.beat_task
        if self.task is None:
            return
        self.server.should_exit = True
        try:
            await asyncio.wait_for(self.task, 5)
        except (TimeoutError, asyncio.CancelledError):
            self.server.force_exit = True
        log.info("web_stopped")


async def start_in_daemon(daemon: Any) -> WebServer | None:
    """Called by the daemon at start: serves the web app on its loop when [web] is set."""
    app = daemon.app
    if app.config.web is None:
        return None
    status = LoopStatus(in_process=True, started_at=app.clock())
    server = WebServer(app.config, app.store, app.clock, status)
    await server.start()
    return server
