"""Is a source healthy? Pure decisions over its recent runs and its mentions.

A rapid-response group must watch *every* source where complaints appear, so a
source that stopped working is itself an incident -- but one for the people who
run the monitor, and only once: a source retried every few minutes must not
page ops at every failure. So a source has a health status, and only a change
of status counts:

- **blocked**: the site refused us (HTTP 403/429, captcha, login wall) on the last
  ``blocked_after`` runs in a row;
- **failing**: ``failures`` runs in a row failed (network, HTTP errors, a page
  layout the spider no longer understands);
- **silent**: runs succeed but no new mention has appeared for much longer than
  usual. "Usual" is learned from the source's own history: the median gap
  between its last mentions (by publication time) times ``silent_factor``, never
  less than ``silent_floor``, and only once it has ``silent_min_history``
  mentions (a new or quiet source has no usual rate to break). A busy app-store
  page that stops yielding reviews for a day is silent; a shop with a review a
  month is not;
- **ok** otherwise.

Going from ok to anything else alerts ops once; coming back to ok alerts once
("recovered"); moving between bad states (failing → blocked) is recorded but
does not page again. Fewer failures than the threshold keep the last status:
one timeout is not news.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

from .sla import describe

OK = "ok"
FAILING = "failing"
BLOCKED = "blocked"
SILENT = "silent"


@dataclass(frozen=True)
class Thresholds:
    failures: int = 3
    blocked_after: int = 1
    silent_factor: float = 6.0
    silent_floor: timedelta = timedelta(hours=24)
    silent_min_history: int = 10


@dataclass(frozen=True)
class SourceRuns:
    """What the source's state says about its recent runs, and its latest mentions."""

    last_status: str  # never | ok | not_modified | fetch | blocked | parse
    consecutive_failures: int
    last_error: str | None = None
    # Publication times of its latest mentions, any order.
    mention_times: Sequence[datetime] = ()
    # When the newest of those was stored: a first crawl (or a backfill) brings old
    # posts, and a source that has just delivered them is not silent.
    last_stored_at: datetime | None = None


@dataclass(frozen=True)
class Health:
    status: str
    reason: str


_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]*):[^@\s/]*@")
_SECRET_PARAM = re.compile(
    r"(?i)([?&;][^=&\s#]*(?:key|token|secret|password|passwd|pwd|sig|signature|auth|"
    r"credential|session)[^=&\s#]*=)[^&\s#]+")


def redact_secrets(text: str) -> str:
    """An error line fit for ops chat, the log and ``review-monitor health``: a crawl
    error names the URL it failed on, and a source URL may carry an API key
    (``?key=...``, ``?access_token=...``) or a password (``https://user:pw@host``)."""
    return _SECRET_PARAM.sub(r"\1***", _USERINFO.sub(r"\1:***@", text))


def usual_gap(times: Sequence[datetime]) -> timedelta | None:
    """The median gap between consecutive mentions, or None with fewer than two."""
    ordered = sorted(times)
    if len(ordered) < 2:
        return None
    gaps = [(later - earlier).total_seconds() for earlier, later in zip(ordered, ordered[1:],
                                                                        strict=False)]
    return timedelta(seconds=median(gaps))


def silence_limit(times: Sequence[datetime], thresholds: Thresholds) -> timedelta | None:
    """How long without a new mention is unusual for this source; None: no usual rate yet."""
    if len(times) < thresholds.silent_min_history:
        return None
    gap = usual_gap(times)
    if gap is None:
        return None
    return max(thresholds.silent_floor, gap * thresholds.silent_factor)


def assess(runs: SourceRuns, previous: str | None, now: datetime,
           thresholds: Thresholds) -> Health:
    """The source's status now. ``previous``: its last recorded status (None: never)."""
    failures = runs.consecutive_failures
    error = redact_secrets(runs.last_error or runs.last_status)
    if failures > 0:
        if runs.last_status == BLOCKED and failures >= thresholds.blocked_after:
            return Health(BLOCKED, f"blocked on {_runs(failures)} in a row: {error}")
        if failures >= thresholds.failures:
            return Health(FAILING, f"failed {_runs(failures)} in a row: {error}")
        # Below the threshold: one timeout is not news; keep what we knew.
        return Health(previous or OK, "")
    if runs.last_status == "never":
        return Health(previous or OK, "")
    limit = silence_limit(runs.mention_times, thresholds)
    if limit is not None:
        latest = max(runs.mention_times)
        if runs.last_stored_at is not None:
            latest = max(latest, runs.last_stored_at)
        quiet = now - latest
        if quiet >= limit:
            gap = usual_gap(runs.mention_times) or timedelta(0)
            return Health(SILENT, f"no new mention for {describe(quiet)}; usually one every "
                                  f"{describe(gap)}")
    return Health(OK, "")


@dataclass(frozen=True)
class Transition:
    """What a status change means: record it, and maybe alert (down | recovered)."""

    record: bool
    alert: str | None


def transition(previous: str | None, current: str) -> Transition:
    was_ok = previous in (None, OK)
    if current == (previous or OK):
        return Transition(False, None)
    if current == OK:
        return Transition(True, "recovered")
    if was_ok:
        return Transition(True, "down")
    return Transition(True, None)  # failing -> blocked and the like: recorded, not paged


def _runs(count: int) -> str:
    return "1 run" if count == 1 else f"{count} runs"
