"""Incidents: many customers complaining about one thing at once.

A double charge, an outage or a bad update brings near-identical complaints
from many people on several sites within hours. The team needs one alert for
the incident, a few updates while it grows, and a close when it is over -- not
one alert per post. Pure: the caller passes the complaint, the brand's recent
complaints, the open incidents and the time.

Two ways in:

- **cluster**: the arriving complaint and at least ``min_cluster - 1`` recent
  complaints (posted within ``window`` of it, in no open incident) are
  near-duplicates of it (``neardup.similarity >= similarity``), written by at
  least two authors or seen on at least two sources (one customer pasting the
  same text three times is a thread, not an incident). A complaint whose
  author is unknown counts as its own author: feeds often carry none.
- **spike**: the complaints posted in the bucket ending at the arriving
  complaint (``spike_bucket`` long) reach ``max(min_count, mean + k * std)``
  of the brand's buckets over the ``baseline`` before it.

All times are the posts' own (published) times, so a burst that reaches us
late through a slowly polled source is still seen as a burst, and a batch of
old posts fetched at once is not. A complaint posted more than ``window``
before ``now`` never opens an incident (a first crawl's backfill must not
alert about last month's storms), though it may join one.

Precedence: join an open incident it is a near-duplicate of; else join the
open spike incident while the spike lasts; else open on a cluster; else open
on a spike. An incident whose last mention is ``quiet`` old is over: it takes
no new members and ``tick`` says to close it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import numpy as np

from .neardup import NUM_PERM

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class IncidentPolicy:
    """When complaints make an incident, and how often it speaks."""

    # Near-duplicates must be posted within this of each other.
    window: timedelta = timedelta(hours=2)
    # Complaints (the arriving one included) that make a cluster.
    min_cluster: int = 3
    # Estimated Jaccard similarity (neardup) from which two complaints are near-duplicates.
    similarity: float = 0.6
    spike_bucket: timedelta = timedelta(minutes=30)
    # The trailing history the spike threshold is computed from.
    baseline: timedelta = timedelta(days=7)
    # Standard deviations above the baseline mean that make a spike.
    k: float = 3.0
    # A spike needs at least this many complaints in a bucket, whatever the baseline.
    min_count: int = 5
    # At most one update per this long, and only when new mentions arrived.
    update_every: timedelta = timedelta(minutes=30)
    # Closed after this long without a new mention.
    quiet: timedelta = timedelta(hours=2)

    def __post_init__(self) -> None:
        for name in ("window", "spike_bucket", "baseline", "update_every", "quiet"):
            if getattr(self, name) <= timedelta(0):
                raise ValueError(f"incident policy: {name} must be positive")
        if self.baseline < self.spike_bucket:
            raise ValueError("incident policy: baseline must be at least one spike_bucket")
        if self.min_cluster < 2:
            raise ValueError("incident policy: min_cluster must be at least 2")
        if not 0.0 < self.similarity <= 1.0:
            raise ValueError("incident policy: similarity must be in (0, 1]")
        if self.k < 0 or self.min_count < 1:
            raise ValueError("incident policy: k must be >= 0 and min_count >= 1")

    @property
    def baseline_buckets(self) -> int:
        return self.baseline // self.spike_bucket


@dataclass(frozen=True)
class Complaint:
    """The complaint being ingested."""

    mention_id: int
    brand: str
    source_id: str
    at: datetime
    signature: tuple[int, ...]
    author: str | None = None


@dataclass(frozen=True)
class RecentComplaint:
    """One of the brand's earlier complaints.

    The caller passes the brand's complaints posted since ``now - (baseline +
    spike_bucket)`` for the spike baseline; only those within ``window`` need
    a signature (older rows are only counted, so ``()`` is fine for them).
    """

    mention_id: int
    at: datetime
    source_id: str
    signature: tuple[int, ...] = ()
    author: str | None = None
    incident_id: int | None = None


class Cause(StrEnum):
    CLUSTER = "cluster"
    SPIKE = "spike"


@dataclass(frozen=True)
class OpenIncident:
    id: int
    opened_at: datetime
    # When the last alert about it (the opening one or an update) was made.
    last_update_at: datetime
    # The newest member's post time.
    last_mention_at: datetime
    mentions: int
    sources: frozenset[str]
    # ``mentions`` when the last alert was made.
    mentions_at_last_update: int
    cause: Cause = Cause.CLUSTER


class Action(StrEnum):
    NONE = "none"
    JOIN = "join"
    OPEN = "open"


@dataclass(frozen=True)
class Decision:
    action: Action
    # JOIN: the incident joined.
    incident_id: int | None = None
    # OPEN: why.
    cause: Cause | None = None
    # OPEN: the recent complaints that belong to the new incident with the arriving one.
    members: tuple[int, ...] = ()
    # For the alert and the log: 'near-duplicate of incident 7 (similarity 0.82)'.
    reason: str = ""


@dataclass(frozen=True)
class SpikeCheck:
    current: int
    mean: float
    std: float
    threshold: float

    @property
    def spiking(self) -> bool:
        return self.current >= self.threshold

    def describe(self, bucket: timedelta) -> str:
        return (f"{self.current} complaints in {span(bucket)} "
                f"(usually {self.mean:.1f} ± {self.std:.1f}, threshold {self.threshold:g})")


class Step(StrEnum):
    NONE = "none"
    UPDATE = "update"
    CLOSE = "close"


@dataclass(frozen=True)
class Tick:
    step: Step
    text: str = ""


# -- spikes ------------------------------------------------------------------


def bucket_counts(times: Iterable[datetime], end: datetime, bucket: timedelta,
                  buckets: int) -> list[int]:
    """Counts per bucket going back from ``end``: ``[0]`` is ``(end - bucket, end]``,
    ``[1]`` the bucket before it, and so on for ``buckets`` buckets."""
    counts = [0] * buckets
    for moment in times:
        if moment > end:
            continue
        index = (end - moment) // bucket
        if index < buckets:
            counts[index] += 1
    return counts


def spike(baseline: Sequence[int], current: int, *, k: float, min_count: int) -> SpikeCheck:
    """Is ``current`` a spike against the ``baseline`` counts (same bucket size)?

    Threshold ``max(min_count, mean + k * std)`` (population standard
    deviation); with no history the mean and deviation are 0 and ``min_count``
    decides.
    """
    n = len(baseline)
    mean = sum(baseline) / n if n else 0.0
    std = math.sqrt(sum((c - mean) ** 2 for c in baseline) / n) if n else 0.0
    threshold = max(float(min_count), mean + k * std)
    return SpikeCheck(current=current, mean=mean, std=std, threshold=round(threshold, 2))


def spike_at(times: Iterable[datetime], end: datetime, policy: IncidentPolicy) -> SpikeCheck:
    """The spike check for the bucket ending at ``end`` against the baseline before it."""
    counts = bucket_counts(times, end, policy.spike_bucket, 1 + policy.baseline_buckets)
    return spike(counts[1:], counts[0], k=policy.k, min_count=policy.min_count)


# -- the decision ------------------------------------------------------------


class RecentWindow:
    """The brand's recent complaints as arrays, so that ``decide`` weighs an arriving
    complaint against tens of thousands of them in a few vectorised passes (a week of a
    busy brand's complaints) instead of a Python loop per complaint.

    Grows with ``add`` (the store keeps one per brand between batches and adds each
    batch's complaints); ``set_incident`` records joins and openings. Times are integer
    microseconds since the epoch, so bucket and window comparisons are exact.
    """

    def __init__(self, recent: Iterable[RecentComplaint] = ()) -> None:
        self.rows: list[RecentComplaint] = []
        self.position: dict[int, int] = {}
        self.at = np.zeros(0, dtype=np.int64)
        self.sorted_at = np.zeros(0, dtype=np.int64)
        self.incident = np.zeros(0, dtype=np.int64)
        # Positions of the rows that have a signature, and the signatures in that order.
        self.signed = np.zeros(0, dtype=np.int64)
        # uint32: MinHash values of the "affine32" scheme; half the bytes to compare
        self.signatures = np.zeros((0, NUM_PERM), dtype=np.uint32)
        self.add(recent)

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, recent: Iterable[RecentComplaint]) -> None:
        """Add complaints; one already here is replaced (its time and signature kept)."""
        fresh: list[RecentComplaint] = []
        for row in recent:
            index = self.position.get(row.mention_id)
            if index is None:
                self.position[row.mention_id] = len(self.rows) + len(fresh)
                fresh.append(row)
            else:
                self.rows[index] = replace(self.rows[index], incident_id=row.incident_id)
                self.incident[index] = -1 if row.incident_id is None else row.incident_id
        if not fresh:
            return
        first = len(self.rows)
        self.rows.extend(fresh)
        at = np.array([_micros(r.at) for r in fresh], dtype=np.int64)
        self.at = np.concatenate([self.at, at])
        self.sorted_at = np.sort(np.concatenate([self.sorted_at, at]), kind="stable")
        self.incident = np.concatenate([self.incident, np.array(
            [-1 if r.incident_id is None else r.incident_id for r in fresh], dtype=np.int64)])
        signed = [i for i, r in enumerate(fresh) if len(r.signature) == NUM_PERM]
        if signed:
            self.signed = np.concatenate([self.signed, np.array(signed, dtype=np.int64) + first])
            self.signatures = np.vstack([self.signatures, np.array(
                [fresh[i].signature for i in signed], dtype=np.uint32)])

    def get(self, mention_id: int) -> RecentComplaint | None:
        index = self.position.get(mention_id)
        return None if index is None else self.rows[index]

    def set_incident(self, mention_ids: Iterable[int], incident_id: int) -> None:
        for mention_id in mention_ids:
            index = self.position.get(mention_id)
            if index is not None:
                self.incident[index] = incident_id
                self.rows[index] = replace(self.rows[index], incident_id=incident_id)

    def similarities(self, sig: Sequence[int], candidates: np.ndarray) -> np.ndarray:
        """The estimated similarity of ``sig`` to the signed rows where ``candidates``
        (a mask over ``self.signed``) holds; 0 elsewhere."""
        scores = np.zeros(len(self.signed))
        if len(sig) != NUM_PERM or not candidates.any():
            return scores
        wanted = np.flatnonzero(candidates)
        rows = np.take(self.signatures, wanted, axis=0)
        matches = (rows == np.array(sig, dtype=np.uint32)).sum(axis=1, dtype=np.int16)
        scores[wanted] = matches / NUM_PERM
        return scores

    def bucket_counts(self, end: datetime, bucket: timedelta, buckets: int,
                      without: int | None, plus: datetime) -> np.ndarray:
        """``bucket_counts`` of every row's time but ``without``'s, and ``plus``."""
        end_us, size = _micros(end), bucket // timedelta(microseconds=1)
        # Boundaries end, end - b, end - 2b ...: a count is the rows in (lower, upper].
        bounds = end_us - np.arange(buckets + 1, dtype=np.int64) * size
        cumulative = np.searchsorted(self.sorted_at, bounds, side="right")
        counts: np.ndarray = cumulative[:-1] - cumulative[1:]
        for moment, delta in ((self.at[without] if without is not None else None, -1),
                              (_micros(plus), 1)):
            if moment is None or moment > end_us:
                continue
            index = int((end_us - moment) // size)
            if index < buckets:
                counts[index] += delta
        return counts


def decide(complaint: Complaint, recent: Sequence[RecentComplaint] | RecentWindow,
           incidents: Sequence[OpenIncident], now: datetime,
           policy: IncidentPolicy | None = None,
           source_names: Mapping[str, str] | None = None) -> Decision:
    """Join an open incident, open one, or neither (see the module doc for the rules)."""
    policy = policy or IncidentPolicy()
    names = source_names or {}
    window = recent if isinstance(recent, RecentWindow) else RecentWindow(recent)
    own = window.position.get(complaint.mention_id)
    live = {i.id: i for i in incidents if now - i.last_mention_at < policy.quiet}
    live_ids = np.array(sorted(live), dtype=np.int64)

    # How alike the signed rows are: those in a live incident (any time) and those
    # posted within the window of the complaint; the rest cannot matter.
    signed = window.signed
    at_us, window_us = _micros(complaint.at), policy.window // timedelta(microseconds=1)
    not_own = signed != (-1 if own is None else own)
    in_live = _among(window.incident[signed], live_ids)
    close = np.abs(window.at[signed] - at_us) <= window_us
    scores = window.similarities(complaint.signature, not_own & (in_live | close))
    joinable = not_own & in_live & (scores >= policy.similarity)
    if joinable.any():
        # The most similar; on a tie the earliest row, as a loop over the rows would.
        best = int(np.argmax(np.where(joinable, scores, -1.0)))
        incident_id = int(window.incident[signed[best]])
        return Decision(Action.JOIN, incident_id=incident_id,
                        reason=f"near-duplicate of incident {incident_id} "
                               f"(similarity {scores[best]:.2f})")

    anchor = min(complaint.at, now)
    check = _spike_check(window, own, complaint.at, anchor, policy)
    spiking = [i for i in live.values() if i.cause is Cause.SPIKE]
    if check.spiking and spiking:
        joined = max(spiking, key=lambda i: i.last_mention_at)
        return Decision(Action.JOIN, incident_id=joined.id,
                        reason=f"ongoing spike of incident {joined.id}: "
                               f"{check.describe(policy.spike_bucket)}")

    if complaint.at < now - policy.window:
        return Decision(Action.NONE, reason="posted too long ago to open an incident")

    free = ~_among(window.incident, live_ids)
    if own is not None:
        free[own] = False
    near = free[signed] & close & (scores >= policy.similarity)
    cluster = [window.rows[int(i)] for i in signed[near]]
    if len(cluster) + 1 >= policy.min_cluster:
        authors = {_author(complaint.source_id, complaint.author, complaint.mention_id),
                   *(_author(r.source_id, r.author, r.mention_id) for r in cluster)}
        sources = {complaint.source_id, *(r.source_id for r in cluster)}
        if len(authors) >= 2 or len(sources) >= 2:
            return Decision(
                Action.OPEN, cause=Cause.CLUSTER,
                members=tuple(sorted(r.mention_id for r in cluster)),
                reason=(f"{len(cluster) + 1} near-duplicate complaints within "
                        f"{span(policy.window)} from {_plural(len(authors), 'author')} "
                        f"on {listing(names.get(s, s) for s in sources)}"))

    if check.spiking:
        bucket_start = _micros(anchor - policy.spike_bucket)
        in_bucket = free & (window.at > bucket_start) & (window.at <= _micros(anchor))
        members = tuple(sorted(window.rows[int(i)].mention_id for i in np.flatnonzero(in_bucket)))
        return Decision(Action.OPEN, cause=Cause.SPIKE, members=members,
                        reason=f"spike: {check.describe(policy.spike_bucket)}")
    return Decision(Action.NONE)


def _spike_check(window: RecentWindow, own: int | None, at: datetime, anchor: datetime,
                 policy: IncidentPolicy) -> SpikeCheck:
    """``spike_at`` on the window, vectorised (``spike``'s threshold, numpy's sums)."""
    counts = window.bucket_counts(anchor, policy.spike_bucket, 1 + policy.baseline_buckets,
                                  own, at)
    baseline = counts[1:].astype(np.float64)
    mean = float(baseline.mean()) if len(baseline) else 0.0
    std = float(baseline.std()) if len(baseline) else 0.0
    threshold = max(float(policy.min_count), mean + policy.k * std)
    return SpikeCheck(current=int(counts[0]), mean=mean, std=std, threshold=round(threshold, 2))


def _among(values: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """``np.isin(values, ids)`` for the few open incidents a brand has: a comparison
    per id instead of isin's sort of the whole array."""
    if len(ids) > 8:
        return np.isin(values, ids)
    found = np.zeros(len(values), dtype=bool)
    for incident_id in ids:
        found |= values == incident_id
    return found


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


# -- the incident's life -----------------------------------------------------


def opened(incident_id: int, decision: Decision, complaint: Complaint,
           recent: Sequence[RecentComplaint] | RecentWindow, now: datetime) -> OpenIncident:
    """The state of an incident just opened by ``decision`` (its opening alert made now)."""
    if decision.action is not Action.OPEN or decision.cause is None:
        raise ValueError(f"not an opening decision: {decision.action}")
    if isinstance(recent, RecentWindow):
        members = [r for r in map(recent.get, decision.members) if r is not None]
    else:
        wanted = set(decision.members)
        members = [r for r in recent if r.mention_id in wanted]
    count = 1 + len(members)
    return OpenIncident(
        id=incident_id, opened_at=now, last_update_at=now,
        last_mention_at=max([complaint.at, *(r.at for r in members)]),
        mentions=count, sources=frozenset({complaint.source_id, *(r.source_id for r in members)}),
        mentions_at_last_update=count, cause=decision.cause)


def joined(incident: OpenIncident, complaint: Complaint) -> OpenIncident:
    """The incident with one more member."""
    return replace(incident, mentions=incident.mentions + 1,
                   sources=incident.sources | {complaint.source_id},
                   last_mention_at=max(incident.last_mention_at, complaint.at))


def updated(incident: OpenIncident, now: datetime) -> OpenIncident:
    """The incident after an update alert was made at ``now``."""
    return replace(incident, last_update_at=now, mentions_at_last_update=incident.mentions)


def tick(incident: OpenIncident, now: datetime, policy: IncidentPolicy | None = None,
         source_names: Mapping[str, str] | None = None) -> Tick:
    """What to do about an open incident now: close it, send an update, or nothing.

    Call after each join and from a periodic sweep. Close once no mention was
    posted for ``quiet``; update when new mentions arrived since the last alert
    and that alert is ``update_every`` old: '+12 mentions in 30 min, now on
    Reddit and Trustpilot'.
    """
    policy = policy or IncidentPolicy()
    names = source_names or {}
    where = listing(names.get(s, s) for s in incident.sources)
    if now - incident.last_mention_at >= policy.quiet:
        lasted = span(incident.last_mention_at - incident.opened_at)
        return Tick(Step.CLOSE,
                    f"closed after {span(policy.quiet)} without new mentions: "
                    f"{_plural(incident.mentions, 'mention')} over {lasted} on {where}")
    new = incident.mentions - incident.mentions_at_last_update
    since = now - incident.last_update_at
    if new > 0 and since >= policy.update_every:
        return Tick(Step.UPDATE,
                    f"+{_plural(new, 'mention')} in {span(since)}, now on {where}")
    return Tick(Step.NONE)


# -- words -------------------------------------------------------------------


def span(duration: timedelta) -> str:
    """'45 min', '2 h', '2 h 15 min', '1 d 3 h' (rounded down to the minute)."""
    minutes = max(0, int(duration.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min"


def listing(names: Iterable[str]) -> str:
    """'Reddit', 'Reddit and Trustpilot', 'App Store, Reddit and Trustpilot' (sorted)."""
    items = sorted(set(names), key=lambda name: (name.casefold(), name))
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _author(source_id: str, author: str | None, mention_id: int) -> tuple[str, str | int]:
    return (source_id, author.casefold()) if author else ("", mention_id)

