"""The arrows of DESIGN.md point one way: spiders never import monitor; monitor.core
imports nothing of the project but itself (pure logic, no I/O)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IO_MODULES = {"sqlalchemy", "sqlmodel", "apprise", "scrapy", "twisted", "requests", "socket",
              "urllib.request", "http", "asyncio", "subprocess"}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted((ROOT / "spiders").rglob("*.py")), ids=str)
def test_spiders_never_import_monitor(path: Path) -> None:
    assert not any(name == "monitor" or name.startswith("monitor.") for name in imports(path))


@pytest.mark.parametrize("path", sorted((ROOT / "monitor" / "core").rglob("*.py")), ids=str)
def test_core_is_pure(path: Path) -> None:
    names = imports(path)
    project = {name for name in names if name.split(".")[0] in ("monitor", "spiders")}
    assert all(name.startswith("monitor.core") for name in project), project
    assert not {name for name in names if name.split(".")[0] in IO_MODULES
                or name in IO_MODULES}, names
    source = path.read_text(encoding="utf-8")
    assert "datetime.now(" not in source and "time.time(" not in source, "core reads the clock"


def test_every_spider_is_documented_in_docs_sources() -> None:
    from spiders import SPIDERS

    text = (ROOT / "docs" / "sources.md").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in SPIDERS:
        assert f"## `{name}`" in text, name
        assert f"| `{name}` |" in readme, name
