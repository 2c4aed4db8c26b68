"""[classifier] workers: classification in worker processes gives exactly the verdicts
of the ingest thread, and a worker that dies costs speed, never a mention."""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from feedgen import rss, sample_entries
from httpserver import FixtureServer, Reply
from sqlalchemy import select

from monitor.app import App, make_app
from monitor.classify_pool import MIN_SHARED, ClassifierPool
from monitor.cli import main
from monitor.config import parse_config
from monitor.errors import ConfigError
from monitor.store import Mention
from spiders.items import MentionItem

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
EVAL = Path(__file__).resolve().parents[1] / "eval" / "classification" / "dev.jsonl"


def _config(tmp_path: Path, name: str, workers: int):  # type: ignore[no-untyped-def]
    return parse_config({
        "store": {"url": f"sqlite:///{tmp_path / name}"},
        "classifier": {"workers": workers},
        "brands": {"acme": {"name": "Acme", "keywords": ["acme"],
                            "accounts": {"feed": ["AcmeSupport"]},
                            "vocabulary": {"complaint_words": {"en": ["bricked"]}}}},
        "sources": [{"id": "news", "spider": "feed", "url": "https://example.com/feed.xml"}],
    }, tmp_path / "c.toml")


def _items(count: int) -> list[MentionItem]:
    """Real-sounding posts in eight languages (the project's development set)."""
    lines = [json.loads(line) for line in EVAL.read_text(encoding="utf-8").splitlines()
             if line.strip()]
    items = []
    for index in range(count):
        post = lines[index % len(lines)]
        items.append(MentionItem(
            source_id="news", external_id=f"e{index}", url=f"https://example.com/{index}",
            author="AcmeSupport" if index % 50 == 7 else f"person {index}",
            title=post.get("title"), body=f"{post['text']} (Acme #{index})",
            published=NOW - timedelta(minutes=index)))
    return items


def _verdicts(app) -> list[tuple[object, ...]]:  # type: ignore[no-untyped-def]
    with app.store.session() as session:
        return [(m.external_id, m.brand, m.kind, m.severity, m.language, tuple(m.reasons or ()),
                 m.score) for m in session.scalars(select(Mention).order_by(Mention.external_id))]


def test_workers_give_the_verdicts_of_the_ingest_thread(tmp_path: Path) -> None:
    items = _items(3 * MIN_SHARED + 5)
    alone = make_app(_config(tmp_path, "alone.db", 0), clock=lambda: NOW)
    assert alone.ingestor.pool is None
    alone.ingestor.ingest(_items(len(items)), NOW)
    shared = make_app(_config(tmp_path, "shared.db", 2), clock=lambda: NOW)
    assert shared.ingestor.pool is not None
    try:
        result = shared.ingestor.ingest(items, NOW)
        assert result.new == len(items)
        expected = _verdicts(alone)
        assert _verdicts(shared) == expected
        kinds = {row[2] for row in expected}
        assert {"complaint", "praise", "question"} <= kinds  # a real mix was classified
        assert any("own account" in " ".join(row[5]) for row in expected)
        assert shared.ingestor.pool.alive
    finally:
        shared.ingestor.pool.close()


def test_a_dead_worker_costs_speed_not_mentions(tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    app = make_app(_config(tmp_path, "dead.db", 1), clock=lambda: NOW)
    pool = app.ingestor.pool
    assert pool is not None
    try:
        app.ingestor.ingest(_items(MIN_SHARED * 2), NOW)  # the worker is up and used
        for process in list(pool._executor._processes.values()):  # type: ignore[union-attr]
            process.kill()
            process.join()
        more = [MentionItem(**{**item.__dict__, "external_id": f"x{index}"})
                for index, item in enumerate(_items(MIN_SHARED * 2))]
        with caplog.at_level(logging.WARNING, logger="monitor.classify_pool"):
            result = app.ingestor.ingest(more, NOW + timedelta(minutes=1))
        assert result.new == len(more)
        assert not pool.alive
        (record,) = [r for r in caplog.records if "classifier_workers_failed" in r.getMessage()]
        assert "\n" not in record.getMessage()
        # And later batches are classified in the ingest thread.
        later = [MentionItem(**{**item.__dict__, "external_id": f"y{index}"})
                 for index, item in enumerate(_items(MIN_SHARED * 2))]
        assert app.ingestor.ingest(later, NOW + timedelta(minutes=2)).new == len(later)
    finally:
        pool.close()


def test_workers_must_be_a_small_count(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"classifier\.workers"):
        _config(tmp_path, "x.db", -1)


def _toml(tmp_path: Path, workers: int, feed_url: str = "https://example.com/feed.xml") -> Path:
    path = tmp_path / "workers.toml"
    path.write_text(
        f'[store]\nurl = "sqlite:///{tmp_path / "w.db"}"\n[daemon]\nautothrottle = false\n'
        f'[classifier]\nworkers = {workers}\n[brands.acme]\nkeywords = ["acme"]\n'
        f'[[sources]]\nid = "news"\nspider = "feed"\nurl = "{feed_url}"\nbrand = "acme"\n'
        f'obey_robots = false\n', encoding="utf-8")
    return path


def _children() -> set[int]:
    return {process.pid for process in multiprocessing.active_children()}


def _app_with_one_worker(tmp_path: Path, database: str) -> tuple[App, ClassifierPool]:
    app = make_app(_config(tmp_path, database, 1), clock=lambda: NOW)
    assert app.ingestor.pool is not None
    return app, app.ingestor.pool


def test_building_the_app_starts_no_worker(tmp_path: Path) -> None:
    """Workers start only when something ingests a batch worth sharing, or asks."""
    before = _children()
    app, pool = _app_with_one_worker(tmp_path, "idle.db")
    try:
        asyncio.run(app.dispatcher.drain())  # what the other commands do with an app
        app.ingestor.sweep_incidents()
        result = app.ingestor.ingest(_items(MIN_SHARED - 1), NOW)  # too few to share
        assert result.new == MIN_SHARED - 1
        assert not pool.started and not pool.alive
        assert _children() == before
    finally:
        app.close()
    assert not pool.started and _children() == before
    app.ingestor.ingest(_items(MIN_SHARED * 2), NOW)  # after close: classified here, no start
    assert not pool.alive and _children() == before


def test_start_workers_starts_them_ready_and_close_stops_them(tmp_path: Path) -> None:
    """What the daemon and the benches do at start-up, before anything is ingested."""
    before = _children()
    app, pool = _app_with_one_worker(tmp_path, "eager.db")
    try:
        app.start_workers()
        app.start_workers()  # idempotent
        pool.wait_ready()
        assert pool.started and pool.alive
        assert len(_children() - before) == 1
        assert app.ingestor.ingest(_items(MIN_SHARED * 2), NOW).new == MIN_SHARED * 2
        assert 0 < pool.classified < MIN_SHARED * 2  # the worker's share of the batch
    finally:
        app.close()
    assert not pool.alive and _children() == before


@pytest.mark.parametrize("argv", [
    ["db", "upgrade"], ["health"], ["sla"], ["oncall"], ["ack", "12345"],
    ["routes", "test", "--text", "Acme lost my parcel and nobody answers"],
    ["digest", "--week", "2026-W47"],
])
def test_commands_that_never_ingest_start_no_worker(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> None:
    started: list[ClassifierPool] = []
    monkeypatch.setattr(ClassifierPool, "start", lambda self: started.append(self))
    path = _toml(tmp_path, 1)
    before = _children()
    code = main([*argv, "-c", str(path)])
    assert code in (0, 1, 2)  # whatever the command says (no on-call schedule, no alert)
    assert started == [] and _children() == before


def test_the_daemon_starts_its_workers_and_uses_them(tmp_path: Path,
                                                     server: FixtureServer) -> None:
    """review-monitor run: the workers start with the daemon, classify their share of
    the first crawl's batch, and stop when it exits."""
    count = MIN_SHARED * 2
    server.set("/feed.xml", Reply(200, rss(sample_entries("w", count)),
                                  {"Content-Type": "application/rss+xml"}))
    path = _toml(tmp_path, 1, server.url("/feed.xml"))
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "run", "--once", "--force", "-c", str(path)],
        cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "classifier_workers_started workers=1" in result.stderr
    assert result.stderr.index("classifier_workers_started") < result.stderr.index("source_ok")
    (stopped,) = re.findall(r"classifier_workers_stopped classified=(\d+)", result.stderr)
    assert 0 < int(stopped) < count  # the worker's share; the ingest thread did the rest
    assert "classifier_workers_failed" not in result.stderr
    app = make_app(parse_config({"store": {"url": f"sqlite:///{tmp_path / 'w.db'}"}},
                                tmp_path / "c.toml"), migrate=False)
    try:
        assert app.store.mention_count() == count
    finally:
        app.close()
