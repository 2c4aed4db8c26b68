"""Golden-file harness for the jsonld, reddit, hackernews, mastodon and feed spider tests.

A case is ``tests/data/spiders/<spider>/<case>.<ext>`` beside ``<case>.jsonl``:
one ``MentionItem.to_json_dict()`` per line, then one ``{"next_request": URL,
"page": N}`` line per next-page request, or a single ``{"error": ..., "message":
...}`` line for a case that must fail. ``UPDATE_GOLDEN=1 pytest tests/test_spider_X.py``
rewrites the .jsonl files; read the diff before committing it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from scrapy.http import Request

from spiders.base import MonitorSpider, response_from_bytes
from spiders.items import MentionItem, SpiderError

DATA_ROOT = Path(__file__).parent / "data" / "spiders"
CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
IN_CI = os.environ.get("CI", "").lower() == "true"


@dataclass
class Case:
    """How a fixture was fetched: its URL, response headers, the source's params."""

    url: str
    params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    page: int = 1


def corpus_path(*parts: str) -> Path:
    """A file of ../shared/corpus, or skip (fail when CI=true: there it must exist)."""
    path = CORPUS.joinpath(*parts)
    if not path.exists():
        message = f"real-world corpus not found at {path}"
        if IN_CI:
            pytest.fail(message + " (CI=true: corpus tests must run)")
        pytest.skip(message)
    return path


def run_spider(spider: MonitorSpider, body: bytes, case: Case) -> list[Any]:
    response = response_from_bytes(body, case.url, case.headers or None)
    response.meta["page"] = case.page
    return list(spider.parse_response(response))


def output_lines(spider_cls: type[MonitorSpider], path: Path, case: Case) -> list[dict[str, Any]]:
    spider = spider_cls(source_id="golden", params=dict(case.params))
    try:
        produced = run_spider(spider, path.read_bytes(), case)
    except SpiderError as error:
        return [{"error": type(error).__name__, "message": error.message}]
    lines: list[dict[str, Any]] = []
    for thing in produced:
        if isinstance(thing, MentionItem):
            lines.append(thing.to_json_dict())
        elif isinstance(thing, Request):
            lines.append({"next_request": thing.url, "page": thing.meta["page"]})
        else:
            raise AssertionError(f"unexpected output {thing!r}")
    return lines


def check_golden(spider_cls: type[MonitorSpider], directory: str, filename: str,
                 case: Case) -> list[dict[str, Any]]:
    """Compare a fixture's output with its .jsonl (or rewrite it under UPDATE_GOLDEN=1)."""
    path = DATA_ROOT / directory / filename
    actual = output_lines(spider_cls, path, case)
    expected_path = path.with_name(path.name.split(".")[0] + ".jsonl")
    if os.environ.get("UPDATE_GOLDEN") == "1":
        expected_path.write_text(
            "".join(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n"
                    for line in actual), encoding="utf-8")
    expected = [json.loads(line) for line in
                expected_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert actual == expected
    return actual


def fixture_names(directory: str) -> set[str]:
    """Every input fixture of a spider's data folder (not the expected .jsonl files)."""
    return {path.name for path in (DATA_ROOT / directory).iterdir()
            if path.is_file() and path.suffix != ".jsonl"}


def mentions(produced: list[Any]) -> list[MentionItem]:
    return [thing for thing in produced if isinstance(thing, MentionItem)]


def requests(produced: list[Any]) -> list[Request]:
    return [thing for thing in produced if isinstance(thing, Request)]
