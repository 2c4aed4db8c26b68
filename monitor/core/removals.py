"""Removals a site does not announce: a review or post that silently left its listing.

A spider says when a response lists *every* live mention of its source between
its oldest and newest item (a feed, the newest reviews page, a subreddit's new
posts). A stored mention of that source published inside that span that the
listing no longer shows is gone from the site. One miss is not enough (a site
can serve a stale page or be eventually consistent): the mention must have
been missing for the grace period and, through it, for at least two polls.

What an earlier poll missed is kept in the store, on the mention (its first miss
since it was last seen), not in the process: a restarted daemon, or another
daemon on the same store, goes on counting from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

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
    """What a complete listing covers: from its oldest to its newest dated item, in UTC.

    Pinned items are left out (an old announcement at the top of a subreddit does
    not mean everything since it is listed); None when too few items are dated, or
    when the listing is not in date order (newest or oldest first): a feed in the
    order of its updates, popularity or relevance shows its top entries by that
    order, and live entries published between them are left out. A naive time is
    UTC, as ingest reads it.
    """
    flags = list(pinned) + [False] * (len(published) - len(pinned))
    dated = [_utc(moment) for moment, is_pinned in zip(published, flags, strict=True)
             if moment is not None and not is_pinned]
    if len(dated) < MIN_LISTED:
        return None
    pairs = list(zip(dated, dated[1:], strict=False))
    if not (all(a >= b for a, b in pairs) or all(a <= b for a, b in pairs)):
        return None
    return Span(min(dated), max(dated))


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def missing_since(now: datetime, grace: timedelta, interval: timedelta) -> datetime:
    """A mention not seen since before this moment, inside a listing's span, is removed."""
    return now - max(grace, interval * POLLS_MISSED)


@dataclass(frozen=True)
class Listing:
    """One response of a source that listed every live mention in ``span``."""

    source_id: str
    span: Span


def missed_before(first_missed: datetime | None, last_seen: datetime, now: datetime) -> bool:
    """Whether an earlier poll's complete listing (before ``now``) missed the mention:
    its first miss came after its last sighting.

    Not seen for the grace period is not the same as missed by two polls: after a
    run of 304s, failed fetches or a paused daemon, a mention's last sighting is
    old, and one stale page would otherwise remove it. Another page of the same
    poll (the same ``now``) is no earlier miss; a miss at or before the last
    sighting was undone by it.
    """
    return first_missed is not None and last_seen < first_missed < now


def first_miss(first_missed: datetime | None, last_seen: datetime, now: datetime) -> datetime:
    """The first miss to keep once a listing at ``now`` did not show the mention: the
    stored one while it still counts (after the last sighting), else this one."""
    if first_missed is not None and first_missed > last_seen:
        return first_missed
    return now


def unlisted(first_missed: datetime | None, last_seen: datetime, now: datetime,
             cutoff: datetime) -> bool:
    """Whether a mention a complete listing at ``now`` did not show is gone from its
    site: not seen since before ``cutoff`` (``missing_since``) and missed before."""
    return last_seen < cutoff and missed_before(first_missed, last_seen, now)
