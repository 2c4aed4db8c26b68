"""Removals a site does not announce: a review or post that silently left its listing.

A spider says when a response lists *every* live mention of its source between
its oldest and newest item (a feed, the newest reviews page, a subreddit's new
posts). A stored mention of that source published inside that span that the
listing no longer shows is gone from the site. One miss is not enough (a site
can serve a stale page or be eventually consistent): the mention must have
been missing for the grace period and, through it, for at least two polls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

# Fewer dated items than this say too little about what the listing covers.
MIN_LISTED = 2
# Missing for at least this many poll intervals: two polls in a row, with jitter.
POLLS_MISSED = 1.5


@dataclass(frozen=True)
class Span:
    """The published times a complete listing covers.

    The oldest end is left out: a mention published at the same moment as the
    last item of a page may be the first of the next page, which an incremental
    crawl does not fetch.
    """

    oldest: datetime
    newest: datetime

    def covers(self, moment: datetime) -> bool:
        return self.oldest < moment <= self.newest


def listing_span(published: Sequence[datetime | None],
                 pinned: Sequence[bool] = ()) -> Span | None:
    """What a complete listing covers: from its oldest to its newest dated item.

    Pinned items are left out (an old announcement at the top of a subreddit does
    not mean everything since it is listed); None when too few items are dated.
    """
    flags = list(pinned) + [False] * (len(published) - len(pinned))
    dated = [moment for moment, is_pinned in zip(published, flags, strict=True)
             if moment is not None and not is_pinned]
    if len(dated) < MIN_LISTED:
        return None
    return Span(min(dated), max(dated))


def missing_since(now: datetime, grace: timedelta, interval: timedelta) -> datetime:
    """A mention not seen since before this moment, inside a listing's span, is removed."""
    return now - max(grace, interval * POLLS_MISSED)


@dataclass(frozen=True)
class Listing:
    """One response of a source that listed every live mention in ``span``."""

    source_id: str
    span: Span
