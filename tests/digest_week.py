"""A constructed week for the digest tests, with every expected figure worked out by hand
below (ISO week 2026-W47 in Europe/Oslo: Mon 16 Nov 00:00 = 2026-11-15 23:00 UTC).

Scope "acme-weekly" covers brand acme; its sources are tp, gp, yelp, reddit (brand
acme) and news (no brand). Hours are counted from the week's start S.

This week (acme, in volume):        kind (status)          source  lang  first reply  SLA due
  m1  S+10  Late delivery, no refund complaint high         tp      en    +2 h         +4 h  within
  m2  S+30  Late delivery again      complaint normal       tp      en    +6 h         +4 h  breached 2 h
  m3  S+50  Charged twice, late del. complaint critical     tp      en    none         +4 h  breached, open
  m4  S+60  Lieferung verspätet      complaint normal       reddit  de    +1 h         +4 h  within
  m5  S+80  praise low                                      reddit  en
  m6  S+100 question normal                                 reddit  en
  m7  S+150 complaint low                                   tp      en    none         S+180 pending, open
  m8  S+20  complaint, triaged not_complaint                tp      en
  m9  S+40  Доставка опоздала        complaint normal       news    ru    +10 h        none
  m13 S+90  follow-up 2 of hans      complaint normal       reddit  de    none         none  open
  m14 S+95  follow-up 3 of hans      complaint normal       reddit  de    none         none  open
Not in this week's volume: m10 (brand other), m11 (first seen S+5 but published 30 days
before: old history, an open complaint), m12 (the brand account's reply post), o1 (open
complaint seen 20 days before), x1 (removed open complaint).
Week before (P = S - 7 d): p1 complaint tp en reply +4 h SLA +8 h within; p2 complaint tp en
reply +12 h SLA +8 h breached; p3 praise reddit en.
Every mention is published 30 min before it is first seen: reply times (from the post)
are the "first reply" column plus 0.5 h.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from monitor.config import Config, parse_config
from monitor.store import Incident, Mention, MentionRevision, Store, Thread
from monitor.store.models import PublicReply, SourceEvent

S = datetime(2026, 11, 15, 23, 0, tzinfo=UTC)
P = S - timedelta(days=7)
END = S + timedelta(days=7)
# The scheduled run: Monday 23 Nov 08:00 Oslo.
NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
WEEK = "2026-W47"
TEMPLATE = "Sorry for the trouble! Please send us a DM with your order number."


def h(hours: float, base: datetime = S) -> datetime:
    return base + timedelta(hours=hours)


def digest_config(store_url: str, recipients: list[str] | None = None,
                  smtp: dict[str, Any] | None = None, **digest: Any) -> Config:
    raw: dict[str, Any] = {
        "store": {"url": store_url},
        "brands": {"acme": {"name": "Acme", "keywords": ["acme"]},
                   "other": {"name": "Other Co", "keywords": ["otherco"]}},
        "sources": [
            {"id": "tp", "spider": "trustpilot",
             "url": "https://www.trustpilot.com/review/acme.com", "brand": "acme"},
            {"id": "gp", "spider": "googleplay", "params": {"app_id": "com.acme"},
             "brand": "acme"},
            {"id": "yelp", "spider": "yelp", "url": "https://www.yelp.com/biz/acme",
             "brand": "acme"},
            {"id": "reddit", "spider": "reddit", "params": {"query": "acme"}, "brand": "acme"},
            {"id": "news", "spider": "feed", "url": "https://example.com/feed.xml"},
            # Switched off: not expected to say anything, so never listed as silent.
            {"id": "retired", "spider": "feed", "url": "https://example.com/old.xml",
             "brand": "acme", "enabled": False},
            {"id": "other-tp", "spider": "trustpilot",
             "url": "https://www.trustpilot.com/review/other.com", "brand": "other"},
        ],
        "digests": [{"name": "acme-weekly", "schedule": "mon 08:00 Europe/Oslo",
                     "brands": ["acme"], "recipients": recipients or ["lead@example.com"],
                     "subject_prefix": "[Acme]", **digest}],
    }
    if smtp is not None or recipients is None:
        raw["smtp"] = smtp or {"host": "127.0.0.1", "port": 2525, "tls": "none"}
    return parse_config(raw, Path("/tmp/digest-test.toml"))


_counter = 0


def mention(source: str, seen: datetime, kind: str = "complaint", severity: str = "normal",
            language: str = "en", brand: str | None = "acme", **fields: Any) -> Mention:
    global _counter
    _counter += 1
    values: dict[str, Any] = {
        "dedupe_key": f"test:{_counter}:{source}:{seen.isoformat()}", "source_id": source,
        "spider": source, "brand": brand, "content_hash": f"{_counter:064d}",
        "kind": kind, "severity": severity, "language": language, "first_seen_at": seen,
        "last_seen_at": seen, "published_at": seen - timedelta(minutes=30),
        "url": f"https://reviews.example/{source}/{_counter}",
    }
    values.update(fields)
    return Mention(**values)


def seed_week(store: Store) -> dict[str, int]:
    """Store the week above; the ids by name."""
    with store.session() as session:
        thread = Thread(brand="acme", author_key="reddit:hans", started_at=h(60),
                        last_message_at=h(95), messages=3)
        session.add(thread)
        session.flush()
        rows = {
            "m1": mention("tp", h(10), severity="high", title="Late delivery, no refund",
                          body="Acme: late delivery and still no refund.", author="Ann",
                          first_reply_at=h(12), sla_due_at=h(14), status="replied"),
            "m2": mention("tp", h(30), title="Late delivery again",
                          body="Another late delivery.", author="Bob", first_reply_at=h(36),
                          sla_due_at=h(34), sla_breached_at=h(34), status="replied"),
            "m3": mention("tp", h(50), severity="critical", title="Charged twice",
                          body="Charged twice <b>and</b> a late delivery. <script>x</script>",
                          author="Cid", sla_due_at=h(54), sla_breached_at=h(54)),
            "m4": mention("reddit", h(60), language="de", title="Lieferung verspätet",
                          body="Meine Lieferung verspätet sich.", author="hans",
                          first_reply_at=h(61), sla_due_at=h(64), status="replied",
                          thread_id=thread.id, thread_position=1),
            "m5": mention("reddit", h(80), kind="praise", severity="low", body="Love it"),
            "m6": mention("reddit", h(100), kind="question", body="Do you ship to Oslo?"),
            "m7": mention("tp", h(150), severity="low", title="Slow app", body="The app is slow",
                          author="Dee", sla_due_at=h(180)),
            "m8": mention("tp", h(20), title="Job advert", body="We are hiring",
                          status="not_complaint"),
            "m9": mention("news", h(40), language="ru", title="Доставка опоздала",
                          body="Доставка опоздала на неделю.", first_reply_at=h(50),
                          status="replied"),
            "m10": mention("other-tp", h(45), brand="other", body="Other Co is bad"),
            "m11": mention("tp", h(5), published_at=S - timedelta(days=30), title="Old one",
                           body="An old complaint found late"),
            "m12": mention("reddit", h(61), kind="other", severity="low", author="acme_support",
                           body=TEMPLATE),
            "m13": mention("reddit", h(90), language="de", title="Lieferung verspätet",
                           body="Immer noch: Lieferung verspätet!", author="hans",
                           thread_id=thread.id, thread_position=2),
            "m14": mention("reddit", h(95), language="de", title="Lieferung verspätet",
                           body="Hallo? Lieferung verspätet.", author="hans",
                           thread_id=thread.id, thread_position=3),
            "o1": mention("tp", S - timedelta(days=20), title="Never answered",
                          body="Still waiting for an answer", author="Eve",
                          published_at=S - timedelta(days=20)),
            "x1": mention("tp", h(-50), title="Removed", body="gone", removed_at=h(-40)),
            "p1": mention("tp", h(10, P), first_reply_at=h(14, P), sla_due_at=h(18, P),
                          status="replied", body="late parcel"),
            "p2": mention("tp", h(20, P), first_reply_at=h(32, P), sla_due_at=h(28, P),
                          status="replied", body="late parcel again"),
            "p3": mention("reddit", h(30, P), kind="praise", severity="low", body="great"),
        }
        for row in rows.values():
            session.add(row)
        session.flush()
        ids = {name: int(row.id or 0) for name, row in rows.items()}

        def reply(target: str, at: datetime, body: str, digest: str, template: bool,
                  reply_mention: str | None = None) -> PublicReply:
            return PublicReply(mention_id=ids[target], brand="acme", author="Acme Support",
                               body=body, body_hash=digest, replied_at=at,
                               is_template=template, template_matches=2 if template else 0,
                               reply_mention_id=ids[reply_mention] if reply_mention else None,
                               detected_by="account" if reply_mention else "site")

        session.add_all([
            reply("m1", h(12), TEMPLATE, "t" * 64, True),
            reply("m2", h(36), TEMPLATE, "t" * 64, True),
            reply("m9", h(50), TEMPLATE, "t" * 64, True),
            reply("m4", h(61), "Hallo Hans, das tut uns leid - wir prüfen es.", "u" * 64, False,
                  reply_mention="m12"),
            reply("p1", h(14, P), "Hi, we fixed it", "v" * 64, False),
            reply("p2", h(32, P), TEMPLATE, "t" * 64, True),
        ])
        session.add_all([
            MentionRevision(mention_id=ids["m1"], changed_at=h(40), body="old", rating=1,
                            kind="complaint", severity="high", better=True,
                            outcome="rating raised 1 → 4 after reply"),
            MentionRevision(mention_id=ids["m2"], changed_at=h(41), body="typo", kind="complaint",
                            severity="normal"),
            MentionRevision(mention_id=ids["p1"], changed_at=h(20, P), body="x", kind="complaint",
                            severity="normal", better=True, outcome="rating raised 2 → 5 after reply"),
        ])
        session.add_all([
            Incident(brand="acme", cause="spike", status="closed",
                     reason="14 complaints in 30 min (usual 0.4)", opened_at=h(50),
                     last_update_at=h(55), last_mention_at=h(58), closed_at=h(60), mentions=14,
                     sources=["tp"]),
            Incident(brand="acme", cause="cluster", status="closed", reason="old cluster",
                     opened_at=S - timedelta(days=10), last_update_at=S - timedelta(days=10),
                     last_mention_at=S - timedelta(days=10), closed_at=S - timedelta(days=9),
                     mentions=4, sources=["tp"]),
            Incident(brand="acme", cause="cluster", status="open",
                     reason="near-identical complaints: app login fails", opened_at=h(-24),
                     last_update_at=h(100), last_mention_at=h(100), mentions=3,
                     sources=["reddit", "tp"]),
            Incident(brand="other", cause="spike", status="open", reason="not ours",
                     opened_at=h(10), last_update_at=h(10), last_mention_at=h(10), mentions=9,
                     sources=["other-tp"]),
        ])
        session.add_all([
            SourceEvent(source_id="tp", at=h(-48), status="blocked", error="HTTP 403 captcha"),
            SourceEvent(source_id="tp", at=h(6), status="ok"),
            SourceEvent(source_id="reddit", at=h(100), status="failing", error="HTTP 503"),
            SourceEvent(source_id="reddit", at=h(103), status="ok"),
            SourceEvent(source_id="news", at=h(160), status="silent"),
            SourceEvent(source_id="gp", at=h(-100), status="blocked", error="HTTP 429"),
            SourceEvent(source_id="other-tp", at=h(10), status="blocked"),
        ])
    return ids
