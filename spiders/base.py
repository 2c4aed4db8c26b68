"""The base every review-monitor spider builds on.

It owns what is the same for every source: conditional GET on the first
request, telling "blocked" and "HTTP error" apart from "parsed nothing",
and incremental paging that stops at mentions already stored (resuming past
the depth an earlier, cut-off poll reached: ``resume_pages``). A subclass
only writes ``parse_response``: response in, ``MentionItem``s (and maybe the
next page's ``Request``) out. ``parse_response`` must work on a response built
from a saved file, which is how ``review-monitor extract`` and the golden
tests call it.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from email.utils import parsedate_to_datetime
from typing import Any

import scrapy
from scrapy import signals
from scrapy.http import Request, Response
from twisted.python.failure import Failure

from spiders.items import (
    BlockedError,
    FetchFailedError,
    LayoutError,
    MentionBatch,
    MentionItem,
    SpiderError,
)

KnownIds = Callable[[list[str]], set[str]]

# The spider reads every status itself (check_response says what a 404 or 429 means)
# except redirects: those Scrapy follows, so a feed moved to https or to a new address
# is read there, and a redirect loop ends as "max redirections reached".
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_HANDLED_STATUSES = [status for status in range(100, 600) if status not in _REDIRECTS]

# Words that mark an interstitial instead of content.
_CAPTCHA_MARKERS = re.compile(
    rb"captcha|cf-challenge|challenge-platform|are you a robot|unusual traffic|px-captcha",
    re.IGNORECASE,
)


def retry_after_seconds(value: bytes | str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date)."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    from datetime import UTC, datetime

    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


class MonitorSpider(scrapy.Spider):
    """A spider for one configured source."""

    name = "base"

    def __init__(
        self,
        source_id: str = "extract",
        url: str | None = None,
        params: dict[str, Any] | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        known_ids: KnownIds | None = None,
        max_pages: int = 5,
        resume_pages: int = 0,
        render: bool = False,
        sources: list[dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        # One crawler may serve many sources of this spider: each gets its own instance
        # (same class, same arguments as a single-source run) whose requests and
        # callbacks this one schedules. A Scrapy crawler is costly to start; a request is not.
        self.delegates: list[MonitorSpider] = [
            type(self)(**source) for source in (sources or [])
        ]
        self.source_id = source_id
        self.url = url
        self.params: dict[str, Any] = dict(params or {})
        self.etag = etag
        self.last_modified = last_modified
        self.known_ids = known_ids
        self.max_pages = max_pages
        # An earlier poll was cut off this deep (at its page limit with new mentions on
        # its last page, or by a failed page): page on through these pages, known or
        # not, then on while pages hold something new, up to max_pages past them.
        self.resume_pages = max(0, int(resume_pages or 0))
        # What this run's paging did, read by the crawl adapter once the crawl is over:
        # the deepest page read without error, whether it asked for a next page at
        # all, and whether it stopped at its page limit on a page that still held
        # something new.
        self.pages_read = 0
        self.followed = False
        self.cut_off = False
        # A resumed poll: pages of new reviews on top, read before the first known page.
        self._on_top = True
        self._arrived = 0
        # Fetch through a headless browser (scrapy-playwright): the crawler's settings
        # route requests marked {"playwright": True} to it.
        self.render = render

    # -- requests -------------------------------------------------------------

    def start_urls_for_source(self) -> list[str]:
        """The first URLs to fetch; subclasses that build URLs from params override."""
        if not self.url:
            raise LayoutError("source has no url")
        return [self.url]

    async def start(self) -> AsyncIterator[Any]:
        for spider in self.delegates or [self]:
            try:
                requests = [spider.page_request(url, page=1, conditional=index == 0)
                            for index, url in enumerate(spider.start_urls_for_source())]
            except SpiderError as error:
                error.source_id = spider.source_id
                self.crawler.signals.send_catch_log(
                    signal=signals.spider_error, failure=Failure(error), response=None,
                    spider=self)
                continue
            for request in requests:
                yield request

    def page_request(self, url: str, page: int = 1, conditional: bool = False,
                     **meta: Any) -> Request:
        headers: dict[str, str] = {}
        # A browser that gets a 304 has no cached page to show: rendered pages are
        # always fetched in full.
        if conditional and not self.render:
            if self.etag:
                headers["If-None-Match"] = self.etag
            if self.last_modified:
                headers["If-Modified-Since"] = self.last_modified
        if self.render:
            meta.setdefault("playwright", True)
        return Request(
            url,
            headers=headers,
            callback=self.parse,
            errback=self.on_fetch_error,
            dont_filter=True,
            meta={"handle_httpstatus_list": _HANDLED_STATUSES, "page": page,
                  "conditional": conditional and not self.render,
                  "source_id": self.source_id, **meta},
        )

    # -- responses ------------------------------------------------------------

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        mentions: list[MentionItem] = []
        try:
            self.check_response(response)
            if response.status == 304:
                return
            for output in self.parse_response(response):
                if isinstance(output, MentionItem):
                    mentions.append(output)
                else:
                    yield output
        except SpiderError as error:
            error.source_id = self.source_id
            if mentions:  # what was read before the error is still news
                yield MentionBatch(self.source_id, mentions)
            raise
        self.pages_read = max(self.pages_read, int(response.meta.get("page") or 1))
        if mentions:
            yield MentionBatch(self.source_id, mentions, self.lists_everything(response))

    def lists_everything(self, response: Response) -> bool:
        """Whether this response shows every live mention between its oldest and newest.

        True for listings in date order that leave nothing out (a feed, the newest
        reviews); the monitor then marks removed what they stop showing. False (the
        default) for a page in another order or a search, whose matches change.
        """
        return False

    def check_response(self, response: Response) -> None:
        """Raise the SpiderError that explains a response we cannot read."""
        status = response.status
        retry_after = retry_after_seconds(response.headers.get(b"Retry-After"))
        if status in (401, 403, 429):
            raise BlockedError(f"HTTP {status} from {response.url}", response.url, retry_after)
        if status >= 400:
            raise FetchFailedError(
                f"HTTP {status} from {response.url}", response.url, status, retry_after
            )
        if status == 304:
            return
        if not response.body.strip():
            raise LayoutError(f"empty response from {response.url}", response.url)
        if self.looks_blocked(response):
            raise BlockedError(f"captcha or login wall at {response.url}", response.url)

    def looks_blocked(self, response: Response) -> bool:
        """A captcha interstitial instead of content. Small pages only: real pages mention
        'captcha' in scripts too, and those must not read as blocked."""
        return len(response.body) < 50_000 and bool(_CAPTCHA_MARKERS.search(response.body[:50_000]))

    def parse_response(self, response: Response) -> Iterable[Any]:
        """Items (and next-page requests) from one response. Subclasses implement this."""
        raise NotImplementedError

    def on_fetch_error(self, failure: Failure) -> None:
        request = getattr(failure, "request", None)
        url = request.url if request is not None else self.url
        reason = failure.getErrorMessage().splitlines()[0] if failure.getErrorMessage() else (
            type(failure.value).__name__)
        error = FetchFailedError(f"could not fetch {url}: {reason}", url)
        error.source_id = self.source_id
        raise error

    # -- paging ----------------------------------------------------------------

    def should_follow(self, items: list[MentionItem], page: int) -> bool:
        """Fetch the next page only while this one held something new and pages remain.

        Pages up to ``resume_pages`` are followed even when known (an earlier poll
        stopped there with more to read). A page at the limit that still holds
        something new marks the run ``cut_off``: the next poll resumes past it.
        """
        if not items:
            return False
        limit = self.max_pages + self.resume_pages
        if self.resume_pages and self._on_top:
            # Reviews that arrived since the cut-off poll sit on top and push the pages
            # it read deeper, by about one page per page of them: the backlog now ends
            # that much further down (stopping at the old depth would land among known
            # pages and lose the unread ones beyond).
            if self.holds_new(items):
                self._arrived += 1
            else:
                self._on_top = False
        resume_end = self.resume_pages + self._arrived if self.resume_pages else 0
        if page < limit and page <= resume_end:
            self.followed = True
            return True
        new = self.holds_new(items)
        if page >= limit:
            # Stopped at the limit with something new, or before the pages read by the
            # earlier poll were passed: the next poll resumes past this one.
            self.cut_off = self.cut_off or new or page <= resume_end
            return False
        self.followed = self.followed or new
        return new

    def holds_new(self, items: list[MentionItem]) -> bool:
        """Whether ``items`` hold a mention not yet stored (by external id)."""
        if self.known_ids is None:
            return True
        ids = [item.external_id for item in items if item.external_id]
        if not ids:
            return False
        return len(self.known_ids(ids)) < len(ids)


def response_from_bytes(
    body: bytes, url: str, headers: dict[str, str] | None = None, status: int = 200
) -> Response:
    """A Scrapy response built from saved bytes, typed the way Scrapy would type it.

    Used by ``review-monitor extract`` and the golden tests, so a spider's
    ``parse_response`` sees exactly what it would see from the network.
    """
    from scrapy.http import Request as _Request
    from scrapy.responsetypes import responsetypes

    header_map = {key.encode("latin-1"): value.encode("latin-1")
                  for key, value in (headers or {}).items()}
    cls = responsetypes.from_args(headers=header_map or None, url=url, body=body)
    return cls(url=url, body=body, headers=header_map, status=status,
               request=_Request(url, meta={"page": 1}))
