"""Public-reply detection through ingest, on SQLite and PostgreSQL: site reply data,
brand-account posts, replies that appear on a re-crawl, templates, never doubled."""

from __future__ import annotations

import asyncio
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from httpserver import FixtureServer, Receiver, Reply
from sqlalchemy import select

from monitor.app import App, make_app
from monitor.config import Config, parse_config
from monitor.replies import ReplySeen, time_to_first_reply
from monitor.store import Alert, Mention
from monitor.store.models import PublicReply
from spiders.items import CompanyReply, MentionItem

# Monday 10:00 UTC, inside the default support hours (Mon-Fri 09:00-17:00 UTC).
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)

TEMPLATE = ("Hi {name}, we are sorry to hear about your experience with order {order}. "
            "Please contact our customer service team at help@acme.com so we can look into "
            "it. Best regards, {agent}")


def make_config(store_url: str, channels: dict[str, list[str]] | None = None,
                **sections: Any) -> Config:
    raw: dict[str, Any] = {
        "store": {"url": store_url},
        "brands": {"acme": {"name": "Acme", "keywords": ["acme"],
                            "accounts": {"reddit": ["Acme_Support"],
                                         "hackernews": ["acme_ceo"]}}},
        "sources": [
            {"id": "tp", "spider": "trustpilot",
             "url": "https://www.trustpilot.com/review/acme.com", "brand": "acme"},
            {"id": "rd", "spider": "reddit", "url": "https://www.reddit.com/r/acme/new.json",
             "brand": "acme"},
            {"id": "hn", "spider": "hackernews", "brand": "acme",
             "url": "https://hn.algolia.com/api/v1/search_by_date?query=acme"},
        ],
        "channels": {name: {"urls": urls} for name, urls in (channels or {}).items()},
        **sections,
    }
    return parse_config(raw, Path("/tmp/test.toml"))


def complaint(external_id: str, source: str = "tp", **fields: Any) -> MentionItem:
    values: dict[str, Any] = {
        "title": "Terrible service", "author": "Jane Doe",
        "body": "Acme never delivered my order and nobody answers. I want a refund.",
        "rating": 1.0, "url": f"https://www.trustpilot.com/reviews/{external_id}",
        "published": NOW - timedelta(hours=2),
    }
    values.update(fields)
    return MentionItem(source_id=source, external_id=external_id, **values)


def mention(app: App, external_id: str) -> Mention:
    with app.store.session() as session:
        return session.scalars(select(Mention).where(Mention.external_id == external_id)).one()


def replies(app: App) -> list[PublicReply]:
    with app.store.session() as session:
        return list(session.scalars(select(PublicReply).order_by(PublicReply.id)))


def test_site_reply_data_is_recorded_and_stops_the_clock(store_url: str) -> None:
    app = make_app(make_config(store_url), clock=lambda: NOW)
    answered = NOW - timedelta(minutes=30)
    item = complaint("r1", company_replies=[
        CompanyReply("Hi Jane, so sorry! We are refunding order 5521 today. Acme", "Acme",
                     answered)])
    app.ingestor.ingest([item], NOW)
    stored = mention(app, "r1")
    assert stored.kind == "complaint" and stored.sla_due_at is not None
    assert stored.first_reply_at == answered and stored.status == "replied"
    assert time_to_first_reply(stored) == 90 * 60  # published 2 h ago, answered 30 min ago
    (reply,) = replies(app)
    assert (reply.mention_id, reply.detected_by, reply.author) == (stored.id, "site", "Acme")
    assert reply.normalized == "so sorry we are refunding order today"  # names, numbers gone
    # The same page crawled again (and by a second source) records nothing new.
    app.ingestor.ingest([item], NOW + timedelta(minutes=15))
    assert len(replies(app)) == 1


def test_many_replies_in_one_batch(store_url: str) -> None:
    app = make_app(make_config(store_url), clock=lambda: NOW)
    app.ingestor.ingest([complaint(f"r{i}", author=f"Customer {i}") for i in range(5)], NOW)
    later = NOW + timedelta(hours=1)
    app.ingestor.ingest([complaint(f"r{i}", author=f"Customer {i}", company_replies=[
        CompanyReply(f"Sorry, parcel {i} is found and ships today.", "Acme",
                     later - timedelta(minutes=i))]) for i in range(5)], later)
    for i in range(5):
        stored = mention(app, f"r{i}")
        assert stored.status == "replied"
        assert stored.first_reply_at == later - timedelta(minutes=i)
    assert len(replies(app)) == 5


def test_reply_that_appears_on_a_recrawl_closes_the_clock(store_url: str) -> None:
    app = make_app(make_config(store_url), clock=lambda: NOW)
    app.ingestor.ingest([complaint("r1")], NOW)
    before = mention(app, "r1")
    assert before.status == "open" and before.first_reply_at is None
    assert before.sla_due_at is not None
    later = NOW + timedelta(hours=3)
    again = complaint("r1", company_replies=[
        CompanyReply("Sorry Jane, we found the parcel and it ships today.", "Acme", None)])
    result = app.ingestor.ingest([again], later)
    assert (result.new, result.alerts) == (0, 0)
    after = mention(app, "r1")
    # No time on the reply: the crawl that revealed it is the best we know.
    assert after.first_reply_at == later and after.status == "replied"
    assert after.sla_due_at == before.sla_due_at
    # A second, later reply keeps the first reply time.
    more = complaint("r1", company_replies=[
        CompanyReply("Sorry Jane, we found the parcel and it ships today.", "Acme", None),
        CompanyReply("Update: it was delivered this morning.", "Acme", later + timedelta(hours=5))])
    app.ingestor.ingest([more], later + timedelta(hours=6))
    assert mention(app, "r1").first_reply_at == later
    assert len(replies(app)) == 2


def test_resolved_mention_keeps_its_status_when_a_reply_appears(store_url: str) -> None:
    app = make_app(make_config(store_url), clock=lambda: NOW)
    app.ingestor.ingest([complaint("r1")], NOW)
    with app.store.session() as session:
        row = session.scalars(select(Mention)).one()
        row.status = "resolved"
    app.ingestor.ingest([complaint("r1", company_replies=[CompanyReply("Done.", "Acme", NOW)])],
                        NOW + timedelta(hours=1))
    stored = mention(app, "r1")
    assert stored.status == "resolved" and stored.first_reply_at == NOW


def test_brand_account_post_is_the_reply_not_a_complaint(store_url: str) -> None:
    app = make_app(make_config(store_url), clock=lambda: NOW)
    post = complaint("t3_abc", source="rd", url="https://www.reddit.com/r/acme/comments/abc/",
                     author="angry_customer", rating=None,
                     body="Acme charged me twice for one order and support ignores me. Awful.")
    app.ingestor.ingest([post], NOW)
    assert mention(app, "t3_abc").kind == "complaint"
    answer = MentionItem(
        source_id="rd", external_id="t1_def", author="acme_support", reply_to="t3_abc",
        url="https://www.reddit.com/r/acme/comments/abc/_/def/",
        body="Sorry about that! We have refunded the second charge, check your DMs.",
        published=NOW + timedelta(minutes=40), extra={"post_id": "t3_abc"})
    result = app.ingestor.ingest([answer], NOW + timedelta(hours=1))
    assert result.alerts == 0  # the brand's own post alerts nobody
    brand_post = mention(app, "t1_def")
    assert brand_post.kind != "complaint" and brand_post.first_reply_at is None
    customer = mention(app, "t3_abc")
    assert customer.first_reply_at == NOW + timedelta(minutes=40)
    assert customer.status == "replied"
    (reply,) = replies(app)
    assert (reply.mention_id, reply.detected_by, reply.reply_mention_id) == (
        customer.id, "account", brand_post.id)


def test_brand_account_reply_in_a_thread_finds_the_root(store_url: str) -> None:
    """A brand answer to a comment we never stored lands on the thread's root post."""
    app = make_app(make_config(store_url), clock=lambda: NOW)
    post = complaint("t3_root", source="rd", url="https://www.reddit.com/r/acme/comments/root/",
                     author="someone", rating=None,
                     body="Acme app crashes on start since the update. Terrible.")
    answer = MentionItem(
        source_id="rd", external_id="t1_x", author="Acme_Support", reply_to="t1_unknown",
        body="We are on it, a fix ships tonight.", published=NOW,
        extra={"post_id": "t3_root"})
    # Both in one crawl: the post is stored first, then the answer finds it.
    app.ingestor.ingest([post, answer], NOW)
    assert mention(app, "t3_root").status == "replied"
    # Hacker News: the story is the thread's root.
    story = complaint("4242", source="hn", url="https://news.ycombinator.com/item?id=4242",
                      author="hn_user", rating=None,
                      body="Acme deleted my data without warning. Terrible support.")
    founder = MentionItem(source_id="hn", external_id="4250", author="acme_ceo",
                          reply_to="4249", body="Founder here, restoring it now.",
                          published=NOW, extra={"story_id": "4242"})
    app.ingestor.ingest([story, founder], NOW)
    assert mention(app, "4242").status == "replied"
    # Somebody else's post replying is not the company's reply.
    other = MentionItem(source_id="rd", external_id="t1_y", author="bystander",
                        reply_to="t3_root", body="same here", published=NOW)
    app.ingestor.ingest([other], NOW)
    assert len(replies(app)) == 2


def test_brand_answer_crawled_before_its_question(store_url: str) -> None:
    """The brand's comment comes in one crawl, the post it answers in a later one."""
    app = make_app(make_config(store_url), clock=lambda: NOW)
    answer = MentionItem(source_id="rd", external_id="t1_ans", author="acme_support",
                         reply_to="t3_late", body="Sorry! Refund sent, check your inbox.",
                         published=NOW - timedelta(minutes=5))
    app.ingestor.ingest([answer], NOW)
    assert replies(app) == []
    post = complaint("t3_late", source="rd", author="late_poster", rating=None,
                     url="https://www.reddit.com/r/acme/comments/late/",
                     body="Acme charged me twice and nobody answers. Terrible.")
    app.ingestor.ingest([post], NOW + timedelta(minutes=10))
    stored = mention(app, "t3_late")
    assert stored.status == "replied" and stored.first_reply_at == NOW - timedelta(minutes=5)
    (reply,) = replies(app)
    assert reply.reply_mention_id == mention(app, "t1_ans").id


def test_reply_recorded_once_by_two_processes(store_url: str) -> None:
    first = make_app(make_config(store_url), clock=lambda: NOW)
    second = make_app(make_config(store_url), clock=lambda: NOW, migrate=False)
    first.ingestor.ingest([complaint("r1")], NOW)
    stored = mention(first, "r1")
    seen = [ReplySeen(stored.id or 0, "Hi Jane, sorry! We refund today. Tom", "Tom", NOW)]
    for app in (first, second, first):
        with app.store.session() as session:
            app.ingestor.replies.record(session, seen, NOW)
    assert len(replies(first)) == 1


def test_template_replies_are_flagged_counted_and_alert_the_lead(store_url: str,
                                                                  receiver: Receiver) -> None:
    config = make_config(store_url, channels={"lead": [receiver.apprise_url]},
                         replies={"template_min_matches": 3, "template_channel": "lead"})
    clock = {"now": NOW}
    app = make_app(config, clock=lambda: clock["now"])
    names = [("Jane Doe", "1001", "Tom"), ("Ola Nordmann", "2002", "Kari"),
             ("Anna Berg", "3003", "Tom"), ("Sam Lee", "4004", "Liz")]
    for index, (name, order, agent) in enumerate(names):
        at = NOW + timedelta(hours=index)
        clock["now"] = at
        app.ingestor.ingest([complaint(
            f"r{index}", author=name, company_replies=[CompanyReply(
                TEMPLATE.format(name=name.split()[0], order=order, agent=agent), "Acme", at)])],
            at)
    # A personal reply to another customer is not a template.
    personal = complaint("r9", author="Per Hansen", company_replies=[CompanyReply(
        "Per, the courier lost your parcel in Bergen; a new one left today, tracking is in "
        "your inbox, and the shipping is refunded.", "Acme", NOW + timedelta(hours=5))])
    app.ingestor.ingest([personal], NOW + timedelta(hours=5))
    rows = replies(app)
    assert [(r.template_matches, r.is_template) for r in rows] == [
        (3, True), (3, True), (3, True), (3, True), (0, False)]
    # Only the reply that crossed K (the 4th copy) alerts, once.
    template_alerts = [a for a in _alerts(app) if a.purpose == "template_reply"]
    assert len(template_alerts) == 1 and template_alerts[0].mention_id == mention(app, "r3").id
    clock["now"] = NOW + timedelta(hours=6)
    asyncio.run(app.dispatcher.drain())
    # (the complaints themselves went to every channel: with no routes, lead is one)
    (message,) = [m for m in receiver.messages if m["title"].startswith("[template reply]")]
    assert "near-identical to 3 other" in re.sub(r"\\(.)", r"\1", message["message"])
    assert "[template reply] Acme" in message["title"]


def test_templates_compare_only_the_brands_recent_replies(store_url: str) -> None:
    config = make_config(store_url, replies={"template_min_matches": 2,
                                             "template_window": "30d"})
    app = make_app(config, clock=lambda: NOW)
    old = NOW - timedelta(days=60)
    for index, at in enumerate([old, old + timedelta(hours=1), NOW]):
        app.ingestor.ingest([complaint(f"r{index}", company_replies=[CompanyReply(
            TEMPLATE.format(name="X", order=index, agent="Y"), "Acme", at)])], at)
    # The two old copies matched each other (1 each, below K=2); the new one is compared
    # with the last 30 days only, where it has no match.
    assert [r.template_matches for r in replies(app)] == [1, 1, 0]


def _alerts(app: App) -> list[Alert]:
    with app.store.session() as session:
        return list(session.scalars(select(Alert).order_by(Alert.id)))


def test_reply_found_by_a_real_crawl_of_the_review_page(tmp_path: Path,
                                                        server: FixtureServer) -> None:
    """Spider to store: the company answers on Trustpilot between two crawls."""
    import json

    from monitor.daemon import Daemon, run_in_reactor

    def page(reply: dict[str, str] | None) -> Reply:
        review = {
            "id": "tp-1", "title": "Never again", "rating": 1, "language": "en",
            "text": "Acme never delivered my order and support ignores me. Terrible.",
            "dates": {"publishedDate": "2026-11-20T10:00:00.000Z"},
            "consumer": {"displayName": "Kim Berg", "countryCode": "NO"}, "reply": reply,
            "likes": 0, "labels": {"verification": {"isVerified": True}},
        }
        data = {"props": {"pageProps": {
            "businessUnit": {"displayName": "Acme", "identifyingName": "acme.example",
                             "numberOfReviews": 1},
            "reviews": [review], "filters": {"pagination": {"currentPage": 1, "totalPages": 1}},
        }}}
        return Reply(200, (f'<html><body><script id="__NEXT_DATA__" type="application/json">'
                           f"{json.dumps(data)}</script></body></html>").encode(),
                     {"Content-Type": "text/html"})

    answer = {"message": "Hi Kim, we are sorry! Your order ships today. Best regards, Acme",
              "publishedDate": "2026-11-20T14:30:00.000Z"}
    server.set("/review/acme.example", page(None), page(answer))
    config = parse_config({
        "store": {"url": f"sqlite:///{tmp_path / 'r.db'}"},
        "daemon": {"autothrottle": False},
        "brands": {"acme": {"keywords": ["acme"]}},
        "sources": [{"id": "tp", "spider": "trustpilot", "brand": "acme", "obey_robots": False,
                     "url": server.url("/review/acme.example")}],
    }, tmp_path / "c.toml")
    daemon = Daemon(make_app(config, console=lambda: open(os.devnull, "w")))  # noqa: SIM115
    run_in_reactor(lambda: daemon.crawl_due(force=True))
    first = mention(daemon.app, "tp-1")
    assert (first.kind, first.status, first.first_reply_at) == ("complaint", "open", None)
    run_in_reactor(lambda: daemon.crawl_due(force=True))
    second = mention(daemon.app, "tp-1")
    assert second.status == "replied"
    assert second.first_reply_at == datetime(2026, 11, 20, 14, 30, tzinfo=UTC)
    assert time_to_first_reply(second) == 4.5 * 3600
    (reply,) = replies(daemon.app)
    assert reply.normalized == "we are sorry your order ships today"
