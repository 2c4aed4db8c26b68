"""Local HTTP servers for tests: a fixture server with scripted responses and a
receiver that records what apprise's json:// sends. Both bind 127.0.0.1 only."""

from __future__ import annotations

import json
import threading
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


Route = Reply | Callable[["Request"], Reply]


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                          body)
        reply = self.server.owner.respond(request)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    do_GET = do_POST = do_HEAD = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: FixtureServer


class FixtureServer:
    """Serves scripted replies per path. A path may hold a queue of replies (one per
    request, the last one repeating) or a function of the request."""

    def __init__(self) -> None:
        self.routes: dict[str, deque[Route]] = {}
        self.requests: list[Request] = []
        self.hits: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def set(self, path: str, *replies: Route) -> None:
        with self._lock:
            self.routes[path] = deque(replies)

    def respond(self, request: Request) -> Reply:
        path = request.path.split("?", 1)[0]
        with self._lock:
            self.requests.append(request)
            self.hits[path] += 1
            queue = self.routes.get(path)
            if not queue:
                return Reply(404, b"not found")
            route = queue[0] if len(queue) == 1 else queue.popleft()
        return route(request) if callable(route) else route

    def start(self) -> FixtureServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class Receiver(FixtureServer):
    """Takes apprise json:// POSTs; can be told to fail the next N of them."""

    def __init__(self) -> None:
        super().__init__()
        self.failures_left = 0
        self.messages: list[dict[str, Any]] = []
        self.set("/hook", self._receive)

    def _receive(self, request: Request) -> Reply:
        with self._lock:
            if self.failures_left > 0:
                self.failures_left -= 1
                return Reply(500, b"down")
            self.messages.append(json.loads(request.body or b"{}"))
        return Reply(200, b"{}", {"Content-Type": "application/json"})

    @property
    def apprise_url(self) -> str:
        return f"json://127.0.0.1:{self._server.server_address[1]}/hook"
