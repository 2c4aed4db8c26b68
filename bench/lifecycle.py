"""Lifecycle at scale (not a test): ingest rate on an empty store and with 1,000,000
mentions already stored, on SQLite and on PostgreSQL. Prints one JSON object.

    .venv/bin/python bench/lifecycle.py [--stored 1000000] [--items 25000] [--pg URL]

Per store, in its own process:

1. migrate a new store (SQLite file in a temp dir; a new PostgreSQL database beside
   ``--pg``, dropped at the end);
2. on the empty store: ingest ``--items`` fresh mentions (the *seed*, fresh only), then
   the *mixed* workload of ``--items`` mentions: 50% already stored (the seen-again
   path: sightings, a few edits and removals), 10% follow-ups from authors with a
   recent thread, 3% copies of stored reviews through another source (Google Alerts
   links: merged by canonical URL), the rest fresh. ANALYZE between the two, as
   autovacuum would have by then (without statistics PostgreSQL plans the lookups of
   the mixed run as on an empty table);
3. bulk-load ``--stored`` mentions straight into the tables (executemany / COPY):
   225 sources of 9 spiders (2% of mentions, ``--page-url-share``, from product pages
   whose reviews all carry the page URL), authors and threads (~10% of mentions in a
   thread),
   canonical URLs, content hashes, one sighting each, sent alerts for complaints,
   first seen over 90 days; then ANALYZE (PostgreSQL: VACUUM ANALYZE and CHECKPOINT,
   what autovacuum would have done by then);
4. on the full store: the fresh-only and the mixed workload again (new items, seen
   again ones drawn from the bulk-loaded mentions, follow-ups to its recent threads),
   then the mixed workload once more without a language on the items;
5. EXPLAIN (QUERY PLAN) of every SELECT and UPDATE one ingest batch sends, captured
   as sent, with the number of rows each returned.

Each workload reports its rate and a breakdown: inclusive seconds of ingest's steps
(dedupe lookups, classification, threads, incidents...), seconds in the database by
statement, commits, and rows found per lookup. ``--profile PREFIX`` writes a cProfile
of each workload instead (slower: its rates are then not the rates).

Everything goes through the real ``Ingestor.ingest(items, now)`` in batches of 500, as
the crawl adapter sends them. The items state their language (as feeds and most review
sites do), so the classifier skips language detection and the figures are those of
ingest itself; the last run on the full store leaves the language out to show the cost
of detection.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import random
import re
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.core.dedupe import canonical_url, content_hash, dedupe_key  # noqa: E402
from spiders.items import MentionItem  # noqa: E402

BATCH = 500
CHANNEL = "oncall"
# The store's history ends here; the empty-store phase runs 92 days before it (a store
# that started empty and filled up over three months).
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
HISTORY = timedelta(days=90)
EMPTY_NOW = NOW - timedelta(days=92)
# spider -> (sources, share of all mentions)
SOURCE_MIX: dict[str, tuple[int, float]] = {
    "trustpilot": (50, 0.25), "appstore": (25, 0.12), "googleplay": (25, 0.12),
    "yelp": (15, 0.05), "reddit": (30, 0.20), "mastodon": (20, 0.08),
    "hackernews": (5, 0.03), "feed": (45, 0.13), "jsonld": (10, 0.02),
}
RATED = {"trustpilot", "appstore", "googleplay", "yelp", "jsonld"}
NO_BRAND = {"feed", "hackernews"}  # brand by keyword in the text
FIRST_NAMES = ("anna", "ben", "carla", "dmitri", "eva", "farid", "greta", "hiro", "ines",
               "jonas", "kari", "lena", "marek", "nora", "olga", "pavel", "rosa", "sven",
               "tomas", "ulla")
AUTHORS = 300_000
SEVERE = {"normal", "high", "critical"}

MENTION_COLUMNS = (
    "id", "dedupe_key", "source_id", "spider", "brand", "external_id", "url",
    "canonical_url", "content_hash", "author", "title", "body", "rating", "rating_max",
    "published_at", "site_updated_at", "language", "reply_to", "engagement",
    "company_replies", "removed", "extra", "kind", "severity", "reasons", "score",
    "first_seen_at", "last_seen_at", "removed_at", "author_key", "thread_id",
    "thread_position", "revisions",
)
THREAD_COLUMNS = ("id", "brand", "author_key", "started_at", "last_message_at", "messages")
SIGHTING_COLUMNS = ("mention_id", "source_id", "url", "first_seen_at", "last_seen_at",
                    "times_seen")
ALERT_COLUMNS = ("mention_id", "channel", "idempotency_key", "status", "purpose", "title",
                 "body", "attempts", "next_attempt_at", "created_at", "sent_at")


# -- what the sites say ------------------------------------------------------------------

def load_corpus() -> list[dict[str, Any]]:
    """The project's labelled posts (eight languages): bodies, kinds and severities."""
    rows = []
    for path in sorted((ROOT / "eval" / "classification").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rows.append(json.loads(line))
    return rows


class Sources:
    def __init__(self, page_share: float = SOURCE_MIX["jsonld"][1]) -> None:
        self.by_spider: dict[str, list[str]] = {}
        self.spider_of: dict[str, str] = {}
        mix = {**SOURCE_MIX, "jsonld": (SOURCE_MIX["jsonld"][0], page_share)}
        for spider, (count, _share) in mix.items():
            ids = [f"{spider}-{index:02d}" for index in range(count)]
            self.by_spider[spider] = ids
            self.spider_of.update(dict.fromkeys(ids, spider))
        self.spiders = list(mix)
        self.weights = [share for _count, share in mix.values()]

    def config(self, store_url: str) -> Any:
        from monitor.config import parse_config

        raw = {
            "store": {"url": store_url},
            "brands": {"acme": {"name": "Acme", "keywords": ["acme"],
                                "accounts": {"reddit": ["acme_support"],
                                             "mastodon": ["acme"]}}},
            "sources": [{"id": source_id, "spider": spider,
                         "url": f"https://{spider}.example.com/{source_id}",
                         **({} if spider in NO_BRAND else {"brand": "acme"})}
                        for source_id, spider in self.spider_of.items()],
            "channels": {CHANNEL: {"urls": ["json://127.0.0.1:9/none"]}},
        }
        return parse_config(raw, Path(tempfile.gettempdir()) / "bench-lifecycle.toml")


class Generator:
    """Plausible MentionItem fields, every one unique (a counter in ids and text)."""

    def __init__(self, seed: int, start: int, page_share: float) -> None:
        self.rng = random.Random(seed)
        self.counter = start
        self.pool = Pool()  # what the bulk load kept for the workloads
        self.last_label: dict[str, Any] = {}
        self.sources = Sources(page_share)
        self.corpus = load_corpus()
        self.by_language: dict[str, list[dict[str, Any]]] = {}
        for row in self.corpus:
            self.by_language.setdefault(row["expected_language"], []).append(row)
        self.vocabulary = {
            language: sorted({word for row in rows for word in re.findall(r"\w{3,}", row["text"])})
            for language, rows in self.by_language.items()}

    def spider(self) -> str:
        return self.rng.choices(self.sources.spiders, self.sources.weights)[0]

    def author(self) -> str | None:
        if self.rng.random() < 0.05:
            return None
        return f"{self.rng.choice(FIRST_NAMES)}{self.rng.randrange(AUTHORS)}"

    def text(self) -> tuple[dict[str, Any], str]:
        """A post (its label) and a body: the post, sometimes another in its language,
        and 6-16 words of that language's vocabulary, so that two bodies are no more
        alike than two customers' complaints (near-duplicates fold numbers: a counter
        alone would make every reuse of a post a near-duplicate), plus a counter."""
        rng = self.rng
        first = rng.choice(self.corpus)
        language = first["expected_language"]
        parts = [first["text"]]
        if rng.random() < 0.3:
            parts.append(rng.choice(self.by_language[language])["text"])
        words = self.vocabulary[language]
        parts.append(" ".join(rng.choice(words) for _ in range(rng.randint(6, 16))))
        return first, f"{' '.join(parts)}. #{self.counter}"

    def item(self, source_id: str | None = None, author: str | None | bool = False,
             when: datetime = NOW, target: str | None = None) -> dict[str, Any]:
        """MentionItem fields. ``author`` False: a random one; ``target``: a feed entry
        whose Google Alerts link points at this URL."""
        rng = self.rng
        self.counter += 1
        n = self.counter
        if source_id is None:
            source_id = rng.choice(self.sources.by_spider["feed" if target else self.spider()])
        spider = self.sources.spider_of[source_id]
        label, body = self.text()
        self.last_label = label  # the stored verdict of a bulk-loaded mention
        who = self.author() if author is False else author
        title: str | None = None
        rating: float | None = None
        engagement: dict[str, int] = {}
        if spider == "trustpilot":
            external_id = f"{n:024x}"
            url = f"https://www.trustpilot.com/reviews/{external_id}"
        elif spider == "appstore":
            external_id = str(10_000_000_000 + n)
            url = f"https://apps.apple.com/us/review?id=1{source_id[-2:]}0001&reviewId={n}"
        elif spider == "googleplay":
            external_id = f"gp:AOqpTO{n:x}"
            url = f"https://play.google.com/store/apps/details?id=com.acme.app&reviewId={external_id}"
        elif spider == "yelp":
            external_id = f"y{n:x}"
            url = f"https://www.yelp.com/biz/acme-{source_id}?hrid={external_id}"
        elif spider == "reddit":
            external_id = f"t3_{n:x}"
            url = f"https://old.reddit.com/r/acme/comments/{n:x}/post/?utm_source=share"
            engagement = {"score": rng.randrange(200), "comments": rng.randrange(40)}
        elif spider == "mastodon":
            external_id = str(110_000_000_000_000 + n)
            url = f"https://mastodon.social/@{who or 'someone'}/{external_id}"
            engagement = {"boosts": rng.randrange(20), "favourites": rng.randrange(50)}
        elif spider == "hackernews":
            external_id = str(40_000_000 + n)
            url = f"https://news.ycombinator.com/item?id={external_id}"
            engagement = {"points": rng.randrange(300)}
        elif spider == "feed":
            external_id = f"tag:google.com,2013:googlealerts/feed:{n}"
            page = target or f"https://news{n % 500}.example.com/2026/acme-{n:x}?utm_medium=rss"
            url = (f"https://www.google.com/url?rct=j&sa=t&url={quote(page, safe='')}"
                   f"&ct=ga&cd=CAIyGj{n:x}&usg=AOvVaw{n:x}")
            if author is False and rng.random() < 0.7:
                who = None  # news articles: mostly no author
        else:  # jsonld: every review on a product page carries the page's URL
            external_id = f"jl-{n:x}"
            url = f"https://shop{source_id[-2:]}.example.com/products/acme-widget"
        if spider in RATED:
            stars = {"complaint": (1, 2), "question": (2, 4), "praise": (4, 5),
                     "other": (3, 5)}[label["label"]]
            rating = float(rng.randint(*stars))
        if spider not in ("mastodon", "hackernews") and rng.random() < 0.8:
            title = " ".join(label["text"].split()[:6]).strip() or None
        return {
            "source_id": source_id, "external_id": external_id, "url": url, "author": who,
            "title": title, "body": body, "rating": rating,
            "published": when - timedelta(minutes=rng.randrange(1, 2880)),
            "language": label["expected_language"], "engagement": engagement,
        }


def to_item(fields: dict[str, Any], language: bool) -> MentionItem:
    item = MentionItem(**fields)
    item.engagement = dict(fields["engagement"])
    if not language:
        item.language = None
    return item


# -- the workload ------------------------------------------------------------------------

class Pool:
    """What a workload may send again: stored items and authors with a recent thread."""

    def __init__(self) -> None:
        self.stored: list[dict[str, Any]] = []
        self.reviews: list[dict[str, Any]] = []  # trustpilot: copies come via Google Alerts
        self.thread_authors: list[tuple[str, str]] = []

    def keep(self, fields: dict[str, Any], spider: str) -> None:
        self.stored.append(fields)
        if spider == "trustpilot":
            self.reviews.append(fields)


def workload(gen: Generator, pool: Pool, count: int, when: datetime, language: bool,
             mixed: bool) -> tuple[list[list[MentionItem]], dict[str, int]]:
    rng = gen.rng
    items: list[MentionItem] = []
    shape = {"seen_again": 0, "edited": 0, "removed": 0, "follow_ups": 0,
             "other_source_copies": 0, "fresh": 0}
    if mixed:
        for fields in rng.sample(pool.stored, min(len(pool.stored), count // 2)):
            item = to_item(fields, language)
            roll = rng.random()
            if roll < 0.03:  # edited on the site: for the worse
                _label, item.body = gen.text()
                item.rating = 1.0 if item.rating is not None else None
                shape["edited"] += 1
            elif roll < 0.04:
                item.removed = True
                shape["removed"] += 1
            items.append(item)
            shape["seen_again"] += 1
        authors = pool.thread_authors
        for source_id, author in (rng.sample(authors, min(len(authors), count // 10))):
            items.append(to_item(gen.item(source_id, author, when), language))
            shape["follow_ups"] += 1
        for fields in rng.sample(pool.reviews, min(len(pool.reviews), count * 3 // 100)):
            items.append(to_item(gen.item(target=fields["url"], when=when), language))
            shape["other_source_copies"] += 1
    while len(items) < count:
        items.append(to_item(gen.item(when=when), language))
        shape["fresh"] += 1
    rng.shuffle(items)
    return [items[start:start + BATCH] for start in range(0, len(items), BATCH)], shape


# Steps of ingest timed by the breakdown, inclusive ("where:name"; missing ones are
# skipped): functions of monitor.ingest / monitor.incidents, methods of the ingestor
# and of its incidents.
STEPS = {
    "ingest:_prepare": "prepare (canonical URL, content hash)",
    "ingestor:_known": "known (lookup by dedupe_key)",
    "ingestor:_same_post_elsewhere": "same post elsewhere (lookup by canonical_url)",
    "ingestor:_seen_again": "seen again (sightings, edits, removals)",
    "ingestor:_decide_many": "classify (brand, classifier; also inside edits)",
    "ingestor:_thread": "threads (lookup, create, follow-ups)",
    "ingestor:_alert_rows": "alert rows (routing, rendering)",
    "incidents:assign": "incidents (all of it)",
    "incidents:_recent": "incidents: recent complaints (query, signatures)",
    "incidents_module:decide": "incidents: decide (per complaint)",
}


# Steps whose result's size is reported (rows found per call).
SIZED = ("ingestor:_known", "ingestor:_same_post_elsewhere", "incidents:_recent")


class Breakdown:
    """Where one workload's time goes: inclusive time of ingest's steps (wrapped by
    name), of every statement by verb and table, and of commits. Costs a few µs per
    call, the same in every phase."""

    def __init__(self, app: Any) -> None:
        from sqlalchemy import event

        import monitor.ingest as ingest_module

        self.app, self.module, self.event = app, ingest_module, event
        self.steps: dict[str, float] = {}
        self.sizes: dict[str, list[int]] = {}
        self.sql: dict[str, float] = {}
        self.statements = 0
        self.kinds: dict[str, str] = {}
        self.restore: list[Callable[[], None]] = []

    def _timed(self, label: str, function: Callable[..., Any],
               sized: bool = False) -> Callable[..., Any]:
        steps, sizes = self.steps, self.sizes

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                result = function(*args, **kwargs)
            finally:
                steps[label] = steps.get(label, 0.0) + time.perf_counter() - started
            if sized:
                sizes.setdefault(label, []).append(len(result))
            return result
        return timed

    def _kind(self, statement: str) -> str:
        kind = self.kinds.get(statement)
        if kind is None:
            verb = statement.split(None, 1)[0].upper()
            found = re.search(r"\bFROM (\w+)" if verb == "SELECT" else
                              r"^\s*(?:INSERT INTO|UPDATE|DELETE FROM) (\w+)", statement)
            kind = self.kinds[statement] = f"{verb} {found.group(1) if found else '?'}"
        return kind

    def __enter__(self) -> Breakdown:
        # Imported by ingest where it exists (older commits have no incidents).
        incidents_module = sys.modules.get("monitor.incidents")
        targets = {"ingest": self.module, "incidents_module": incidents_module,
                   "ingestor": self.app.ingestor,
                   "incidents": getattr(self.app.ingestor, "incidents", None)}
        for step, label in STEPS.items():
            where, name = step.split(":")
            target = targets[where]
            if target is None or not hasattr(target, name):
                continue
            original = getattr(target, name)
            setattr(target, name, self._timed(label, original, step in SIZED))
            if where.endswith("module") or where == "ingest":
                self.restore.append(lambda t=target, n=name, o=original: setattr(t, n, o))
            else:
                self.restore.append(lambda t=target, n=name: delattr(t, n))
        dialect = self.app.store.engine.dialect
        dialect.do_commit = self._timed("commit", dialect.do_commit)
        self.restore.append(lambda: delattr(dialect, "do_commit"))
        engine = self.app.store.engine
        self.event.listen(engine, "before_cursor_execute", self._before)
        self.event.listen(engine, "after_cursor_execute", self._after)
        self.restore.append(lambda: self.event.remove(engine, "before_cursor_execute",
                                                      self._before))
        self.restore.append(lambda: self.event.remove(engine, "after_cursor_execute",
                                                      self._after))
        return self

    def _before(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
                executemany: bool) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def _after(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
               executemany: bool) -> None:
        kind = self._kind(statement)
        spent = time.perf_counter() - conn.info.pop("bench_started", time.perf_counter())
        self.sql[kind] = self.sql.get(kind, 0.0) + spent
        self.statements += 1

    def __exit__(self, *exc: object) -> None:
        for undo in reversed(self.restore):
            undo()

    def report(self) -> dict[str, Any]:
        return {
            "steps_s": {label: round(self.steps[label], 2) for label in
                        [*STEPS.values(), "commit"] if label in self.steps},
            "rows_per_call": {label: round(sum(found) / len(found)) for label, found
                              in self.sizes.items() if found},
            "sql_s_note": "time in cursor.execute; fetching rows is in the steps",
            "sql_s": {kind: round(spent, 2) for kind, spent in
                      sorted(self.sql.items(), key=lambda pair: -pair[1]) if spent >= 0.01},
            "sql_total_s": round(sum(self.sql.values()), 2),
            "statements": self.statements,
        }


def run_workload(app: Any, batches: list[list[MentionItem]], when: datetime,
                 profile: str | None = None) -> dict[str, Any]:
    """Ingest the batches, timed, with a breakdown; ``profile``: cProfile them into this
    file instead (much slower: the rate is then not the rate)."""
    new = seen = alerts = 0
    profiler = cProfile.Profile() if profile else None
    with Breakdown(app) as breakdown:
        if profiler is not None:
            profiler.enable()
        cpu_started = _process_cpu_s()
        started = time.perf_counter()
        for index, batch in enumerate(batches):
            result = app.ingestor.ingest(batch, when + timedelta(seconds=index))
            new, seen = new + result.new, seen + result.seen_again
            alerts += result.alerts
        elapsed = time.perf_counter() - started
        cpu = _process_cpu_s() - cpu_started
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile)
    items = sum(len(batch) for batch in batches)
    return {"items": items, "batches": len(batches), "seconds": round(elapsed, 2),
            "mentions_per_s": round(items / elapsed), "new": new, "seen_again": seen,
            "alerts": alerts,
            # CPU time of this process (all its threads; not the PostgreSQL server's) per
            # mention: what no scheduling can hide, only spread over cores.
            "process_cpu_s": round(cpu, 2), "cpu_us_per_mention": round(1e6 * cpu / items),
            "breakdown": breakdown.report()}


def _process_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def seed_pool(gen: Generator, batches: list[list[MentionItem]], when: datetime) -> Pool:
    """The pool of an empty store after the seed: every seed item, their authors' threads."""
    pool = Pool()
    for batch in batches:
        for item in batch:
            fields = {key: getattr(item, key) for key in (
                "source_id", "external_id", "url", "author", "title", "body", "rating",
                "published", "language", "engagement")}
            spider = gen.sources.spider_of[item.source_id]
            pool.keep(fields, spider)
            if item.author:
                pool.thread_authors.append((item.source_id, item.author))
    pool.thread_authors = sorted(set(pool.thread_authors))
    return pool


# -- bulk load ---------------------------------------------------------------------------

def history(gen: Generator, stored: int, first_id: int, first_thread: int,
            keep: int) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """(table, row) for ``stored`` mentions first seen over the 90 days before NOW;
    about 10% in threads of 1-3 messages. Samples ``keep`` items into ``gen.pool``."""
    rng = gen.rng
    pool = gen.pool
    keep_share = min(1.0, keep / max(stored, 1))
    recent = NOW - timedelta(days=6)
    mention_id, thread_id = first_id, first_thread
    made = 0
    while made < stored:
        if rng.random() < 0.05:
            spider = gen.spider()
            source_id = rng.choice(gen.sources.by_spider[spider])
            author = f"{rng.choice(FIRST_NAMES)}{rng.randrange(AUTHORS)}"
            size = min(rng.randint(1, 3), stored - made)
            start = NOW - HISTORY + (HISTORY - timedelta(days=3)) * rng.random()
            times = [start]
            for _ in range(size - 1):
                times.append(times[-1] + timedelta(hours=rng.uniform(1, 30)))
            thread = (thread_id, mention_id, source_id, author, times)
            thread_id += 1
        else:
            spider = gen.spider()
            thread = None
            times = [NOW - HISTORY * rng.random()]
        if thread is not None:  # before its mentions: they refer to it
            key = f"{spider}:{thread[3]}"
            yield "thread", (thread[0], None if spider in NO_BRAND else "acme", key,
                             times[0], times[-1], len(times))
            if times[-1] >= recent:
                pool.thread_authors.append((thread[2], thread[3]))
        for position, when in enumerate(times, 1):
            fields = gen.item(when=when) if thread is None else \
                gen.item(thread[2], thread[3], when)
            row = stored_row(gen, fields, mention_id, when,
                             (thread[0], position) if thread else None)
            yield "mention", row
            yield "mention_sighting", (mention_id, fields["source_id"], fields["url"], when,
                                       when, 1)
            kind, severity, brand = row[22], row[23], row[4]
            if brand and kind in ("complaint", "question") and severity in SEVERE:
                text = fields["body"][:200]
                yield "alert", (mention_id, CHANNEL, f"rm-m{mention_id}-{CHANNEL}", "sent",
                                "mention", f"Acme: {kind} on {fields['source_id']}", text, 1,
                                when, when, when + timedelta(seconds=20))
            if rng.random() < keep_share:
                pool.keep(fields, gen.sources.spider_of[fields["source_id"]])
            mention_id += 1
            made += 1


def stored_row(gen: Generator, fields: dict[str, Any], mention_id: int, when: datetime,
               thread: tuple[int, int] | None) -> tuple[Any, ...]:
    rng = gen.rng
    spider = gen.sources.spider_of[fields["source_id"]]
    canonical = canonical_url(fields["url"])
    digest = content_hash(fields["title"], fields["body"])
    kind, severity = gen.last_label["label"], gen.last_label.get("severity") or "normal"
    brand = None if spider in NO_BRAND and "acme" not in fields["body"].casefold() \
        else "acme"
    author = fields["author"]
    replies = None
    if rng.random() < 0.05:
        replies = [{"text": "Sorry to hear that, we have sent you a message.",
                    "author": "Acme", "published": (when + timedelta(hours=3)).isoformat()}]
    return (
        mention_id, dedupe_key(fields["source_id"], fields["external_id"], canonical, digest),
        fields["source_id"], spider, brand, fields["external_id"], fields["url"], canonical,
        digest, author, fields["title"], fields["body"], fields["rating"],
        5.0 if fields["rating"] is not None else None, fields["published"], None,
        fields["language"], None, fields["engagement"] or None, replies, False, None,
        kind, severity, [f"{kind} words"], round(rng.random(), 3), when, when, None,
        f"{spider}:{author.casefold()}"[:300] if author else None,
        thread[0] if thread else None, thread[1] if thread else None, 0,
    )


def bulk_load(store_url: str, dialect: str, rows: Iterator[tuple[str, tuple[Any, ...]]],
              chunk: int = 20_000) -> float:
    columns = {"mention": MENTION_COLUMNS, "thread": THREAD_COLUMNS,
               "mention_sighting": SIGHTING_COLUMNS, "alert": ALERT_COLUMNS}
    started = time.perf_counter()
    buffers: dict[str, list[tuple[Any, ...]]] = {table: [] for table in columns}
    # Threads first (mentions refer to them): flush order thread, mention, the rest.
    order = ("thread", "mention", "mention_sighting", "alert")
    if dialect == "sqlite":
        path = store_url.removeprefix("sqlite:///")
        connection = sqlite3.connect(path)
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("PRAGMA cache_size=-262144")
        statements = {table: f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
                             f"({', '.join('?' * len(cols))})" for table, cols in columns.items()}

        def flush() -> None:
            for table in order:
                if buffers[table]:
                    connection.executemany(statements[table],
                                           [tuple(map(_sqlite_value, row))
                                            for row in buffers[table]])
                    buffers[table].clear()

        for table, row in rows:
            buffers[table].append(row)
            if len(buffers["mention"]) >= chunk:
                flush()
        flush()
        connection.commit()
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.close()
    else:
        import psycopg

        with psycopg.connect(_plain(store_url)) as connection:
            def flush_pg() -> None:
                with connection.cursor() as cursor:
                    for table in order:
                        if buffers[table]:
                            with cursor.copy(f"COPY {table} ({', '.join(columns[table])}) "
                                             "FROM STDIN") as copy:
                                for row in buffers[table]:
                                    copy.write_row(tuple(map(_pg_value, row)))
                            buffers[table].clear()

            for table, row in rows:
                buffers[table].append(row)
                if len(buffers["mention"]) >= chunk:
                    flush_pg()
            flush_pg()
            for table in ("mention", "thread", "mention_sighting", "alert"):
                connection.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                   f"(SELECT max(id) FROM {table}))")
            connection.commit()
    return time.perf_counter() - started


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):  # as SQLAlchemy's SQLite DateTime stores it
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


def _pg_value(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, dict | list) else value


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg", "postgresql")


def analyze(store_url: str, dialect: str) -> float:
    started = time.perf_counter()
    if dialect == "sqlite":
        connection = sqlite3.connect(store_url.removeprefix("sqlite:///"))
        connection.execute("ANALYZE")
        connection.commit()
        connection.close()
    else:
        import psycopg

        with psycopg.connect(_plain(store_url), autocommit=True) as connection:
            connection.execute("VACUUM ANALYZE")
            connection.execute("CHECKPOINT")
    return time.perf_counter() - started


def counts(app: Any) -> dict[str, int]:
    from sqlalchemy import inspect, text

    with app.store.engine.connect() as connection:
        present = set(inspect(connection).get_table_names())
        return {table: int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar()
                           or 0) for table in ("mention", "mention_sighting", "mention_revision",
                                               "thread", "alert", "incident")
                if table in present}


# -- plans -------------------------------------------------------------------------------

LOOKUPS: dict[str, re.Pattern[str]] = {
    "mention by dedupe_key IN": re.compile(r"FROM mention\s+WHERE mention\.dedupe_key IN"),
    "mention by canonical_url IN": re.compile(r"FROM mention\s+WHERE mention\.canonical_url IN"),
    "thread by author_key IN, last_message_at >=":
        re.compile(r"FROM thread\s+WHERE thread\.author_key IN .* thread\.last_message_at >="),
    "mention by thread_id IN": re.compile(r"FROM mention\s+WHERE mention\.thread_id IN"),
    "recent complaints by brand, first_seen_at >=, kind (incidents)": re.compile(
        r"FROM mention\s+WHERE mention\.brand = .* mention\.first_seen_at >= .* mention\.kind ="),
}


def plans(app: Any, run: Callable[[], None]) -> list[dict[str, Any]]:
    """The plan of every SELECT and UPDATE ``run`` sends, one per statement shape (IN
    lists folded), named lookups first. Each is explained as sent (expanded IN list,
    bound values), on the same connection just before it runs, and counted there: the
    rows it found in the state the ingest saw."""
    from sqlalchemy import event

    dialect = app.store.dialect
    prefix = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN "
    shapes: dict[str, dict[str, Any]] = {}

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
               executemany: bool) -> None:
        verb = statement.lstrip()[:6].upper()
        if verb not in ("SELECT", "UPDATE"):
            return
        params = parameters[0] if executemany and parameters else parameters
        shape = re.sub(r"\s+", " ", re.sub(r"IN \([^)]*\)", "IN (...)", statement)).strip()
        probe = cursor.connection.cursor()
        entry = shapes.get(shape)
        if entry is None:
            probe.execute(prefix + statement, params)
            lines = [row[3] if dialect == "sqlite" else row[0] for row in probe.fetchall()]
            scans = _full_scans(dialect, lines)
            entry = shapes[shape] = {
                "lookup": next((name for name, pattern in LOOKUPS.items()
                                if pattern.search(shape)), None),
                "statement": shape[:240], "times": 0, "parameters": 0, "rows_found": 0,
                "plan": lines, "uses_index": not scans and _indexed(dialect, lines),
                "full_scans": scans}
        entry["times"] += 1
        entry["parameters"] += len(re.findall(r"\?|%\([^)]+\)s", statement))
        if verb == "SELECT":
            probe.execute(statement, params)
            entry["rows_found"] += len(probe.fetchall())
        else:
            entry["rows_found"] = None
        probe.close()

    event.listen(app.store.engine, "before_cursor_execute", before)
    try:
        run()
    finally:
        event.remove(app.store.engine, "before_cursor_execute", before)
    found = list(shapes.values())
    found.sort(key=lambda plan: (plan["lookup"] is None, plan["lookup"] or ""))
    return found


def _full_scans(dialect: str, lines: list[str]) -> list[str]:
    if dialect == "sqlite":
        return [line for line in lines
                if line.startswith("SCAN ") and not line.startswith("SCAN CONSTANT")]
    return [line.strip() for line in lines if "Seq Scan on" in line]


def _indexed(dialect: str, lines: list[str]) -> bool:
    if dialect == "sqlite":
        return any(line.startswith("SEARCH ") for line in lines)
    return any("Index" in line for line in lines)


# -- one store ---------------------------------------------------------------------------

def phase(store_url: str, stored: int, count: int, seed: int, page_share: float,
          profile_path: str | None, checkpointer: bool = True,
          classifier_workers: int = 0, tuned_gc: bool = True) -> dict[str, Any]:
    from sqlalchemy import text

    from monitor.app import make_app
    from monitor.logs import setup_logging

    setup_logging("WARNING")

    def where(name: str) -> str | None:
        return f"{profile_path}.{store_url.split(':', 1)[0].split('+')[0]}.{name}" \
            if profile_path else None

    gen = Generator(seed, 0, page_share)
    config = gen.sources.config(store_url)
    config.classifier.workers = classifier_workers
    started = time.perf_counter()
    app = make_app(config, clock=lambda: NOW)
    if app.ingestor.pool is not None:
        app.ingestor.pool.wait_ready()
    if checkpointer:
        app.store.start_checkpointer()  # as review-monitor run does
    out: dict[str, Any] = {"store": app.store.dialect, "checkpoint_thread": checkpointer,
                           "tuned_gc": tuned_gc,
                           "classifier_workers": classifier_workers,
                           "migrate_s": round(time.perf_counter() - started, 2)}
    # What classifying loads on first use (the language model, lexicons): before anything
    # is timed, as review-monitor run does at start-up.
    app.warm_up()
    if tuned_gc:
        from monitor.daemon import tune_gc

        tune_gc()  # as review-monitor run does

    # 1. empty store: fresh only (the seed), then the mixed workload over the seed.
    seed_batches, shape = workload(gen, Pool(), count, EMPTY_NOW, True, mixed=False)
    empty_fresh = run_workload(app, seed_batches, EMPTY_NOW, where("empty.fresh_only"))
    pool = seed_pool(gen, seed_batches, EMPTY_NOW)
    rows_after_seed = counts(app)
    # Statistics for the planner, as autovacuum would have gathered by now (without them
    # PostgreSQL plans the lookups on a table it believes empty).
    analyze(store_url, app.store.dialect)
    batches, shape = workload(gen, pool, count, EMPTY_NOW + timedelta(hours=1), True, True)
    empty_mixed = run_workload(app, batches, EMPTY_NOW + timedelta(hours=1),
                               where("empty.mixed"))
    empty_mixed["shape"] = shape
    out["empty"] = {"rows_before_mixed": rows_after_seed, "fresh_only": empty_fresh,
                    "mixed": empty_mixed, "rows_after": counts(app)}

    # 2. bulk load, analyze.
    with app.store.engine.connect() as connection:
        first_id = int(connection.execute(text("SELECT max(id) FROM mention")).scalar() or 0) + 1
        first_thread = int(connection.execute(text("SELECT max(id) FROM thread")).scalar()
                           or 0) + 1
    app.store.engine.dispose()
    load_s = bulk_load(store_url, app.store.dialect,
                       history(gen, stored, first_id, first_thread, keep=4 * count))
    analyze_s = analyze(store_url, app.store.dialect)
    pool = gen.pool
    out["bulk_load"] = {"mentions": stored, "seconds": round(load_s, 1),
                        "analyze_s": round(analyze_s, 1), "rows": counts(app),
                        "recent_thread_authors": len(pool.thread_authors)}

    # 3. full store: fresh only, mixed, mixed without language.
    full: dict[str, Any] = {}
    batches, _shape = workload(gen, pool, count, NOW, True, mixed=False)
    full["fresh_only"] = run_workload(app, batches, NOW, where("full.fresh_only"))
    batches, shape = workload(gen, pool, count, NOW + timedelta(hours=1), True, True)
    full["mixed"] = run_workload(app, batches, NOW + timedelta(hours=1), where("full.mixed"))
    full["mixed"]["shape"] = shape
    batches, shape = workload(gen, pool, count, NOW + timedelta(hours=2), False, True)
    full["mixed_language_detection"] = run_workload(app, batches, NOW + timedelta(hours=2))
    full["mixed_language_detection"]["shape"] = shape
    full["rows_after"] = counts(app)
    out["full"] = full

    # 4. plans of what one mixed batch sends, on the full store.
    batches, _shape = workload(gen, pool, BATCH, NOW + timedelta(hours=3), True, True)
    out["plans"] = plans(app, lambda: [app.ingestor.ingest(batch, NOW + timedelta(hours=3))
                                       for batch in batches])
    rate = full["mixed"]["mentions_per_s"]
    out["targets"] = {
        "mixed_per_s_at_full": rate,
        "ge_5000_per_s": rate >= 5000,
        "slowdown_vs_empty": round(1 - rate / empty_mixed["mentions_per_s"], 3),
        "within_20_percent": rate >= 0.8 * empty_mixed["mentions_per_s"],
        "fresh_only_slowdown_vs_empty": round(
            1 - full["fresh_only"]["mentions_per_s"] / empty_fresh["mentions_per_s"], 3),
        "all_lookups_indexed": all(plan["uses_index"] for plan in out["plans"]
                                   if plan["lookup"]),
    }
    app.close()  # and the classifier workers, if any
    return out


def fresh_pg_database(admin_url: str) -> tuple[str, str]:
    import psycopg

    name = f"rm_bench_lifecycle_{os.getpid()}"
    with psycopg.connect(_plain(admin_url), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + f"/{name}", name


def drop_pg_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(_plain(admin_url), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_phase(args: argparse.Namespace, store_url: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "--phase", store_url, "--stored", str(args.stored),
               "--items", str(args.items), "--seed", str(args.seed),
               "--page-url-share", str(args.page_url_share)]
    if args.profile:
        command += ["--profile", args.profile]
    if args.writer_checkpoints:
        command += ["--writer-checkpoints"]
    if args.default_gc:
        command += ["--default-gc"]
    command += ["--classifier-workers", str(args.classifier_workers)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr.strip()
                           else f"exit {done.returncode}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stored", type=int, default=1_000_000,
                        help="mentions bulk-loaded before the second measurement")
    parser.add_argument("--items", type=int, default=25_000,
                        help="mentions per measured workload (batches of 500)")
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test",
                        help="an existing database; the benchmark creates its own beside it")
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument("--page-url-share", type=float, default=SOURCE_MIX["jsonld"][1],
                        help="share of mentions from product pages whose reviews all carry "
                             "the page URL (jsonld sources)")
    parser.add_argument("--profile", help="cProfile each workload (this slows it: the "
                                          "figures are then not the rates) into "
                                          "PROFILE.<store>.<phase>.<workload>")
    parser.add_argument("--writer-checkpoints", action="store_true",
                        help="SQLite: leave WAL checkpoints to the committing connection "
                             "(no checkpoint thread), to compare")
    parser.add_argument("--classifier-workers", type=int, default=0,
                        help="[classifier] workers (0: the default, the ingest thread only)")
    parser.add_argument("--default-gc", action="store_true",
                        help="keep CPython's garbage collector settings instead of tuning "
                             "them as review-monitor run does (monitor.daemon.tune_gc), "
                             "to compare")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.phase:
        print(json.dumps(phase(args.phase, args.stored, args.items, args.seed,
                               args.page_url_share, args.profile,
                               not args.writer_checkpoints, args.classifier_workers,
                               not args.default_gc),
                         default=str))
        return

    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    dirty = bool(subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "monitor"],
                                capture_output=True, text=True).stdout.strip())
    results: dict[str, Any] = {
        "stored": args.stored, "items_per_workload": args.items, "batch": BATCH,
        "page_url_share": args.page_url_share,
        "language": "stated on every item (classifier skips language detection), except "
                    "full.mixed_language_detection",
        "commit": commit, "monitor_tree_dirty": dirty, "cpus": os.cpu_count(),
        "sqlite_version": sqlite3.sqlite_version,
    }
    stores = [name.strip() for name in args.stores.split(",") if name.strip()]
    if "sqlite" in stores:
        with tempfile.TemporaryDirectory(prefix="bench-lifecycle-") as directory:
            try:
                results["sqlite"] = run_phase(args, f"sqlite:///{directory}/bench.db")
            except RuntimeError as error:
                results["sqlite"] = {"failed": str(error)}
    if "postgresql" in stores:
        try:
            url, name = fresh_pg_database(args.pg)
        except Exception as error:  # no server: say so, keep the other figures
            results["postgresql"] = {"skipped": str(error).splitlines()[0]}
        else:
            try:
                results["postgresql"] = run_phase(args, url)
            except RuntimeError as error:
                results["postgresql"] = {"failed": str(error)}
            finally:
                drop_pg_database(args.pg, name)
    print(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
