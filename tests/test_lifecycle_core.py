"""Mention lifecycle, the pure parts, as tables of cases: canonical URLs, revisions,
follow-up threads, near-duplicates and incidents (with a simulated clock)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from monitor.core.classify import Kind, Severity
from monitor.core.dedupe import canonical_url
from monitor.core.incidents import (
    Action,
    Cause,
    Complaint,
    IncidentPolicy,
    OpenIncident,
    RecentComplaint,
    Step,
    bucket_counts,
    decide,
    joined,
    listing,
    opened,
    span,
    spike,
    tick,
    updated,
)
from monitor.core.neardup import (
    MIN_CHARS,
    NUM_PERM,
    NearDuplicateIndex,
    fold,
    gram_keys,
    shingles,
    signature,
    similarity,
)
from monitor.core.removals import (
    Span,
    first_miss,
    listing_span,
    missed_before,
    missing_since,
    unlisted,
)
from monitor.core.revisions import Snapshot, compare
from monitor.core.threads import FollowUp, PriorMessage, follow_up, ordinal

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


# -- canonical URLs ------------------------------------------------------------

CANONICAL_CASES = [
    # redirect wrappers
    ("https://www.google.com/url?q=https://example.com/a?b%3D1%26utm_source%3Dg&sa=D",
     "https://example.com/a?b=1"),
    ("https://www.google.com/url?rct=j&sa=t&url=https://www.trustpilot.com/reviews/66aa"
     "&ct=ga&cd=CAEY&usg=AOv", "https://trustpilot.com/reviews/66aa"),
    ("https://www.google.com/url?sa=t&q=&url=https://example.com/x&ved=2", "https://example.com/x"),
    ("https://www.google.co.uk/url?q=https://example.com/uk", "https://example.com/uk"),
    ("https://l.facebook.com/l.php?u=https%3A%2F%2Fexample.com%2Fp%3Ffbclid%3Dzz&h=AT0",
     "https://example.com/p"),
    ("https://lm.facebook.com/l.php?u=https%3A%2F%2Fexample.com%2Fm", "https://example.com/m"),
    ("https://l.instagram.com/?u=https%3A%2F%2Fexample.com%2Fi&e=AT", "https://example.com/i"),
    ("https://out.reddit.com/t3_abc?url=https%3A%2F%2Fexample.com%2Fx&token=AQ&app_name=reddit.com",
     "https://example.com/x"),
    ("https://href.li/?https://example.com/x?a=1", "https://example.com/x?a=1"),
    ("https://www.google.com/amp/s/www.example.com/news/123/amp", "https://example.com/news/123"),
    ("https://www.google.com/amp/example.com/news/9", "http://example.com/news/9"),
    ("https://www-example-com.cdn.ampproject.org/c/s/www.example.com/article",
     "https://example.com/article"),
    ("https://www.youtube.com/redirect?q=https%3A%2F%2Fexample.com%2Fy&v=abc", "https://example.com/y"),
    ("https://away.vk.com/away.php?to=https%3A%2F%2Fexample.ru%2Fotzyv", "https://example.ru/otzyv"),
    # nested wrappers
    ("https://l.facebook.com/l.php?u=https%3A%2F%2Fwww.google.com%2Furl%3Fq%3Dhttps%3A%2F%2Fexample.com%2Fn",
     "https://example.com/n"),
    # not unwrappable: kept as they are (news.google.com ids need a fetch)
    ("https://news.google.com/rss/articles/CBMiK2h0dHBz?oc=5",
     "https://news.google.com/rss/articles/CBMiK2h0dHBz?oc=5"),
    ("https://www.google.com/search?q=acme+complaints", "https://google.com/search?q=acme+complaints"),
    ("https://www.google.com/url?q=/search%3Fx", "https://google.com/url?q=%2Fsearch%3Fx"),
    ("https://l.facebook.com/l.php?h=AT0", "https://l.facebook.com/l.php?h=AT0"),
    ("https://out.reddit.com/t3_abc?url=javascript:alert(1)",
     "https://out.reddit.com/t3_abc?url=javascript%3Aalert%281%29"),
    # tracking parameters
    ("https://example.com/x?utm_anything=1&UTM_Source=a&id=5", "https://example.com/x?id=5"),
    ("https://example.com/x?_ga=2.1&_gl=1*ab&gbraid=x&wbraid=y&id=5", "https://example.com/x?id=5"),
    ("https://shop.example.com/p?srsltid=AfmB&igsh=MW&twclid=1&ttclid=2", "https://shop.example.com/p"),
    ("https://example.com/x?si=1&t=2&s=3", "https://example.com/x?s=3&si=1&t=2"),
    ("https://open.spotify.com/episode/1a?si=abc", "https://open.spotify.com/episode/1a"),
    ("https://twitter.com/acme/status/1?s=20&t=abc&ref_src=twsrc", "https://twitter.com/acme/status/1"),
    ("https://www.youtube.com/watch?v=abc&si=x&feature=share&t=42",
     "https://youtube.com/watch?t=42&v=abc"),
    # one host for one page
    ("https://old.reddit.com/r/acme/comments/abc/title/?utm_source=share",
     "https://reddit.com/r/acme/comments/abc/title"),
    ("https://np.reddit.com/r/acme/comments/abc/title/", "https://reddit.com/r/acme/comments/abc/title"),
    ("https://m.reddit.com/r/acme/comments/abc/title", "https://reddit.com/r/acme/comments/abc/title"),
    ("https://www.reddit.com/r/acme/comments/abc/title/?share_id=z",
     "https://reddit.com/r/acme/comments/abc/title"),
    ("https://mobile.twitter.com/acme/status/1", "https://twitter.com/acme/status/1"),
    ("https://x.com/acme/status/1?s=46", "https://twitter.com/acme/status/1"),
    ("https://m.yelp.com/biz/acme-oslo?hrid=abc&utm_campaign=x", "https://yelp.com/biz/acme-oslo?hrid=abc"),
    ("https://m.facebook.com/acme/posts/1", "https://facebook.com/acme/posts/1"),
    ("https://m.youtube.com/watch?v=abc", "https://youtube.com/watch?v=abc"),
    ("https://youtu.be/abc?si=xyz&t=42", "https://youtube.com/watch?t=42&v=abc"),
    ("https://de.trustpilot.com/reviews/66aa", "https://trustpilot.com/reviews/66aa"),
    ("https://example.com/news/123/amp/", "https://example.com/news/123"),
    ("https://example.com/amp", "https://example.com/amp"),
    ("https://example.com/dir/", "https://example.com/dir/"),
    ("https://old.reddit.com:8443/r/x/", "https://old.reddit.com:8443/r/x/"),
]


@pytest.mark.parametrize(("url", "expected"), CANONICAL_CASES)
def test_canonical_url_unwraps_cleans_and_folds(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


@pytest.mark.parametrize(("url", "_expected"), CANONICAL_CASES)
def test_canonical_url_is_idempotent(url: str, _expected: str) -> None:
    once = canonical_url(url)
    assert canonical_url(once) == once


@pytest.mark.parametrize(("seen_by_spider", "seen_by_feed"), [
    ("https://www.reddit.com/r/acme/comments/1abc/charged_twice/",
     "https://www.google.com/url?rct=j&sa=t&url=https://old.reddit.com/r/acme/comments/1abc/"
     "charged_twice/%3Futm_source%3Dshare&ct=ga"),
    ("https://www.trustpilot.com/reviews/66aa",
     "https://l.facebook.com/l.php?u=https%3A%2F%2Fde.trustpilot.com%2Freviews%2F66aa%3Ffbclid%3D1"),
    ("https://www.youtube.com/watch?v=abc", "https://youtu.be/abc?si=share"),
])
def test_same_post_through_two_sources_has_one_canonical_url(
        seen_by_spider: str, seen_by_feed: str) -> None:
    assert canonical_url(seen_by_spider) == canonical_url(seen_by_feed)


# -- revisions -----------------------------------------------------------------

def snap(body: str = "The parcel was late", *, title: str | None = "Late", rating: float | None = 3,
         rating_max: float | None = 5, kind: str = "other", removed: bool = False,
         severity: str | None = None) -> Snapshot:
    return Snapshot(title=title, body=body, rating=rating, rating_max=rating_max, kind=kind,
                    removed=removed, severity=severity)


@pytest.mark.parametrize(("old", "new", "fields", "worse", "better"), [
    (snap(), snap(), None, False, False),
    (snap("The parcel was late"), snap("  the PARCEL\nwas   late "), None, False, False),
    (snap(title=None), snap(title=""), None, False, False),
    (snap(rating=8, rating_max=10), snap(rating=4, rating_max=5), None, False, False),
    (snap(severity=None), snap(severity="high"), None, False, False),
    (snap(rating=None, rating_max=None), snap(rating=None, rating_max=5), None, False, False),
    (snap("The parcel was late"), snap("The parcel was very late"), ("body",), False, False),
    (snap(title="Late"), snap(title="Lost"), ("title",), False, False),
    (snap(rating=4), snap(rating=1), ("rating",), True, False),
    (snap(rating=1), snap(rating=4), ("rating",), False, True),
    (snap(rating=4, rating_max=5), snap(rating=6, rating_max=10), ("rating",), True, False),
    (snap(rating=None), snap(rating=3), ("rating",), False, False),
    (snap(kind="other"), snap("Never again", kind="complaint"), ("body", "kind"), True, False),
    (snap(kind="complaint", rating=1), snap("Sorted, thanks", kind="praise", rating=5),
     ("body", "rating", "kind"), False, True),
    (snap(kind="complaint", severity="normal"), snap(kind="complaint", severity="high"),
     ("severity",), True, False),
    (snap(kind="complaint", severity="high"), snap(kind="complaint", severity="normal"),
     ("severity",), False, True),
    # mixed: more stars but now critical -> worse, not better
    (snap(rating=1, severity="high"), snap(rating=3, severity="critical"),
     ("rating", "severity"), True, False),
    (snap(kind="complaint"), snap("", title=None, rating=None, removed=True), ("removed",), False,
     False),
    (snap(removed=True), snap(), ("removed",), False, False),
])
def test_compare(old: Snapshot, new: Snapshot, fields: tuple[str, ...] | None, worse: bool,
                 better: bool) -> None:
    change = compare(old, new)
    got = None if change is None else (change.fields, change.worse, change.better)
    assert got == (None if fields is None else (fields, worse, better))


@pytest.mark.parametrize(("old", "new", "replied", "expected"), [
    (snap(rating=1), snap(rating=4), True, "rating raised 1 → 4 after reply"),
    (snap(rating=1), snap(rating=4), False, None),
    (snap(rating=4), snap(rating=1), True, None),
    (snap(rating=2, rating_max=10), snap(rating=8, rating_max=10), True,
     "rating raised 2/10 → 8/10 after reply"),
    (snap(kind="complaint", rating=None), snap(kind="other", rating=None), True,
     "no longer a complaint after reply"),
    (snap(kind="complaint", severity="high"), snap(kind="complaint", severity="normal"), True,
     "severity lowered high → normal after reply"),
    (snap("a"), snap("b"), True, None),
])
def test_outcome_only_for_better_after_reply(old: Snapshot, new: Snapshot, replied: bool,
                                             expected: str | None) -> None:
    change = compare(old, new)
    assert change is not None
    assert change.outcome(replied) == expected


@pytest.mark.parametrize(("old", "new", "expected"), [
    (snap(rating=4), snap("It never came", rating=1, kind="complaint"),
     "rating 4 → 1; text edited; now a complaint"),
    (snap(kind="complaint"), snap(kind="other"), "no longer a complaint"),
    (snap(), snap(removed=True), "removed"),
    (snap(rating=None), snap(rating=2), "rating none → 2"),
    (snap(rating=None, rating_max=None), snap(rating=2), "rating none → 2"),
    (snap(rating=8, rating_max=10), snap(rating=3, rating_max=5), "rating 8/10 → 3/5"),
    (snap(kind="complaint", severity="normal"), snap(kind="complaint", severity="critical"),
     "severity normal → critical"),
])
def test_change_summary(old: Snapshot, new: Snapshot, expected: str) -> None:
    change = compare(old, new)
    assert change is not None
    assert change.summary() == expected


def test_snapshot_kind_accepts_the_enum() -> None:
    change = compare(snap(kind=Kind.OTHER), snap(kind=Kind.COMPLAINT))
    assert change is not None and change.worse


# -- follow-up threads ---------------------------------------------------------

@pytest.mark.parametrize(("n", "expected"), [
    (1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (10, "10th"), (11, "11th"), (12, "12th"),
    (13, "13th"), (14, "14th"), (21, "21st"), (22, "22nd"), (23, "23rd"), (101, "101st"),
    (111, "111th"), (112, "112th"), (113, "113th"), (120, "120th"), (122, "122nd"),
])
def test_ordinal(n: int, expected: str) -> None:
    assert ordinal(n) == expected


def msg(mention_id: int, ago: timedelta, kind: str = "complaint", replied: bool = False
        ) -> PriorMessage:
    return PriorMessage(mention_id=mention_id, first_seen=NOW - ago, kind=kind, replied=replied)


WEEK = timedelta(days=7)


@pytest.mark.parametrize(("previous", "expected"), [
    ([], (1, NOW, 0, None, ())),
    ([msg(1, 2 * DAY)], (2, NOW - 2 * DAY, 1, None, (1,))),
    ([msg(2, 1 * DAY), msg(1, 3 * DAY)], (3, NOW - 3 * DAY, 2, None, (1, 2))),
    ([msg(1, 8 * DAY), msg(2, 1 * DAY)], (2, NOW - DAY, 1, None, (2,))),
    ([msg(1, WEEK)], (2, NOW - WEEK, 1, None, (1,))),
    ([msg(1, -HOUR)], (1, NOW, 0, None, ())),
    ([msg(1, DAY, replied=True)], (2, NOW - DAY, 0, 1, (1,))),
    ([msg(1, 3 * DAY, replied=True), msg(2, DAY)], (3, NOW - 3 * DAY, 1, 1, (1, 2))),
    ([msg(1, 3 * DAY), msg(2, DAY, replied=True)], (3, NOW - 3 * DAY, 0, 2, (1, 2))),
    ([msg(1, DAY, kind="question")], (2, NOW - DAY, 0, None, (1,))),
])
def test_follow_up(previous: list[PriorMessage],
                   expected: tuple[int, datetime, int, int | None, tuple[int, ...]]) -> None:
    f = follow_up(previous, NOW, WEEK)
    assert (f.position, f.since, f.unanswered, f.last_replied, f.previous) == expected


SINCE = datetime(2026, 11, 20, 14, 5, tzinfo=UTC)


@pytest.mark.parametrize(("follow", "expected"), [
    (FollowUp(1, NOW, 0, None, ()), ""),
    (FollowUp(3, SINCE, 2, None, (1, 2)),
     "3rd message from this customer since 2026-11-20 14:05 UTC; still no public reply"),
    (FollowUp(2, SINCE, 0, None, (1,)),
     "2nd message from this customer since 2026-11-20 14:05 UTC; still no public reply"),
    (FollowUp(2, SINCE, 0, 1, (1,)),
     "2nd message from this customer since 2026-11-20 14:05 UTC; public reply to the 1st message"),
    (FollowUp(3, SINCE, 1, 1, (1, 2)),
     "3rd message from this customer since 2026-11-20 14:05 UTC; public reply to the 1st "
     "message, 1 unanswered complaint since"),
    (FollowUp(12, SINCE.astimezone(timezone(timedelta(hours=1))), 11, None, ()),
     "12th message from this customer since 2026-11-20 14:05 UTC; still no public reply"),
    (FollowUp(2, SINCE.replace(tzinfo=None), 1, None, (1,)),
     "2nd message from this customer since 2026-11-20 14:05 UTC; still no public reply"),
])
def test_follow_up_note(follow: FollowUp, expected: str) -> None:
    assert follow.note() == expected


@pytest.mark.parametrize(("unanswered", "severity", "kind", "expected"), [
    (1, Severity.LOW, None, Severity.NORMAL),
    (1, Severity.NORMAL, "complaint", Severity.HIGH),
    (2, Severity.HIGH, "other", Severity.CRITICAL),
    (1, Severity.CRITICAL, "complaint", Severity.CRITICAL),
    (0, Severity.NORMAL, "complaint", Severity.NORMAL),
    (1, Severity.LOW, "praise", Severity.LOW),
])
def test_raise_severity_only_after_unanswered_complaint(
        unanswered: int, severity: Severity, kind: str | None, expected: Severity) -> None:
    f = FollowUp(2, NOW - DAY, unanswered, None, (1,))
    assert f.raise_severity(severity, kind) == expected


# -- near-duplicates -------------------------------------------------------------

SIMILAR = [
    ("en", "I was charged twice for my order #12345 and nobody answers the support chat. "
           "Please refund me!",
     "I got charged twice for order 98765 and nobody is answering the support chat. "
     "Refund me please!"),
    ("en-copy", "Charged twice for my order, nobody answers the support chat. Please refund me!",
     "CHARGED TWICE for my order,   nobody answers the support chat!!! Please refund me "
     "https://t.co/xyz"),
    ("ru", "С меня дважды списали деньги за заказ 12345, а поддержка не отвечает в чате. "
           "Верните деньги!",
     "С меня списали деньги дважды за заказ №98765, поддержка в чате не отвечает. Верните деньги!"),
    ("no", "Jeg ble belastet to ganger for bestilling 12345, og kundeservice svarer ikke på "
           "chatten. Jeg vil ha pengene tilbake!",
     "Ble belastet to ganger for bestillingen min 98765 og kundeservice svarer ikke i chatten. "
     "Vil ha pengene tilbake!"),
]
DIFFERENT = [
    ("en", "I was charged twice for my order #12345 and nobody answers the support chat.",
     "The delivery driver left my parcel in the rain and the box was completely soaked."),
    ("en-same-topic", "The app crashes every time I open it after the latest update, cannot log in.",
     "Since the last update the app keeps crashing on startup and I can't log in."),
    ("ru", "Заказала диван три недели назад, доставку переносили четыре раза, никто не "
           "предупреждает, в чате отвечают шаблонами.",
     "Купил телефон в вашем магазине, через неделю перестал заряжаться, сервисный центр "
     "отказывается принимать по гарантии."),
    ("no", "Bestilte en sofa for tre uker siden, leveringen ble flyttet fire ganger og ingen sier fra.",
     "Kjøpte en telefon i butikken deres og etter en uke sluttet den å lade."),
    ("cross-language", "I was charged twice for my order and nobody answers the support chat.",
     "С меня дважды списали деньги за заказ, а поддержка не отвечает в чате."),
]


@pytest.mark.parametrize(("_lang", "a", "b"), SIMILAR, ids=[c[0] for c in SIMILAR])
def test_reworded_complaints_are_near_duplicates(_lang: str, a: str, b: str) -> None:
    assert similarity(signature(a), signature(b)) >= 0.7


@pytest.mark.parametrize(("_lang", "a", "b"), DIFFERENT, ids=[c[0] for c in DIFFERENT])
def test_different_complaints_are_not(_lang: str, a: str, b: str) -> None:
    assert similarity(signature(a), signature(b)) < 0.35


@pytest.mark.parametrize(("a", "b"), [
    ("App down again", "App down again"),
    ("worst service ever", "Worst service ever!"),
    ("Не работает!!!", "не работает"),
    ("", ""),
])
def test_short_texts_are_never_near_duplicates(a: str, b: str) -> None:
    # Too few shingles for a meaningful estimate, and generic phrases that unrelated
    # customers write independently: short complaints count for spikes only.
    assert (signature(a), similarity(signature(a), signature(b))) == ((), 0.0)


@pytest.mark.parametrize(("text", "expected"), [
    ("Order #12345 — LATE!!", "order 0 late"),
    ("See https://example.com/x?a=1 and www.example.org now", "see and now"),
    ("Ｆｕｌｌｗｉｄｔｈ  text_here", "fullwidth text here"),
])
def test_fold(text: str, expected: str) -> None:
    assert fold(text) == expected


GOLDEN = (148085398, 383019614, 13350174)  # SIGNATURE_VERSION 3 (numpy gram keys)


def test_signature_is_stable_json_and_fixed_length() -> None:
    # Kept signatures are compared with new ones later: a change here (seed, shingling,
    # the gram hash, datasketch's scheme) must bump SIGNATURE_VERSION.
    sig = signature("I was charged twice for my order and nobody answers the chat.")
    assert (len(sig), tuple(json.loads(json.dumps(sig))) == sig, sig[:3]) == (
        NUM_PERM, True, GOLDEN)


@pytest.mark.parametrize("text", [
    "I was charged twice for my order and nobody answers the chat.",
    "a b c d e f g h i j k l m n o p",  # one-letter words: one gram each
    "Не работает приложение, деньги списали дважды, поддержка молчит",
    "送金できません。サポートに三回連絡しましたが返事がありません",  # no spaces at all
    "ÅPENT KJØP — refusjon 1234 kr, ingen svar!!",
    "ab" * 40,
])
def test_gram_keys_are_the_shingles(text: str) -> None:
    # The signature reads grams off the whole text in one go; they must be exactly the
    # per-word shingles (three code points, 21 bits each).
    def decoded(key: int) -> str:
        return "".join(chr((key >> shift) & 0x1FFFFF) for shift in (42, 21, 0))

    assert sorted(decoded(int(k)) for k in gram_keys(text)) == sorted(shingles(text))


def test_min_chars_boundary() -> None:
    assert (signature("a" * (MIN_CHARS - 1)), len(signature("a" * MIN_CHARS))) == ((), NUM_PERM)


def test_index_add_query_remove() -> None:
    index: NearDuplicateIndex[str] = NearDuplicateIndex(0.6)
    for name, a, _b in SIMILAR:
        index.add(f"{name}-a", signature(a))
    index.add("short", signature("App down"))
    steps = [
        index.query(signature(SIMILAR[2][2])),
        index.query(signature(DIFFERENT[0][2])),
        index.query(signature("App down")),
    ]
    index.remove("ru-a")
    index.remove("never-added")
    steps.append(index.query(signature(SIMILAR[2][2])))
    assert (steps, len(index), "short" in index) == ([["ru-a"], [], [], []], 3, False)


def test_index_add_replaces_the_key() -> None:
    index: NearDuplicateIndex[int] = NearDuplicateIndex(0.6)
    index.add(1, signature(SIMILAR[0][1]))
    index.add(1, signature(DIFFERENT[0][2]))
    assert (index.query(signature(SIMILAR[0][2])), index.query(signature(DIFFERENT[0][2]))) == (
        [], [1])


def test_index_rejects_a_foreign_signature() -> None:
    with pytest.raises(ValueError, match="signature of 3 values"):
        NearDuplicateIndex[int]().add(1, (1, 2, 3))


# -- incidents: spike arithmetic ---------------------------------------------------

@pytest.mark.parametrize(("ago", "expected"), [
    ([], [0, 0, 0]),
    ([timedelta(0)], [1, 0, 0]),
    ([29 * MIN], [1, 0, 0]),
    ([30 * MIN], [0, 1, 0]),
    ([89 * MIN], [0, 0, 1]),
    ([90 * MIN], [0, 0, 0]),
    ([-MIN], [0, 0, 0]),
    ([MIN, 2 * MIN, 40 * MIN], [2, 1, 0]),
])
def test_bucket_counts(ago: list[timedelta], expected: list[int]) -> None:
    assert bucket_counts([NOW - a for a in ago], NOW, 30 * MIN, 3) == expected


@pytest.mark.parametrize(("baseline", "current", "spiking"), [
    ([], 4, False),
    ([], 5, True),
    ([0] * 336, 5, True),
    ([1, 0] * 168, 4, False),
    ([8, 5, 11] * 112, 14, False),
    ([8, 5, 11] * 112, 16, True),
    ([20] * 336, 20, True),
    ([20] * 335 + [21], 20, False),
])
def test_spike(baseline: list[int], current: int, spiking: bool) -> None:
    assert spike(baseline, current, k=3.0, min_count=5).spiking is spiking


def test_spike_threshold_is_mean_plus_k_std() -> None:
    check = spike([8, 5, 11] * 112, 14, k=3.0, min_count=5)
    assert (check.mean, round(check.std, 3), check.threshold) == (8.0, 2.449, 15.35)


# -- incidents: decisions ------------------------------------------------------------

TEXT = "I was charged twice for my order and nobody answers the support chat. Please refund me!"
REWORDED = [
    "I got charged twice for my order and nobody is answering the support chat. Refund me please!",
    "Charged twice for my order, nobody answers the support chat. Please refund me!",
    "Was charged twice for my order 4411 and nobody answers the support chat!! Please refund me",
    "They charged me twice for the order and nobody answers in the support chat. Please refund!",
]
OTHER = [
    "The delivery driver left my parcel in the rain and the box was completely soaked.",
    "Your app logs me out every single time I switch to another app, very annoying.",
    "Waited forty minutes on the hotline and then the call dropped, no callback either.",
    "The sofa arrived with a broken leg and the replacement part is out of stock until May.",
]
NAMES = {"reddit": "Reddit", "trustpilot": "Trustpilot", "gplay": "Google Play"}
POLICY = IncidentPolicy()


def arriving(text: str = TEXT, *, at: datetime = NOW, source: str = "reddit",
             author: str | None = "zoe", mention_id: int = 100) -> Complaint:
    return Complaint(mention_id=mention_id, brand="acme", source_id=source, at=at,
                     signature=signature(text), author=author)


def rc(mention_id: int, ago: timedelta, text: str = "", source: str = "reddit",
       author: str | None = None, incident: int | None = None) -> RecentComplaint:
    return RecentComplaint(mention_id=mention_id, at=NOW - ago, source_id=source,
                           signature=signature(text), author=author, incident_id=incident)


def incident(id: int = 7, *, cause: Cause = Cause.CLUSTER, last_mention_ago: timedelta = 10 * MIN,
             opened_ago: timedelta = HOUR) -> OpenIncident:
    return OpenIncident(id=id, opened_at=NOW - opened_ago, last_update_at=NOW - opened_ago,
                        last_mention_at=NOW - last_mention_ago, mentions=3,
                        sources=frozenset({"reddit"}), mentions_at_last_update=3, cause=cause)


def quiet_week(every: timedelta = 2 * HOUR) -> list[RecentComplaint]:
    """A normal week for a small brand: one complaint every two hours."""
    count = int(7 * DAY / every)
    return [rc(1000 + i, 2 * HOUR + i * every) for i in range(count)]


def busy_week() -> list[RecentComplaint]:
    """A normal week for a big brand: 5, 8 or 11 complaints in every half hour."""
    rows: list[RecentComplaint] = []
    for b in range(1, 337):
        for j in range((5, 8, 11)[b % 3]):
            rows.append(rc(5000 + len(rows), b * 30 * MIN + j * MIN))
    return rows


DECISIONS = [
    ("open on cluster: 3 near-duplicates from 3 authors",
     arriving(), [rc(1, 40 * MIN, REWORDED[0], author="ann"), rc(2, 20 * MIN, REWORDED[1],
                                                                author="bob")], [],
     (Action.OPEN, Cause.CLUSTER, None, (1, 2))),
    ("open on cluster: one author on two sources",
     arriving(author="ann"), [rc(1, 40 * MIN, REWORDED[0], "trustpilot", "ann"),
                              rc(2, 20 * MIN, REWORDED[1], "reddit", "ann")], [],
     (Action.OPEN, Cause.CLUSTER, None, (1, 2))),
    ("open on cluster: unknown authors are distinct",
     arriving(author=None), [rc(1, 40 * MIN, REWORDED[0]), rc(2, 20 * MIN, REWORDED[1])], [],
     (Action.OPEN, Cause.CLUSTER, None, (1, 2))),
    ("no cluster: too few near-duplicates",
     arriving(), [rc(1, 40 * MIN, REWORDED[0], author="ann"), rc(2, 20 * MIN, OTHER[0], author="bob")],
     [], (Action.NONE, None, None, ())),
    ("no cluster: one author pasting on one site is a thread",
     arriving(author="ann"), [rc(1, 40 * MIN, REWORDED[0], author="ann"),
                              rc(2, 20 * MIN, REWORDED[1], author="ANN")], [],
     (Action.NONE, None, None, ())),
    ("no cluster: near-duplicates outside the window",
     arriving(), [rc(1, 3 * HOUR, REWORDED[0], author="ann"),
                  rc(2, 2 * HOUR + MIN, REWORDED[1], author="bob")], [],
     (Action.NONE, None, None, ())),
    ("no cluster: short texts never cluster",
     arriving("App down"), [rc(1, 10 * MIN, "App down", author="ann"),
                            rc(2, 5 * MIN, "App down", author="bob")], [],
     (Action.NONE, None, None, ())),
    ("no open: posted too long ago (a backfill)",
     arriving(at=NOW - 3 * HOUR), [rc(1, 3 * HOUR + 5 * MIN, REWORDED[0], author="ann"),
                                   rc(2, 3 * HOUR + 9 * MIN, REWORDED[1], author="bob")], [],
     (Action.NONE, None, None, ())),
    ("no open: a normal day of a small brand",
     arriving(OTHER[0]), [rc(1, 50 * MIN, OTHER[1]), rc(2, 10 * MIN, OTHER[2])] + quiet_week(), [],
     (Action.NONE, None, None, ())),
    ("no open: a normal half hour of a big brand",
     arriving(OTHER[0]), [rc(i, i * MIN, OTHER[1 + i % 3]) for i in range(1, 13)] + busy_week(), [],
     (Action.NONE, None, None, ())),
    ("open on spike: 6 unrelated complaints in 30 min against one per 2 h",
     arriving(OTHER[0]), [rc(i, i * 5 * MIN, OTHER[1 + i % 3]) for i in range(1, 6)] + quiet_week(),
     [],
     (Action.OPEN, Cause.SPIKE, None, (1, 2, 3, 4, 5))),
    ("open on spike: the complaints already in an incident are not members",
     arriving(OTHER[0]), [rc(i, i * 5 * MIN, OTHER[1 + i % 3], incident=7 if i == 1 else None)
                          for i in range(1, 6)], [incident(7)],
     (Action.OPEN, Cause.SPIKE, None, (2, 3, 4, 5))),
    ("join: near-duplicate of an open incident's member",
     arriving(), [rc(1, 50 * MIN, REWORDED[2], incident=7), rc(2, 30 * MIN, OTHER[0], incident=8)],
     [incident(7), incident(8)], (Action.JOIN, None, 7, ())),
    ("join: the most similar of two incidents",
     arriving(), [rc(1, 50 * MIN, REWORDED[0], incident=7), rc(2, 30 * MIN, REWORDED[2], incident=8)],
     [incident(7), incident(8)], (Action.JOIN, None, 8, ())),
    ("join: a late post near-duplicate of an open incident",
     arriving(at=NOW - 3 * HOUR), [rc(1, 50 * MIN, REWORDED[2], incident=7)], [incident(7)],
     (Action.JOIN, None, 7, ())),
    ("join: the spike incident while the spike lasts",
     arriving(OTHER[3]), [rc(i, i * 5 * MIN, OTHER[i % 3], incident=9) for i in range(1, 6)]
     + quiet_week(), [incident(9, cause=Cause.SPIKE)], (Action.JOIN, None, 9, ())),
    ("no join: the spike incident once the spike is over",
     arriving(OTHER[3]), [rc(1, 50 * MIN, OTHER[0], incident=9)] + quiet_week(),
     [incident(9, cause=Cause.SPIKE)], (Action.NONE, None, None, ())),
    ("no join: an incident quiet for 2 h is over",
     arriving(), [rc(1, 2 * HOUR + 5 * MIN, REWORDED[2], incident=7)],
     [incident(7, last_mention_ago=2 * HOUR)], (Action.NONE, None, None, ())),
    ("the arriving complaint listed among the recent ones is not its own duplicate",
     arriving(), [rc(100, timedelta(0), TEXT, author="zoe"), rc(1, 5 * MIN, REWORDED[0], author="ann")],
     [], (Action.NONE, None, None, ())),
]


@pytest.mark.parametrize(("_name", "complaint", "recent", "incidents", "expected"), DECISIONS,
                         ids=[d[0] for d in DECISIONS])
def test_decide(_name: str, complaint: Complaint, recent: list[RecentComplaint],
                incidents: list[OpenIncident],
                expected: tuple[Action, Cause | None, int | None, tuple[int, ...]]) -> None:
    d = decide(complaint, recent, incidents, NOW, POLICY, NAMES)
    assert (d.action, d.cause, d.incident_id, d.members) == expected


@pytest.mark.parametrize(("complaint", "recent", "expected"), [
    (arriving(source="gplay"), [rc(1, 40 * MIN, REWORDED[0], "reddit", "ann"),
                                rc(2, 20 * MIN, REWORDED[1], "trustpilot", "bob")],
     "3 near-duplicate complaints within 2 h from 3 authors on Google Play, Reddit and Trustpilot"),
    (arriving(OTHER[0]), [rc(i, i * 5 * MIN, OTHER[1 + i % 3]) for i in range(1, 6)] + quiet_week(),
     "spike: 6 complaints in 30 min (usually 0.2 ± 0.4, threshold 5)"),
])
def test_decision_reason(complaint: Complaint, recent: list[RecentComplaint], expected: str) -> None:
    assert decide(complaint, recent, [], NOW, POLICY, NAMES).reason == expected


def test_opened_counts_the_members() -> None:
    complaint = arriving(source="gplay")
    recent = [rc(1, 40 * MIN, REWORDED[0], "reddit", "ann"),
              rc(2, 20 * MIN, REWORDED[1], "trustpilot", "bob"), rc(3, 10 * MIN, OTHER[0])]
    d = decide(complaint, recent, [], NOW, POLICY)
    assert opened(42, d, complaint, recent, NOW) == OpenIncident(
        id=42, opened_at=NOW, last_update_at=NOW, last_mention_at=NOW, mentions=3,
        sources=frozenset({"gplay", "reddit", "trustpilot"}), mentions_at_last_update=3,
        cause=Cause.CLUSTER)


# -- incidents: updates and close, with a simulated clock -----------------------------

def test_incident_life_updates_at_most_every_30_min_and_closes_after_quiet() -> None:
    start = NOW
    state = OpenIncident(id=1, opened_at=start, last_update_at=start, last_mention_at=start,
                         mentions=3, sources=frozenset({"reddit"}), mentions_at_last_update=3)
    arrivals = {5: "trustpilot", 10: "reddit", 20: "reddit", 50: "trustpilot", 100: "reddit"}
    events: list[tuple[int, Step, str]] = []
    for minute in range(0, 5 * 60):
        now = start + minute * MIN
        if minute in arrivals:
            state = joined(state, arriving(at=now, source=arrivals[minute]))
        t = tick(state, now, POLICY, NAMES)
        if t.step is Step.UPDATE:
            state = updated(state, now)
        if t.step is not Step.NONE:
            events.append((minute, t.step, t.text))
        if t.step is Step.CLOSE:
            break
    assert events == [
        (30, Step.UPDATE, "+3 mentions in 30 min, now on Reddit and Trustpilot"),
        (60, Step.UPDATE, "+1 mention in 30 min, now on Reddit and Trustpilot"),
        (100, Step.UPDATE, "+1 mention in 40 min, now on Reddit and Trustpilot"),
        (220, Step.CLOSE,
         "closed after 2 h without new mentions: 8 mentions over 1 h 40 min on Reddit and Trustpilot"),
    ]


@pytest.mark.parametrize(("mentions", "since_update", "since_mention", "expected"), [
    (3, 45 * MIN, 5 * MIN, Step.NONE),
    (5, 29 * MIN, 5 * MIN, Step.NONE),
    (5, 30 * MIN, 5 * MIN, Step.UPDATE),
    (5, 3 * HOUR, 2 * HOUR - MIN, Step.UPDATE),
    (5, 3 * HOUR, 2 * HOUR, Step.CLOSE),
    (3, 10 * MIN, 2 * HOUR, Step.CLOSE),
])
def test_tick(mentions: int, since_update: timedelta, since_mention: timedelta,
              expected: Step) -> None:
    state = OpenIncident(id=1, opened_at=NOW - 4 * HOUR, last_update_at=NOW - since_update,
                         last_mention_at=NOW - since_mention, mentions=mentions,
                         sources=frozenset({"reddit"}), mentions_at_last_update=3)
    assert tick(state, NOW, POLICY).step is expected


@pytest.mark.parametrize(("duration", "expected"), [
    (timedelta(0), "0 min"), (45 * MIN, "45 min"), (59 * MIN + timedelta(seconds=59), "59 min"),
    (HOUR, "1 h"), (2 * HOUR + 15 * MIN, "2 h 15 min"), (DAY, "1 d"), (DAY + 3 * HOUR, "1 d 3 h"),
])
def test_span(duration: timedelta, expected: str) -> None:
    assert span(duration) == expected


@pytest.mark.parametrize(("names", "expected"), [
    ([], ""), (["Reddit"], "Reddit"), (["Trustpilot", "Reddit"], "Reddit and Trustpilot"),
    (["Trustpilot", "reddit", "App Store", "Reddit"], "App Store, Reddit, reddit and Trustpilot"),
])
def test_listing(names: list[str], expected: str) -> None:
    assert listing(names) == expected


@pytest.mark.parametrize("changes", [
    {"window": timedelta(0)}, {"min_cluster": 1}, {"similarity": 0.0}, {"similarity": 1.5},
    {"baseline": timedelta(minutes=10)}, {"k": -1.0}, {"min_count": 0},
])
def test_policy_rejects_nonsense(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="incident policy"):
        IncidentPolicy(**changes)  # type: ignore[arg-type]


# -- the vectorised window against a plain loop over the rows -------------------------


def reference_decide(complaint: Complaint, recent: list[RecentComplaint],
                     incidents: list[OpenIncident], now: datetime,
                     policy: IncidentPolicy) -> tuple[Action, int | None, Cause | None,
                                                      tuple[int, ...]]:
    """The rules of the module doc, written as the obvious loop (the first version)."""
    others = [r for r in recent if r.mention_id != complaint.mention_id]
    live = {i.id: i for i in incidents if now - i.last_mention_at < policy.quiet}
    best: tuple[float, int] | None = None
    for r in others:
        if r.incident_id in live:
            score = similarity(complaint.signature, r.signature)
            if score >= policy.similarity and (best is None or score > best[0]):
                best = (score, r.incident_id)
    if best is not None:
        return Action.JOIN, best[1], None, ()
    anchor = min(complaint.at, now)
    counts = bucket_counts([complaint.at, *(r.at for r in others)], anchor,
                           policy.spike_bucket, 1 + policy.baseline_buckets)
    check = spike(counts[1:], counts[0], k=policy.k, min_count=policy.min_count)
    spiking = [i for i in live.values() if i.cause is Cause.SPIKE]
    if check.spiking and spiking:
        return Action.JOIN, max(spiking, key=lambda i: i.last_mention_at).id, None, ()
    if complaint.at < now - policy.window:
        return Action.NONE, None, None, ()
    free = [r for r in others if r.incident_id not in live]
    cluster = [r for r in free if abs(r.at - complaint.at) <= policy.window
               and similarity(complaint.signature, r.signature) >= policy.similarity]
    if len(cluster) + 1 >= policy.min_cluster:
        authors = {(r.source_id, r.author or r.mention_id) for r in cluster}
        authors.add((complaint.source_id, complaint.author or complaint.mention_id))
        if len(authors) >= 2 or len({complaint.source_id, *(r.source_id for r in cluster)}) >= 2:
            return Action.OPEN, None, Cause.CLUSTER, tuple(sorted(r.mention_id for r in cluster))
    if check.spiking:
        start = anchor - policy.spike_bucket
        return Action.OPEN, None, Cause.SPIKE, tuple(sorted(
            r.mention_id for r in free if start < r.at <= anchor))
    return Action.NONE, None, None, ()


def test_window_decides_as_the_plain_loop_does() -> None:
    """Random weeks of complaints (reworded near-duplicates, bursts, open incidents),
    the window grown batch by batch as ingest grows it: every decision is the loop's."""
    import random

    from monitor.core.incidents import RecentWindow

    rng = random.Random(7)
    policy = IncidentPolicy(min_count=4, k=2.0)
    texts = [*REWORDED, TEXT, "The app crashes every time I open the settings page now",
             "Delivery was three weeks late and support never answered my emails"]
    signatures = [signature(t) for t in texts]
    seen: set[tuple[Action, Cause | None]] = set()
    for _round in range(20):
        rows = [RecentComplaint(
            mention_id=i, at=NOW - timedelta(minutes=rng.choice(
                [rng.randrange(0, 120), rng.randrange(0, 7 * 24 * 60)])),
            source_id=rng.choice(["reddit", "trustpilot"]),
            signature=rng.choice(signatures) if rng.random() < 0.5 else (),
            author=rng.choice([None, "ann", "bob", "cy"]),
            incident_id=rng.choice([None, None, None, 7, 8]))
            for i in range(rng.randrange(5, 400))]
        if _round % 3 == 0:  # a burst in the last half hour
            rows += [RecentComplaint(mention_id=len(rows) + i, source_id="reddit",
                                     at=NOW - timedelta(minutes=rng.randrange(0, 25)))
                     for i in range(30)]
        incidents = [incident(7, cause=rng.choice(list(Cause))),
                     incident(8, last_mention_ago=rng.choice([10 * MIN, 5 * HOUR]))
                     ] if _round % 2 else []
        window = RecentWindow()
        for start in range(0, len(rows), 50):
            window.add(rows[start:start + 50])
        for _ in range(10):
            complaint = Complaint(
                mention_id=rng.choice([rows[0].mention_id, 10_000]), brand="acme",
                source_id="reddit", at=NOW - timedelta(minutes=rng.randrange(0, 200)),
                signature=rng.choice(signatures), author=rng.choice([None, "zoe"]))
            d = decide(complaint, window, incidents, NOW, policy)
            seen.add((d.action, d.cause))
            assert (d.action, d.incident_id, d.cause, d.members) == reference_decide(
                complaint, rows, incidents, NOW, policy)
    # Every kind of decision came up, so the comparison covered every rule.
    assert seen == {(Action.JOIN, None), (Action.NONE, None), (Action.OPEN, Cause.CLUSTER),
                    (Action.OPEN, Cause.SPIKE)}, seen


# -- removals nobody announced ----------------------------------------------------------

_T = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
_H = timedelta(hours=1)


@pytest.mark.parametrize(("published", "pinned", "expected"), [
    ([_T, _T - _H, _T - 2 * _H], [], Span(_T - 2 * _H, _T)),
    # oldest first (some feeds): the same span
    ([_T - 2 * _H, _T - _H, _T], [], Span(_T - 2 * _H, _T)),
    # an undated entry says nothing about the span
    ([_T, None, _T - _H], [], Span(_T - _H, _T)),
    # a pinned old post at the top does not stretch the span back to it
    ([_T - 30 * _H, _T, _T - _H], [True, False, False], Span(_T - _H, _T)),
    # too little to tell: one dated item, or none
    ([_T], [], None),
    ([None, None], [], None),
    ([_T - 30 * _H, _T], [True], None),
    ([], [], None),
])
def test_listing_span(published: list[datetime | None], pinned: list[bool],
                      expected: Span | None) -> None:
    assert listing_span(published, pinned) == expected


def test_span_leaves_out_its_oldest_end() -> None:
    # A mention published with the page's last item may open the next page.
    span = Span(_T - _H, _T)
    assert [span.covers(moment) for moment in (_T - 2 * _H, _T - _H, _T - _H / 2, _T,
                                                 _T + _H)] == [False, False, True, True, False]


@pytest.mark.parametrize(("grace", "interval", "expected"), [
    (_H, timedelta(minutes=15), _T - _H),          # a fast source: the grace decides
    (_H, timedelta(hours=6), _T - 9 * _H),         # a slow one: two polls must miss it
    (timedelta(0), timedelta(minutes=10), _T - timedelta(minutes=15)),
])
def test_missing_since(grace: timedelta, interval: timedelta, expected: datetime) -> None:
    assert missing_since(_T, grace, interval) == expected


def test_listing_span_of_naive_and_offset_times_is_in_utc() -> None:
    # A JSON feed can date one entry "2026-11-24T12:00:00" (no offset: UTC, as ingest
    # reads it) and the next "2026-11-24T13:30:00+02:00": comparing them raised TypeError.
    naive = datetime(2026, 11, 24, 12, 0)
    oslo = datetime(2026, 11, 24, 13, 30, tzinfo=timezone(timedelta(hours=2)))
    span = listing_span([naive, oslo, _T - 2 * _H])
    assert span == Span(_T - 2 * _H, _T)
    assert span is not None and span.newest.tzinfo is UTC and span.oldest.tzinfo is UTC


@pytest.mark.parametrize("published", [
    # a feed in another order (updated, popularity, relevance): the top N by that order
    # leave out live entries published between its oldest and newest
    [_T, _T - 3 * _H, _T - _H, _T - 2 * _H],
    [_T - _H, _T, _T - 2 * _H],
])
def test_a_listing_not_in_date_order_covers_nothing(published: list[datetime]) -> None:
    assert listing_span(published) is None


_SEEN = _T - 5 * _H  # the mention's last sighting


@pytest.mark.parametrize(("first_missed", "now", "expected"), [
    # nothing missed it before this listing: one miss is not enough
    (None, _T, False),
    # the same poll again (another page of it) is no second miss
    (_T, _T, False),
    (_T, _T + _H / 4, True),
    # missed at or before its last sighting: that sighting undid the miss
    (_SEEN, _T + _H / 4, False),
    (_SEEN - _H, _T + _H / 4, False),
    # a miss stored by a daemon whose clock is ahead is no earlier miss yet
    (_T + _H, _T + _H / 4, False),
])
def test_missed_before(first_missed: datetime | None, now: datetime, expected: bool) -> None:
    assert missed_before(first_missed, _SEEN, now) is expected


@pytest.mark.parametrize(("first_missed", "expected"), [
    (None, _T),                  # the first miss: this listing's
    (_T - _H, _T - _H),          # an earlier miss since the last sighting is kept
    (_T, _T),                    # another page of this poll already counted it
    (_SEEN, _T),                 # one at or before the last sighting no longer counts
    (_SEEN - _H, _T),
])
def test_first_miss(first_missed: datetime | None, expected: datetime) -> None:
    assert first_miss(first_missed, _SEEN, _T) == expected


@pytest.mark.parametrize(("last_seen", "first_missed", "expected"), [
    (_T - 2 * _H, _T - _H, True),       # missed before, not seen for the grace
    (_T - 2 * _H, None, False),         # not seen for long, but this is the first miss
    (_T - 2 * _H, _T - 3 * _H, False),  # that miss came before the last sighting
    (_T - _H / 2, _T - _H / 4, False),  # missed before, but seen within the grace
    (_T - _H, _T - _H / 2, False),      # last seen exactly at the cutoff: not before it
])
def test_unlisted(last_seen: datetime, first_missed: datetime | None, expected: bool) -> None:
    assert unlisted(first_missed, last_seen, _T, cutoff=_T - _H) is expected
