"""Edits: what changed between two sightings of one mention, and which way.

Customers edit reviews: a 1-star complaint becomes 4 stars once the company
helps, or a neutral post turns into a complaint when nothing happens. The
first needs no alert but belongs in the digest as an outcome; the second must
reach the team again as an "updated review". Pure: no I/O, no clock.

Direction, decided here once:

- **worse** when the rating dropped (compared as a share of ``rating_max``,
  so 4/5 -> 6/10 is a drop), the mention became a complaint, or its severity
  rose (when both snapshots carry one).
- **better** when the rating rose, the mention stopped being a complaint, or
  its severity fell -- and nothing made it worse. Mixed signals (stars up
  but now a critical complaint) count as worse: an extra alert is cheaper
  than a missed one.
- A removal (the site or the author took it down) is recorded but neither
  worse nor better: authors delete for many reasons and sites moderate.
- Text changes that only touch whitespace or letter case are not edits.
"""

from __future__ import annotations

from dataclasses import dataclass

from .classify import Kind, Severity
from .dedupe import normalise_text

#: The fields a change can list, in this order.
FIELDS = ("title", "body", "rating", "kind", "severity", "removed")
_COMPLAINT = Kind.COMPLAINT.value
_EPSILON = 1e-9


@dataclass(frozen=True)
class Snapshot:
    """A mention as seen once: the text, the rating and the classifier's reading."""

    title: str | None
    body: str
    rating: float | None = None
    # None (the store keeps none without a rating) means out of 5.
    rating_max: float | None = 5.0
    kind: str = Kind.OTHER.value
    # The classifier's severity ("low" .. "critical"); None when unknown.
    severity: str | None = None
    removed: bool = False


@dataclass(frozen=True)
class Change:
    """An edit: the fields that changed, old and new snapshots, and its direction."""

    fields: tuple[str, ...]
    old: Snapshot
    new: Snapshot
    worse: bool
    better: bool

    def summary(self) -> str:
        """What changed, in a few words, for an 'updated review' alert or the history.

        'rating 4 → 1; text edited; now a complaint'
        """
        parts: list[str] = []
        if "removed" in self.fields:
            parts.append("removed" if self.new.removed else "restored")
        if "rating" in self.fields:
            parts.append(_rating_change(self.old, self.new, verb=False))
        if "title" in self.fields or "body" in self.fields:
            parts.append("text edited")
        if "kind" in self.fields:
            parts.append(f"no longer {_article(self.old.kind)}" if self.new.kind == Kind.OTHER
                         else f"now {_article(self.new.kind)}")
        if "severity" in self.fields:
            parts.append(f"severity {self.old.severity} → {self.new.severity}")
        return "; ".join(parts)

    def outcome(self, replied: bool) -> str | None:
        """The result worth reporting in the digest, when the edit followed a public reply.

        ``replied``: the company had replied publicly before this edit. Only a
        change for the better after a reply is an outcome: 'rating raised 1 → 4
        after reply', else 'no longer a complaint after reply', else 'severity
        lowered high → normal after reply'.
        """
        if not (self.better and replied):
            return None
        if "rating" in self.fields and _direction(self.old, self.new) > 0:
            return f"{_rating_change(self.old, self.new)} after reply"
        if "kind" in self.fields and self.old.kind == _COMPLAINT:
            return "no longer a complaint after reply"
        return f"severity lowered {self.old.severity} → {self.new.severity} after reply"


def compare(old: Snapshot, new: Snapshot) -> Change | None:
    """The change from ``old`` to ``new``, or None when nothing that matters changed.

    A mention that has just been removed is compared on ``removed`` alone: its
    text and rating are usually gone, and that is not the customer's edit.
    """
    if new.removed and not old.removed:
        return Change(("removed",), old, new, worse=False, better=False)
    changed: set[str] = set()
    if old.removed and not new.removed:
        changed.add("removed")
    if normalise_text(old.title or "") != normalise_text(new.title or ""):
        changed.add("title")
    if normalise_text(old.body) != normalise_text(new.body):
        changed.add("body")
    if (old.rating is None) != (new.rating is None) or _direction(old, new) != 0:
        changed.add("rating")
    if old.kind != new.kind:
        changed.add("kind")
    old_sev, new_sev = _severity(old.severity), _severity(new.severity)
    if old_sev is not None and new_sev is not None and old_sev != new_sev:
        changed.add("severity")
    if not changed:
        return None
    rating_step = _direction(old, new)
    worse = (rating_step < 0
             or (new.kind == _COMPLAINT and old.kind != _COMPLAINT)
             or (old_sev is not None and new_sev is not None and new_sev.rank > old_sev.rank))
    better = not worse and (
        rating_step > 0
        or (old.kind == _COMPLAINT and new.kind != _COMPLAINT)
        or (old_sev is not None and new_sev is not None and new_sev.rank < old_sev.rank))
    fields = tuple(f for f in FIELDS if f in changed)
    return Change(fields, old, new, worse=worse, better=better)


def _top(snapshot: Snapshot) -> float:
    return snapshot.rating_max if snapshot.rating_max and snapshot.rating_max > 0 else 5.0


def _share(snapshot: Snapshot) -> float | None:
    return None if snapshot.rating is None else snapshot.rating / _top(snapshot)


def _direction(old: Snapshot, new: Snapshot) -> int:
    """+1 rating rose, -1 dropped, 0 same or not comparable (one side has none)."""
    before, after = _share(old), _share(new)
    if before is None or after is None or abs(after - before) <= _EPSILON:
        return 0
    return 1 if after > before else -1


def _stars(snapshot: Snapshot, with_max: bool) -> str:
    if snapshot.rating is None:
        return "none"
    return f"{snapshot.rating:g}/{_top(snapshot):g}" if with_max else f"{snapshot.rating:g}"


def _rating_change(old: Snapshot, new: Snapshot, verb: bool = True) -> str:
    """'rating raised 1 → 4' ('rating 1 → 4' without the verb)."""
    with_max = _top(old) != _top(new) or _top(new) != 5.0
    step = _direction(old, new)
    word = "raised " if step > 0 else "lowered " if step < 0 else "changed "
    return f"rating {word if verb else ''}{_stars(old, with_max)} → {_stars(new, with_max)}"


def _severity(value: str | None) -> Severity | None:
    try:
        return Severity(value) if value is not None else None
    except ValueError:
        return None


_NOUNS = {"complaint": "a complaint", "question": "a question", "praise": "praise"}


def _article(kind: str) -> str:
    return _NOUNS.get(kind, kind)
