"""The one contract between spiders and the monitor.

A spider turns a response into ``MentionItem``s and nothing else: it never
opens the store or talks to a notifier. Errors a spider can name are raised as
``SpiderError`` subclasses with a one-line reason; the crawl adapter turns them
into the monitor's ``SourceError``s and records them in the source's health.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class CompanyReply:
    """The company's public answer to a mention, as the site shows it."""

    text: str
    author: str | None = None
    published: datetime | None = None


@dataclass
class MentionItem:
    """What a spider saw: one review, post, comment or feed entry."""

    source_id: str
    external_id: str | None = None
    url: str | None = None
    author: str | None = None
    title: str | None = None
    body: str = ""
    rating: float | None = None
    rating_max: float = 5.0
    published: datetime | None = None
    updated: datetime | None = None
    language: str | None = None
    # The external id or URL of the post this one answers (a comment's parent).
    reply_to: str | None = None
    # Counts the site shows: score, upvotes, comments, likes, boosts, favourites...
    engagement: dict[str, int] = field(default_factory=dict)
    company_replies: list[CompanyReply] = field(default_factory=list)
    # The site says this mention was removed (a withdrawn review, a deleted post).
    removed: bool = False
    # Site-specific facts worth keeping (app version, consumer country, verified...).
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json_dict(self) -> dict[str, Any]:
        """The item as plain JSON types, times in ISO 8601 UTC."""
        return _jsonable(asdict(self))


@dataclass
class MentionBatch:
    """All mentions one response held, handed to Scrapy as one item.

    Scrapy runs every item through middlewares and signals; a feed page holds
    dozens of mentions, and one item per page instead of one per mention
    takes that cost off the hot path. ``parse_response`` still yields single
    ``MentionItem``s; the base spider packs them.
    """

    source_id: str
    items: list[MentionItem]
    # The response listed every live mention of the source between its oldest and
    # newest item (a feed, the newest reviews in date order): a stored mention
    # published in between that it no longer shows has left the site.
    complete: bool = False


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return to_utc(value).isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {key: _jsonable(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(inner) for inner in value]
    return value


def to_utc(moment: datetime) -> datetime:
    """Aware UTC datetime; a naive one is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


class SpiderError(Exception):
    """A failure a spider can name, with a one-line reason for the source's health."""

    reason = "error"

    def __init__(self, message: str, url: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.url = url
        # Which source's request failed (set by the base spider; one crawl may serve many).
        self.source_id: str | None = None


class LayoutError(SpiderError):
    """The response is not what the spider expects: not a feed, or the page layout changed."""

    reason = "parse"


class BlockedError(SpiderError):
    """The site refused us: HTTP 403/429, a captcha or a login wall."""

    reason = "blocked"

    def __init__(self, message: str, url: str | None = None, retry_after: float | None = None):
        super().__init__(message, url)
        self.retry_after = retry_after


class FetchFailedError(SpiderError):
    """The response never came or was an HTTP error (connection refused, 404, 500, ...)."""

    reason = "fetch"

    def __init__(self, message: str, url: str | None = None, status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message, url)
        self.status = status
        self.retry_after = retry_after
