"""MentionItems in, stored mentions and outbox rows out: one transaction per batch.

normalise → dedupe → match brand → classify → store → alert rows. A mention is
committed together with its alerts, before anything is sent about it, so a
crash leaves either nothing or both.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import bindparam, func, insert, or_, select, text, update
from sqlalchemy.orm import Session
from sqlmodel import col

from monitor.classify_pool import ClassifierPool, Job, classify_jobs
from monitor.config import CONSOLE_CHANNEL, Config
from monitor.core.classify import Classifier, Document, Kind, Severity, Verdict
from monitor.core.dedupe import canonical_url, content_hash, dedupe_key
from monitor.core.removals import Listing, first_miss, missing_since, unlisted
from monitor.core.revisions import Snapshot, compare
from monitor.core.routing import Rule, Sample, match_brand
from monitor.core.threads import PriorMessage, follow_up
from monitor.incidents import Incidents, NewComplaint
from monitor.notify.render import alert_body, alert_title
from monitor.notify.targets import AlertPlanner, Targets, planned_rows
from monitor.replies import Replies
from monitor.store import Mention, MentionRevision, MentionSighting, Store, Thread
from monitor.triage import apply_ignore_rules, load_ignore_rules
from spiders.items import MentionItem, to_utc

log = logging.getLogger(__name__)

_MAX_TEXT = 20_000


# Spiders that read any site: their threads are per host, not per spider.
_GENERIC_SPIDERS = frozenset({"feed", "jsonld"})


@dataclass
class IngestResult:
    new: int = 0
    seen_again: int = 0
    alerts: int = 0
    new_keys: list[str] = field(default_factory=list)
    # stored mentions found gone from their site's listing (not site-flagged)
    removed: int = 0
    # source id -> its share of this batch
    by_source: dict[str, IngestResult] = field(default_factory=dict)

    def count(self, source_id: str, new: int = 0, seen_again: int = 0, alerts: int = 0) -> None:
        share = self.by_source.setdefault(source_id, IngestResult())
        share.new += new
        share.seen_again += seen_again
        share.alerts += alerts

    def add(self, other: IngestResult) -> None:
        self.new += other.new
        self.seen_again += other.seen_again
        self.alerts += other.alerts
        self.removed += other.removed
        self.new_keys.extend(other.new_keys)
        for source_id, share in other.by_source.items():
            self.by_source.setdefault(source_id, IngestResult()).add(share)


_KNOWN_COLUMNS = (
    col(Mention.id), col(Mention.dedupe_key), col(Mention.source_id),
    col(Mention.canonical_url), col(Mention.content_hash), col(Mention.title),
    col(Mention.body), col(Mention.rating), col(Mention.rating_max), col(Mention.kind),
    col(Mention.severity), col(Mention.removed_at), col(Mention.company_replies),
    col(Mention.first_seen_at), col(Mention.revisions),
)


@dataclass
class _Known:
    """What ingest needs of a stored mention to decide what a new sighting means."""

    id: int
    dedupe_key: str
    source_id: str
    canonical_url: str | None
    content_hash: str
    title: str | None
    body: str
    rating: float | None
    rating_max: float | None
    kind: str
    severity: str
    removed_at: datetime | None
    company_replies: list[dict[str, Any]] | None
    first_seen_at: datetime
    revisions: int


@dataclass
class _Prepared:
    key: str
    item: MentionItem
    canonical: str | None
    digest: str


class Ingestor:
    """Holds what ingest needs from the config, computed once."""

    def __init__(self, store: Store, config: Config,
                 classifiers: Mapping[str | None, Classifier],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 pool: ClassifierPool | None = None) -> None:
        self.store = store
        self.classifiers = classifiers
        self.pool = pool
        self.spiders = {source.id: source.spider for source in config.sources}
        # The "site" of a customer's thread: the spider for a review site or network; for
        # the generic readers (any feed, any page) the host they read, so that "admin" on
        # two unrelated blogs is not one customer.
        self.thread_sites = {
            source.id: (f"{source.spider}@{urlsplit(source.url or '').hostname or source.id}"
                        if source.spider in _GENERIC_SPIDERS else source.spider)
            for source in config.sources}
        self.source_brands = {source.id: source.brand for source in config.sources}
        self.brand_names = {key: brand.name for key, brand in config.brands.items()}
        self.keywords = [(key, tuple(brand.keywords)) for key, brand in config.brands.items()]
        self.own_accounts = {
            (key, site): {account.casefold() for account in accounts}
            for key, brand in config.brands.items()
            for site, accounts in brand.accounts.items()
        }
        self.rules = [
            Rule(
                channels=tuple(rule.channels),
                brands=frozenset(rule.brands),
                sources=frozenset(rule.sources),
                kinds=frozenset(rule.kinds),
                min_severity=rule.min_severity,
            )
            for rule in config.routes
        ]
        self.default_channels = list(config.channels) or [CONSOLE_CHANNEL]
        self.first_only = config.notify.route_mode == "first"
        self.planner = AlertPlanner(config, Targets(config, now=clock()))
        self.follow_up_window = config.lifecycle.follow_up_window
        # Sources whose listings may tell a silent removal, with their poll interval.
        self.removal_watch = {source.id: source.interval for source in config.sources
                              if source.detect_removals}
        self.removal_grace = config.lifecycle.removal_grace
        self.incidents = Incidents(store, config)
        # Canonical URLs that name several stored mentions (review pages): never merged.
        self._shared_urls: set[str] = set()
        # Public replies (site data, brand-account posts) and the SLA clock: issue 6.
        self.replies = Replies(store, config)
        self.clock = clock

    def ingest(self, items: Sequence[MentionItem], now: datetime,
               listings: Sequence[Listing] = ()) -> IngestResult:
        """Store a batch in one transaction (see the module doc).

        ``listings`` are the complete listings the batch's items came from: stored
        mentions they no longer show are marked removed (monitor/core/removals.py).
        """
        try:
            return self._ingest(items, now, listings)
        except BaseException:
            # What is kept between batches may now name rows that were rolled back.
            self.incidents.forget()
            self._shared_urls.clear()
            raise

    def _ingest(self, items: Sequence[MentionItem], now: datetime,
                listings: Sequence[Listing]) -> IngestResult:
        prepared: dict[str, _Prepared] = {}
        for item in items:
            entry = _prepare(item)
            prepared[entry.key] = entry  # the latest sighting in a batch wins
        result = IngestResult()
        if not prepared:
            return result
        copies = self._copies_in_batch(prepared)
        if copies:
            # Store the first source's post, then its copies: they merge into it.
            first = [entry.item for key, entry in prepared.items() if key not in copies]
            result = self._ingest(first, now, ())
            result.add(self._ingest([prepared[key].item for key in copies], now, listings))
            return result
        keys = list(prepared)
        with self.store.session() as session:
            known = self._known(session, keys)
            merged = self._same_post_elsewhere(
                session, [prepared[key] for key in keys if key not in known])
            seen: dict[str, _Known] = {**known, **merged}
            alerts: list[dict[str, Any]] = []
            if seen:
                alerts.extend(self._seen_again(session, prepared, seen, now, result))
            rows: list[dict[str, Any]] = []
            verdicts: dict[str, tuple[str | None, Verdict]] = {}
            # "Not a complaint" in the inbox taught these (monitor/triage.py).
            ignore = load_ignore_rules(session) if len(seen) < len(keys) else []
            unseen = [key for key in keys if key not in seen]
            decided = self._decide_many([prepared[key].item for key in unseen])
            for key, (brand, verdict) in zip(unseen, decided, strict=True):
                entry = prepared[key]
                verdict = apply_ignore_rules(ignore, brand, self._author_key(entry.item, brand),
                                             entry.item, verdict)
                verdicts[key] = (brand, verdict)
                rows.append(self._mention_row(entry, brand, verdict, now))
            # In key order, so two processes inserting the same batch wait for each other
            # instead of deadlocking.
            rows.sort(key=lambda row: row["dedupe_key"])
            inserted: dict[str, int] = {
                key: mention_id for mention_id, key
                in self.store.insert_new(session, Mention, rows, "dedupe_key")}
            # Another process may have stored some of these keys first: they are seen again.
            result.seen_again += len(rows) - len(inserted)
            for row in rows:
                key = row["dedupe_key"]
                result.count(row["source_id"], new=int(key in inserted),
                             seen_again=int(key not in inserted))
            result.new = len(inserted)
            result.new_keys = list(inserted)
            notes = self._thread(session, [row for row in rows if row["dedupe_key"] in inserted],
                                 inserted, verdicts, now)
            if inserted:
                session.execute(self.store.insert_ignore(MentionSighting), [
                    {"mention_id": mention_id, "source_id": prepared[key].item.source_id,
                     "url": prepared[key].item.url, "first_seen_at": now, "last_seen_at": now,
                     "times_seen": 1}
                    for key, mention_id in inserted.items()
                ])
            folded, incident_alerts = self.incidents.assign(session, [
                NewComplaint(key, mention_id, brand, prepared[key].item.source_id,
                             prepared[key].item.published or now, prepared[key].item.author,
                             f"{prepared[key].item.title or ''}\n{prepared[key].item.body}",
                             verdict.severity)
                for key, mention_id in inserted.items()
                for brand, verdict in [verdicts[key]]
                if brand is not None and verdict.kind is Kind.COMPLAINT
                and not prepared[key].item.removed
            ], now, self.incident_alert_rows)
            alerts.extend(incident_alerts)
            # Replies, reply clocks and template alerts (its own outbox rows): issue 6.
            self.replies.on_ingest(session, [
                (mention_id, prepared[key].item, verdicts.get(key))
                for key, mention_id in [*((k, v.id) for k, v in seen.items()), *inserted.items()]
            ], now)
            for key, mention_id in inserted.items():
                if key in folded:
                    continue  # its incident speaks for it
                brand, verdict = verdicts[key]
                item = prepared[key].item
                rows_for_mention = self._alert_rows(item, mention_id, brand, verdict, now,
                                                    note=notes.get(key))
                result.count(item.source_id, alerts=len(rows_for_mention))
                alerts.extend(rows_for_mention)
            if alerts:
                self.store.queue_alerts(session, alerts)
            result.alerts = len(alerts)
            # After this batch's sightings: what the listings showed is seen as of now.
            for listing in listings:
                self._unlisted(session, listing, now, result)
        return result

    # -- mentions seen before ---------------------------------------------------

    def _known(self, session: Session, keys: list[str]) -> dict[str, _Known]:
        found: dict[str, _Known] = {}
        columns = _KNOWN_COLUMNS
        for chunk in _chunks(keys, 500):
            for row in session.execute(select(*columns).where(
                    col(Mention.dedupe_key).in_(chunk))):
                found[row.dedupe_key] = _Known(*row)
        return found

    def _copies_in_batch(self, prepared: dict[str, _Prepared]) -> set[str]:
        """Keys of items that repeat an earlier item of the batch from another source
        (same canonical URL): the same post through two sources crawled together.

        A URL that two items of one source carry is a page of many reviews: not a copy.
        """
        by_url: dict[str, list[_Prepared]] = {}
        for entry in prepared.values():
            if entry.canonical and entry.canonical not in self._shared_urls:
                by_url.setdefault(entry.canonical, []).append(entry)
        copies: set[str] = set()
        for group in by_url.values():
            sources = [entry.item.source_id for entry in group]
            if len(group) > 1 and len(set(sources)) == len(sources):
                copies.update(entry.key for entry in group[1:])
        return copies

    def _same_post_elsewhere(self, session: Session,
                             entries: list[_Prepared]) -> dict[str, _Known]:
        """New keys whose canonical URL is a mention another source already stored.

        A URL only identifies a post when nothing else shares it: review pages
        whose items all carry the page URL are never merged this way.
        """
        by_url: dict[str, list[_Prepared]] = {}
        for entry in entries:
            if entry.canonical:
                by_url.setdefault(entry.canonical, []).append(entry)
        candidates = [url for url, group in by_url.items()
                      if len(group) == 1 and url not in self._shared_urls]
        if not candidates:
            return {}
        # First which URLs name exactly one stored mention (an index-only count), then
        # those mentions: a product page's URL on ten thousand reviews is never read.
        single: list[int] = []
        for chunk in _chunks(candidates, 500):
            for url, first_id, last_id in session.execute(
                    select(col(Mention.canonical_url), func.min(col(Mention.id)),
                           func.max(col(Mention.id)))
                    .where(col(Mention.canonical_url).in_(chunk))
                    .group_by(col(Mention.canonical_url))):
                if first_id == last_id:
                    single.append(int(first_id or 0))
                else:
                    # Shared once, shared for good: mentions are never deleted.
                    if len(self._shared_urls) > 100_000:
                        self._shared_urls.clear()
                    self._shared_urls.add(url or "")
        merged: dict[str, _Known] = {}
        for chunk in _chunks(sorted(single), 500):
            for row in session.execute(select(*_KNOWN_COLUMNS).where(
                    col(Mention.id).in_(chunk))):
                known = _Known(*row)
                entry = by_url[known.canonical_url or ""][0]
                if known.source_id != entry.item.source_id:
                    merged[entry.key] = known
        return merged

    def _seen_again(self, session: Session, prepared: dict[str, _Prepared],
                    seen: dict[str, _Known], now: datetime,
                    result: IngestResult) -> list[dict[str, Any]]:
        """Record the sighting; keep edits as revisions; mark removals. Alerts only for
        a change for the worse."""
        alerts: list[dict[str, Any]] = []
        ids = sorted({known.id for known in seen.values()})
        for chunk in _chunks(ids, 500):
            # Seen: an earlier listing's miss no longer counts (a removal needs two).
            session.execute(update(Mention).where(col(Mention.id).in_(chunk))
                            .values(last_seen_at=now, unlisted_at=None))
        sightings = {(known.id, prepared[key].item.source_id): prepared[key].item.url
                     for key, known in seen.items()}
        # One upsert per sighting: a new source's first, or one more of a known one.
        table: Any = MentionSighting.__table__  # type: ignore[attr-defined]
        upsert = self.store.insert(MentionSighting).on_conflict_do_update(
            index_elements=[table.c.mention_id, table.c.source_id],
            set_={"last_seen_at": now, "times_seen": table.c.times_seen + 1})
        session.execute(upsert, [
            {"mention_id": mention_id, "source_id": source_id, "url": url,
             "first_seen_at": now, "last_seen_at": now, "times_seen": 1}
            for (mention_id, source_id), url in sorted(sightings.items())
        ])
        for key, known in seen.items():
            entry = prepared[key]
            item = entry.item
            result.count(item.source_id, seen_again=1)
            result.seen_again += 1
            if item.removed and known.removed_at is None:
                self._mark_removed(session, known, now, removed=True)
                continue
            if known.source_id != item.source_id:
                continue  # another source's copy: its text is not an edit
            if known.removed_at is not None and not item.removed:
                # Back on its site (a review reinstated, or a listing that had missed it).
                self._mark_removed(session, known, now, removed=False)
            replies = _replies(item)
            if replies and len(replies) > len(known.company_replies or []):
                session.execute(update(Mention).where(col(Mention.id) == known.id)
                                .values(company_replies=replies))
            if entry.digest == known.content_hash and item.rating == known.rating:
                continue
            alerts.extend(self._edited(session, entry, known, bool(replies or
                                                                    known.company_replies),
                                       now))
        return alerts

    def _edited(self, session: Session, entry: _Prepared, known: _Known, replied: bool,
                now: datetime) -> list[dict[str, Any]]:
        item = entry.item
        brand, verdict = self._decide(item)
        verdict = apply_ignore_rules(load_ignore_rules(session), brand,
                                     self._author_key(item, brand), item, verdict)
        change = compare(
            Snapshot(known.title, known.body, known.rating, known.rating_max, known.kind,
                     known.severity),
            Snapshot(item.title, item.body, item.rating, item.rating_max, verdict.kind.value,
                     verdict.severity.value),
        )
        if change is None:
            return []
        session.execute(self.store.insert_ignore(MentionRevision).values(
            mention_id=known.id, changed_at=now, changed_fields=list(change.fields),
            title=known.title, body=known.body, rating=known.rating, kind=known.kind,
            severity=known.severity, worse=change.worse, better=change.better,
            outcome=change.outcome(replied),
        ))
        session.execute(update(Mention).where(col(Mention.id) == known.id).values(
            title=item.title, body=item.body, rating=item.rating, content_hash=entry.digest,
            kind=verdict.kind.value, severity=verdict.severity.value,
            reasons=list(verdict.reasons), score=verdict.score,
            site_updated_at=item.updated, revisions=col(Mention.revisions) + 1,
        ))
        if not change.worse or item.removed:
            return []
        note = f"Updated review ({change.summary()}); it was first seen " \
               f"{known.first_seen_at:%Y-%m-%d %H:%M} UTC."
        return self._alert_rows(item, known.id, brand, verdict, now, note=note,
                                key_suffix=f"-r{known.revisions + 1}")

    def _mark_removed(self, session: Session, known: _Known, now: datetime, removed: bool,
                      outcome: str | None = None) -> bool:
        """Removed (or back): the mention keeps its text; a revision records when.

        Only from the other state, checked by the UPDATE itself: another process may
        have marked it since this one read it (False then, and no second revision).
        """
        return bool(self._mark_many_removed(session, [(known, outcome)], now, removed))

    def _mark_many_removed(self, session: Session, marks: Sequence[tuple[_Known, str | None]],
                           now: datetime, removed: bool) -> list[int]:
        """``_mark_removed`` for many mentions in one UPDATE and one INSERT per 500;
        returns the ids that changed."""
        by_id = {known.id: (known, outcome) for known, outcome in marks}
        state = col(Mention.removed_at).is_(None) if removed \
            else col(Mention.removed_at).is_not(None)
        changed: list[int] = []
        for chunk in _chunks(sorted(by_id), 500):
            changed.extend(session.scalars(
                update(Mention).where(col(Mention.id).in_(chunk), state)
                .values(removed=removed, removed_at=now if removed else None,
                        revisions=col(Mention.revisions) + 1)
                .returning(col(Mention.id))
                .execution_options(synchronize_session=False)))
        if changed:
            session.execute(self.store.insert_ignore(MentionRevision), [
                {"mention_id": known.id, "changed_at": now, "changed_fields": ["removed"],
                 "title": known.title, "body": known.body, "rating": known.rating,
                 "kind": known.kind, "severity": known.severity, "worse": False,
                 "better": False, "outcome": outcome}
                for mention_id in sorted(changed) for known, outcome in [by_id[mention_id]]])
        return sorted(changed)

    def _unlisted(self, session: Session, listing: Listing, now: datetime,
                  result: IngestResult) -> None:
        """Mark removed the source's mentions its complete listing has stopped showing.

        A removal needs an earlier poll's miss (monitor/core/removals.py), kept on the
        mention (``unlisted_at``) so that it outlives the process and is shared with
        other daemons on the store: one read of the mentions the listing did not show
        (by source and publication time), one UPDATE per 500 for their first misses,
        one per 500 for the removals and one INSERT of their revisions. Rolled back with the batch, a listing leaves no miss behind.
        """
        interval = self.removal_watch.get(listing.source_id)
        if interval is None:
            return
        cutoff = missing_since(now, self.removal_grace, interval)
        gone: list[tuple[_Known, str | None]] = []
        missed: list[int] = []
        for row in session.execute(
                select(*_KNOWN_COLUMNS, col(Mention.last_seen_at), col(Mention.unlisted_at))
                .where(col(Mention.source_id) == listing.source_id,
                       col(Mention.published_at) > listing.span.oldest,
                       col(Mention.published_at) <= listing.span.newest,
                       col(Mention.external_id).is_not(None),
                       col(Mention.removed_at).is_(None),
                       col(Mention.last_seen_at) < now)  # this batch's sightings were shown
                .order_by(col(Mention.id))):
            known = _Known(*row[:-2])
            last_seen = to_utc(row[-2])
            first_missed = to_utc(row[-1]) if row[-1] is not None else None
            if unlisted(first_missed, last_seen, now, cutoff):
                gone.append((known, f"no longer listed by {listing.source_id}; last seen "
                                    f"{last_seen:%Y-%m-%d %H:%M} UTC"))
            elif first_miss(first_missed, last_seen, now) != first_missed:
                missed.append(known.id)
        for chunk in _chunks(missed, 500):
            # Unless another daemon's miss that still counts got there first.
            session.execute(
                update(Mention).where(col(Mention.id).in_(chunk),
                                      col(Mention.last_seen_at) < now,
                                      or_(col(Mention.unlisted_at).is_(None),
                                          col(Mention.unlisted_at) <= col(Mention.last_seen_at)))
                .values(unlisted_at=now)
                .execution_options(synchronize_session=False))
        removed = self._mark_many_removed(session, gone, now, removed=True) if gone else []
        for mention_id in removed:
            log.info("mention_unlisted source=%s mention=%s", listing.source_id, mention_id)
        result.removed += len(removed)
        if removed:
            result.by_source.setdefault(listing.source_id, IngestResult()).removed += len(removed)

    # -- follow-ups -------------------------------------------------------------

    def _thread(self, session: Session, rows: list[dict[str, Any]], inserted: dict[str, int],
                verdicts: dict[str, tuple[str | None, Verdict]],
                now: datetime) -> dict[str, str]:
        """Put just-stored mentions into their author's thread; notes for follow-up alerts.

        Runs after the insert, on the mentions this process stored, so a mention that
        another process stored first is never counted twice. A follow-up to an
        unanswered complaint gets its severity raised here, before any alert is written.
        """
        authored = [row for row in rows if row.get("author_key")]
        if not authored:
            return {}
        if self.store.dialect == "postgresql":
            # Threads are found-or-created: two daemons must not create the same one.
            session.execute(text("SELECT pg_advisory_xact_lock(hashtext('rm-threads'))"))
        cutoff = now - self.follow_up_window
        author_keys = sorted({row["author_key"] for row in authored})
        thread_table: Any = Thread.__table__  # type: ignore[attr-defined]
        # author key -> [thread id (None: created below), messages, brand]
        threads: dict[str, list[Any]] = {}
        latest: dict[str, datetime] = {}
        for chunk in _chunks(author_keys, 500):
            for thread_id, author_key, last_message_at, messages, brand in session.execute(
                    select(thread_table.c.id, thread_table.c.author_key,
                           thread_table.c.last_message_at, thread_table.c.messages,
                           thread_table.c.brand)
                    .where(thread_table.c.author_key.in_(chunk),
                           thread_table.c.last_message_at >= cutoff)):
                if author_key not in latest or last_message_at > latest[author_key]:
                    latest[author_key] = last_message_at
                    threads[author_key] = [thread_id, messages, brand]
        history: dict[str, list[PriorMessage]] = {}
        if threads:
            authors = {state[0]: author_key for author_key, state in threads.items()}
            for thread_id, mention_id, first_seen, kind, replies in session.execute(select(
                    col(Mention.thread_id), col(Mention.id), col(Mention.first_seen_at),
                    col(Mention.kind), col(Mention.company_replies),
            ).where(col(Mention.thread_id).in_(list(authors))).order_by(
                    col(Mention.first_seen_at))):
                history.setdefault(authors[thread_id], []).append(PriorMessage(
                    first_seen=first_seen, kind=kind, replied=bool(replies),
                    mention_id=mention_id))
        known_threads = set(threads)
        notes: dict[str, str] = {}
        changes: list[dict[str, Any]] = []
        for row in sorted(authored, key=lambda r: (r["published_at"] or now)):
            key, author_key = row["dedupe_key"], row["author_key"]
            state = threads.setdefault(author_key, [None, 0, row["brand"]])
            previous = history.setdefault(author_key, [])
            follow = follow_up(previous, now, self.follow_up_window)
            state[1] += 1
            brand, verdict = verdicts[key]
            if follow.is_follow_up:
                raised = follow.raise_severity(verdict.severity, verdict.kind.value)
                if raised is not verdict.severity:
                    verdict = replace(verdict, severity=raised, reasons=(
                        *verdict.reasons, "follow-up to an unanswered complaint"))
                    verdicts[key] = (brand, verdict)
                notes[key] = follow.note()
            changes.append({"mention": inserted[key], "author_key": author_key,
                            "position": follow.position, "new_severity": verdict.severity.value,
                            "new_reasons": list(verdict.reasons)})
            previous.append(PriorMessage(first_seen=now, kind=row["kind"],
                                         replied=bool(row["company_replies"]),
                                         mention_id=inserted[key]))
        # New threads in one statement, the others' counts in another.
        created = [{"brand": state[2], "author_key": author_key, "started_at": now,
                    "last_message_at": now, "messages": state[1]}
                   for author_key, state in threads.items() if state[0] is None]
        if created:
            for thread_id, author_key in session.execute(
                    insert(thread_table).returning(thread_table.c.id, thread_table.c.author_key),
                    created):
                threads[author_key][0] = thread_id
        touched = {change["author_key"] for change in changes}
        grown = [{"thread": threads[author_key][0], "messages": threads[author_key][1]}
                 for author_key in sorted(known_threads & touched)]
        if grown:
            session.execute(
                update(thread_table).where(thread_table.c.id == bindparam("thread")).values(
                    messages=bindparam("messages"), last_message_at=now),
                grown,
            )
        for change in changes:
            change["thread"] = threads[change.pop("author_key")][0]
        table: Any = Mention.__table__  # type: ignore[attr-defined]
        session.execute(
            update(table).where(table.c.id == bindparam("mention")).values(
                thread_id=bindparam("thread"), thread_position=bindparam("position"),
                severity=bindparam("new_severity"), reasons=bindparam("new_reasons")),
            changes,
        )
        return notes

    def incident_alert_rows(self, brand: str, incident_id: int, suffix: str, title: str,
                            body: str, severity: Severity) -> list[dict[str, Any]]:
        # Routes, on-call and escalation: monitor/notify/targets.py (docs/alerting.md).
        now = self.clock()
        planned = self.planner.plan(Sample(brand, "", Kind.COMPLAINT, severity, None, True), now)
        return planned_rows(planned, f"rm-i{incident_id}-{suffix}", now,
                            lambda key: f"{body}\nref: {key}", mention_id=None,
                            incident_id=incident_id, purpose="incident", title=title[:300])

    def sweep_incidents(self) -> int:
        """Incident updates and closes that are due (the daemon calls this periodically)."""
        return self.incidents.sweep(self.clock(), self.incident_alert_rows)

    def _author_key(self, item: MentionItem, brand: str | None) -> str | None:
        """'spider:author' for a customer's thread; None for anonymous or brand posts."""
        author = (item.author or "").strip().casefold()
        if not author or author in ("anonymous", "[deleted]", "a google user"):
            return None
        site = self.spiders.get(item.source_id, item.source_id)
        if author in self.own_accounts.get((brand or "", site), ()):
            return None
        return f"{self.thread_sites.get(item.source_id, site)}:{author}"[:300]

    def _decide(self, item: MentionItem) -> tuple[str | None, Verdict]:
        return self._decide_many([item])[0]

    def _decide_many(self, items: Sequence[MentionItem]) -> list[tuple[str | None, Verdict]]:
        """Brand and verdict of each item, in order; classified together, so that the
        classifier workers (if configured) take their share of the batch."""
        decided: list[tuple[str | None, Verdict | None]] = []
        jobs: list[Job] = []
        for item in items:
            brand = match_brand(
                f"{item.title or ''}\n{item.body}", self.source_brands.get(item.source_id),
                self.keywords,
            )
            site = self.spiders.get(item.source_id, "")
            if brand is not None and item.author and \
                    item.author.casefold() in self.own_accounts.get((brand, site), ()):
                decided.append((brand, Verdict(Kind.OTHER, Severity.LOW,
                                               ("posted by the brand's own account",), 0.0,
                                               item.language)))
                continue
            decided.append((brand, None))
            jobs.append((brand, Document(
                text=item.body, title=item.title, rating=item.rating,
                rating_max=item.rating_max, language=item.language,
                engagement=item.engagement, author=item.author,
            )))
        verdicts = iter(self.pool.classify(jobs, self._classify_here) if self.pool is not None
                        else self._classify_here(jobs))
        return [(brand, verdict if verdict is not None else next(verdicts))
                for brand, verdict in decided]

    def _classify_here(self, jobs: Sequence[Job]) -> list[Verdict]:
        return classify_jobs(self.classifiers, jobs)

    def _mention_row(self, entry: _Prepared, brand: str | None, verdict: Verdict,
                     now: datetime) -> dict[str, Any]:
        item = entry.item
        return {
            "dedupe_key": entry.key,
            "source_id": item.source_id,
            "spider": self.spiders.get(item.source_id, "unknown"),
            "brand": brand,
            "external_id": item.external_id,
            "url": item.url,
            "canonical_url": entry.canonical,
            "content_hash": entry.digest,
            "author": item.author,
            "title": item.title,
            "body": item.body,
            "rating": item.rating,
            "rating_max": item.rating_max if item.rating is not None else None,
            "published_at": item.published,
            "site_updated_at": item.updated,
            "language": verdict.language or item.language,
            "reply_to": item.reply_to,
            "engagement": item.engagement or None,
            "company_replies": _replies(item) or None,
            "author_key": self._author_key(item, brand),
            "thread_id": None,
            "thread_position": None,
            "removed": item.removed,
            "extra": item.extra or None,
            "kind": verdict.kind.value,
            "severity": verdict.severity.value,
            "reasons": list(verdict.reasons),
            "score": verdict.score,
            "first_seen_at": now,
            "last_seen_at": now,
        }

    def _alert_rows(self, item: MentionItem, mention_id: int, brand: str | None,
                    verdict: Verdict, now: datetime, note: str | None = None,
                    key_suffix: str = "") -> list[dict[str, Any]]:
        if item.removed:
            return []
        # Routes, on-call, after hours and escalation: monitor/notify/targets.py.
        planned = self.planner.plan(Sample(brand, item.source_id, verdict.kind, verdict.severity,
                                           verdict.language or item.language), now)
        brand_name = self.brand_names.get(brand or "", brand or "")
        return planned_rows(
            planned, f"rm-m{mention_id}{key_suffix}", now,
            lambda key: alert_body(brand_name, item.source_id, verdict, item, key, note),
            mention_id=mention_id, purpose="mention",
            title=alert_title(brand_name, item.source_id, verdict, item))


def _replies(item: MentionItem) -> list[dict[str, Any]]:
    return [
        {"text": reply.text, "author": reply.author,
         "published": reply.published.isoformat() if reply.published else None}
        for reply in item.company_replies
    ]


def _prepare(item: MentionItem) -> _Prepared:
    item.title = (item.title or "").strip()[:_MAX_TEXT] or None
    item.body = (item.body or "").strip()[:_MAX_TEXT]
    if item.published is not None:
        item.published = to_utc(item.published)
    if item.updated is not None:
        item.updated = to_utc(item.updated)
    canonical = canonical_url(item.url)
    digest = content_hash(item.title, item.body)
    return _Prepared(dedupe_key(item.source_id, item.external_id, canonical, digest), item,
                     canonical, digest)


def _chunks(values: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [values[start:start + size] for start in range(0, len(values), size)]
