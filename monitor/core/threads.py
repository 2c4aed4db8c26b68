"""Follow-ups: the same customer writing again on the same site.

"Never ignore the same customer's follow-up messages": a second or third post
from someone whose complaint got no public answer is the moment a customer is
lost, so the alert says so and its severity goes up a step. Pure: the caller
passes the customer's earlier messages (same author, same site) and the time.

A thread is the messages within ``window`` before ``now`` (a fixed look-back,
not a chain: a customer who writes every few days for a month starts a new
thread once the first messages fall out of the window).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .classify import Kind, Severity

_BY_RANK = {s.rank: s for s in Severity}


@dataclass(frozen=True)
class PriorMessage:
    """An earlier message by the same author on the same site."""

    mention_id: int
    first_seen: datetime
    kind: str
    # The company replied publicly to this message.
    replied: bool


@dataclass(frozen=True)
class FollowUp:
    """Where a new message stands in its author's thread."""

    # 1 = the first message (no follow-up), 2 = the first follow-up, ...
    position: int
    # When the thread's first message in the window was seen (``now`` for position 1).
    since: datetime
    # Earlier complaints after the company's last public reply in the thread
    # (a reply to a later message answers the earlier ones too).
    unanswered: int
    # Position of the last message the company replied to, None if none was.
    last_replied: int | None
    # The thread's earlier messages, oldest first.
    previous: tuple[int, ...]

    @property
    def is_follow_up(self) -> bool:
        return self.position > 1

    def raise_severity(self, severity: Severity, kind: str | None = None) -> Severity:
        """One step up (capped at critical) when following up an unanswered complaint.

        ``kind``: the new message's kind; a message of praise ("sorted now,
        thanks") is never raised, whatever came before.
        """
        if self.unanswered == 0 or kind == Kind.PRAISE:
            return severity
        return _BY_RANK[min(Severity.CRITICAL.rank, severity.rank + 1)]

    def note(self) -> str:
        """'3rd message from this customer since 2026-11-20 14:05 UTC; still no public
        reply'; empty for a first message."""
        if not self.is_follow_up:
            return ""
        head = f"{ordinal(self.position)} message from this customer since {_utc(self.since)}"
        if self.last_replied is None:
            return f"{head}; still no public reply"
        tail = f"public reply to the {ordinal(self.last_replied)} message"
        if self.unanswered:
            tail += f", {self.unanswered} unanswered complaint{'s' if self.unanswered > 1 else ''} since"
        return f"{head}; {tail}"


def follow_up(previous: Sequence[PriorMessage], now: datetime, window: timedelta) -> FollowUp:
    """Where a message seen at ``now`` stands among ``previous`` (same author, same site).

    ``now`` is the new message's own time. Messages seen in ``[now - window,
    now]`` make the thread; later ones (clock skew, a backfill of older posts)
    and older ones do not count.
    """
    earliest = now - window
    thread = sorted((m for m in previous if earliest <= m.first_seen <= now),
                    key=lambda m: (m.first_seen, m.mention_id))
    last_replied = max((i for i, m in enumerate(thread, 1) if m.replied), default=None)
    after_reply = thread[last_replied:] if last_replied is not None else thread
    unanswered = sum(1 for m in after_reply if m.kind == Kind.COMPLAINT and not m.replied)
    return FollowUp(
        position=len(thread) + 1,
        since=thread[0].first_seen if thread else now,
        unanswered=unanswered,
        last_replied=last_replied,
        previous=tuple(m.mention_id for m in thread),
    )


def ordinal(n: int) -> str:
    """1st 2nd 3rd 4th ... 11th 12th 13th ... 21st 22nd 23rd ... 111th 112th."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _utc(moment: datetime) -> str:
    if moment.tzinfo is None:  # the store keeps UTC; a naive time is UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
