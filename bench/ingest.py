"""Ingest benchmark (not a test): N feeds x M entries served from 127.0.0.1.

Times review-monitor's full path (fetch with Scrapy, parse, dedupe, store,
classify, outbox) into SQLite and into PostgreSQL, and, on the same feeds, the
`reader` library's update_feeds() as the reference. Each phase runs in its own
process so peak RSS is its own. Prints one JSON object.

    .venv/bin/python bench/ingest.py [--feeds 500] [--entries 50] [--pg URL]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WORDS = ["the", "acme", "app", "crashed", "again", "and", "support", "never", "answered", "my", "ticket", "great", "product", "fast", "delivery", "love", "it", "why", "is", "my", "invoice", "wrong", "refund", "please"]


def feed_body(feed: int, entries: int, language: str = "") -> bytes:
    base = datetime(2026, 11, 1, tzinfo=UTC)
    items = []
    for index in range(entries):
        words = " ".join(WORDS[(feed + index + k) % len(WORDS)] for k in range(40))
        items.append(
            f"<item><guid isPermaLink=\"false\">f{feed}-e{index}</guid>"
            f"<title>Acme feed {feed} entry {index}</title>"
            f"<link>https://example.com/f{feed}/e{index}?utm_source=bench</link>"
            f"<description>{escape(words)}</description><author>user{index}</author>"
            f"<pubDate>{format_datetime(base + timedelta(minutes=index))}</pubDate></item>")
    return (f"<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel>"
            f"<title>feed {feed}</title><link>https://example.com/f{feed}</link>"
            f"<description>bench</description>"
            f"{f'<language>{language}</language>' if language else ''}"
            f"{''.join(items)}</channel></rss>").encode()


def serve(port_queue: Any, feeds: int, entries: int, language: str) -> None:
    bodies = {f"/feed/{feed}.xml": feed_body(feed, entries, language) for feed in range(feeds)}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

        def do_GET(self) -> None:  # noqa: N802
            body = bodies.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_queue.put(server.server_address[1])
    server.serve_forever()


def phase_monitor(base: str, feeds: int, store_url: str, workers: int,
                  crawl_only: bool = False) -> dict[str, Any]:
    """The daemon's crawl into the store; with ``crawl_only`` the same crawl (Scrapy,
    the feed spider, feedparser, the crawl adapter's batches) with ingest replaced by a
    count: the most any ingest could reach on this machine with this crawl."""
    from monitor.app import make_app
    from monitor.config import parse_config
    from monitor.daemon import Daemon, run_in_reactor, stop_reactor, tune_gc
    from monitor.ingest import IngestResult
    from monitor.logs import setup_logging

    setup_logging("WARNING")
    raw = {
        "store": {"url": store_url},
        "daemon": {"autothrottle": False, "concurrent_requests": 16,
                   "concurrent_requests_per_domain": 16},
        "brands": {"acme": {"keywords": ["acme"]}},
        "classifier": {"workers": workers},
        "sources": [{"id": f"f{feed}", "spider": "feed", "url": f"{base}/feed/{feed}.xml",
                     "brand": "acme", "obey_robots": False} for feed in range(feeds)],
        "channels": {"null": {"urls": ["json://127.0.0.1:9/none"]}},
    }
    config = parse_config(raw, Path(tempfile.gettempdir()) / "bench.toml")
    app = make_app(config)
    app.store.start_checkpointer()  # as review-monitor run does
    if app.ingestor.pool is not None:
        app.ingestor.pool.wait_ready()  # a daemon starts its workers once, not per crawl
    app.warm_up()
    tune_gc()  # as review-monitor run does
    crawled = 0
    if crawl_only:
        def count_only(items: Any, now: Any, listings: Any = ()) -> IngestResult:
            nonlocal crawled
            crawled += len(items)
            result = IngestResult()
            for item in items:
                result.count(item.source_id, new=1)
            result.new = len(items)
            return result

        app.ingestor.ingest = count_only  # type: ignore[method-assign]
    daemon = Daemon(app)
    cpu_started = _cpu_s()
    started = time.perf_counter()
    # The whole path up to a committed outbox; sending is not what is measured here.
    run_in_reactor(lambda: daemon.crawl_due(force=True))
    stop_reactor()
    elapsed = time.perf_counter() - started
    cpu = _cpu_s() - cpu_started
    stored = crawled if crawl_only else app.store.mention_count()
    outbox = app.store.outbox_counts()
    app.close()  # and the classifier workers, if any
    return {"seconds": elapsed, "entries": stored, "alerts_queued": sum(outbox.values()),
            "classifier_workers": workers, "crawl_only": crawl_only,
            # CPU time of this process and its classifier workers (not a database server's)
            "cpu_s": round(cpu, 2)}


def _cpu_s() -> float:
    """CPU seconds of this process (every thread) and of its ended children; live
    classifier workers are counted by pid through /proc."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    total = own.ru_utime + own.ru_stime
    tick = os.sysconf("SC_CLK_TCK")
    for child in multiprocessing.active_children():
        try:
            fields = Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return total


def phase_reader(base: str, feeds: int, workers: int) -> dict[str, Any]:
    from reader import make_reader

    directory = tempfile.mkdtemp(prefix="bench-reader-")
    reader = make_reader(os.path.join(directory, "reader.sqlite"))
    for feed in range(feeds):
        reader.add_feed(f"{base}/feed/{feed}.xml")
    cpu_started = _cpu_s()
    started = time.perf_counter()
    reader.update_feeds(workers=workers)
    elapsed = time.perf_counter() - started
    cpu = _cpu_s() - cpu_started
    entries = reader.get_entry_counts().total
    reader.close()
    return {"seconds": elapsed, "entries": entries, "workers": workers, "cpu_s": round(cpu, 2)}


def run_phase(name: str, args: argparse.Namespace, base: str, extra: str = "") -> dict[str, Any]:
    command = [sys.executable, __file__, "--phase", name, "--base", base,
               "--feeds", str(args.feeds), "--entries", str(args.entries),
               "--classifier-workers", str(args.classifier_workers)]
    if extra:
        command += ["--store", extra]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def fresh_pg_database(admin_url: str) -> str:
    import psycopg

    name = f"rm_bench_{os.getpid()}"
    plain = admin_url.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--entries", type=int, default=50)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test",
                        help="an existing database; the benchmark creates its own beside it")
    parser.add_argument("--reader-workers", type=int, default=8)
    parser.add_argument("--feed-language", default="",
                        help="declare this language in every feed (the classifier then skips "
                             "language detection, as it does for sources that state it)")
    parser.add_argument("--classifier-workers", type=int, default=0,
                        help="[classifier] workers for review-monitor (0: the default, "
                             "classification in the ingest thread only)")
    parser.add_argument("--crawl-only", action="store_true",
                        help="also time the crawl alone (ingest replaced by a count): the "
                             "ceiling of any ingest behind this crawl")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.phase:
        if args.phase == "reader":
            result = phase_reader(args.base, args.feeds, int(args.store or 8))
        else:
            result = phase_monitor(args.base, args.feeds, args.store, args.classifier_workers,
                                   crawl_only=args.phase == "crawl_only")
        result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        print(json.dumps(result))
        return

    ports: Any = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve,
                                     args=(ports, args.feeds, args.entries, args.feed_language),
                                     daemon=True)
    server.start()
    base = f"http://127.0.0.1:{ports.get(timeout=30)}"
    total = args.feeds * args.entries
    results: dict[str, Any] = {"feeds": args.feeds, "entries_per_feed": args.entries,
                               "feed_language": args.feed_language or None,
                               "total_entries": total, "cpus": os.cpu_count()}
    try:
        with tempfile.TemporaryDirectory() as directory:
            sqlite = run_phase("monitor", args, base, f"sqlite:///{directory}/bench.db")
        results["monitor_sqlite"] = sqlite
        if args.crawl_only:
            with tempfile.TemporaryDirectory() as directory:
                results["crawl_only"] = run_phase("crawl_only", args, base,
                                                  f"sqlite:///{directory}/bench.db")
        try:
            postgres = run_phase("monitor", args, base, fresh_pg_database(args.pg))
            results["monitor_postgres"] = postgres
        except Exception as error:  # no server: say so, keep the other figures
            results["monitor_postgres"] = {"skipped": str(error).splitlines()[0]}
        results["reader"] = run_phase("reader", args, base, str(args.reader_workers))
    finally:
        server.terminate()
    reader_rate = results["reader"]["entries"] / results["reader"]["seconds"]
    results["reader"]["entries_per_s"] = round(reader_rate, 1)
    for key in ("monitor_sqlite", "monitor_postgres", "crawl_only"):
        phase = results.get(key, {})
        if "seconds" in phase:
            rate = phase["entries"] / phase["seconds"]
            phase["entries_per_s"] = round(rate, 1)
            phase["ratio_to_reader"] = round(rate / reader_rate, 2)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
