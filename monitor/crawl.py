"""The Scrapy adapter: one AsyncCrawlerRunner, one new Crawler per source run.

A crawler runs once, so every run of a source builds a fresh one with that
source's settings. Items come back through Scrapy's signals; errors a spider
names (``SpiderError``) become the monitor's ``SourceError``s. Nothing here
decides *when* a source runs: that is the daemon's job.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import AsyncCrawlerRunner, Crawler
from scrapy.http import Request, Response
from scrapy.settings import Settings
from twisted.python.failure import Failure

from monitor.config import Config, SourceConfig
from monitor.core.backlog import MAX_BACKLOG_PAGES, backlog_after_poll
from monitor.core.removals import Listing, listing_span
from monitor.errors import BlockedError, FetchError, IngestError, ParseError, SourceError
from monitor.ingest import Ingestor, IngestResult
from monitor.store import SourceState, Store
from spiders import items as spider_items
from spiders import spider_class

log = logging.getLogger(__name__)

ASYNCIO_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
PLAYWRIGHT_HANDLER = "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler"
_INGEST_BATCH = 500


@dataclass
class SourceRun:
    """What one run of one source did."""

    source_id: str
    status: str = "ok"  # ok | not_modified | fetch | blocked | parse | ingest
    error: SourceError | None = None
    items: int = 0
    pages: int = 0
    ingest: IngestResult = field(default_factory=IngestResult)
    etag: str | None = None
    last_modified: str | None = None
    duration_s: float = 0.0
    # What paging did: the deepest page read without error, whether it asked for a
    # next page, and whether it stopped at its page limit with something new on that
    # page (see monitor/core/backlog.py).
    pages_read: int = 0
    followed: bool = False
    cut_off: bool = False

    @property
    def failed(self) -> bool:
        return self.error is not None


MAX_RESPONSE_BYTES = 16 * 1024 * 1024


def scrapy_settings(config: Config, source: SourceConfig) -> Settings:
    """Polite defaults for every source, then the source's own overrides."""
    daemon = config.daemon
    values: dict[str, Any] = {
        "TWISTED_REACTOR": ASYNCIO_REACTOR,
        "USER_AGENT": daemon.user_agent,
        "ROBOTSTXT_OBEY": source.obey_robots,
        "AUTOTHROTTLE_ENABLED": daemon.autothrottle,
        "AUTOTHROTTLE_START_DELAY": 0.5,
        "CONCURRENT_REQUESTS": daemon.concurrent_requests,
        "CONCURRENT_REQUESTS_PER_DOMAIN": daemon.concurrent_requests_per_domain,
        "DOWNLOAD_TIMEOUT": daemon.download_timeout.total_seconds(),
        # Spiders parse in the event loop: a 100 MB "feed" held every other source and
        # the alerts for minutes (their timeouts could not even fire). A page or feed
        # bigger than this is refused as a fetch error; scrapy_settings may raise it.
        "DOWNLOAD_MAXSIZE": MAX_RESPONSE_BYTES,
        "DOWNLOAD_WARNSIZE": 0,
        # 429 is not retried inside a run: the scheduler backs off and honours Retry-After.
        "RETRY_HTTP_CODES": [500, 502, 503, 504, 522, 524, 408],
        "RETRY_TIMES": 1,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_ENABLED": False,
        "LOGSTATS_INTERVAL": 0,
        "STATS_DUMP": False,
        # Components a monitor crawl never uses; each costs time on every item or request.
        "SPIDER_MIDDLEWARES_BASE": {
            "scrapy.spidermiddlewares.start.StartSpiderMiddleware": 25,
            "scrapy.spidermiddlewares.httperror.HttpErrorMiddleware": 50,
        },
        "EXTENSIONS_BASE": {
            "scrapy.extensions.corestats.CoreStats": 0,
            "scrapy.extensions.closespider.CloseSpider": 0,
            "scrapy.extensions.throttle.AutoThrottle": 0,
        },
    }
    if source.render:
        values.update({
            "DOWNLOAD_HANDLERS": {"http": PLAYWRIGHT_HANDLER, "https": PLAYWRIGHT_HANDLER},
            "PLAYWRIGHT_BROWSER_TYPE": "chromium",
            "PLAYWRIGHT_LAUNCH_OPTIONS": {
                "executable_path": shutil.which(daemon.chromium_path) or daemon.chromium_path,
                "headless": True,
                "args": ["--headless", "--no-sandbox", "--disable-gpu",
                         "--disable-background-networking"],
            },
            "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": daemon.download_timeout.total_seconds() * 1000,
        })
    values.update(source.scrapy_settings)
    return Settings(values)


def render_problem(config: Config) -> str | None:
    """Why sources with ``render = true`` cannot run here, as one line, or None.

    Checked before the crawler starts: without it a missing package shows up as
    "Unsupported URL scheme 'http'" and a missing browser as Playwright's launch
    error, with a traceback logged and no word on how to install either.
    """
    missing = [name for name in ("scrapy_playwright", "playwright")
               if importlib.util.find_spec(name) is None]
    if missing:
        return (f"render = true needs {' and '.join(missing)}, which is not installed: "
                "pip install 'review-monitor[render]'")
    if shutil.which(config.daemon.chromium_path) is None:
        return (f"render = true needs Chromium, not found at {config.daemon.chromium_path}: "
                "apt-get install chromium (or set daemon.chromium_path)")
    return None


class _RunCollector:
    """Signal handlers for one crawl (of one or many sources). Scrapy holds signal
    receivers weakly, so the adapter keeps this object alive for the whole crawl."""

    def __init__(self, runs: dict[str, SourceRun]) -> None:
        self.runs = runs
        self.pending: list[spider_items.MentionItem] = []
        # Complete listings whose mentions are in ``pending``: ingested with them.
        self.listings: list[Listing] = []
        self.crawl_done = asyncio.Event()

    def item_scraped(self, item: Any, response: Response, spider: Spider) -> None:
        mentions = item.items if isinstance(item, spider_items.MentionBatch) else [item]
        for mention in mentions:
            if isinstance(mention, spider_items.MentionItem) and mention.source_id in self.runs:
                self.runs[mention.source_id].items += 1
                self.pending.append(mention)
        if isinstance(item, spider_items.MentionBatch) and item.complete \
                and item.source_id in self.runs:
            span = listing_span([mention.published for mention in item.items],
                                [bool(mention.extra.get("pinned")) for mention in item.items])
            if span is not None:
                self.listings.append(Listing(item.source_id, span))

    def take(self, limit: int | None) -> tuple[list[spider_items.MentionItem], list[Listing]]:
        """The pending mentions and their listings once ``limit`` mentions wait (None:
        any); nothing while fewer are waiting."""
        if limit is not None and len(self.pending) < limit:
            return [], []
        taken, self.pending = self.pending, []
        listings, self.listings = self.listings, []
        return taken, listings

    def spider_error(self, failure: Failure, response: Response | None, spider: Spider) -> None:
        if failure.value is None:
            return
        source_id = getattr(failure.value, "source_id", None)
        if source_id is None and response is not None:
            source_id = response.meta.get("source_id")
        if source_id is None and len(self.runs) == 1:
            source_id = next(iter(self.runs))
        if source_id in self.runs:
            self.record(source_id, failure.value)
        else:
            log.error("spider_error_unattributed error=%s", failure.getErrorMessage())

    def response_received(self, response: Response, request: Request, spider: Spider) -> None:
        run = self.runs.get(request.meta.get("source_id", ""))
        if run is not None:
            run.pages += 1
        if run is not None and request.meta.get("conditional"):
            if response.status == 304:
                run.status = "not_modified"
            elif response.status == 200:
                run.etag = _header(response, b"ETag")
                run.last_modified = _header(response, b"Last-Modified")

    def record(self, source_id: str, error: BaseException) -> None:
        run = self.runs[source_id]
        if run.error is not None:
            return  # the first error explains the run; later ones are usually its echoes
        if isinstance(error, spider_items.BlockedError):
            run.error = BlockedError(source_id, error.message, error.retry_after)
            run.status = "blocked"
        elif isinstance(error, spider_items.FetchFailedError):
            run.error = FetchError(source_id, error.message, error.retry_after)
            run.status = "fetch"
        elif isinstance(error, spider_items.LayoutError):
            run.error = ParseError(source_id, error.message)
            run.status = "parse"
        else:
            where = f" at {error.url}" if isinstance(error, spider_items.SpiderError) else ""
            run.error = ParseError(
                source_id, f"spider crashed{where}: {type(error).__name__}: {error}"
            )
            run.status = "parse"


def _settings_key(source: SourceConfig) -> tuple[str, str]:
    """Sources that can share one crawler: same spider, same Scrapy settings."""
    overrides = json.dumps(source.scrapy_settings, sort_keys=True, default=str)
    return source.spider, f"{source.obey_robots}:{source.render}:{overrides}"


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


class CrawlAdapter:
    # A poll cut off with new mentions still unread records how deep it got in the
    # source's state, for the next poll to resume past (monitor/core/backlog.py).
    resumes = True

    def __init__(self, config: Config, store: Store, ingestor: Ingestor,
                 clock: Callable[[], datetime]) -> None:
        self.config = config
        self.store = store
        self.ingestor = ingestor
        self.clock = clock
        self.runner = AsyncCrawlerRunner(Settings({"TWISTED_REACTOR": ASYNCIO_REACTOR}))
        self._collectors: set[_RunCollector] = set()

    async def run_source(self, source: SourceConfig, state: SourceState) -> SourceRun:
        """Crawl one source once and ingest what it found. Never raises for source errors."""
        runs = await self.run_sources([(source, state)])
        return runs[source.id]

    async def run_sources(
        self, batch: list[tuple[SourceConfig, SourceState]]
    ) -> dict[str, SourceRun]:
        """Crawl many sources at once: one crawler per spider and settings, run together.

        Never raises for source errors; each source's run says what happened to it.
        """
        groups: dict[tuple[str, str], list[tuple[SourceConfig, SourceState]]] = {}
        for source, state in batch:
            groups.setdefault(_settings_key(source), []).append((source, state))
        results = await asyncio.gather(*(self._crawl_group(group) for group in groups.values()))
        runs: dict[str, SourceRun] = {}
        for group_runs in results:
            runs.update(group_runs)
        return runs

    async def _crawl_group(
        self, group: list[tuple[SourceConfig, SourceState]]
    ) -> dict[str, SourceRun]:
        started = time.monotonic()
        runs = {source.id: SourceRun(source.id) for source, _state in group}
        problem = render_problem(self.config) if group[0][0].render else None
        if problem is not None:
            for run in runs.values():
                run.error, run.status = FetchError(run.source_id, problem), "fetch"
            return runs
        collector = _RunCollector(runs)
        self._collectors.add(collector)
        first = group[0][0]
        # Mentions are stored while the crawl goes on: the store's work overlaps the
        # network's, and a long crawl does not hold thousands of mentions in memory.
        pump = asyncio.create_task(self._ingest_while_crawling(collector))
        crawler: Crawler | None = None
        try:
            crawler = Crawler(spider_class(first.spider), scrapy_settings(self.config, first))
            crawler.signals.connect(collector.item_scraped, signal=signals.item_scraped)
            crawler.signals.connect(collector.spider_error, signal=signals.spider_error)
            crawler.signals.connect(collector.response_received,
                                    signal=signals.response_received)
            await self.runner.crawl(crawler, sources=[
                self._spider_arguments(source, state) for source, state in group
            ])
        except Exception as error:  # a spider that cannot even start
            for source, _state in group:
                collector.record(source.id, error)
        finally:
            collector.crawl_done.set()
            await pump
            self._collectors.discard(collector)
        for run in runs.values():
            run.duration_s = time.monotonic() - started
        self._read_paging(crawler, runs)
        if self.resumes:
            for source, state in group:
                self._record_backlog(state, runs[source.id])
        return runs

    @staticmethod
    def _read_paging(crawler: Crawler | None, runs: dict[str, SourceRun]) -> None:
        """Each source's paging facts, from its spider (the crawl's, or its delegate).

        A crawl stopped before it finished (shutdown, a CLOSESPIDER limit) may have
        had pages still to read: its sources count as cut off where they were paging."""
        spider = crawler.spider if crawler is not None else None
        if crawler is None or spider is None:
            return
        stats = crawler.stats
        reason = stats.get_value("finish_reason") if stats is not None else None
        interrupted = reason is not None and reason != "finished"
        for each in getattr(spider, "delegates", None) or [spider]:
            run = runs.get(getattr(each, "source_id", ""))
            if run is not None:
                run.pages_read = int(getattr(each, "pages_read", 0) or 0)
                run.followed = bool(getattr(each, "followed", False))
                # Interrupted: only a source that asked for a next page had more to read
                # (a feed read in one page keeps its ETag, no backlog).
                run.cut_off = bool(getattr(each, "cut_off", False)) or (
                    interrupted and run.followed)

    @staticmethod
    def _record_backlog(state: SourceState, run: SourceRun) -> None:
        """Keep in the source's state how deep the next poll must page (the daemon
        saves the state with the rest of the run)."""
        previous = state.backlog_pages
        # A failure counts only where the run was paging: a source of one page, or of
        # several first pages (no next page asked for), has nothing to resume past.
        depth = backlog_after_poll(previous, run.pages_read, run.cut_off,
                                   run.failed and run.followed)
        state.backlog_pages = depth
        if depth is not None and depth != previous:
            log.info("source_backlog source=%s pages=%s: the next poll resumes past page %s",
                     run.source_id, depth, depth)
            if depth >= MAX_BACKLOG_PAGES and run.cut_off:
                log.warning("source_backlog_deep source=%s pages=%s: raise max_pages or "
                            "shorten the interval; review-monitor backfill reads past it",
                            run.source_id, depth)
        elif depth is None and previous is not None:
            log.info("source_backlog_cleared source=%s pages=%s: caught up",
                     run.source_id, run.pages_read)

    async def _ingest_while_crawling(self, collector: _RunCollector) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(collector.crawl_done.wait(), 0.2)
            batch, listings = collector.take(_INGEST_BATCH) \
                if not collector.crawl_done.is_set() else collector.take(None)
            while batch:
                await self._ingest_batch(collector, batch, listings)
                batch, listings = collector.take(_INGEST_BATCH)
            if collector.crawl_done.is_set() and not collector.pending:
                return

    async def _ingest_batch(self, collector: _RunCollector,
                            batch: list[spider_items.MentionItem],
                            listings: list[Listing]) -> None:
        """Store one batch. A batch that cannot be stored is tried again source by source,
        so it fails only the sources whose mentions cannot be stored: they are marked
        failed (their ETag is not kept, so the next run fetches those mentions again),
        and the rest of the crawl and the other sources go on."""
        try:
            result = await asyncio.to_thread(self.ingestor.ingest, batch, self.clock(),
                                             listings)
        except Exception as error:
            by_source: dict[str, list[spider_items.MentionItem]] = {}
            for item in batch:
                by_source.setdefault(item.source_id, []).append(item)
            if len(by_source) == 1:
                self._ingest_failed(collector, next(iter(by_source)), len(batch), error)
                return
            for source_id, items in by_source.items():
                await self._ingest_batch(collector, items, [
                    listing for listing in listings if listing.source_id == source_id])
            return
        for source_id, share in result.by_source.items():
            if source_id in collector.runs:
                collector.runs[source_id].ingest.add(share)

    @staticmethod
    def _ingest_failed(collector: _RunCollector, source_id: str, count: int,
                       error: Exception) -> None:
        text = str(error).strip()
        reason = f"{type(error).__name__}: {text.splitlines()[0] if text else ''}".rstrip(": ")
        log.error("ingest_failed source=%s mentions=%s error=%s", source_id, count, reason)
        run = collector.runs.get(source_id)
        if run is not None and run.error is None:
            run.error = IngestError(source_id, f"could not store {count} mentions: {reason}"[:500])
            run.status = "ingest"

    def _spider_arguments(self, source: SourceConfig, state: SourceState) -> dict[str, Any]:
        backlog = state.backlog_pages or 0
        return {
            "source_id": source.id,
            "url": source.url,
            "params": self._spider_params(source),
            # With a backlog the first page is fetched in full: a 304 for it would end
            # the poll before it reaches the pages past the backlog.
            "etag": None if backlog else state.etag,
            "last_modified": None if backlog else state.last_modified,
            "known_ids": lambda ids, source_id=source.id: self.store.known_external_ids(
                source_id, ids),
            "max_pages": source.max_pages,
            "resume_pages": backlog,
            "render": source.render,
        }

    def _spider_params(self, source: SourceConfig) -> dict[str, Any]:
        params = dict(source.params)
        if source.brand is not None:
            brand = self.config.brands[source.brand]
            accounts = brand.accounts.get(source.spider, [])
            params.setdefault("brand_accounts", list(accounts))
        return params

    async def stop(self) -> None:
        await self.runner.stop()

    async def flush(self) -> None:
        """Store the mentions the running crawls have fetched so far (on shutdown, when
        they are cut off: their tasks may never get to it)."""
        for collector in list(self._collectors):
            batch, listings = collector.take(None)
            if batch:
                await self._ingest_batch(collector, batch, listings)


class BackfillAdapter(CrawlAdapter):
    """Fetches a source's history on purpose: up to ``pages`` pages, past stored mentions.

    It leaves the source's backlog alone: a backfill's state is not saved, and the
    next poll still resumes where the last poll was cut off (no harm if the backfill
    already stored those pages: the poll reads on to where nothing is new).
    """

    resumes = False

    def __init__(self, config: Config, store: Store, ingestor: Ingestor,
                 clock: Callable[[], datetime], pages: int) -> None:
        super().__init__(config, store, ingestor, clock)
        self.pages = pages

    def _spider_arguments(self, source: SourceConfig, state: SourceState) -> dict[str, Any]:
        arguments = super()._spider_arguments(source, state)
        arguments.update(known_ids=None, max_pages=self.pages, resume_pages=0, etag=None,
                         last_modified=None)
        return arguments

    def progress(self) -> list[SourceRun]:
        """The runs in flight, for a progress display."""
        return [run for collector in self._collectors for run in collector.runs.values()]
