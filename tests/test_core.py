"""Pure parts, as tables of cases: dedupe keys, durations, schedule and backoff, routing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.core.classify import Kind, Severity
from monitor.core.dedupe import canonical_url, content_hash, dedupe_key
from monitor.core.durations import parse_duration
from monitor.core.routing import Rule, match_brand, route
from monitor.core.schedule import alert_retry_delay, backoff_delay, next_run_after_success

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("url", "expected"), [
    ("https://www.example.com/a?utm_source=x&b=2&a=1#frag", "https://example.com/a?a=1&b=2"),
    ("https://example.com/r?fbclid=abc", "https://example.com/r"),
    ("https://example.com/r?gclid=1&id=5", "https://example.com/r?id=5"),
    ("HTTPS://Example.com/p%7e", "https://example.com/p~"),
    (None, None),
    ("", None),
])
def test_canonical_url(url: str | None, expected: str | None) -> None:
    assert canonical_url(url) == expected


@pytest.mark.parametrize(("source", "external", "canonical", "expected_prefix"), [
    ("s1", "abc", "https://example.com/x", "id:s1:abc"),
    ("s1", None, "https://example.com/x", "url:https://example.com/x"),
    ("s1", None, None, "hash:"),
])
def test_dedupe_key_prefers_external_id_then_url_then_hash(
        source: str, external: str | None, canonical: str | None, expected_prefix: str) -> None:
    key = dedupe_key(source, external, canonical, content_hash("t", "b"))
    assert key.startswith(expected_prefix)


def test_content_hash_ignores_case_and_spacing_but_not_words() -> None:
    assert content_hash("Title", "Some  body\n") == content_hash("title", "some body")
    assert content_hash("Title", "Some body") != content_hash("Title", "Other body")


def test_same_item_two_sources_with_ids_are_two_keys() -> None:
    digest = content_hash(None, "x")
    assert dedupe_key("a", "1", None, digest) != dedupe_key("b", "1", None, digest)


@pytest.mark.parametrize(("text", "seconds"), [
    ("90s", 90), ("15m", 900), ("1h30m", 5400), ("2d", 172800), ("1w", 604800),
    (" 10 m", 600), ("45", 45), (30, 30), (0.5, 0.5), ("500ms", 0.5),
])
def test_parse_duration(text: str | int | float, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("bad", ["", "5x", "m5", "1h 2q", "-5", True, -3])
def test_parse_duration_rejects(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(("draw", "expected_minutes"), [(0.0, 13.5), (0.5, 15), (0.999999, 16.5)])
def test_next_run_jitter_stays_within_fraction(draw: float, expected_minutes: float) -> None:
    moment = next_run_after_success(NOW, timedelta(minutes=15), 0.1, draw)
    assert abs((moment - NOW).total_seconds() - expected_minutes * 60) < 1


@pytest.mark.parametrize(("failures", "retry_after", "expected"), [
    (1, None, 600),            # first failure: one interval
    (2, None, 1200),
    (3, None, 2400),
    (10, None, 6 * 3600),      # capped
    (1, 3600.0, 3600),         # Retry-After longer than backoff wins
    (3, 5.0, 2400),            # shorter Retry-After never shortens the backoff
    (1, 86400.0, 86400),       # the site's word beats our cap
])
def test_backoff_delay(failures: int, retry_after: float | None, expected: int) -> None:
    delay = backoff_delay(timedelta(minutes=10), failures, timedelta(hours=6), retry_after)
    assert delay.total_seconds() == expected


@pytest.mark.parametrize(("attempts", "expected"), [(1, 30), (2, 60), (3, 120), (20, 3600)])
def test_alert_retry_delay(attempts: int, expected: int) -> None:
    delay = alert_retry_delay(attempts, timedelta(seconds=30), timedelta(hours=1))
    assert delay.total_seconds() == expected


RULES = [
    Rule(channels=("pager",), kinds=frozenset({Kind.COMPLAINT}), min_severity=Severity.CRITICAL),
    Rule(channels=("chat",), brands=frozenset({"acme"})),
    Rule(channels=("reddit-team", "chat"), sources=frozenset({"reddit"})),
]


@pytest.mark.parametrize(("brand", "source", "kind", "severity", "first", "expected"), [
    ("acme", "tp", Kind.COMPLAINT, Severity.CRITICAL, False, ["pager", "chat"]),
    ("acme", "tp", Kind.COMPLAINT, Severity.CRITICAL, True, ["pager"]),
    ("acme", "tp", Kind.COMPLAINT, Severity.NORMAL, False, ["chat"]),
    ("acme", "tp", Kind.COMPLAINT, Severity.LOW, False, []),
    ("acme", "tp", Kind.PRAISE, Severity.NORMAL, False, []),
    ("other", "reddit", Kind.QUESTION, Severity.NORMAL, False, ["reddit-team", "chat"]),
    ("other", "tp", Kind.QUESTION, Severity.HIGH, False, []),
    (None, "reddit", Kind.COMPLAINT, Severity.CRITICAL, False, []),
])
def test_route_table(brand: str | None, source: str, kind: Kind, severity: Severity,
                     first: bool, expected: list[str]) -> None:
    assert route(RULES, ["default"], brand, source, kind, severity, first) == expected


def test_route_without_rules_uses_default_channels_for_complaints_and_questions() -> None:
    assert route([], ["a", "b"], "acme", "s", Kind.COMPLAINT, Severity.NORMAL) == ["a", "b"]
    assert route([], ["a"], "acme", "s", Kind.PRAISE, Severity.NORMAL) == []


@pytest.mark.parametrize(("text", "source_brand", "expected"), [
    ("My ACME router died", None, "acme"),
    ("Globex is fine", None, "globex"),
    ("nothing relevant", None, None),
    ("nothing relevant", "acme", "acme"),
])
def test_match_brand(text: str, source_brand: str | None, expected: str | None) -> None:
    keywords = [("acme", ["acme"]), ("globex", ["Globex"])]
    assert match_brand(text, source_brand, keywords) == expected
