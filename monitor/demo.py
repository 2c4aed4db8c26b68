"""``review-monitor demo``: the whole daemon on sample feeds served from 127.0.0.1.

No config and no network: a local HTTP server serves three feeds written for the
project, a new sample mention appears every few seconds, the daemon polls the
feeds, stores and classifies the mentions and prints alerts to the console.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import tempfile
import threading
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from monitor.demo_data import BRANDS, SAMPLES

# The demo's one web account; the demo listens on 127.0.0.1 only.
DEMO_PASSWORD = "demo"

log = logging.getLogger(__name__)
FEEDS = ("reviews", "social", "news")


class SampleFeeds:
    """The feeds' current entries; a thread adds one more every ``every`` seconds."""

    def __init__(self) -> None:
        self.entries: dict[str, list[dict[str, Any]]] = {feed: [] for feed in FEEDS}
        self.lock = threading.Lock()
        self.counter = itertools.count(1)
        self.pool = itertools.cycle(SAMPLES)

    def add_next(self) -> None:
        feed, author, language, title, body = next(self.pool)
        number = next(self.counter)
        with self.lock:
            self.entries[feed].insert(0, {
                "id": f"demo-{number}", "author": author, "language": language,
                "title": title, "body": body, "published": datetime.now(UTC),
            })

    def rss(self, feed: str) -> bytes:
        with self.lock:
            entries = list(self.entries[feed])
        items = "".join(
            f"<item><guid isPermaLink=\"false\">{entry['id']}</guid>"
            f"<title>{escape(entry['title'])}</title>"
            f"<link>https://demo.invalid/{feed}/{entry['id']}</link>"
            f"<author>{escape(entry['author'])}</author>"
            f"<description>{escape(entry['body'])}</description>"
            f"<pubDate>{format_datetime(entry['published'])}</pubDate></item>"
            for entry in entries
        )
        return (f"<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel>"
                f"<title>demo {feed}</title><link>https://demo.invalid/</link>"
                f"<description>sample feed</description>{items}</channel></rss>").encode()


def _serve(feeds: SampleFeeds) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

        def do_GET(self) -> None:  # noqa: N802
            name = self.path.strip("/").removesuffix(".xml").removeprefix("feeds/")
            if name not in FEEDS:
                self.send_response(404)
                self.end_headers()
                return
            body = feeds.rss(name)
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def demo_config(directory: Path, port: int, web_port: int | None = None) -> str:
    brands = "".join(
        f'[brands.{key}]\nname = "{name}"\nkeywords = {keywords!r}\n\n'.replace("'", '"')
        for key, (name, keywords) in BRANDS.items()
    )
    sources = "".join(
        f'[[sources]]\nid = "demo-{feed}"\nspider = "feed"\n'
        f'url = "http://127.0.0.1:{port}/feeds/{feed}.xml"\ninterval = "3s"\nobey_robots = false\n\n'
        for feed in FEEDS
    )
    return (
        "# Written by `review-monitor demo`: three local sample feeds, alerts to the console.\n"
        f'[store]\nurl = "sqlite:///{directory / "demo.db"}"\n\n'
        '[daemon]\njitter = 0\nautothrottle = false\n\n'
        '[[routes]]\nkinds = ["complaint", "question"]\nmin_severity = "low"\n'
        'channels = ["console"]\n\n'
        f"{brands}{sources}{_demo_web(web_port) if web_port else ''}"
    )


def _demo_web(port: int) -> str:
    """The triage inbox on 127.0.0.1 with one demo account (user demo, password demo)."""
    import secrets

    from monitor.web.security import hash_password

    return (
        f'[web]\nhost = "127.0.0.1"\nport = {port}\nbase_url = "http://127.0.0.1:{port}"\n'
        f'secret = "{secrets.token_hex(16)}"\n\n'
        f'[web.users.demo]\npassword_hash = "{hash_password(DEMO_PASSWORD)}"\nrole = "admin"\n'
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_demo(directory: Path | None, duration: float, every: float) -> int:
    from monitor.app import make_app
    from monitor.config import load_config
    from monitor.daemon import Daemon, run_in_reactor, stop_reactor

    temporary = None
    if directory is None:
        temporary = tempfile.TemporaryDirectory(prefix="review-monitor-demo-")
        directory = Path(temporary.name)
    directory.mkdir(parents=True, exist_ok=True)
    feeds = SampleFeeds()
    for _ in range(4):
        feeds.add_next()
    server = _serve(feeds)
    config_path = directory / "demo.toml"
    web_port = _free_port()
    config_path.write_text(demo_config(directory, server.server_address[1], web_port),
                           encoding="utf-8")
    print(f"review-monitor demo: sample feeds at http://127.0.0.1:{server.server_address[1]}/feeds/"
          f"; state in {directory}; config {config_path}")
    print(f"Triage inbox: http://127.0.0.1:{web_port}/ (user demo, password {DEMO_PASSWORD})")
    print("A new sample mention appears every few seconds; alerts print below. Ctrl-C stops.",
          flush=True)
    app = make_app(load_config(config_path))
    app.start_workers()  # as review-monitor run does (none unless [classifier] workers)
    daemon = Daemon(app)

    async def main() -> int:
        loop = asyncio.get_running_loop()
        stop_at = loop.time() + duration if duration else None

        async def feed_more() -> None:
            while not daemon.stopping.is_set():
                await asyncio.sleep(every)
                feeds.add_next()
                if stop_at is not None and loop.time() >= stop_at:
                    daemon.stop()

        adder = asyncio.create_task(feed_more())
        try:
            return await daemon.run_forever()
        finally:
            adder.cancel()

    try:
        return run_in_reactor(main)
    finally:
        stop_reactor()
        server.shutdown()
        app.close()
        if temporary is not None:
            temporary.cleanup()


