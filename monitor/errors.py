"""One exception root; every message is one line a user can act on."""

from __future__ import annotations


class MonitorError(Exception):
    """Root of every error review-monitor raises on purpose."""


class ConfigError(MonitorError):
    """The config file is wrong. ``problems`` holds one line per problem: 'FILE: key: what'."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(problems[0] if len(problems) == 1 else f"{len(problems)} problems: "
                         + "; ".join(problems))
        self.problems = problems


class SourceError(MonitorError):
    """A source failed; the daemon records it in the source's health and goes on."""

    reason = "error"

    def __init__(self, source_id: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(f"source {source_id}: {message}")
        self.source_id = source_id
        self.message = message
        self.retry_after = retry_after


class FetchError(SourceError):
    reason = "fetch"


class BlockedError(FetchError):
    reason = "blocked"


class ParseError(SourceError):
    reason = "parse"


class IngestError(SourceError):
    """A source's mentions were fetched but could not be stored; the next run fetches them."""

    reason = "ingest"


class StoreError(MonitorError):
    """The store cannot be reached or refused a write."""


class NotifyError(MonitorError):
    """A channel could not be reached."""
