"""Golden-file harness of every spider test module (tests/test_spider_*.py).

A case is ``tests/data/spiders/<spider>/<case>.<ext>`` beside ``<case>.jsonl``:
one ``MentionItem.to_json_dict()`` per line, then one ``{"next_request": URL,
"page": N}`` line per next-page request, or a single ``{"error": ..., "message":
...}`` line for a case that must fail. ``UPDATE_GOLDEN=1 pytest tests/test_spider_X.py``
rewrites the .jsonl files; read the diff before committing it.

A spider's module declares its cases and takes its tests from :class:`Golden`::

    GOLDEN = Golden(XSpider, "x", {"normal.json": Case(URL), ...})
    DATA, run = GOLDEN.data, GOLDEN.run
    test_golden, test_every_fixture_has_a_case = GOLDEN.tests()
    test_layout_errors = GOLDEN.layout_error_test({"layout_changed.json": "x layout changed"})
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from scrapy.http import Request

from spiders.base import MonitorSpider, response_from_bytes
from spiders.items import LayoutError, MentionItem, SpiderError

DATA_ROOT = Path(__file__).parent / "data" / "spiders"


@dataclass
class Case:
    """How a fixture was fetched: its URL, response headers, the source's params."""

    url: str
    params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    page: int = 1


def parse(spider: MonitorSpider, body: bytes, url: str, page: int = 1,
          headers: dict[str, str] | None = None, **meta: Any) -> list[Any]:
    """Everything ``parse_response`` yields for ``body`` fetched from ``url`` as page ``page``."""
    response = response_from_bytes(body, url, headers or None)
    response.meta["page"] = page
    response.meta.update(meta)
    return list(spider.parse_response(response))


def run_spider(spider: MonitorSpider, body: bytes, case: Case) -> list[Any]:
    return parse(spider, body, case.url, page=case.page, headers=case.headers)


def mentions(produced: list[Any]) -> list[MentionItem]:
    return [thing for thing in produced if isinstance(thing, MentionItem)]


def requests(produced: list[Any]) -> list[Request]:
    return [thing for thing in produced if isinstance(thing, Request)]


def as_lines(produced: list[Any]) -> list[dict[str, Any]]:
    """The golden encoding of a spider's output: items, then next-page requests."""
    lines: list[dict[str, Any]] = []
    for thing in produced:
        if isinstance(thing, MentionItem):
            lines.append(thing.to_json_dict())
        elif isinstance(thing, Request):
            lines.append({"next_request": thing.url, "page": thing.meta["page"]})
        else:
            raise AssertionError(f"unexpected output {thing!r}")
    return lines


class Golden:
    """One spider's golden cases: fixture file name (in tests/data/spiders/<directory>)
    -> the :class:`Case` it was fetched as."""

    def __init__(self, spider_cls: type[MonitorSpider], directory: str,
                 cases: dict[str, Case]) -> None:
        self.spider_cls = spider_cls
        self.data = DATA_ROOT / directory
        self.cases = cases

    def body(self, filename: str) -> bytes:
        return (self.data / filename).read_bytes()

    def run(self, filename: str, **params: Any) -> list[Any]:
        """A case's output, the case's params updated with ``params``."""
        case = self.cases[filename]
        spider = self.spider_cls(source_id="t", params={**case.params, **params})
        return run_spider(spider, self.body(filename), case)

    def output_lines(self, filename: str) -> list[dict[str, Any]]:
        case = self.cases[filename]
        spider = self.spider_cls(source_id="golden", params=dict(case.params))
        try:
            produced = run_spider(spider, self.body(filename), case)
        except SpiderError as error:
            return [{"error": type(error).__name__, "message": error.message}]
        return as_lines(produced)

    def check(self, filename: str) -> None:
        """Compare a fixture's output with its .jsonl (or rewrite it under UPDATE_GOLDEN=1)."""
        actual = self.output_lines(filename)
        expected_path = self.data / (filename.split(".")[0] + ".jsonl")
        if os.environ.get("UPDATE_GOLDEN") == "1":
            expected_path.write_text(
                "".join(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n"
                        for line in actual), encoding="utf-8")
        expected = [json.loads(line) for line in
                    expected_path.read_text(encoding="utf-8").splitlines() if line.strip()]
        assert actual == expected

    def fixture_names(self) -> set[str]:
        """Every input fixture of the spider's data folder (not the expected .jsonl files)."""
        return {path.name for path in self.data.iterdir()
                if path.is_file() and path.suffix != ".jsonl"}

    def layout_error(self, filename: str, message: str) -> LayoutError:
        """The case fails with a one-line LayoutError matching ``message``."""
        with pytest.raises(LayoutError, match=message) as caught:
            self.run(filename)
        assert "\n" not in caught.value.message
        return caught.value

    def tests(self) -> tuple[Callable[[str], None], Callable[[], None]]:
        """``test_golden`` and ``test_every_fixture_has_a_case``, for the spider's module
        to bind to those names."""

        @pytest.mark.parametrize("filename", sorted(self.cases))
        def test_golden(filename: str) -> None:
            self.check(filename)

        def test_every_fixture_has_a_case() -> None:
            assert self.fixture_names() == set(self.cases)

        return test_golden, test_every_fixture_has_a_case

    def layout_error_test(self, messages: dict[str, str]) -> Callable[[str, str], None]:
        """A test that each fixture of ``messages`` fails with a one-line LayoutError
        matching its message (a regex)."""

        @pytest.mark.parametrize(("filename", "message"), list(messages.items()))
        def test_layout_errors(filename: str, message: str) -> None:
            self.layout_error(filename, message)

        return test_layout_errors
