"""When to send which digest, and never twice.

Each (digest name, ISO week) is one ``digest_run`` row, unique in the store. A run
claims its row before it builds anything (INSERT ... ON CONFLICT DO NOTHING, or a
conditional UPDATE that only one process can win), then:

    pending ──build, render──► sending ──SMTP accepted──► sent
       │                          │
       └── error ──► failed ◄── error (the server refused or was unreachable)
                       └── retried after ``retry_after`` (a new claim)

A crash leaves the row as it was:

- ``pending`` (died while building): nothing went out; once the claim is older than
  ``LEASE`` the next due-check takes the row over and sends.
- ``sending`` (died while a server had the message): it may or may not have been
  delivered. We choose at most once: the row becomes ``interrupted`` and is not sent
  again automatically; ``review-monitor digest --send --resend`` sends it on purpose.
  Servers that had already accepted it are recorded (``delivered``) and skipped by
  every retry, so a partial failure never repeats a delivery either.

A daemon stopping (SIGTERM) does not wait longer than its grace period for a send: at the
deadline it stops the sending thread (``SendGuard``). Unless a server was already reading
the end of the message, nothing was delivered by that attempt: the row becomes ``failed``
with its retry time now, and the next start sends it (skipping servers in ``delivered``).
If a server had the whole message but had not answered, the row stays ``sending`` (then
``interrupted``, as after a crash).

The daemon checks every ``CHECK_EVERY`` seconds. Only the latest scheduled run is
caught up after downtime (three weeks down sends the last full week once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlmodel import col

from monitor.config import Config, DigestConfig
from monitor.core.digest import IsoWeek, due_digest, parse_schedule, week_bounds
from monitor.digest.build import build_digest
from monitor.digest.render import Rendered, render
from monitor.digest.send import (
    SendGuard,
    SendStopped,
    SmtpTarget,
    build_message,
    message_id,
    send_message,
    smtp_targets,
)
from monitor.errors import ConfigError, MonitorError, NotifyError
from monitor.sla import Destination
from monitor.store import Mention, Store
from monitor.store.models import Alert, DigestRun, SourceEvent

log = logging.getLogger(__name__)

# A claim older than this is from a process that is gone.
LEASE = timedelta(minutes=10)
CHECK_EVERY = 60.0


@dataclass(frozen=True)
class RunResult:
    scope: str
    week: str
    # sent | failed | skipped (already sent or claimed elsewhere) | interrupted
    # | stopped (the daemon stopped before a server took it: sent at the next start)
    status: str
    recipients: int = 0
    error: str | None = None


class DigestRunner:
    def __init__(self, config: Config, store: Store, clock: Callable[[], datetime],
                 send: Callable[..., int] | None = None) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        # Shared with the daemon's shutdown: no new run once it stops, and no message handed
        # to a server after its grace period (see the module docstring).
        self.guard = SendGuard()
        # The SMTP call, replaceable so a test can make a server "crash" mid-send.
        self.send: Callable[..., int] = send or self._send_guarded
        self._unwatched_logged: set[tuple[str, str]] = set()
        # run id -> the claimed_at this process last wrote on it: every later write names
        # it, so a process whose run was taken over after the lease (a build slower than
        # LEASE) writes nothing more on it and sends nothing.
        self._claims: dict[int, datetime] = {}
        # A digest that could not be sent is told where source health problems go.
        self.ops = Destination(config, config.health.ops_channel)

    # -- the daemon's side -------------------------------------------------------------

    def run_due(self) -> list[RunResult]:
        """Send every digest whose latest scheduled run has no sent row yet."""
        results: list[RunResult] = []
        for digest in self.config.digests:
            if self.guard.closed:  # the daemon is stopping: no new work
                break
            now = self.clock()
            due = due_digest(parse_schedule(digest.schedule), now)
            try:
                result = self._run_if_due(digest, due.week, now)
            except MonitorError as error:  # a store hiccup: try again at the next check
                log.error("digest_check_failed digest=%s week=%s error=%s", digest.name,
                          due.week, _one_line(error))
                continue
            if result is not None:
                results.append(result)
        return results

    async def run_forever(self, stopping: asyncio.Event) -> None:
        """Check on start (a run missed during downtime goes out now), then every minute."""
        if not self.config.digests:
            return
        while not stopping.is_set():
            try:
                await asyncio.to_thread(self.run_due)
            except Exception as error:  # the loop must survive anything one check does
                log.error("digest_loop_failed error=%s", _one_line(error))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), CHECK_EVERY)

    def _run_if_due(self, digest: DigestConfig, week: IsoWeek, now: datetime) \
            -> RunResult | None:
        row = self._row(digest.name, str(week))
        if row is None:
            if not self._watched_before(digest, week):
                return None
            return self.run(digest, week)
        if row.status == "sent" or row.status == "interrupted":
            return None
        if row.status == "sending":
            if _stale(row, now):
                self._interrupt(row, now)
                return RunResult(digest.name, str(week), "interrupted", error=row.error)
            return None
        if row.status == "failed" and row.next_attempt_at is not None \
                and row.next_attempt_at <= now:
            return self.run(digest, week)
        if row.status == "pending" and _stale(row, now):
            return self.run(digest, week)
        return None

    def _watched_before(self, digest: DigestConfig, week: IsoWeek) -> bool:
        """Was the monitor running before the week ended? A new installation (or a digest
        added to it) would otherwise send, at its first start, a "quiet week" about a week
        nobody watched, every source listed as silent. Evidence: a mention first seen, a
        source health change, or an earlier digest of this scope, before the week's end."""
        _start, end = week_bounds(week, parse_schedule(digest.schedule).zone)
        with self.store.session() as session:
            for query in (
                select(col(Mention.id)).where(col(Mention.first_seen_at) < end),
                select(col(SourceEvent.id)).where(col(SourceEvent.at) < end),
                select(col(DigestRun.id)).where(col(DigestRun.scope) == digest.name,
                                                col(DigestRun.created_at) < end),
            ):
                if session.execute(query.limit(1)).first() is not None:
                    return True
        key = (digest.name, str(week))
        if key not in self._unwatched_logged:
            self._unwatched_logged.add(key)
            log.info("digest_not_due digest=%s week=%s: nothing was monitored before the week "
                     "ended (a new installation); the first digest is for the next full week",
                     digest.name, week)
        return False

    # -- one run ----------------------------------------------------------------------------

    def run(self, digest: DigestConfig, week: IsoWeek, resend: bool = False,
            manual: bool = False) -> RunResult:
        """Claim, build, render and send one digest. With ``resend`` a sent or interrupted
        run is sent again (on purpose, from the command line); ``manual`` (the command
        line) retries a failed run now instead of waiting for its retry time."""
        scope, week_text = digest.name, str(week)
        targets = smtp_targets(digest, self.config.smtp)
        now = self.clock()
        run_id = self._claim(scope, week_text, now, resend, manual)
        if run_id is None:
            reason = self._why_not(scope, week_text)
            log.info("digest_skipped digest=%s week=%s: %s", scope, week_text, reason)
            return RunResult(scope, week_text, "skipped", error=reason)
        try:
            self.guard.hold(run_id)
            try:
                built = build_digest(self.store, self.config, digest, week, now)
                rendered = render(built, digest.subject_prefix)
            except MonitorError as error:
                return self._fail(run_id, digest, week_text, _one_line(error))
            except Exception as error:  # a bug must not leave the row claimed forever
                log.exception("digest_build_crashed digest=%s week=%s", scope, week_text)
                return self._fail(run_id, digest, week_text,
                                  f"build failed: {_one_line(error)}")
            return self._deliver(run_id, digest, week_text, rendered, targets)
        except SendStopped:
            if not self.guard.committed:
                self._release(run_id)
            return RunResult(scope, week_text, "stopped",
                             error="the daemon stopped before a mail server took it")
        finally:
            self.guard.release()
            self._claims.pop(run_id, None)

    def stop(self) -> None:
        """The daemon's grace period is over: the sending thread (still running) hands no
        message to a server from now on, and the run it holds is released for the next
        start, unless a server may already have it."""
        run_id, committed = self.guard.stop()
        if run_id is None:
            return
        if committed:
            log.warning("digest_cut_off run=%s: a mail server had the whole digest and had not "
                        "answered at the end of the grace period; it may have been delivered, "
                        "so it is not sent again automatically (digest_interrupted at the next "
                        "start says how to resend it)", run_id)
            return
        self._release(run_id)

    def _send_guarded(self, message: EmailMessage, target: SmtpTarget) -> int:
        return send_message(message, target, commit=self.guard.commit)

    def _deliver(self, run_id: int, digest: DigestConfig, week: str, rendered: Rendered,
                 targets: list[SmtpTarget]) -> RunResult:
        delivered = set(self._delivered(run_id))
        accepted = 0
        for target in targets:
            if target.key in delivered:
                continue
            now = self.clock()
            # Built before the row says "sending": a message that cannot be made fails the
            # run (retried), instead of leaving it "sending" and then "interrupted".
            try:
                message = build_message(rendered, target,
                                        message_id(digest.name, week, target.sender), now)
            except (ValueError, TypeError) as error:
                return self._fail(run_id, digest, week, f"message: {_one_line(error)}")
            self.guard.check()
            if not self._mark_sending(run_id, now):  # shutdown released it meanwhile
                raise SendStopped("the run was released")
            try:
                accepted += self.send(message, target)
            except NotifyError as error:
                self.guard.check()  # cut off by shutdown: not the server's failure
                self.guard.settle()
                return self._fail(run_id, digest, week, str(error))
            delivered.add(target.key)
            self._update(run_id, delivered=sorted(delivered), status="pending")
            self.guard.settle()
        now = self.clock()
        self._update(run_id, status="sent", sent_at=now, error=None, next_attempt_at=None,
                     recipients=accepted)
        log.info("digest_sent digest=%s week=%s recipients=%s subject=%r", digest.name, week,
                 accepted, rendered.subject)
        return RunResult(digest.name, week, "sent", accepted)

    def _fail(self, run_id: int, digest: DigestConfig, week: str, error: str) -> RunResult:
        # After shutdown's deadline an error is the shutdown's doing (the store closed under
        # a build still running): not a failure to retry later or to tell ops about.
        self.guard.check()
        retry_at = self.clock() + digest.retry_after
        self._update(run_id, status="failed", error=error[:1000], next_attempt_at=retry_at)
        log.error("digest_failed digest=%s week=%s retry_at=%s error=%s", digest.name, week,
                  retry_at.isoformat(timespec="minutes"), error)
        self._tell_ops(digest, week, error, retry_at)
        return RunResult(digest.name, week, "failed", error=error)

    def _tell_ops(self, digest: DigestConfig, week: str, error: str,
                  retry_at: datetime) -> None:
        """One alert per digest and week to ``[health] ops_channel`` (the first failure;
        the retries are in the log and in ``review-monitor digest``)."""
        now = self.clock()
        destination = self.ops.resolve(now)
        if destination is None:
            return
        channel, recipient = destination
        key = f"rm-digest-{digest.name}-{week}-failed-{channel}"[:200]
        reason = error.splitlines()[0][:300] if error else "no error recorded"
        body = (f"The weekly digest {digest.name} for {week} was not sent: {reason}.\n"
                f"It is retried automatically at {retry_at:%Y-%m-%d %H:%M} UTC; "
                f"`review-monitor digest --scope {digest.name} --week {week} --send` "
                "sends it now.\n"
                f"ref: {key}")
        row = {"mention_id": None, "channel": channel, "idempotency_key": key,
               "status": "pending", "purpose": "digest_failed",
               "title": f"[digest failed] {digest.name} {week}: {reason}"[:300],
               "body": body, "attempts": 0, "next_attempt_at": now, "created_at": now,
               "recipient": recipient}
        with self.store.session() as session:
            session.execute(self.store.insert_ignore(Alert).values(**row))

    # -- the digest_run row ------------------------------------------------------------------

    def _row(self, scope: str, week: str) -> DigestRun | None:
        with self.store.session() as session:
            return session.execute(
                select(DigestRun).where(col(DigestRun.scope) == scope, col(DigestRun.week) == week)
            ).scalar_one_or_none()

    def _why_not(self, scope: str, week: str) -> str:
        """Why a claim was refused, in words the person at the command line can act on."""
        row = self._row(scope, week)
        if row is None:
            return "not sent: the store refused the claim; try again"
        if row.status == "sent":
            when = f" on {row.sent_at:%Y-%m-%d %H:%M} UTC" if row.sent_at else ""
            return f"already sent{when}; add --resend to send it again"
        if row.status == "interrupted":
            return ("the last send was interrupted and may have been delivered; add --resend "
                    "to send it again")
        if row.status == "failed":
            return (f"failed ({row.error or 'no error recorded'}); retried automatically "
                    f"from {row.next_attempt_at:%Y-%m-%d %H:%M} UTC" if row.next_attempt_at
                    else f"failed ({row.error or 'no error recorded'})")
        return ("another process is sending it right now; try again in a few minutes if it "
                "does not arrive")

    def _claim(self, scope: str, week: str, now: datetime, resend: bool,
               manual: bool = False) -> int | None:
        """The row's id if this process may send it now, else None (someone else has it, or
        it went out)."""
        table = DigestRun.__table__  # type: ignore[attr-defined]
        with self.store.session() as session:
            inserted = session.execute(
                self.store.insert_ignore(DigestRun).values(
                    scope=scope, week=week, status="pending", created_at=now, claimed_at=now,
                    attempts=1, recipients=0,
                ).returning(table.c.id)
            ).scalar_one_or_none()
        if inserted is not None:
            self._claims[int(inserted)] = now
            return int(inserted)
        failed_due = col(DigestRun.status) == "failed" if resend or manual else and_(
            col(DigestRun.status) == "failed",
            or_(col(DigestRun.next_attempt_at).is_(None), col(DigestRun.next_attempt_at) <= now))
        takeable = or_(
            failed_due,
            and_(col(DigestRun.status) == "pending", col(DigestRun.claimed_at) < now - LEASE),
        )
        if resend:
            takeable = or_(takeable, col(DigestRun.status).in_(("sent", "interrupted")))
        values: dict[str, object] = {
            "status": "pending", "claimed_at": now, "attempts": col(DigestRun.attempts) + 1,
        }
        if resend:
            values["delivered"] = None
        with self.store.session() as session:
            claimed = session.execute(
                update(DigestRun).where(col(DigestRun.scope) == scope,
                                        col(DigestRun.week) == week, takeable)
                .values(**values).returning(col(DigestRun.id))
            ).scalar_one_or_none()
        if claimed is None:
            return None
        self._claims[int(claimed)] = now
        return int(claimed)

    def _interrupt(self, row: DigestRun, now: datetime) -> None:
        row.error = (f"the process stopped while a mail server had the digest (at "
                     f"{row.claimed_at:%Y-%m-%d %H:%M} UTC); it may have been delivered, so it "
                     f"is not sent again automatically: review-monitor digest --send --resend "
                     f"--scope {row.scope} --week {row.week}")
        with self.store.session() as session:
            session.execute(update(DigestRun).where(col(DigestRun.id) == row.id,
                                                    col(DigestRun.status) == "sending")
                            .values(status="interrupted", error=row.error))
        log.error("digest_interrupted digest=%s week=%s: %s", row.scope, row.week, row.error)

    def _mark_sending(self, run_id: int, now: datetime) -> bool:
        """pending -> sending; False when the row is no longer this process's to send."""
        with self.store.session() as session:
            marked = session.execute(
                update(DigestRun).where(col(DigestRun.id) == run_id,
                                        col(DigestRun.status) == "pending", self._mine(run_id))
                .values(status="sending", claimed_at=now).returning(col(DigestRun.id))
            ).scalar_one_or_none()
        if marked is None:
            return False
        self._claims[run_id] = now
        return True

    def _release(self, run_id: int) -> None:
        """Stopped before any server took this attempt: due again at once (the next start
        sends it; servers already in ``delivered`` are skipped)."""
        now = self.clock()
        error = ("the daemon stopped before a mail server took the digest; it is sent at "
                 "the next start")
        with self.store.session() as session:
            released = session.execute(
                update(DigestRun).where(col(DigestRun.id) == run_id,
                                        col(DigestRun.status).in_(("pending", "sending")),
                                        self._mine(run_id))
                .values(status="failed", error=error, next_attempt_at=now)
                .returning(col(DigestRun.scope), col(DigestRun.week))
            ).first()
        if released is not None:
            log.warning("digest_stopped digest=%s week=%s: %s", released[0], released[1], error)

    def _delivered(self, run_id: int) -> list[str]:
        with self.store.session() as session:
            value = session.execute(select(col(DigestRun.delivered))
                                    .where(col(DigestRun.id) == run_id)).scalar_one()
        return list(value or [])

    def _update(self, run_id: int, **values: object) -> None:
        with self.store.session() as session:
            session.execute(update(DigestRun).where(col(DigestRun.id) == run_id,
                                                    self._mine(run_id)).values(**values))

    def _mine(self, run_id: int) -> Any:
        """The row is still this process's claim (see ``_claims``)."""
        return col(DigestRun.claimed_at) == self._claims.get(run_id)


def _stale(row: DigestRun, now: datetime) -> bool:
    return row.claimed_at is None or row.claimed_at < now - LEASE


def _one_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def write_preview(rendered: Rendered, html_path: Path | None, text_path: Path | None) -> None:
    """Write the preview files; ConfigError (one line) when a path cannot be written."""
    for path, content in ((html_path, rendered.preview_html() if html_path else ""),
                          (text_path, rendered.text)):
        if path is None:
            continue
        try:
            path.write_text(content, encoding="utf-8")
        except OSError as error:
            raise ConfigError([f"{path}: cannot write the digest there: "
                               f"{error.strerror or type(error).__name__}"]) from None
