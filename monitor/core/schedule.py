"""When does a source run next: interval with jitter, exponential backoff on failure,
and a site's Retry-After honoured. Pure: the clock and the random draw come in."""

from __future__ import annotations

from datetime import datetime, timedelta

# A site's Retry-After is honoured up to this: a year-long (or malformed, huge) value
# would otherwise park a source for good, or overflow the date arithmetic.
RETRY_AFTER_MAX = timedelta(days=7)


def next_run_after_success(now: datetime, interval: timedelta, jitter: float,
                           draw: float) -> datetime:
    """``draw`` in [0, 1): spreads sources so they do not all fire on the same second."""
    offset = interval.total_seconds() * jitter * (2 * draw - 1)
    return now + interval + timedelta(seconds=offset)


def backoff_delay(interval: timedelta, failures: int, cap: timedelta,
                  retry_after: float | None = None) -> timedelta:
    """Delay after ``failures`` consecutive failures (1 = first failure).

    Doubles from the interval up to ``cap``; a Retry-After from the site is a
    floor, never shortened, and may exceed the cap (the site said so) up to
    ``RETRY_AFTER_MAX``.
    """
    delay = _doubled(interval, failures, cap)
    if retry_after is not None and retry_after > delay.total_seconds():
        longest = max(delay, RETRY_AFTER_MAX).total_seconds()
        return timedelta(seconds=min(retry_after, longest))
    return delay


def is_due(next_run_at: datetime | None, failures: int, now: datetime, interval: timedelta,
           jitter: float, cap: timedelta) -> bool:
    """Is a source due now, given the next run stored after its last one?

    A stored time further ahead than the current config could ever schedule is stale
    (the interval or the backoff cap was shortened since, or the clock went back):
    the source runs now rather than waiting out the old schedule.
    """
    if next_run_at is None or next_run_at <= now:
        return True
    if failures > 0:
        horizon = max(_doubled(interval, failures, cap), RETRY_AFTER_MAX)
    else:
        horizon = interval * (1 + jitter)
    return next_run_at - now > horizon + timedelta(seconds=1)


def alert_retry_delay(attempts: int, initial: timedelta, cap: timedelta) -> timedelta:
    """Wait before the next send attempt of an alert after ``attempts`` failed ones."""
    return _doubled(initial, attempts, cap)


def _doubled(start: timedelta, times: int, cap: timedelta) -> timedelta:
    """``start`` doubled for each of ``times`` after the first, at most ``cap``.

    Counted in float seconds: ``start * 2**30`` as a timedelta overflows for a start
    of a day or more (after a month of failures of a daily source).
    """
    seconds = start.total_seconds() * 2.0 ** max(0, min(times - 1, 60))
    return min(timedelta(seconds=min(seconds, cap.total_seconds())), cap)
