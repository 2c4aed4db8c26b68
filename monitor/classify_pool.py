"""Classification on more cores: ``[classifier] workers = N`` extra processes.

Classifying a mention is pure Python work (language detection, lexicons), the
largest share of ingest, and Python runs it on one core at a time. With
workers, a batch's new mentions are split: the ingest thread classifies its
share while the worker processes classify theirs. Each worker builds the same
classifiers from the same settings, so the verdicts are the ones the ingest
thread would give. A worker that dies or fails costs speed, never a mention:
its share is classified in the ingest thread and the pool is not used again.
"""

from __future__ import annotations

import logging
import multiprocessing
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
    """Worker processes that classify part of each batch (see the module doc)."""

    def __init__(self, settings: ClassifierConfig, brands: Mapping[str, BrandConfig],
                 workers: int) -> None:
        self.workers = workers
        # spawn: a fork of a process running threads (the crawl, the web server) can
        # inherit a lock held by another thread and hang.
        self._executor: ProcessPoolExecutor | None = ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker, initargs=(settings, dict(brands)))
        # Start the workers now, loading their language model while the daemon starts up.
        self._warm: list[Future[bool]] = [self._executor.submit(_ready) for _ in range(workers)]

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Wait until every worker has built its classifiers (for a benchmark's clock)."""
        for future in self._warm:
            future.result(timeout=timeout)

    @property
    def alive(self) -> bool:
        return self._executor is not None

    def classify(self, jobs: Sequence[Job],
                 local: Callable[[Sequence[Job]], list[Verdict]]) -> list[Verdict]:
        """Verdicts for ``jobs`` in order; ``local`` classifies in the calling thread."""
        executor = self._executor
        if executor is None or len(jobs) < MIN_SHARED:
            return local(jobs)
        # Equal shares: the calling thread takes one, each worker one.
        size = -(-len(jobs) // (self.workers + 1))
        mine, theirs = jobs[:size], jobs[size:]
        chunks = [theirs[start:start + size] for start in range(0, len(theirs), size)]
        try:
            futures = [executor.submit(_classify_in_worker, chunk) for chunk in chunks]
        except Exception as error:  # a broken pool refuses new work
            self._give_up(error)
            return local(jobs)
        verdicts = local(mine)
        for chunk, future in zip(chunks, futures, strict=True):
            try:
                verdicts.extend(future.result())
            except Exception as error:
                self._give_up(error)
                verdicts.extend(local(chunk))
        return verdicts

    def _give_up(self, error: BaseException) -> None:
        if self._executor is None:
            return
        log.warning("classifier_workers_failed error=%s: classifying in the ingest thread "
                    "from now on", f"{type(error).__name__}: {error}".splitlines()[0][:300])
        executor, self._executor = self._executor, None
        executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

