"""The main loop: runs due sources, dispatches the outbox, stops cleanly on a signal.

Everything runs in one asyncio event loop (Twisted's asyncio reactor sits on
it, so Scrapy shares the loop). Store calls go to a worker thread so a slow
database never stalls crawling.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import random
import signal
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from monitor.app import App
from monitor.config import SourceConfig
from monitor.core.schedule import backoff_delay, is_due, next_run_after_success
from monitor.crawl import ASYNCIO_REACTOR, CrawlAdapter, SourceRun
from monitor.health import SourceHealth
from monitor.store import SourceState

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Allocations between two collections of the youngest generation (CPython's is 700).
GC_YOUNG_THRESHOLD = 50_000


def tune_gc() -> None:
    """Fewer garbage collections, none of them over what was loaded at start.

    Ingest makes and drops a few dozen small containers per mention; at CPython's
    default threshold a collection runs every few mentions, and each older-generation
    one walks everything the process keeps (the classifier's token memory, near-duplicate
    signatures, the recent complaints per brand), so a daemon got slower as it grew:
    on ``bench/lifecycle.py`` (200,000 stored) the mixed workload ran at 1,559/s with
    the defaults and 2,225/s with fewer collections. What is loaded at start (models,
    lexicons, the config) lives as long as the process: ``gc.freeze`` takes it out of
    every collection. Call once, after start-up (``App.warm_up`` loads the models)."""
    gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


# Fault injection for the crash-recovery test: exit hard after ingest commits, before
# anything is sent. Documented in docs/testing.md; never set it in production.
_CRASH_AFTER_INGEST = "REVIEW_MONITOR_CRASH_AFTER_INGEST"


class Daemon:
    def __init__(self, app: App, tick: float = 1.0, rng: random.Random | None = None) -> None:
        self.app = app
        self.config = app.config
        self.crawl = CrawlAdapter(app.config, app.store, app.ingestor, app.clock)
        self.tick = tick
        # Incident updates and closes are checked this often (seconds).
        self.sweep_every = 30.0
        self.rng = rng or random.Random()
        self.stopping = asyncio.Event()
        # source id -> the crawl batch it is part of
        self.running: dict[str, asyncio.Task[list[SourceRun]]] = {}
        self.failed_sources: set[str] = set()
        # Set when shutdown cut work off at the grace period (a hung channel, a crawl
        # that ran on): the threads still blocked in it must not hold the process.
        self.cut_off = False
        self.last_crawl_at: datetime | None = None
        # The weekly digest e-mails (docs/digest.md): due runs, and runs missed while down.
        from monitor.digest.runner import DigestRunner

        self.digests = DigestRunner(app.config, app.store, app.clock)
        # Source health alerts and the SLA clock (docs/response.md).
        self.health = SourceHealth(app.store, app.config)
        self.sla = app.ingestor.replies.sla

    def sweep_escalations(self) -> int:
        """Unacknowledged alerts past escalate_at go to the next tier (docs/alerting.md)."""
        from monitor.notify.escalation import escalate_due

        return escalate_due(self.app.store, self.app.ingestor.planner, self.app.clock())

    # -- one pass -------------------------------------------------------------

    async def run_once(self, force: bool = False) -> int:
        """Every due (or, with force, every enabled) source once, then drain the outbox."""
        runs = await self.crawl_due(force)
        if os.environ.get(_CRASH_AFTER_INGEST):
            os._exit(17)
        # A broken sweep is reported and makes the exit non-zero, but never keeps the
        # alerts already in the outbox from being sent.
        sweeps_failed = 0
        sweeps: list[tuple[str, Callable[[], object]]] = [
            ("incidents", self.app.ingestor.sweep_incidents),
            ("escalations", self.sweep_escalations),
            ("sla", lambda: self.sla.sweep(self.app.clock())),
            ("digests", self.digests.run_due),
        ]
        for name, sweep in sweeps:
            try:
                await asyncio.to_thread(sweep)
            except Exception as error:
                sweeps_failed += 1
                log.error("sweep_failed sweep=%s error=%s", name, _one_line(error))
        drained = await self.app.dispatcher.drain()
        failed = [run for run in runs if run.failed]
        if drained.dead:
            # Only what went dead in this run's drain: an alert dead-lettered by an earlier
            # run was reported (and made that run's exit non-zero) then.
            log.error("once_alerts_dead count=%s: %s could not be delivered after "
                      "notify.max_attempts attempts; each is named in an alert_dead line above "
                      "(id, channel, error) and kept in the store with status dead: fix the "
                      "channel", drained.dead, "an alert" if drained.dead == 1 else "alerts")
        log.info("once_done sources=%s failed=%s alerts_dead=%s", len(runs), len(failed),
                 drained.dead)
        return 1 if failed or sweeps_failed or drained.dead else 0

    async def crawl_due(self, force: bool = False) -> list[SourceRun]:
        """Crawl every due (or every enabled) source once; alerts are queued, not sent."""
        states = await asyncio.to_thread(self.app.store.source_states)
        now = self.app.clock()
        due = [(source, states.get(source.id)) for source in self.config.sources
               if source.enabled and (force or self._is_due(source, states.get(source.id), now))]
        runs: list[SourceRun] = []
        size = self.config.daemon.max_sources_per_crawl
        for start in range(0, len(due), size):
            runs.extend(await self._run_batch(due[start:start + size]))
        return runs

    # -- forever --------------------------------------------------------------

    async def run_forever(self) -> int:
        self._install_signal_handlers()
        log.info("daemon_started sources=%s", sum(1 for s in self.config.sources if s.enabled))
        from monitor.web.server import start_in_daemon  # the inbox, when [web] is set

        web = await start_in_daemon(self)
        dispatcher = asyncio.create_task(self._dispatch_loop())
        digests = asyncio.create_task(self.digests.run_forever(self.stopping))
        try:
            while not self.stopping.is_set():
                try:
                    await self._start_due_sources()
                except Exception as error:  # a store hiccup: try again next tick
                    log.error("schedule_failed error=%s", _one_line(error))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), self.tick)
        finally:
            await self._shutdown(dispatcher, digests)
            if web is not None:
                await web.stop()
        return 0

    def stop(self) -> None:
        if not self.stopping.is_set():
            log.info("daemon_stopping: no new work; finishing what is in flight")
            self.stopping.set()
            self.digests.guard.close()  # a digest not started yet waits for the next start

    async def _start_due_sources(self) -> None:
        """Start one crawl batch with every source that is due and not already running."""
        states = await asyncio.to_thread(self.app.store.source_states)
        now = self.app.clock()
        due = [
            (source, states.get(source.id)) for source in self.config.sources
            if source.enabled and source.id not in self.running
            and self._is_due(source, states.get(source.id), now)
        ][: self.config.daemon.max_sources_per_crawl]
        if not due:
            return
        task = asyncio.create_task(self._run_batch(due))
        for source, _state in due:
            self.running[source.id] = task
        task.add_done_callback(self._forget_batch)

    def _forget_batch(self, task: asyncio.Task[list[SourceRun]]) -> None:
        for source_id, running in list(self.running.items()):
            if running is task:
                del self.running[source_id]
        if not task.cancelled() and task.exception() is not None:
            log.error("crawl_batch_failed error=%s", _one_line(task.exception() or Exception()))

    async def _dispatch_loop(self) -> None:
        loop = asyncio.get_running_loop()
        next_sweep = next_sla = loop.time()
        while not self.stopping.is_set():
            try:
                if loop.time() >= next_sweep:
                    next_sweep = loop.time() + self.sweep_every
                    await asyncio.to_thread(self.app.ingestor.sweep_incidents)
                    await asyncio.to_thread(self.sweep_escalations)
                if loop.time() >= next_sla:
                    next_sla = loop.time() + self.config.sla.sweep_every.total_seconds()
                    await asyncio.to_thread(self.sla.sweep, self.app.clock())
                await self.app.dispatcher.dispatch_due()
            except Exception as error:  # the loop must survive a store hiccup
                log.error("dispatch_failed error=%s", _one_line(error))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), self.tick)

    async def _shutdown(self, dispatcher: asyncio.Task[None],
                        digests: asyncio.Task[None] | None = None) -> None:
        """Everything within one grace period: the dispatcher's round in flight, the
        crawls and the digest send in flight finish, then the outbox is flushed. A channel
        that hangs or a crawl that runs on is cut off at the deadline (its alert stays in
        the outbox); so is a digest whose mail server is slow (sent at the next start,
        unless the server may already have it: docs/digest.md)."""
        grace = self.config.daemon.grace_period.total_seconds()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        in_flight: set[asyncio.Task[Any]] = {dispatcher, *self.running.values()}
        if digests is not None:
            in_flight.add(digests)
        _done, pending = await asyncio.wait(in_flight, timeout=grace)
        if dispatcher in pending:
            log.warning("shutdown_dispatch_cut_off: a channel did not answer in time")
            self.cut_off = True
            dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await dispatcher
        if digests is not None and digests in pending:
            log.warning("shutdown_digest_cut_off: the digest send did not finish in time")
            self.cut_off = True
            # On this thread, not a worker: the pool may be full of threads stuck in
            # channels. A lock and one small UPDATE; the sending thread is left to os._exit.
            try:
                self.digests.stop()
            except Exception as error:
                log.error("shutdown_digest_stop_failed error=%s", _one_line(error))
            digests.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await digests
        crawls = pending - {dispatcher} - ({digests} if digests is not None else set())
        if crawls:
            log.warning("shutdown_abandoning_crawls count=%s", len(crawls))
            self.cut_off = True
            # Scrapy's stop waits for the downloads in flight (up to download_timeout):
            # store what the crawls fetched so far now; their sources are still due, so
            # the next start crawls them again (stored mentions are known, not repeated).
            stopper = asyncio.ensure_future(self.crawl.stop())
            try:
                await self.crawl.flush()
            except Exception as error:
                log.error("shutdown_flush_failed error=%s", _one_line(error))
            await asyncio.wait({stopper, *crawls}, timeout=2)
        remaining = max(0.5, deadline - loop.time())
        try:
            await asyncio.wait_for(self.app.dispatcher.drain(), remaining)
        except TimeoutError:
            log.warning("shutdown_outbox_not_empty: pending alerts are sent on next start")
            self.cut_off = True
        log.info("daemon_stopped")

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, self.stop)

    # -- one source -----------------------------------------------------------

    def _is_due(self, source: SourceConfig, state: SourceState | None, now: datetime) -> bool:
        if state is None:
            return True
        daemon = self.config.daemon
        return is_due(state.next_run_at, state.consecutive_failures, now, source.interval,
                      daemon.jitter, daemon.backoff_max)

    async def _run_batch(
        self, batch: list[tuple[SourceConfig, SourceState | None]]
    ) -> list[SourceRun]:
        started_at = self.app.clock()
        states = [(source, state or SourceState(source_id=source.id)) for source, state in batch]
        runs = await self.crawl.run_sources(states)
        now = self.app.clock()
        self.last_crawl_at = now
        for source, state in states:
            self._record_run(source, state, runs[source.id], started_at, now)
        await asyncio.to_thread(self.app.store.save_source_states, [s for _, s in states])
        try:
            await asyncio.to_thread(self.health.check, [source.id for source, _ in states], now)
        except Exception as error:  # health is a report on the crawl, never a reason to stop
            log.error("source_health_failed error=%s", _one_line(error))
        return [runs[source.id] for source, _state in states]

    def _record_run(self, source: SourceConfig, state: SourceState, run: SourceRun,
                    started_at: datetime, now: datetime) -> None:
        state.last_fetch_at = started_at
        state.last_duration_s = run.duration_s
        state.last_status = run.status
        state.mentions_total += run.ingest.new
        if run.error is None:
            state.last_success_at = now
            state.consecutive_failures = 0
            state.last_error = None
            if run.etag is not None or run.last_modified is not None:
                state.etag, state.last_modified = run.etag, run.last_modified
            state.next_run_at = next_run_after_success(
                now, source.interval, self.config.daemon.jitter, self.rng.random())
            self.failed_sources.discard(source.id)
            log.info("source_ok source=%s status=%s items=%s new=%s alerts=%s removed=%s "
                     "duration=%.2fs", source.id, run.status, run.items, run.ingest.new,
                     run.ingest.alerts, run.ingest.removed, run.duration_s)
        else:
            state.consecutive_failures += 1
            state.last_error = f"{run.error.reason}: {run.error.message}"[:1000]
            delay = backoff_delay(source.interval, state.consecutive_failures,
                                  self.config.daemon.backoff_max, run.error.retry_after)
            state.next_run_at = now + delay
            self.failed_sources.add(source.id)
            log.warning("source_failed source=%s reason=%s failures=%s retry_in=%ss: %s",
                        source.id, run.error.reason, state.consecutive_failures,
                        int(delay.total_seconds()), run.error.message)


def _one_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def run_in_reactor(main: Callable[[], Awaitable[T]]) -> T:
    """Run ``main()`` on the asyncio loop that Twisted's asyncio reactor (Scrapy's) sits on.

    The reactor is installed and marked running once per process; it cannot be
    restarted, so callers run any number of coroutines here and call
    ``stop_reactor()`` once at the end.
    """
    reactor = _running_reactor()
    loop: asyncio.AbstractEventLoop = reactor._asyncioEventloop
    asyncio.set_event_loop(loop)
    return loop.run_until_complete(main())


def stop_reactor() -> None:
    """Fire the reactor's shutdown triggers (thread pools, connections) and stop it."""
    from scrapy.utils.reactor import is_reactor_installed

    if not is_reactor_installed():
        return
    from twisted.internet import reactor as installed_reactor

    reactor: Any = installed_reactor
    if reactor.running:
        reactor.stop()
        reactor._asyncioEventloop.run_forever()  # until the shutdown triggers stop the loop


def _running_reactor() -> Any:
    from scrapy.utils.reactor import install_reactor, is_reactor_installed

    if not is_reactor_installed():
        install_reactor(ASYNCIO_REACTOR)
    from twisted.internet import reactor as installed_reactor

    reactor: Any = installed_reactor
    if not reactor.running:
        # Signals are the daemon's to handle (it finishes in-flight work first).
        reactor.startRunning(installSignalHandlers=False)
    return reactor
