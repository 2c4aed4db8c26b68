"""Classification on more cores: ``[classifier] workers = N`` extra processes.

Classifying a mention is pure Python work (language detection, lexicons), the
largest share of ingest, and Python runs it on one core at a time. With
workers, a batch's new mentions are split: the ingest thread classifies its
share while the worker processes classify theirs. Each worker builds the same
classifiers from the same settings, so the verdicts are the ones the ingest
thread would give. A worker that dies or fails costs speed, never a mention:
its share is classified in the ingest thread and the pool is not used again.
The processes start only when something ingests (see ``ClassifierPool``).
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor

from monitor.config import BrandConfig, ClassifierConfig
from monitor.core.classify import Classifier, Document, Verdict

log = logging.getLogger(__name__)

# A job: the brand whose classifier reads the document (None: mentions of no brand).
Job = tuple[str | None, Document]
# Batches smaller than this are classified in the ingest thread: not worth a round trip.
MIN_SHARED = 64

_WORKER_CLASSIFIERS: dict[str | None, Classifier] = {}


def _start_worker(settings: ClassifierConfig, brands: Mapping[str, BrandConfig]) -> None:
    from monitor.app import build_classifiers

    _WORKER_CLASSIFIERS.update(build_classifiers(settings, brands))


def _ready() -> bool:
    return bool(_WORKER_CLASSIFIERS)


def _classify_in_worker(jobs: Sequence[Job]) -> list[Verdict]:
    return classify_jobs(_WORKER_CLASSIFIERS, jobs)


def classify_jobs(classifiers: Mapping[str | None, Classifier],
                  jobs: Sequence[Job]) -> list[Verdict]:
    """Each document read by its brand's classifier, in order."""
    return [(classifiers.get(brand) or classifiers[None]).classify(document)
            for brand, document in jobs]


class ClassifierPool:
    """Worker processes that classify part of each batch (see the module doc).

    Making a pool starts nothing: the processes (each loads the classifiers and their
    language model) start on ``start()``, which the daemon calls at start-up, or else on
    the first batch big enough to share (a backfill's). Whatever builds the app but
    never ingests such a batch never starts one."""

    def __init__(self, settings: ClassifierConfig, brands: Mapping[str, BrandConfig],
                 workers: int) -> None:
        self.workers = workers
        self._settings = settings
        self._brands = dict(brands)
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._started = False
        # After close() the pool is not started (a failure leaves it started, not alive).
        self._closed = False
        self._warm: list[Future[bool]] = []
        # Mentions the workers classified (their share of the batches): logged at close.
        self.classified = 0

    def start(self) -> None:
        """Start the workers (if not started before); they load their language model in
        the background while the caller goes on. Idempotent."""
        with self._lock:
            if self._started or self._closed:
                return
            self._started = True
            # spawn: a fork of a process running threads (the crawl, the web server) can
            # inherit a lock held by another thread and hang.
            executor = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker, initargs=(self._settings, self._brands))
            # One task per worker starts each process and its classifiers now.
            self._warm = [executor.submit(_ready) for _ in range(self.workers)]
            self._executor = executor
        log.info("classifier_workers_started workers=%s", self.workers)

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Start the workers if needed and wait until every one has built its classifiers
        (the daemon's start-up, a benchmark's clock)."""
        self.start()
        for future in self._warm:
            future.result(timeout=timeout)

    @property
    def started(self) -> bool:
        """Whether worker processes were ever started."""
        return self._started

    @property
    def alive(self) -> bool:
        """Started and still in use (not given up after a failure, not closed)."""
        return self._executor is not None

    def classify(self, jobs: Sequence[Job],
                 local: Callable[[Sequence[Job]], list[Verdict]]) -> list[Verdict]:
        """Verdicts for ``jobs`` in order; ``local`` classifies in the calling thread."""
        if len(jobs) < MIN_SHARED:
            return local(jobs)
        if not self._started:
            self.start()  # the first batch worth sharing (e.g. a backfill's)
        executor = self._executor
        if executor is None:
            return local(jobs)
        # Equal shares: the calling thread takes one, each worker one.
        size = -(-len(jobs) // (self.workers + 1))
        mine, theirs = jobs[:size], jobs[size:]
        chunks = [theirs[start:start + size] for start in range(0, len(theirs), size)]
        try:
            futures = [executor.submit(_classify_in_worker, chunk) for chunk in chunks]
        except Exception as error:  # a broken (or closed) pool refuses new work
            self._give_up(executor, error)
            return local(jobs)
        verdicts = local(mine)
        for chunk, future in zip(chunks, futures, strict=True):
            try:
                verdicts.extend(future.result())
                self.classified += len(chunk)
            except Exception as error:
                self._give_up(executor, error)
                verdicts.extend(local(chunk))
        return verdicts

    def _give_up(self, executor: ProcessPoolExecutor, error: BaseException) -> None:
        with self._lock:
            if self._executor is not executor:
                return  # already given up, or closed (shutdown while a batch was in flight)
            self._executor = None
        log.warning("classifier_workers_failed error=%s: classifying in the ingest thread "
                    "from now on", f"{type(error).__name__}: {error}".splitlines()[0][:300])
        executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the workers (if they ever started); the pool is not started again."""
        with self._lock:
            executor, self._executor = self._executor, None
            first, self._closed = not self._closed, True
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        if first and self._started:
            log.info("classifier_workers_stopped classified=%s", self.classified)
