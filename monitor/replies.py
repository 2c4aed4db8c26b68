"""The company's public replies: detected at ingest, recorded once, compared for templates.

A public reply reaches us two ways:

- **site reply data**: the review site shows the company's answer under the
  review (Trustpilot, Google Play, Yelp owner replies, an HN/Reddit answer by
  the brand folded in by the spider): ``MentionItem.company_replies``;
- **a brand-account post**: a post by one of the brand's own accounts
  (``[brands.X] accounts``, or marked ``extra.company_account`` by the spider)
  that answers a stored mention: ``reply_to`` is the mention's external id or
  URL, or the thread root (``extra.post_id``, ``extra.story_id``) is.

Each is one ``public_reply`` row, unique on (mention, hash of the normalised
text), inserted with ON CONFLICT DO NOTHING: a re-crawl, a second source or a
second daemon never doubles it. The first one stops the mention's SLA clock
(``first_reply_at``, earliest wins) and moves an open, acknowledged or snoozed
mention to "replied". A new reply near-identical to ``template_min_matches`` or
more of the brand's recent replies is flagged a template (core/templates.py).

Everything here runs inside ingest's transaction (``on_ingest``), so a reply is
committed with the sighting that revealed it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, or_, select, text, update
from sqlalchemy.orm import Session
from sqlmodel import col

from monitor.config import Config
from monitor.core.classify import Kind, Verdict
from monitor.core.dedupe import canonical_url
from monitor.core.templates import Candidate, body_hash, is_template, near_identical, normalise
from monitor.sla import Destination, SlaClock
from monitor.store import Mention, Store
from monitor.store.models import PublicReply
from spiders.items import MentionItem, to_utc

log = logging.getLogger(__name__)

#: How long, and how many, brand posts answering a mention not stored yet are retried.
ORPHAN_TTL = timedelta(days=7)
ORPHAN_LIMIT = 1000
#: Mention statuses a reply moves to "replied" (resolved / not a complaint stay as they are).
REPLYABLE = ("open", "acknowledged", "snoozed")


@dataclass(frozen=True)
class ReplySeen:
    """A public reply found in a crawl, not yet recorded."""

    mention_id: int
    text: str
    author: str | None
    published: datetime | None
    # site | account
    detected_by: str = "site"
    reply_mention_id: int | None = None


@dataclass(frozen=True)
class Recorded:
    """What ``record`` did: new reply rows, and which of them are templates."""

    new: int
    templates: int
    alerts: list[dict[str, Any]]


class Replies:
    """Reply detection and template flagging, configured once per process."""

    def __init__(self, store: Store, config: Config, sla: SlaClock | None = None) -> None:
        self.store = store
        self.settings = config.replies
        self.spiders = {source.id: source.spider for source in config.sources}
        self.own_accounts = {
            (key, site): {account.casefold() for account in accounts}
            for key, brand in config.brands.items()
            for site, accounts in brand.accounts.items()
        }
        self.any_account = {name for names in self.own_accounts.values() for name in names}
        self.brand_names = {key: brand.name for key, brand in config.brands.items()}
        self.sla = sla if sla is not None else SlaClock(store, config)
        self.template_channel = Destination(config, config.replies.template_channel)
        # Brand posts whose question is not stored yet: post mention id -> (item, when).
        self._orphans: dict[int, tuple[MentionItem, datetime]] = {}

    # -- from ingest -----------------------------------------------------------------

    def on_ingest(self, session: Session,
                  sightings: Sequence[tuple[int, MentionItem, tuple[str | None, Verdict] | None]],
                  now: datetime) -> Recorded:
        """Replies revealed by this batch, and SLA clocks for its new complaints.

        ``sightings``: (mention id, item, (brand, verdict) for a mention stored by this
        batch else None). Template alerts are inserted here, in their own statement (an
        executemany of outbox rows needs one set of columns for all its rows).
        """
        replies: list[ReplySeen] = []
        account_posts: list[tuple[int, MentionItem]] = []
        complaints: list[tuple[int, str, datetime]] = []
        for mention_id, item, decided in sightings:
            for reply in item.company_replies:
                replies.append(ReplySeen(mention_id, reply.text, reply.author,
                                         to_utc(reply.published) if reply.published else None))
            if self._maybe_own_account(item):
                account_posts.append((mention_id, item))
            if decided is not None:
                brand, verdict = decided
                if brand is not None and verdict.kind is Kind.COMPLAINT and not item.removed:
                    complaints.append((mention_id, verdict.severity.value, now))
        edited = [mention_id for mention_id, _item, decided in sightings if decided is None]
        if edited:
            complaints.extend(self._edited_into_complaints(session, edited, now))
            self._tighten_clocks(session, edited, now)
        if complaints:
            self.sla.start(session, complaints)
        # Brand posts whose question was not stored yet: retried when this batch stored
        # new mentions of their source (the question may be among them).
        new_sources = {item.source_id for _id, item, decided in sightings if decided is not None}
        retry = [(post_id, item) for post_id, (item, _at) in self._orphans.items()
                 if item.source_id in new_sources]
        for post_id, _item in retry:
            del self._orphans[post_id]
        account_posts.extend(retry)
        if account_posts:
            replies.extend(self._account_replies(session, account_posts, now))
        if not replies:
            return Recorded(0, 0, [])
        recorded = self.record(session, replies, now)
        if recorded.alerts:
            self.store.queue_alerts(session, recorded.alerts)
        return recorded

    def _edited_into_complaints(self, session: Session, ids: list[int],
                                now: datetime) -> list[tuple[int, str, datetime]]:
        """Mentions seen again that an edit has made complaints (an updated review): their
        clock starts at the edit. Only edited ones (``revisions > 0``) without a clock."""
        rows = session.execute(select(col(Mention.id), col(Mention.severity)).where(
            col(Mention.id).in_(sorted(set(ids))), col(Mention.revisions) > 0,
            col(Mention.kind) == "complaint", col(Mention.sla_due_at).is_(None),
            col(Mention.brand).is_not(None), col(Mention.first_reply_at).is_(None),
            col(Mention.removed).is_(False), col(Mention.status).in_(REPLYABLE)))
        return [(int(mention_id or 0), severity, now) for mention_id, severity in rows]

    def _tighten_clocks(self, session: Session, ids: list[int], now: datetime) -> None:
        """A running clock whose complaint an edit made more severe ("normal" became
        "critical": "...and now the charger caught fire"): the severity's target counts
        from the edit when that is sooner than the deadline it had. Never later."""
        rows = session.execute(select(
            col(Mention.id), col(Mention.severity), col(Mention.sla_due_at)).where(
            col(Mention.id).in_(sorted(set(ids))), col(Mention.revisions) > 0,
            col(Mention.kind) == "complaint", col(Mention.sla_due_at).is_not(None),
            col(Mention.first_reply_at).is_(None), col(Mention.removed).is_(False),
            col(Mention.status).in_(REPLYABLE))).all()
        for mention_id, severity, due in rows:
            sooner = self.sla.due(severity, now)
            if due is not None and sooner < due:
                session.execute(update(Mention).where(col(Mention.id) == mention_id,
                                                      col(Mention.sla_due_at) == due)
                                .values(sla_due_at=sooner))
                log.info("sla_tightened mention=%s severity=%s due=%s", mention_id, severity,
                         sooner.isoformat())

    def _maybe_own_account(self, item: MentionItem) -> bool:
        if item.extra.get("company_account"):
            return True
        return bool(item.author) and (item.author or "").casefold() in self.any_account

    def _account_replies(self, session: Session, posts: list[tuple[int, MentionItem]],
                         now: datetime) -> list[ReplySeen]:
        """Brand-account posts that answer a stored mention of the same brand."""
        ids = [mention_id for mention_id, _item in posts]
        brands = dict(session.execute(
            select(col(Mention.id), col(Mention.brand)).where(col(Mention.id).in_(ids))).all())
        found: list[ReplySeen] = []
        for mention_id, item in posts:
            brand = brands.get(mention_id)
            site = self.spiders.get(item.source_id, "")
            own = item.extra.get("company_account") or (item.author or "").casefold() in \
                self.own_accounts.get((brand or "", site), set())
            if not own:
                continue
            parent = self._parent(session, item, brand)
            if parent is None:
                self._keep_orphan(mention_id, item, now)
                continue
            if parent == mention_id:
                continue
            found.append(ReplySeen(parent, item.body, item.author,
                                   to_utc(item.published) if item.published else None,
                                   detected_by="account", reply_mention_id=mention_id))
        return found

    def _keep_orphan(self, mention_id: int, item: MentionItem, now: datetime) -> None:
        """Remember a brand post that answers nothing we store yet, for a while (in this
        process: a restart forgets them; a re-crawl that sees the post again retries too)."""
        if not (item.reply_to or item.extra.get("post_id") or item.extra.get("story_id")):
            return
        self._orphans[mention_id] = (item, now)
        cutoff = now - ORPHAN_TTL
        for post_id, (_item, at) in list(self._orphans.items()):
            if at < cutoff:
                del self._orphans[post_id]
        while len(self._orphans) > ORPHAN_LIMIT:
            del self._orphans[next(iter(self._orphans))]

    def _parent(self, session: Session, item: MentionItem, brand: str | None) -> int | None:
        """The stored mention a brand post answers: its reply_to (an external id on the
        same source, or a URL), else the root of its thread (Reddit's extra.post_id,
        Hacker News' extra.story_id)."""
        targets = [value for value in (item.reply_to, item.extra.get("post_id"),
                                       item.extra.get("story_id"))
                   if isinstance(value, str) and value]
        for target in targets:
            conditions = [and_(col(Mention.source_id) == item.source_id,
                               col(Mention.external_id) == target)]
            canonical = canonical_url(target) if target.startswith(("http://", "https://")) \
                else None
            if canonical:
                conditions.append(col(Mention.canonical_url) == canonical)
            statement = select(col(Mention.id)).where(or_(*conditions))
            if brand is not None:
                statement = statement.where(
                    or_(col(Mention.brand) == brand, col(Mention.brand).is_(None)))
            parent = session.scalars(statement.order_by(col(Mention.id)).limit(1)).first()
            if parent is not None:
                return int(parent)
        return None

    # -- recording -------------------------------------------------------------------

    def record(self, session: Session, replies: Sequence[ReplySeen], now: datetime) -> Recorded:
        """Insert replies not seen before; stop clocks; flag templates. Idempotent."""
        ids = sorted({reply.mention_id for reply in replies})
        mentions = {row.id: row for row in session.execute(
            select(col(Mention.id), col(Mention.brand), col(Mention.author))
            .where(col(Mention.id).in_(ids)))}
        rows: dict[tuple[int, str], dict[str, Any]] = {}
        for reply in replies:
            mention = mentions.get(reply.mention_id)
            if mention is None:
                continue
            normalized = normalise(reply.text, [mention.author or "", reply.author or ""])
            digest = body_hash(normalized)
            rows.setdefault((reply.mention_id, digest), {
                "mention_id": reply.mention_id, "brand": mention.brand, "author": reply.author,
                "body": reply.text[:20_000], "body_hash": digest, "normalized": normalized,
                "replied_at": reply.published or now, "detected_by": reply.detected_by,
                "reply_mention_id": reply.reply_mention_id, "is_template": False,
                "template_matches": 0,
            })
        if not rows:
            return Recorded(0, 0, [])
        ordered = [rows[key] for key in sorted(rows)]
        table: Any = PublicReply.__table__  # type: ignore[attr-defined]
        inserted: list[tuple[int, int, str]] = [
            (row[0], row[1], row[2]) for row in session.execute(
                self.store.insert_ignore(PublicReply).returning(
                    table.c.id, table.c.mention_id, table.c.body_hash), ordered)]
        if not inserted:
            return Recorded(0, 0, [])
        new_rows = [(reply_id, rows[(mention_id, digest)])
                    for reply_id, mention_id, digest in inserted]
        self._stop_clocks(session, new_rows)
        flagged = self._flag_templates(session, new_rows, now)
        log.info("public_replies new=%s templates=%s", len(new_rows), len(flagged))
        return Recorded(len(new_rows), len(flagged), self._template_alerts(flagged, now))

    def _stop_clocks(self, session: Session, new_rows: list[tuple[int, dict[str, Any]]]) -> None:
        earliest: dict[int, datetime] = {}
        for _reply_id, row in new_rows:
            at = row["replied_at"]
            if row["mention_id"] not in earliest or at < earliest[row["mention_id"]]:
                earliest[row["mention_id"]] = at
        table: Any = Mention.__table__  # type: ignore[attr-defined]
        params = [{"m": mention_id, "t": at} for mention_id, at in sorted(earliest.items())]
        # Conditional: the earliest reply wins, whichever process sees which first.
        session.execute(
            update(table).where(table.c.id == bindparam("m"),
                                or_(table.c.first_reply_at.is_(None),
                                    table.c.first_reply_at > bindparam("t")))
            .values(first_reply_at=bindparam("t")), params)
        session.execute(
            update(table).where(table.c.id.in_(sorted(earliest)), table.c.status.in_(REPLYABLE))
            .values(status="replied"))

    def _flag_templates(self, session: Session, new_rows: list[tuple[int, dict[str, Any]]],
                        now: datetime) -> list[tuple[int, dict[str, Any], int]]:
        """(reply id, row, matches) of the new replies that are templates.

        Each new reply is compared with the brand's replies of the last
        ``template_window`` (newest ``template_candidates``, by the brand+time index),
        the batch's own new replies included and replies to the same mention excluded.
        The older replies it matches gain a match too (and become templates at K).
        """
        if self.store.dialect == "postgresql":
            # Two daemons flagging at once would each miss the other's new replies.
            session.execute(text("SELECT pg_advisory_xact_lock(hashtext('rm-replies'))"))
        settings = self.settings
        by_brand: dict[str | None, list[tuple[int, dict[str, Any]]]] = {}
        for reply_id, row in new_rows:
            by_brand.setdefault(row["brand"], []).append((reply_id, row))
        new_ids = {reply_id for reply_id, _row in new_rows}
        flagged: list[tuple[int, dict[str, Any], int]] = []
        updates: list[dict[str, Any]] = []
        older_matches: dict[int, int] = {}
        for brand, group in by_brand.items():
            brand_filter = col(PublicReply.brand) == brand if brand is not None \
                else col(PublicReply.brand).is_(None)
            stored = session.execute(
                select(col(PublicReply.id), col(PublicReply.mention_id),
                       col(PublicReply.normalized))
                .where(brand_filter,
                       col(PublicReply.replied_at) >= now - settings.template_window)
                .order_by(col(PublicReply.replied_at).desc())
                .limit(settings.template_candidates)).all()
            known = {row.id for row in stored}
            extra = [(reply_id, row["mention_id"], row["normalized"]) for reply_id, row in group
                     if reply_id not in known]
            pool = [(Candidate.of(other_id, normalized), mention_id) for other_id, mention_id,
                    normalized in [(row.id, row.mention_id, row.normalized) for row in stored]
                    + extra]
            for reply_id, row in group:
                candidates = [candidate for candidate, mention_id in pool
                              if candidate.key != reply_id and mention_id != row["mention_id"]]
                matches = near_identical(row["normalized"], candidates,
                                         settings.template_similarity)
                template = is_template(len(matches), settings.template_min_matches)
                updates.append({"r": reply_id, "n": len(matches), "t": template})
                if template:
                    flagged.append((reply_id, row, len(matches)))
                for other in matches:
                    if other not in new_ids:
                        older_matches[other] = older_matches.get(other, 0) + 1
        table: Any = PublicReply.__table__  # type: ignore[attr-defined]
        if updates:
            session.execute(update(table).where(table.c.id == bindparam("r"))
                            .values(template_matches=bindparam("n"), is_template=bindparam("t")),
                            updates)
        if older_matches:
            session.execute(
                update(table).where(table.c.id == bindparam("r"))
                .values(template_matches=table.c.template_matches + bindparam("n")),
                [{"r": reply_id, "n": count} for reply_id, count in sorted(older_matches.items())])
            session.execute(
                update(table).where(table.c.id.in_(sorted(older_matches)),
                                    table.c.template_matches >= settings.template_min_matches)
                .values(is_template=True))
        return flagged

    def _template_alerts(self, flagged: list[tuple[int, dict[str, Any], int]],
                         now: datetime) -> list[dict[str, Any]]:
        if not flagged:
            return []
        destination = self.template_channel.resolve(now)
        if destination is None:
            return []
        channel, recipient = destination
        alerts = []
        for reply_id, row, matches in flagged:
            key = f"rm-tpl{reply_id}-{channel}"
            brand = self.brand_names.get(row["brand"] or "", row["brand"] or "")
            excerpt = row["body"] if len(row["body"]) <= 400 else row["body"][:399] + "…"
            alerts.append({
                "mention_id": row["mention_id"], "channel": channel, "idempotency_key": key,
                "status": "pending", "purpose": "template_reply",
                "title": f"[template reply] {brand}: a public reply matches {matches} others",
                "body": (f"A public reply for {brand} is near-identical to {matches} other "
                         f"replies: customers see a copy-paste answer.\n"
                         f"By: {row['author'] or 'unknown'} ({row['detected_by']})\n"
                         f"{excerpt}\nref: {key}"),
                "attempts": 0, "next_attempt_at": now, "created_at": now,
                "recipient": recipient,
            })
        return alerts


def time_to_first_reply(mention: Mention) -> float | None:
    """Seconds from the post (or our first sight of it) to the company's first public
    reply; None while unanswered."""
    if mention.first_reply_at is None:
        return None
    start = mention.published_at or mention.first_seen_at
    return max(0.0, (mention.first_reply_at - start).total_seconds())
