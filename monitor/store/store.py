"""The Store: every read and write of review-monitor's state goes through here."""

from __future__ import annotations

import hashlib
import logging
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import JSON, Engine, create_engine, event, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlmodel import col

from monitor.config import redact_url
from monitor.core.outbox import renumber_offset
from monitor.errors import StoreError
from monitor.store.models import Alert, Delivery, Mention, SourceState

log = logging.getLogger(__name__)

_MIGRATIONS = Path(__file__).with_name("migrations")


def target_hash(url: str) -> str:
    """Stable id of a channel URL that reveals nothing of its secrets."""
    return hashlib.sha256(url.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class PendingAlert:
    id: int
    channel: str
    idempotency_key: str
    title: str
    body: str
    attempts: int
    purpose: str
    mention_id: int | None
    # Alert path (issue 6): why it waited (after_hours | rate_limit | snoozed) and its escalation tier.
    held: str | None = None
    tier: int = 0


@dataclass(frozen=True)
class OutboxAlert:
    """One outbox row as ``review-monitor alerts`` lists it (no title, body or URL)."""

    id: int
    status: str
    channel: str
    attempts: int
    created_at: datetime
    last_attempt_at: datetime | None
    purpose: str
    mention_id: int | None
    idempotency_key: str
    last_error: str | None


class Store:
    """SQLite (WAL) by default, PostgreSQL from a URL. Thread-safe; one per process."""

    def __init__(self, url: str) -> None:
        self.url = url
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        if self.dialect == "postgresql" and parsed.drivername == "postgresql":
            url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        options: dict[str, Any] = {}
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            options["connect_args"] = {"timeout": 30, "check_same_thread": False}
        else:
            options["pool_pre_ping"] = True
        try:
            self.engine: Engine = create_engine(url, **options)
        except (SQLAlchemyError, ImportError) as error:
            raise StoreError(f"cannot open store {redact_url(url)}: {error}") from error
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._checkpointer: _Checkpointer | None = None

    # -- lifecycle ----------------------------------------------------------

    def upgrade(self) -> None:
        """Apply Alembic migrations up to head (idempotent)."""
        alembic_config = AlembicConfig()
        alembic_config.set_main_option("script_location", str(_MIGRATIONS))
        try:
            with self.engine.begin() as connection:
                alembic_config.attributes["connection"] = connection
                command.upgrade(alembic_config, "head")
        except SQLAlchemyError as error:
            raise StoreError(
                f"cannot migrate store {redact_url(self.url)}: {_first_line(error)}"
            ) from error

    def revision(self) -> str | None:
        with self.engine.connect() as connection:
            from alembic.runtime.migration import MigrationContext

            return MigrationContext.configure(connection).get_current_revision()

    def ping(self) -> None:
        try:
            with self.engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
        except SQLAlchemyError as error:
            raise StoreError(f"store {redact_url(self.url)} unreachable: {_first_line(error)}") \
                from error

    def start_checkpointer(self, every: float = 0.5) -> None:
        """Checkpoint SQLite's WAL from a thread of its own (a long-running writer only).

        Left to the committing connection, a checkpoint stalls the ingest that happens
        to cross the threshold while it writes index pages back all over a large file
        and syncs it. From this thread (SQLite runs without Python's lock) the pages go
        back on the other core while ingest goes on; a PASSIVE checkpoint never waits
        for or blocks a writer, and the connections' own threshold stays as a backstop.
        No-op for PostgreSQL and in-memory SQLite.
        """
        database = self.engine.url.database
        if self.dialect != "sqlite" or not database or database == ":memory:" \
                or self._checkpointer is not None:
            return
        self._checkpointer = _Checkpointer(database, every)
        self._checkpointer.start()

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed on success, rolled back on error."""
        session = Session(self.engine, expire_on_commit=False)
        try:
            yield session
            session.commit()
        except SQLAlchemyError as error:
            session.rollback()
            raise StoreError(f"store error: {_first_line(error)}") from error
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def insert_ignore(self, model: Any) -> Any:
        """INSERT ... ON CONFLICT DO NOTHING for this store's dialect, on the Core table:
        executed with a list of rows it is one cached statement, sent in batches."""
        return self.insert(model).on_conflict_do_nothing()

    def queue_alerts(self, session: Session, rows: Sequence[dict[str, Any]]) -> None:
        """Insert outbox rows in one statement, skipping idempotency keys already there.

        An executemany takes its columns from the first row and silently drops keys the
        others add, so every row is completed here with the columns' defaults first.
        """
        if not rows:
            return
        names = sorted({name for row in rows for name in row})
        table = Alert.__table__  # type: ignore[attr-defined]
        defaults = {name: (column.default.arg if column.default is not None
                           and column.default.is_scalar else None)
                    for name in names for column in [table.c[name]]}
        session.execute(self.insert_ignore(Alert),
                        [{**defaults, **row} for row in rows])

    def insert(self, model: Any) -> Any:
        """This dialect's INSERT on the Core table, for an ``on_conflict_do_update``."""
        dialect_insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        return dialect_insert(model.__table__)

    def insert_new(self, session: Session, model: Any, rows: list[dict[str, Any]],
                   key: str) -> list[tuple[int, Any]]:
        """Insert ``rows`` (all with the same columns) skipping those whose unique ``key``
        is stored already; returns (id, key) of the rows inserted, in ``key`` order, the
        order two processes inserting the same batch lock rows in, so they wait for each
        other instead of deadlocking.

        PostgreSQL: COPY into a temporary table, then one INSERT ... SELECT. A 500-row
        multi-VALUES INSERT spends most of its time in the driver splitting a statement
        of 20,000 placeholders; COPY sends rows as data (see docs/benchmarks.md).
        """
        rows = sorted(rows, key=lambda row: row[key])
        if not rows:
            return []
        table = model.__table__
        if self.dialect != "postgresql":
            statement = self.insert_ignore(model).returning(table.c.id, table.c[key])
            return [(int(row_id), value) for row_id, value in session.execute(statement, rows)]
        from psycopg.types.json import Json

        columns = list(rows[0])
        # Python-side column defaults, which SQLAlchemy fills in on the other path.
        defaults = {column.name: column.default.arg for column in table.columns
                    if column.name not in rows[0] and column.default is not None
                    and column.default.is_scalar}
        if defaults:
            rows = [{**defaults, **row} for row in rows]
            columns += list(defaults)
        json_columns = {name for name in columns
                        if isinstance(table.c[name].type, JSON)}
        staging = f"incoming_{table.name}"
        names = ", ".join(columns)
        driver = session.connection().connection.driver_connection
        assert driver is not None
        with driver.cursor() as cursor:
            # Created once per connection; emptied at every commit.
            cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {staging} "
                           f"(LIKE {table.name} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
            with cursor.copy(f"COPY {staging} ({names}) FROM STDIN") as copy:
                for row in rows:
                    # JSON None as JSON null, as SQLAlchemy writes it on the other path.
                    copy.write_row([Json(row[name]) if name in json_columns else row[name]
                                    for name in columns])
            cursor.execute(f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {staging} "
                           f"ORDER BY {key} ON CONFLICT DO NOTHING RETURNING id, {key}")
            inserted = [(int(row_id), value) for row_id, value in cursor.fetchall()]
            cursor.execute(f"DELETE FROM {staging}")
        return inserted

    # -- source state -------------------------------------------------------

    def source_states(self) -> dict[str, SourceState]:
        with self.session() as session:
            return {state.source_id: state for state in session.scalars(select(SourceState))}

    def source_state(self, source_id: str) -> SourceState:
        with self.session() as session:
            state = session.get(SourceState, source_id)
            return state if state is not None else SourceState(source_id=source_id)

    def save_source_state(self, state: SourceState) -> None:
        self.save_source_states([state])

    def save_source_states(self, states: Sequence[SourceState]) -> None:
        with self.session() as session:
            for state in states:
                session.merge(state)

    def known_external_ids(self, source_id: str, external_ids: Sequence[str]) -> set[str]:
        if not external_ids:
            return set()
        with self.session() as session:
            rows = session.execute(
                select(col(Mention.external_id)).where(
                    col(Mention.source_id) == source_id,
                    col(Mention.external_id).in_(list(external_ids)),
                )
            )
            return {row[0] for row in rows if row[0] is not None}

    # -- outbox -------------------------------------------------------------

    def due_alerts(self, now: datetime, limit: int = 100,
                   lease: timedelta = timedelta(minutes=2)) -> list[PendingAlert]:
        """Claim up to ``limit`` due alerts for this process.

        Claiming moves an alert's next attempt ``lease`` ahead in the same statement
        that checks it is still due, so two dispatchers on one store never send the
        same alert at once; a process that dies mid-send frees it when the lease ends.
        """
        with self.session() as session:
            due = select(col(Alert.id)).where(
                col(Alert.status) == "pending", col(Alert.next_attempt_at) <= now
            ).order_by(col(Alert.next_attempt_at), col(Alert.id)).limit(limit)
            if self.dialect == "postgresql":
                due = due.with_for_update(skip_locked=True)
            claimed = list(session.scalars(
                update(Alert)
                .where(col(Alert.id).in_(due.scalar_subquery()),
                       col(Alert.status) == "pending", col(Alert.next_attempt_at) <= now)
                .values(next_attempt_at=now + lease)
                .returning(col(Alert.id))
            ))
            if not claimed:
                return []
            rows = session.scalars(
                select(Alert).where(col(Alert.id).in_(claimed)).order_by(col(Alert.id)))
            return [
                PendingAlert(row.id or 0, row.channel, row.idempotency_key, row.title, row.body,
                             row.attempts, row.purpose, row.mention_id, row.held, row.tier)
                for row in rows
            ]

    def delivered_targets(self, alert_id: int) -> set[str]:
        with self.session() as session:
            rows = session.execute(
                select(col(Delivery.target)).where(col(Delivery.alert_id) == alert_id,
                                                   col(Delivery.ok))
            )
            return {row[0] for row in rows}

    def record_deliveries(self, alert_id: int, attempt: int, now: datetime,
                          results: Sequence[tuple[str, bool, str | None]]) -> None:
        with self.session() as session:
            for target, ok, error in results:
                session.execute(
                    self.insert_ignore(Delivery).values(
                        alert_id=alert_id, target=target, attempt=attempt, attempted_at=now,
                        ok=ok, error=error,
                    )
                )

    def mark_sent(self, alert_id: int, attempts: int, now: datetime) -> None:
        with self.session() as session:
            session.execute(
                update(Alert).where(col(Alert.id) == alert_id)
                .values(status="sent", sent_at=now, attempts=attempts, last_error=None)
            )

    def reschedule(self, alert_id: int, attempts: int, next_attempt_at: datetime,
                   error: str) -> None:
        with self.session() as session:
            session.execute(
                update(Alert).where(col(Alert.id) == alert_id)
                .values(attempts=attempts, next_attempt_at=next_attempt_at, last_error=error)
            )

    def mark_dead(self, alert_id: int, attempts: int, error: str,
                  fallback: Alert | None) -> None:
        """Dead-letter an alert and, in the same transaction, queue the fallback notice."""
        with self.session() as session:
            session.execute(
                update(Alert).where(col(Alert.id) == alert_id)
                .values(status="dead", attempts=attempts, last_error=error)
            )
            if fallback is not None:
                session.execute(self.insert_ignore(Alert).values(**_row(fallback)))

    def dead_letter_count(self, key: str) -> int:
        """How many dead-letter notices an alert (by idempotency key) has had: its keys are
        ``KEY-dead``, ``KEY-dead2``... (a range on the unique key's index)."""
        prefix = f"{key}-dead"
        with self.session() as session:
            keys = session.scalars(select(col(Alert.idempotency_key)).where(
                col(Alert.idempotency_key) >= prefix,
                col(Alert.idempotency_key) < prefix[:-1] + chr(ord(prefix[-1]) + 1)))
            # Only this alert's notices: another alert's key may share the prefix (a
            # channel named "ops" beside one named "ops-deadletter").
            return sum(1 for found in keys if re.fullmatch(r"\d*", found[len(prefix):]))

    def list_alerts(self, statuses: Sequence[str], limit: int) -> list[OutboxAlert]:
        """Outbox rows of these statuses, newest first, with their last delivery attempt."""
        # Per listed row, through the index on delivery.alert_id (not a GROUP BY over
        # every delivery ever made).
        last = (select(func.max(col(Delivery.attempted_at)))
                .where(col(Delivery.alert_id) == col(Alert.id)).scalar_subquery())
        with self.session() as session:
            rows = session.execute(
                select(Alert, last)
                .where(col(Alert.status).in_(list(statuses)))
                .order_by(col(Alert.created_at).desc(), col(Alert.id).desc()).limit(limit))
            return [OutboxAlert(alert.id or 0, alert.status, alert.channel, alert.attempts,
                                alert.created_at, at, alert.purpose, alert.mention_id,
                                alert.idempotency_key, alert.last_error)
                    for alert, at in rows]

    def alert_statuses(self, alert_ids: Sequence[int]) -> dict[int, str]:
        with self.session() as session:
            rows = session.execute(select(col(Alert.id), col(Alert.status))
                                   .where(col(Alert.id).in_(list(alert_ids))))
            return {alert_id: status for alert_id, status in rows if alert_id is not None}

    def requeue_dead(self, alert_ids: Sequence[int] | None, now: datetime) -> list[int]:
        """Put dead alerts (these, or every one with None) back in the outbox, due now,
        attempts from 0, the idempotency key unchanged; returns the ids requeued.

        The UPDATE only takes rows still ``dead``: two operators retrying at once requeue
        an alert once (the second finds it pending, or sent by then). ``last_error`` is
        kept until the next attempt replaces or clears it. The alert's earlier delivery
        rows move below attempt 1 in the same transaction (``core.outbox.renumber_offset``);
        the targets that took it stay done.
        """
        if alert_ids is not None and not alert_ids:
            return []
        with self.session() as session:
            requeue = update(Alert).where(col(Alert.status) == "dead")
            if alert_ids is not None:
                requeue = requeue.where(col(Alert.id).in_(list(alert_ids)))
            requeued = sorted(alert_id for alert_id in session.scalars(
                requeue.values(status="pending", attempts=0, next_attempt_at=now)
                .returning(col(Alert.id))) if alert_id is not None)
            if not requeued:
                return []
            spans = session.execute(
                select(col(Delivery.alert_id), func.min(col(Delivery.attempt)),
                       func.max(col(Delivery.attempt)))
                .where(col(Delivery.alert_id).in_(requeued)).group_by(col(Delivery.alert_id)))
            for alert_id, lowest, highest in list(spans):
                offset = renumber_offset(int(lowest), int(highest))
                if offset:
                    session.execute(update(Delivery).where(col(Delivery.alert_id) == alert_id)
                                    .values(attempt=col(Delivery.attempt) - offset))
            return requeued

    def add_alerts(self, alerts: Sequence[Alert]) -> int:
        """Queue alerts that are not tied to a new mention (source health...); dupes ignored."""
        inserted = 0
        with self.session() as session:
            for alert in alerts:
                result = session.execute(self.insert_ignore(Alert).values(**_row(alert)))
                inserted += getattr(result, "rowcount", 0) or 0
        return inserted

    def outbox_counts(self) -> dict[str, int]:
        with self.session() as session:
            rows = session.execute(select(col(Alert.status), func.count()).group_by(col(Alert.status)))
            return {status: count for status, count in rows}

    def mention_count(self) -> int:
        with self.session() as session:
            return int(session.scalar(select(func.count()).select_from(Mention)) or 0)


def _row(model: Any) -> dict[str, Any]:
    return {key: value for key, value in model.model_dump().items() if key != "id"}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # 64 MiB of page cache (the default is 2 MiB): with a million mentions the upper
    # levels of the dedupe, URL and thread indexes stay in memory.
    cursor.execute("PRAGMA cache_size=-65536")
    # Checkpoint the WAL every ~40 MB instead of 4 MB: a batch dirties index pages all
    # over a large file, and fewer checkpoints write each page back fewer times.
    cursor.execute("PRAGMA wal_autocheckpoint=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class _Checkpointer:
    """A thread that runs ``PRAGMA wal_checkpoint(PASSIVE)`` every ``every`` seconds."""

    def __init__(self, database: str, every: float) -> None:
        self.database = database
        self.every = every
        self.checkpoints = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        connection = sqlite3.connect(self.database, timeout=30, check_same_thread=False)
        try:
            connection.execute("PRAGMA busy_timeout=30000")
            while not self._stop.wait(self.every):
                try:
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.checkpoints += 1
                except sqlite3.Error as error:
                    # The writers' own checkpoints still run; say why once a minute at most.
                    log.warning("sqlite_checkpoint_failed database=%s error=%s",
                                self.database, str(error).splitlines()[0][:200])
                    self._stop.wait(60)
        finally:
            connection.close()


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error)
    return text.strip().splitlines()[0] if text.strip() else type(error).__name__
