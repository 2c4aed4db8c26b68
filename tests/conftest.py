"""Shared fixtures: local HTTP servers, stores on SQLite and the real PostgreSQL,
and the real-world corpus beside the project."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from httpserver import FixtureServer, Receiver  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
IN_CI = os.environ.get("CI", "").lower() == "true"
PG_ADMIN_URL = os.environ.get("REVIEW_MONITOR_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def require_corpus(*parts: str) -> Path:
    """The corpus path, or skip (fail in CI, where it must be there)."""
    path = CORPUS.joinpath(*parts)
    if not path.exists():
        message = f"real-world corpus not found at {path}"
        if IN_CI:
            pytest.fail(message + " (CI=true: corpus tests must run)")
        pytest.skip(message)
    return path


@pytest.fixture(scope="session", autouse=True)
def _reactor_shutdown() -> Iterator[None]:
    """Tests that crawl in-process share one reactor; stop it once at the end."""
    yield
    from monitor.daemon import stop_reactor

    stop_reactor()


@pytest.fixture
def corpus() -> Path:
    return require_corpus()


@pytest.fixture
def server() -> Iterator[FixtureServer]:
    fixture = FixtureServer().start()
    yield fixture
    fixture.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    fixture = Receiver().start()
    yield fixture
    fixture.stop()


def _postgres_available() -> str | None:
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    try:
        with psycopg.connect(PG_ADMIN_URL.replace("postgresql+psycopg", "postgresql"),
                             connect_timeout=3):
            return None
    except Exception as error:
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {str(error).splitlines()[0]}"


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh database on the real server for this test session, dropped at the end."""
    problem = _postgres_available()
    if problem:
        if IN_CI:
            pytest.fail(problem + " (CI=true: PostgreSQL tests must run)")
        pytest.skip(problem)
    import psycopg

    name = f"rm_test_{uuid.uuid4().hex[:10]}"
    admin = PG_ADMIN_URL.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def in_two_processes(target: Callable[..., None],
                     args: Sequence[tuple[object, ...]]) -> list[object]:
    """Run ``target(*args[i], barrier, queue)`` in two spawned processes that start their
    work together at the barrier; what each puts on the queue, in arrival order."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    barrier, queue = context.Barrier(2), context.Queue()
    workers = [context.Process(target=target, args=(*own, barrier, queue)) for own in args]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    return results


def _reset_postgres(url: str) -> None:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"),
                         autocommit=True) as connection:
        connection.execute("DROP SCHEMA public CASCADE")
        connection.execute("CREATE SCHEMA public")


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store URL on each backend; the PostgreSQL one starts empty for every test."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    url: str = request.getfixturevalue("postgres_database")
    _reset_postgres(url)
    return url
