"""Mention lifecycle through ingest, on SQLite and PostgreSQL: one mention however many
sources see it, edits kept as revisions, removals kept, follow-ups threaded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from test_store_ingest import complaint, make_config

from monitor.app import make_app
from monitor.config import SourceConfig
from monitor.core.removals import Listing, listing_span
from monitor.store import Alert, Mention, MentionRevision, MentionSighting, Thread
from spiders.items import CompanyReply, MentionItem

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def alerts(app) -> list[Alert]:  # type: ignore[no-untyped-def]
    with app.store.session() as session:
        return list(session.scalars(select(Alert).order_by(Alert.id)))


def mentions(app) -> list[Mention]:  # type: ignore[no-untyped-def]
    with app.store.session() as session:
        return list(session.scalars(select(Mention).order_by(Mention.id)))


def test_same_post_through_two_sources_is_one_mention_with_two_sightings(store_url: str) -> None:
    app = make_app(make_config(store_url), clock=lambda: NOW)
    via_reviews = complaint("r1", url="https://www.trustpilot.com/reviews/r1")
    via_alerts = complaint("tag:google.com,2013:1", source="news",
                           url="https://www.google.com/url?rct=j&url=https://trustpilot.com/"
                               "reviews/r1%3Futm_source%3Dalert&ct=ga")
    assert app.ingestor.ingest([via_reviews], NOW).new == 1
    result = app.ingestor.ingest([via_alerts], NOW + timedelta(minutes=5))
    assert (result.new, result.seen_again, result.alerts) == (0, 1, 0)
    assert len(mentions(app)) == 1
    with app.store.session() as session:
        sightings = {s.source_id: s for s in session.scalars(select(MentionSighting))}
    assert set(sightings) == {"tp", "news"}
    assert sightings["news"].first_seen_at == NOW + timedelta(minutes=5)
    assert len(alerts(app)) == 1
    app.ingestor.ingest([via_alerts], NOW + timedelta(minutes=20))
    with app.store.session() as session:
        sightings = {s.source_id: s for s in session.scalars(select(MentionSighting))}
    assert {source: (s.times_seen, s.first_seen_at, s.last_seen_at)
            for source, s in sightings.items()} == {
        "tp": (1, NOW, NOW),
        "news": (2, NOW + timedelta(minutes=5), NOW + timedelta(minutes=20))}


def test_shared_page_urls_never_merge_different_reviews(store_url: str) -> None:
    app = make_app(make_config(store_url), clock=lambda: NOW)
    page = "https://shop.example/product/1"
    first = [complaint("a", url=page, body="Acme broke"), complaint("b", url=page, body="Late")]
    assert app.ingestor.ingest(first, NOW).new == 2
    other_source = complaint("x", source="news", url=page, body="Acme story")
    assert app.ingestor.ingest([other_source], NOW).new == 1
    assert len(mentions(app)) == 3


def test_edit_for_the_worse_alerts_as_updated_review(store_url: str) -> None:
    app = make_app(make_config(store_url), clock=lambda: NOW)
    app.ingestor.ingest([complaint("r1", rating=4.0, title="OK", body="Acme is fine.")], NOW)
    assert alerts(app) == []
    later = NOW + timedelta(hours=2)
    edited = complaint("r1", rating=1.0, title="Awful now",
                       body="Acme charged me twice and nobody answers. Terrible.")
    result = app.ingestor.ingest([edited], later)
    assert result.alerts == 1 and result.new == 0
    (alert,) = alerts(app)
    assert "Updated review" in alert.body and "rating 4 → 1" in alert.body
    (mention,) = mentions(app)
    assert (mention.rating, mention.kind, mention.revisions) == (1.0, "complaint", 1)
    with app.store.session() as session:
        (revision,) = session.scalars(select(MentionRevision))
    assert (revision.rating, revision.title, revision.worse) == (4.0, "OK", True)
    assert revision.changed_at == later
    # The same text again is not another edit.
    assert app.ingestor.ingest([edited], later + timedelta(hours=1)).alerts == 0


def test_edit_for_the_better_after_a_reply_is_an_outcome_without_alert(store_url: str) -> None:
    app = make_app(make_config(store_url), clock=lambda: NOW)
    app.ingestor.ingest([complaint("r1", rating=1.0)], NOW)
    sent_before = len(alerts(app))
    better = complaint("r1", rating=4.0, title="Sorted", body="Acme fixed it quickly, thanks.",
                       company_replies=[CompanyReply("Sorry! Fixed.", "Acme", NOW)])
    assert app.ingestor.ingest([better], NOW + timedelta(days=1)).alerts == 0
    assert len(alerts(app)) == sent_before
    with app.store.session() as session:
        (revision,) = session.scalars(select(MentionRevision))
    assert revision.better and revision.outcome == "rating raised 1 → 4 after reply"


def test_removed_mention_is_kept_and_marked(store_url: str) -> None:
    app = make_app(make_config(store_url), clock=lambda: NOW)
    app.ingestor.ingest([complaint("r1")], NOW)
    gone = complaint("r1", removed=True)
    app.ingestor.ingest([gone], NOW + timedelta(hours=3))
    (mention,) = mentions(app)
    assert mention.removed and mention.removed_at == NOW + timedelta(hours=3)
    assert mention.body  # never deleted


def test_follow_ups_form_a_thread_and_raise_severity_when_unanswered(store_url: str) -> None:
    app = make_app(make_config(store_url), clock=lambda: NOW)
    first = complaint("r1", author="Jane Doe", rating=None,
                      body="Acme lost my parcel, this is terrible.")
    app.ingestor.ingest([first], NOW)
    second = complaint("r2", author="jane doe", rating=None,
                       body="Still waiting for Acme to answer about my lost parcel. Terrible.")
    app.ingestor.ingest([second], NOW + timedelta(days=1))
    third = complaint("r3", author="Jane Doe", rating=None,
                      body="Acme, third time: where is my parcel? Awful service.")
    app.ingestor.ingest([third], NOW + timedelta(days=2))
    rows = mentions(app)
    assert [m.thread_position for m in rows] == [1, 2, 3]
    assert len({m.thread_id for m in rows}) == 1
    with app.store.session() as session:
        (thread,) = session.scalars(select(Thread))
    assert thread.messages == 3
    follow_alerts = [a for a in alerts(app) if a.mention_id == rows[2].id]
    assert follow_alerts and "3rd message from this customer since 2026-11-24 12:00 UTC" \
        in follow_alerts[0].body and "still no public reply" in follow_alerts[0].body
    assert rows[1].severity != rows[0].severity or rows[0].severity == "critical"
    assert "follow-up to an unanswered complaint" in (rows[1].reasons or [])
    # Outside the window: a new thread.
    much_later = complaint("r4", author="Jane Doe", rating=None, body="Acme broke again.")
    app.ingestor.ingest([much_later], NOW + timedelta(days=30))
    assert mentions(app)[-1].thread_position == 1


OUTAGE = [
    ("tp", "Jane", "The Acme app will not let me log in since this morning, error 503 every time."),
    ("news", "Ola", "Acme app will not let me log in since this morning - error 503 every time!"),
    ("tp", "Kim", "the acme app won't let me log in since this morning, error 503 every single time"),
    ("news", "Ana", "Acme app will not let me log in since this morning. Error 503 every time."),
    ("tp", "Lee", "Since this morning the Acme app will not let me log in, error 503 every time"),
]


def test_near_duplicate_complaints_open_one_incident_that_updates_then_closes(
        store_url: str) -> None:
    clock = [NOW]
    app = make_app(make_config(store_url), clock=lambda: clock[0])

    def post(index: int, minutes: int) -> None:
        source, author, body = OUTAGE[index]
        clock[0] = NOW + timedelta(minutes=minutes)
        item = complaint(f"o{index}", source=source, author=author, rating=None, title=None,
                         body=body, url=None, published=clock[0])
        app.ingestor.ingest([item], clock[0])

    post(0, 0)
    post(1, 5)
    assert len(alerts(app)) == 2  # two complaints: two pages
    post(2, 10)  # the third near-duplicate: an incident
    incident_alerts = [a for a in alerts(app) if a.purpose == "incident"]
    assert len(incident_alerts) == 1 and len(alerts(app)) == 3
    assert "3 near-duplicate complaints" in incident_alerts[0].title
    post(3, 15)
    post(4, 20)
    assert len(alerts(app)) == 3  # members join quietly
    rows = mentions(app)
    assert len({m.incident_id for m in rows}) == 1 and rows[0].incident_id is not None
    clock[0] = NOW + timedelta(minutes=45)  # 35 min after opening: an update is due
    assert app.ingestor.sweep_incidents() == 1
    update = [a for a in alerts(app) if a.purpose == "incident"][-1]
    assert "+2 mentions in 35 min" in update.title
    assert app.ingestor.sweep_incidents() == 0  # nothing new: no second update
    clock[0] = NOW + timedelta(hours=3)
    assert app.ingestor.sweep_incidents() == 1
    close = [a for a in alerts(app) if a.purpose == "incident"][-1]
    assert "closed after 2 h without new mentions: 5 mentions" in close.title


def test_unrelated_complaints_open_no_incident(store_url: str) -> None:
    app = make_app(make_config(store_url), clock=lambda: NOW)
    bodies = ["Acme charged me twice for November.", "My Acme router arrived broken.",
              "Acme support never answered my email about the refund."]
    app.ingestor.ingest([complaint(f"u{n}", author=f"a{n}", rating=None, body=body, url=None)
                         for n, body in enumerate(bodies)], NOW)
    assert [a.purpose for a in alerts(app)] == ["mention"] * 3


def test_a_rolled_back_batch_leaves_nothing_behind_in_the_incident_window(
        store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The brand's recent complaints are kept between batches: a batch that fails after
    the incident step must not leave its (rolled back) complaints there, or the next
    near-duplicates would open an incident with members that do not exist."""
    app = make_app(make_config(store_url), clock=lambda: NOW)

    def item(index: int) -> MentionItem:
        source, author, body = OUTAGE[index]
        return complaint(f"o{index}", source=source, author=author, rating=None, title=None,
                         body=body, url=None, published=NOW)

    app.ingestor.ingest([item(0)], NOW)
    failing = app.ingestor._alert_rows

    def fail(*args: object, **kwargs: object) -> list[dict[str, object]]:
        raise RuntimeError("disk full")

    monkeypatch.setattr(app.ingestor, "_alert_rows", fail)
    with pytest.raises(RuntimeError):
        app.ingestor.ingest([item(1)], NOW)
    monkeypatch.setattr(app.ingestor, "_alert_rows", failing)
    assert [m.external_id for m in mentions(app)] == ["o0"]
    # o1 was rolled back: o2 makes two near-duplicates with o0, not an incident of three.
    app.ingestor.ingest([item(2)], NOW)
    assert [a.purpose for a in alerts(app)] == ["mention", "mention"]
    app.ingestor.ingest([item(1)], NOW)
    assert [a for a in alerts(app) if a.purpose == "incident"]


def test_threads_of_generic_feeds_are_per_host(store_url: str) -> None:
    """'admin' on two unrelated blogs is two people; on two feeds of one site, one."""
    config = make_config(store_url)
    config.sources += [
        SourceConfig(id="blog-a", spider="feed", url="https://blog-a.example/feed"),
        SourceConfig(id="blog-a-comments", spider="feed", url="https://blog-a.example/comments"),
        SourceConfig(id="blog-b", spider="feed", url="https://blog-b.example/feed"),
    ]
    app = make_app(config, clock=lambda: NOW)
    for index, source in enumerate(["blog-a", "blog-b", "blog-a-comments"]):
        app.ingestor.ingest([complaint(f"p{index}", source=source, author="admin",
                                       body=f"Acme lost my parcel number {index}.")],
                            NOW + timedelta(minutes=index))
    keys = {m.source_id: (m.author_key, m.thread_position) for m in mentions(app)}
    assert keys == {"blog-a": ("feed@blog-a.example:admin", 1),
                    "blog-b": ("feed@blog-b.example:admin", 1),
                    "blog-a-comments": ("feed@blog-a.example:admin", 2)}


# -- removals nobody announced: a complete listing that stops showing a mention --------


def _listed(*external_ids: str, source: str = "news") -> list[MentionItem]:
    """A feed's entries, an hour apart, newest first."""
    return [complaint(external_id, source=source, url=f"https://example.com/p/{external_id}",
                      body=f"Acme broke my order {external_id}. Terrible.", rating=None,
                      author=f"customer {external_id}",
                      published=NOW - timedelta(hours=index))
            for index, external_id in enumerate(external_ids)]


def _listing(items: list[MentionItem]) -> Listing:
    span = listing_span([item.published for item in items])
    assert span is not None
    return Listing(items[0].source_id, span)


def _removal_state(app) -> dict[str, tuple[bool, datetime | None]]:  # type: ignore[no-untyped-def]
    return {m.external_id or "": (m.removed, m.removed_at) for m in mentions(app)}


def test_a_mention_gone_from_its_listing_is_marked_removed_after_the_grace(
        store_url: str) -> None:
    app = make_app(make_config(store_url), clock=lambda: NOW)  # news polls every 15 min
    full, without_b = _listed_then_b_gone(app)
    # 10 minutes later: one poll missed it, within the 1 h grace: nothing yet.
    result = app.ingestor.ingest(without_b, NOW + timedelta(minutes=10), [_listing(without_b)])
    assert result.removed == 0 and not any(r for r, _ in _removal_state(app).values())
    # Still missing past the grace: removed, kept, with a revision saying so; no alert.
    later = NOW + timedelta(minutes=70)
    alerts_before = len(alerts(app))
    result = app.ingestor.ingest(without_b, later, [_listing(without_b)])
    assert result.removed == 1 and result.by_source["news"].removed == 1
    assert _removal_state(app) == {"a": (False, None), "b": (True, later),
                                   "c": (False, None), "d": (False, None)}
    assert len(alerts(app)) == alerts_before
    with app.store.session() as session:
        (revision,) = session.scalars(select(MentionRevision))
    assert revision.changed_fields == ["removed"] and revision.changed_at == later
    assert revision.outcome == f"no longer listed by news; last seen {NOW:%Y-%m-%d %H:%M} UTC"
    assert revision.body.startswith("Acme broke my order b")
    # Listed again (a reinstated review, a listing that had missed it): restored.
    again = NOW + timedelta(hours=2)
    app.ingestor.ingest(_listed("a", "b", "c", "d"), again, [_listing(full)])
    assert _removal_state(app)["b"] == (False, None)
    with app.store.session() as session:
        assert len(list(session.scalars(select(MentionRevision)))) == 2


def test_only_mentions_inside_a_complete_listing_span_can_be_unlisted(store_url: str) -> None:
    app = make_app(make_config(store_url), clock=lambda: NOW)
    full = _listed("a", "b", "c", "d", "e")
    app.ingestor.ingest(full, NOW, [_listing(full)])
    other = _listed("x", "y", source="tp")  # another source's mentions are not this listing's
    app.ingestor.ingest(other, NOW)
    later = NOW + timedelta(hours=3)
    # The feed now holds b..d: "a" was newer than anything listed (a gone newest entry
    # cannot be told from one not yet fetched); "e" fell off the old end.
    shown = [item for item in _listed("a", "b", "c", "d", "e")
             if item.external_id in ("b", "c", "d")]
    result = app.ingestor.ingest(shown, later, [_listing(shown)])
    assert result.removed == 0
    # Without a listing (a search, a page in another order) nothing is concluded.
    assert app.ingestor.ingest(shown[:1], later).removed == 0
    # c goes missing between b and d: gone once the grace has passed (two polls).
    assert app.ingestor.ingest([shown[0], shown[2]], later + timedelta(hours=1),
                               [_listing([shown[0], shown[2]])]).removed == 0
    assert app.ingestor.ingest([shown[0], shown[2]], later + timedelta(hours=2),
                               [_listing([shown[0], shown[2]])]).removed == 1
    assert {key for key, (removed, _) in _removal_state(app).items() if removed} == {"c"}


def test_a_source_with_detect_removals_off_never_unlists(store_url: str) -> None:
    config = make_config(store_url)
    config.sources[1].detect_removals = False
    app = make_app(config, clock=lambda: NOW)
    full = _listed("a", "b", "c")
    app.ingestor.ingest(full, NOW, [_listing(full)])
    shown = [full[0], full[2]]
    assert app.ingestor.ingest(shown, NOW + timedelta(days=1), [_listing(shown)]).removed == 0


def test_a_slow_source_must_miss_a_mention_on_two_polls(store_url: str) -> None:
    config = make_config(store_url)
    config.sources[1].interval = timedelta(hours=6)
    app = make_app(config, clock=lambda: NOW)
    full = _listed("a", "b", "c")
    app.ingestor.ingest(full, NOW, [_listing(full)])
    shown = [full[0], full[2]]
    # The next poll (6 h later, past the 1 h grace) is the first miss: not yet.
    assert app.ingestor.ingest(shown, NOW + timedelta(hours=6), [_listing(shown)]).removed == 0
    assert app.ingestor.ingest(shown, NOW + timedelta(hours=12),
                               [_listing(shown)]).removed == 1


def test_a_site_flagged_removal_leaves_a_revision(store_url: str) -> None:
    app = make_app(make_config(store_url), clock=lambda: NOW)
    app.ingestor.ingest([complaint("r1")], NOW)
    app.ingestor.ingest([complaint("r1", removed=True)], NOW + timedelta(hours=3))
    with app.store.session() as session:
        (revision,) = session.scalars(select(MentionRevision))
    assert revision.changed_fields == ["removed"] and revision.outcome is None


def test_one_miss_after_a_quiet_spell_is_not_enough(store_url: str) -> None:
    # A feed answering 304 for hours (or failing, or a paused daemon) leaves its
    # mentions' last sighting old: the first listing after that is one poll, and one
    # stale page must not remove a live post. The next poll that misses it does.
    app = make_app(make_config(store_url), clock=lambda: NOW)
    full, without_b = _listed_then_b_gone(app)
    after = NOW + timedelta(hours=3)
    assert app.ingestor.ingest(without_b, after, [_listing(without_b)]).removed == 0
    # Listed again on the next poll: that was a stale page, nothing to undo.
    app.ingestor.ingest(full, after + timedelta(minutes=15), [_listing(full)])
    assert not any(removed for removed, _ in _removal_state(app).values())
    # Gone for real: missed by two polls past the grace.
    later = after + timedelta(hours=2)
    assert app.ingestor.ingest(without_b, later, [_listing(without_b)]).removed == 0
    assert app.ingestor.ingest(without_b, later + timedelta(minutes=15),
                               [_listing(without_b)]).removed == 1
    assert {key for key, (removed, _) in _removal_state(app).items() if removed} == {"b"}


def _unlist_concurrently(store_url: str, barrier: object, queue: object) -> None:
    from monitor.app import make_app as make

    app = make(make_config(store_url), clock=lambda: NOW, migrate=False)
    full = _listed(*"abcdefgh")
    shown = [item for item in full if item.external_id != "b"]
    app.ingestor.ingest(full, NOW, [_listing(full)])
    app.ingestor.ingest(shown, NOW + timedelta(minutes=10), [_listing(shown)])
    barrier.wait()  # type: ignore[attr-defined]
    result = app.ingestor.ingest(shown, NOW + timedelta(minutes=70), [_listing(shown)])
    queue.put(result.removed)  # type: ignore[attr-defined]


@pytest.mark.parametrize("rounds", range(2))
def test_two_daemons_unlisting_at_once_write_one_revision(postgres_database: str,
                                                          rounds: int) -> None:
    from conftest import _reset_postgres, in_two_processes

    from monitor.store import Store

    _reset_postgres(postgres_database)
    Store(postgres_database).upgrade()
    app = make_app(make_config(postgres_database), clock=lambda: NOW, migrate=False)
    removed = in_two_processes(_unlist_concurrently, [(postgres_database,)] * 2)
    assert sorted(removed) == [0, 1]
    with app.store.session() as session:
        revisions = list(session.scalars(select(MentionRevision)))
        (mention,) = session.scalars(select(Mention).where(Mention.external_id == "b"))
    assert [revision.mention_id for revision in revisions] == [mention.id]
    assert mention.removed and mention.revisions == 1


def test_a_listing_rolled_back_with_its_batch_is_no_earlier_miss(store_url: str) -> None:
    app = make_app(make_config(store_url), clock=lambda: NOW)
    full = _listed("a", "b", "c", "d")
    app.ingestor.ingest(full, NOW, [_listing(full)])
    unlisted = app.ingestor._unlisted

    def then_fail(*args, **kwargs):  # type: ignore[no-untyped-def]
        unlisted(*args, **kwargs)
        raise RuntimeError("the store went away")

    app.ingestor._unlisted = then_fail  # type: ignore[method-assign]
    # This poll showed b, but nothing of it was stored: its sightings are rolled back.
    with pytest.raises(RuntimeError):
        app.ingestor.ingest(full, NOW + timedelta(hours=3), [_listing(full)])
    app.ingestor._unlisted = unlisted  # type: ignore[method-assign]
    without_b = [item for item in full if item.external_id != "b"]
    # One stale page after it is the first miss, not the second.
    assert app.ingestor.ingest(without_b, NOW + timedelta(hours=3, minutes=15),
                               [_listing(without_b)]).removed == 0


def _listed_then_b_gone(app) -> tuple[list[MentionItem], list[MentionItem]]:  # type: ignore[no-untyped-def]
    """a-d listed and stored at NOW; the listing without b (a removed post)."""
    full = _listed("a", "b", "c", "d")
    app.ingestor.ingest(full, NOW, [_listing(full)])
    return full, [item for item in _listed("a", "b", "c", "d") if item.external_id != "b"]


def _first_misses(app) -> dict[str, datetime | None]:  # type: ignore[no-untyped-def]
    return {m.external_id or "": m.unlisted_at for m in mentions(app)}


def test_a_restarted_daemon_counts_the_miss_its_predecessor_saw(store_url: str) -> None:
    # The first miss is kept in the store: a daemon restarted between two polls (more
    # often than the grace, say) still removes on the second miss.
    before = make_app(make_config(store_url), clock=lambda: NOW)
    _, without_b = _listed_then_b_gone(before)
    missed = NOW + timedelta(minutes=10)
    assert before.ingestor.ingest(without_b, missed, [_listing(without_b)]).removed == 0
    assert _first_misses(before) == {"a": None, "b": missed, "c": None, "d": None}
    before.store.close()
    after = make_app(make_config(store_url), clock=lambda: NOW, migrate=False)
    later = NOW + timedelta(minutes=70)
    result = after.ingestor.ingest(without_b, later, [_listing(without_b)])
    assert result.removed == 1 and result.by_source["news"].removed == 1
    assert _removal_state(after)["b"] == (True, later)
    with after.store.session() as session:
        (revision,) = session.scalars(select(MentionRevision))
    assert revision.outcome == f"no longer listed by news; last seen {NOW:%Y-%m-%d %H:%M} UTC"


def test_a_daemon_on_the_same_store_counts_another_ones_miss(store_url: str) -> None:
    one = make_app(make_config(store_url), clock=lambda: NOW)
    other = make_app(make_config(store_url), clock=lambda: NOW, migrate=False)
    full = _listed("a", "b", "c")
    one.ingestor.ingest(full, NOW, [_listing(full)])
    shown = [full[0], full[2]]
    assert other.ingestor.ingest(shown, NOW + timedelta(hours=3), [_listing(shown)]).removed == 0
    assert one.ingestor.ingest(shown, NOW + timedelta(hours=3, minutes=15),
                               [_listing(shown)]).removed == 1


def test_a_mention_listed_again_loses_its_miss(store_url: str) -> None:
    app = make_app(make_config(store_url), clock=lambda: NOW)
    full, without_b = _listed_then_b_gone(app)
    after = NOW + timedelta(hours=3)
    app.ingestor.ingest(without_b, after, [_listing(without_b)])
    assert _first_misses(app)["b"] == after
    # Shown again: that miss is gone, and a later one is a first miss again.
    app.ingestor.ingest(full, after + timedelta(minutes=15), [_listing(full)])
    assert _first_misses(app)["b"] is None
    # Another page of one poll (the same moment) is no second miss either.
    again = after + timedelta(hours=2)
    assert app.ingestor.ingest(without_b, again, [_listing(without_b)]).removed == 0
    assert app.ingestor.ingest(without_b, again, [_listing(without_b)]).removed == 0
    assert _first_misses(app)["b"] == again
    # A miss that still counts is kept by the next one, which removes it.
    assert app.ingestor.ingest(without_b, again + timedelta(minutes=15),
                               [_listing(without_b)]).removed == 1
    assert _first_misses(app)["b"] == again
    assert {key for key, (removed, _) in _removal_state(app).items() if removed} == {"b"}


def test_the_same_post_through_two_sources_in_one_batch_is_one_mention(store_url: str) -> None:
    """The daemon crawls due sources together: a Trustpilot review and the Google Alert
    linking it often arrive in the same batch."""
    app = make_app(make_config(store_url), clock=lambda: NOW)
    via_reviews = complaint("r1", url="https://www.trustpilot.com/reviews/r1")
    via_alerts = complaint("tag:google.com,2013:1", source="news",
                           url="https://www.trustpilot.com/reviews/r1?utm_source=alert")
    # A product page whose reviews all carry the page URL is still never merged.
    page = "https://shop.example/product/9"
    reviews = [complaint("p1", url=page, body="Acme broke"),
               complaint("p2", url=page, body="Acme is late")]
    result = app.ingestor.ingest([via_reviews, via_alerts, *reviews], NOW)
    assert (result.new, result.seen_again) == (3, 1)
    assert result.by_source["news"].seen_again == 1 and result.by_source["tp"].new == 3
    stored = mentions(app)
    assert sorted(m.external_id or "" for m in stored) == ["p1", "p2", "r1"]
    with app.store.session() as session:
        sightings = {(s.mention_id, s.source_id) for s in session.scalars(select(MentionSighting))}
    (r1,) = [m for m in stored if m.external_id == "r1"]
    assert {(r1.id, "tp"), (r1.id, "news")} <= sightings
    assert len(alerts(app)) == 3  # one per stored mention, none for the copy
