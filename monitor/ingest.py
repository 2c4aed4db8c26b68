"""MentionItems in, stored mentions and outbox rows out: one transaction per batch.

normalise → dedupe → match brand → classify → store → alert rows. A mention is
committed together with its alerts, before anything is sent about it, so a
crash leaves either nothing or both.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlmodel import col

from monitor.config import CONSOLE_CHANNEL, Config
from monitor.core.classify import Classifier, Document, Kind, Severity, Verdict
from monitor.core.dedupe import canonical_url, content_hash, dedupe_key
from monitor.core.routing import Rule, match_brand, route
from monitor.notify.render import alert_body, alert_title
from monitor.store import Alert, Mention, Store
from spiders.items import MentionItem, to_utc

log = logging.getLogger(__name__)

_MAX_TEXT = 20_000


@dataclass
class IngestResult:
    new: int = 0
    seen_again: int = 0
    alerts: int = 0
    new_keys: list[str] = field(default_factory=list)
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


@dataclass
class _Prepared:
    key: str
    item: MentionItem
    canonical: str | None
    digest: str


class Ingestor:
    """Holds what ingest needs from the config, computed once."""

    def __init__(self, store: Store, config: Config,
                 classifiers: Mapping[str | None, Classifier]) -> None:
        self.store = store
        self.classifiers = classifiers
        self.spiders = {source.id: source.spider for source in config.sources}
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

    def ingest(self, items: Sequence[MentionItem], now: datetime) -> IngestResult:
        prepared: dict[str, _Prepared] = {}
        for item in items:
            entry = _prepare(item)
            prepared[entry.key] = entry  # the latest sighting in a batch wins
        result = IngestResult()
        if not prepared:
            return result
        keys = list(prepared)
        with self.store.session() as session:
            existing: set[str] = set()
            for chunk in _chunks(keys, 500):
                existing.update(
                    session.scalars(select(col(Mention.dedupe_key)).where(
                        col(Mention.dedupe_key).in_(chunk)))
                )
            for chunk in _chunks(sorted(existing), 500):
                session.execute(
                    update(Mention).where(col(Mention.dedupe_key).in_(chunk))
                    .values(last_seen_at=now)
                )
            result.seen_again = len(existing)
            for key in existing:
                result.count(prepared[key].item.source_id, seen_again=1)
            rows: list[dict[str, Any]] = []
            verdicts: dict[str, tuple[str | None, Verdict]] = {}
            for key in keys:
                if key in existing:
                    continue
                entry = prepared[key]
                brand, verdict = self._decide(entry.item)
                verdicts[key] = (brand, verdict)
                rows.append(self._mention_row(entry, brand, verdict, now))
            inserted: dict[str, int] = {}
            if rows:
                table = Mention.__table__.c  # type: ignore[attr-defined]
                statement = self.store.insert_ignore(Mention).returning(table.id,
                                                                        table.dedupe_key)
                for mention_id, key in session.execute(statement, rows):
                    inserted[key] = mention_id
            # Another process may have stored some of these keys first: they are seen again.
            result.seen_again += len(rows) - len(inserted)
            for row in rows:
                key = row["dedupe_key"]
                result.count(row["source_id"], new=int(key in inserted),
                             seen_again=int(key not in inserted))
            result.new = len(inserted)
            result.new_keys = list(inserted)
            alerts: list[dict[str, Any]] = []
            for key, mention_id in inserted.items():
                brand, verdict = verdicts[key]
                item = prepared[key].item
                rows_for_mention = self._alert_rows(item, mention_id, brand, verdict, now)
                result.count(item.source_id, alerts=len(rows_for_mention))
                alerts.extend(rows_for_mention)
            if alerts:
                session.execute(self.store.insert_ignore(Alert), alerts)
            result.alerts = len(alerts)
        return result

    def _decide(self, item: MentionItem) -> tuple[str | None, Verdict]:
        brand = match_brand(
            f"{item.title or ''}\n{item.body}", self.source_brands.get(item.source_id),
            self.keywords,
        )
        site = self.spiders.get(item.source_id, "")
        if brand is not None and item.author and \
                item.author.casefold() in self.own_accounts.get((brand, site), ()):
            return brand, Verdict(Kind.OTHER, Severity.LOW, ("posted by the brand's own account",),
                                  0.0, item.language)
        classifier = self.classifiers.get(brand) or self.classifiers[None]
        verdict = classifier.classify(
            Document(
                text=item.body, title=item.title, rating=item.rating,
                rating_max=item.rating_max, language=item.language,
                engagement=item.engagement, author=item.author,
            )
        )
        return brand, verdict

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
            "company_replies": [
                {"text": reply.text, "author": reply.author,
                 "published": reply.published.isoformat() if reply.published else None}
                for reply in item.company_replies
            ] or None,
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
                    verdict: Verdict, now: datetime) -> list[dict[str, Any]]:
        if item.removed:
            return []
        channels = route(self.rules, self.default_channels, brand, item.source_id,
                         verdict.kind, verdict.severity, self.first_only)
        rows = []
        brand_name = self.brand_names.get(brand or "", brand or "")
        for channel in channels:
            key = f"rm-m{mention_id}-{channel}"
            rows.append({
                "mention_id": mention_id,
                "channel": channel,
                "idempotency_key": key,
                "status": "pending",
                "purpose": "mention",
                "title": alert_title(brand_name, item.source_id, verdict, item),
                "body": alert_body(brand_name, item.source_id, verdict, item, key),
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            })
        return rows


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
