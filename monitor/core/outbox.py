"""Pure decisions of the outbox commands (``review-monitor alerts``): which statuses a
listing shows, how a stored error is shown, why an alert could not be retried, and how
a requeued alert's earlier delivery rows are renumbered."""

from __future__ import annotations

import re

from monitor.core.health import redact_secrets

STATUSES = ("dead", "pending", "sent", "cancelled")

# scheme://[user@]host[:port], then the path, query or fragment (the part hidden).
_URL_REST = re.compile(
    r"(?i)\b([a-z][a-z0-9+.-]*://(?:[^/\s?#@]*@)?[^/\s?#:@]*(?::\d+)?)"
    r"((?:[/?#][^\s'\"<>)]*?|:[^\s'\"<>)]+?)?)(?=:?(?:[\s'\"<>)]|$))")
# A host worth showing: a name with a dot, localhost, or an address. Other schemes keep
# their secret where the host would be (tgram://BOTTOKEN/..., pover://user@token).
_SHOWN_HOST = re.compile(r"(?i)^[a-z][a-z0-9+.-]*://(?:[^@]*@)?"
                         r"(localhost|\[[0-9a-f:.]+\]|[^/:@]*\.[^/:@]*)(?::\d+)?$")
_BARE_PATH = re.compile(r"(?i)(\burl: )/\S*")


def statuses(choice: str) -> tuple[str, ...]:
    """The statuses ``--status`` selects (``all``: every one)."""
    return STATUSES if choice == "all" else (choice,)


def error_line(text: str | None, limit: int = 240) -> str:
    """A stored delivery error as one line fit for a terminal: a channel URL keeps its
    secret in the path (a webhook token) or the query, so a URL shows only its scheme
    and host, and a password or key anywhere is masked."""
    if not text:
        return ""
    line = " ".join(text.split())
    line = _URL_REST.sub(_shown_url, redact_secrets(line))
    line = _BARE_PATH.sub(r"\1…", line)  # requests' "Max retries exceeded with url: /T0KEN"
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _shown_url(found: re.Match[str]) -> str:
    start, rest = found.group(1), found.group(2)
    if not _SHOWN_HOST.match(start):
        return start.split("://", 1)[0] + "://…"
    without_user = re.sub(r"://[^@/]*@", "://", start)
    return without_user + ("/…" if rest else "")


def retry_refusal(alert_id: int, status: str | None) -> str | None:
    """Why ``alerts retry`` left this alert alone (None: it is dead, so it can go again)."""
    if status is None:
        return f"no alert {alert_id}"
    if status == "dead":
        return None
    return f"alert {alert_id} is {status}, not dead: only dead alerts can be retried"


def renumber_offset(lowest: int, highest: int) -> int:
    """How far down to move a requeued alert's earlier delivery rows (attempts ``lowest``
    to ``highest``) so its new attempts can count from 1 again.

    A delivery row is unique per (alert, attempt, target): left as they are, the new
    attempt 1 would collide with the old one and its row would be silently dropped (the
    target that took the alert would be sent it again). Moved below 1, the rows stay as
    history, and the offset is larger than their span so no row lands on another one
    while a single UPDATE moves them (the database checks uniqueness row by row).
    """
    if highest < 1:
        return 0
    return max(highest, highest - lowest + 1)
