"""Alert text. Plain text with a short title: what, where, who, how bad and why."""

from __future__ import annotations

from monitor.core.classify import Verdict
from spiders.items import MentionItem

_EXCERPT = 600


def alert_title(brand: str, source_id: str, verdict: Verdict, item: MentionItem) -> str:
    headline = (item.title or item.body or "(no text)").replace("\n", " ")
    if len(headline) > 90:
        headline = headline[:89] + "…"
    return f"[{verdict.severity.value} {verdict.kind.value}] {brand} on {source_id}: {headline}"


def alert_body(brand: str, source_id: str, verdict: Verdict, item: MentionItem,
               idempotency_key: str, note: str | None = None) -> str:
    text = item.body if len(item.body) <= _EXCERPT else item.body[: _EXCERPT - 1] + "…"
    lines = [
        f"{verdict.kind.value.capitalize()} ({verdict.severity.value}) about {brand} "
        f"on {source_id}" + (f" by {item.author}" if item.author else ""),
    ]
    if note:
        lines.append(note)
    if item.rating is not None:
        lines.append(f"Rating: {item.rating:g}/{item.rating_max:g}")
    if item.title:
        lines.append(f"Title: {item.title}")
    if text:
        lines.append(text)
    if verdict.reasons:
        lines.append("Why: " + "; ".join(verdict.reasons))
    if item.url:
        lines.append(f"Reply publicly: {item.url}")
    lines.append(f"ref: {idempotency_key}")
    return "\n".join(lines)


def dead_letter_body(channel: str, idempotency_key: str, attempts: int, error: str,
                     title: str) -> str:
    return (
        f"An alert could not be delivered to channel '{channel}' after {attempts} attempts.\n"
        f"Last error: {error}\nAlert: {title}\nOriginal alert ref: {idempotency_key}"
    )
