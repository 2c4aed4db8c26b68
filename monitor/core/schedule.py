"""When does a source run next: interval with jitter, exponential backoff on failure,
and a site's Retry-After honoured. Pure: the clock and the random draw come in."""

from __future__ import annotations

from datetime import datetime, timedelta


def next_run_after_success(now: datetime, interval: timedelta, jitter: float,
                           draw: float) -> datetime:
    """``draw`` in [0, 1): spreads sources so they do not all fire on the same second."""
    offset = interval.total_seconds() * jitter * (2 * draw - 1)
    return now + interval + timedelta(seconds=offset)


def backoff_delay(interval: timedelta, failures: int, cap: timedelta,
                  retry_after: float | None = None) -> timedelta:
    """Delay after ``failures`` consecutive failures (1 = first failure).

    Doubles from the interval up to ``cap``; a Retry-After from the site is a
    floor, never shortened, and may exceed the cap (the site said so).
    """
    exponent = max(0, failures - 1)
    delay = min(interval * (2**min(exponent, 30)), cap)
    if retry_after is not None and retry_after > delay.total_seconds():
        return timedelta(seconds=retry_after)
    return delay


def alert_retry_delay(attempts: int, initial: timedelta, cap: timedelta) -> timedelta:
    """Wait before the next send attempt of an alert after ``attempts`` failed ones."""
    return min(initial * (2 ** max(0, min(attempts - 1, 30))), cap)
