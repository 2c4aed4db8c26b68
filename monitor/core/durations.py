"""Durations written the way people write them in a config file: "90s", "15m", "1h30m", "2d"."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_LONGEST = timedelta(days=36525)
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: str | int | float | timedelta) -> timedelta:
    """A timedelta from "15m", "1h30m", 90 (seconds) or a timedelta; ValueError if unreadable."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration such as '15m', got a boolean")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return _seconds(value, str(value))
    if not isinstance(value, str):
        # A TOML array or table where a duration belongs: a ValueError names the key;
        # anything else would escape the config check as a traceback.
        raise ValueError(f"expected a duration such as '15m', got {type(value).__name__}")
    text = value.strip().lower().replace(" ", "")
    if text.isdigit():
        return _seconds(int(text), value)
    position, total = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if position != len(text) or not text:
        raise ValueError(f"'{value}' is not a duration; write e.g. '90s', '15m', '1h30m', '2d'")
    return _seconds(total, value)


def _seconds(seconds: float, written: str) -> timedelta:
    # timedelta stops at 999999999 days; 100 years is already no schedule anyone means.
    if seconds != seconds:  # NaN
        raise ValueError(f"'{written}' is not a duration; write e.g. '90s', '15m', '1h30m'")
    if seconds > _LONGEST.total_seconds():
        raise ValueError(f"'{written}' is too long a duration; at most 100 years")
    return timedelta(seconds=seconds)
