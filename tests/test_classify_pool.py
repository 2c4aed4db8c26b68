"""[classifier] workers: classification in worker processes gives exactly the verdicts
of the ingest thread, and a worker that dies costs speed, never a mention."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor.app import make_app
from monitor.classify_pool import MIN_SHARED
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
