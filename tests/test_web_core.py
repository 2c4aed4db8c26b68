"""Pure parts of the web inbox, as tables of cases: triage transitions, snoozes,
countdowns, ignore rules, and the security helpers (redirects, links, tokens, the
login limiter)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from monitor.config import WebConfig
from monitor.core import ignore
from monitor.core.classify import Kind, Severity, Verdict
from monitor.core.triage import countdown, handled, is_waiting, next_status
from monitor.web.security import (
    LoginLimiter,
    Principal,
    client_address,
    csrf_ok,
    csrf_token,
    proxy_principal,
    safe_href,
    safe_next,
    token_principal,
)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("action", "current", "expected"), [
    ("acknowledge", "open", "acknowledged"),
    ("acknowledge", "snoozed", "acknowledged"),
    ("acknowledge", "acknowledged", None),
    ("acknowledge", "resolved", None),
    ("snooze", "open", "snoozed"),
    ("snooze", "acknowledged", "snoozed"),
    ("snooze", "snoozed", "snoozed"),  # snoozing again moves the time
    ("snooze", "resolved", None),
    ("snooze", "replied", None),
    ("replied", "acknowledged", "replied"),
    ("replied", "resolved", None),
    ("resolve", "open", "resolved"),
    ("resolve", "replied", "resolved"),
    ("resolve", "resolved", None),
    ("resolve", "not_complaint", None),
    ("not_complaint", "open", "not_complaint"),
    ("not_complaint", "resolved", None),
    ("reopen", "resolved", "open"),
    ("reopen", "not_complaint", "open"),
    ("reopen", "open", None),
    ("assign", "resolved", "resolved"),  # assigning keeps the status
    ("assign", "open", "open"),
])
def test_transitions(action: str, current: str, expected: str | None) -> None:
    assert next_status(action, current) == expected


def test_unknown_action() -> None:
    with pytest.raises(KeyError):
        next_status("explode", "open")


@pytest.mark.parametrize(("status", "until", "waiting"), [
    ("open", None, True),
    ("acknowledged", None, True),
    ("snoozed", NOW + timedelta(minutes=1), False),
    ("snoozed", NOW, True),
    ("snoozed", NOW - timedelta(hours=1), True),
    ("snoozed", None, True),
    ("replied", None, False),
    ("resolved", None, False),
    ("not_complaint", None, False),
])
def test_is_waiting(status: str, until: datetime | None, waiting: bool) -> None:
    assert is_waiting(status, until, NOW) is waiting


@pytest.mark.parametrize(("delta", "text"), [
    (timedelta(hours=2), "2h 00m left"),
    (timedelta(hours=2, minutes=5, seconds=59), "2h 05m left"),
    (timedelta(minutes=20), "20m left"),
    (timedelta(seconds=30), "0m left"),
    (timedelta(0), "0m left"),
    (timedelta(minutes=-35), "35m overdue"),
    (timedelta(days=3, hours=4), "3d 4h left"),
    (timedelta(days=-1, hours=-2), "1d 2h overdue"),
])
def test_countdown(delta: timedelta, text: str) -> None:
    assert countdown(NOW + delta, NOW) == text


def test_countdown_without_deadline() -> None:
    assert countdown(None, NOW) == ""


RULES = [
    ignore.IgnoreRule(1, "acme", ignore.AUTHOR, "reddit:promobot"),
    ignore.IgnoreRule(2, "acme", ignore.PHRASE, "buy globexcoin"),
    ignore.IgnoreRule(3, None, ignore.PHRASE, "job opening"),
]


@pytest.mark.parametrize(("brand", "author_key", "text", "rule"), [
    ("acme", "reddit:promobot", "anything at all", 1),
    ("acme", "trustpilot:promobot", "anything at all", None),  # another site's author
    ("globex", "reddit:promobot", "anything at all", None),  # another brand
    ("acme", None, "Acme sucks, BUY\n  GlobexCoin now", 2),
    ("acme", "reddit:x", "buy globex coin", None),
    ("globex", None, "buy globexcoin", None),
    (None, None, "New JOB opening at Acme", 3),
    ("acme", None, "New job opening at Acme", None),
    # Whole words only.
    ("acme", None, "I did not buy globexcoins", None),
    ("acme", None, "rebuy globexcoin", None),
    ("acme", None, "please (buy globexcoin!)", 2),
    ("acme", None, "buy globexcoin", 2),
    (None, None, "job openings", None),
])
def test_ignore_rules_match(brand: str | None, author_key: str | None, text: str,
                            rule: int | None) -> None:
    found = ignore.matching_rule(RULES, brand, author_key, text)
    assert (found.id if found else None) == rule


@pytest.mark.parametrize(("kind", "ignored"), [
    (Kind.COMPLAINT, True), (Kind.QUESTION, True), (Kind.PRAISE, False), (Kind.OTHER, False),
])
def test_ignore_rules_turn_complaints_into_other(kind: Kind, ignored: bool) -> None:
    verdict = Verdict(kind, Severity.HIGH, ("mentions 'refund'",), 0.9, "en")
    result = ignore.apply(RULES, "acme", "reddit:promobot", "t", "b", verdict)
    if ignored:
        assert (result.kind, result.severity) == (Kind.OTHER, Severity.LOW)
        assert result.reasons[-1] == \
            "ignore rule #1: author 'reddit:promobot' marked not a complaint"
    else:
        assert result is verdict


@pytest.mark.parametrize(("reason", "silenced"), [
    ("legal threat: mentions 'lawyer'", False),
    ("safety or health risk: mentions 'caught fire'", False),
    ("data or privacy breach: mentions 'leaked'", False),
    ("threat of violence: mentions 'burn down'", False),
    # the staple of spam and rants
    ("fraud or scam accusation: mentions 'scam'", True),
    ("press or public audience: mentions 'journalist'", True),
])
def test_ignore_rules_never_silence_a_legal_safety_breach_or_violent_threat(
        reason: str, silenced: bool) -> None:
    verdict = Verdict(Kind.COMPLAINT, Severity.CRITICAL, (reason,), 0.99, "en")
    result = ignore.apply(RULES, "acme", "reddit:promobot", "t", "b", verdict)
    if silenced:
        assert (result.kind, result.severity) == (Kind.OTHER, Severity.LOW)
    else:
        assert (result.kind, result.severity) == (Kind.COMPLAINT, Severity.CRITICAL)
        assert result.reasons[-1] == ("ignore rule #1: author 'reddit:promobot' marked not "
                                      "a complaint, but critical: still alerts")


@pytest.mark.parametrize(("phrase", "text", "found"), [
    ("scar", "i was scared", False),
    ("scar", "a scar, then", True),
    ("100%", "100% sure", True),  # a phrase ending in punctuation
    ("100%", "1100% sure", False),
    ("-promo-", "x-promo-y", True),
    ("åpen", "åpent", False),
])
def test_phrase_matches_whole_words(phrase: str, text: str, found: bool) -> None:
    assert ignore.phrase_in(phrase, text) is found


@pytest.mark.parametrize(("phrase", "stored"), [
    ("  Buy   GlobexCoin ", "buy globexcoin"),
    ("ÅPEN\tstilling", "åpen stilling"),
])
def test_phrases_are_stored_normalised(phrase: str, stored: str) -> None:
    assert ignore.normalise_phrase(phrase) == stored


@pytest.mark.parametrize(("target", "safe"), [
    ("/mentions/4", "/mentions/4"),
    ("/?q=a&b=c", "/?q=a&b=c"),
    ("//evil.example/x", "/"),
    ("https://evil.example/", "/"),
    ("/\\evil.example", "/"),
    ("", "/"),
    (None, "/"),
    ("javascript:alert(1)", "/"),
])
def test_safe_next(target: str | None, safe: str) -> None:
    assert safe_next(target) == safe


@pytest.mark.parametrize(("url", "href"), [
    ("https://www.trustpilot.com/reviews/1", "https://www.trustpilot.com/reviews/1"),
    ("http://example.com/a?b=c", "http://example.com/a?b=c"),
    ("javascript:alert(1)", None),
    (" JavaScript:alert(1)", None),
    ("data:text/html,<script>alert(1)</script>", None),
    ("https://example.com/\nx", None),
    ("//example.com", None),
    (None, None),
])
def test_safe_href(url: str | None, href: str | None) -> None:
    assert safe_href(url) == href


def _web(**values: object) -> WebConfig:
    return WebConfig.model_validate({"secret": "x" * 32, **values})


def test_tokens_compare_digests_and_carry_their_role() -> None:
    web = _web(tokens={
        "bot": {"token": "b" * 30, "role": "responder"},
        "ro": {"token": "sha256:" + hashlib.sha256(b"r" * 30).hexdigest(), "role": "viewer"}})
    assert token_principal(web, "Bearer " + "b" * 30) == Principal("bot", "responder", "token")
    assert token_principal(web, "bearer " + "r" * 30) == Principal("ro", "viewer", "token")
    for header in (None, "", "Bearer ", "Basic " + "b" * 30, "Bearer " + "b" * 29,
                   "Bearer sha256:" + hashlib.sha256(b"r" * 30).hexdigest()):
        assert token_principal(web, header) is None, header


def test_proxy_header_is_believed_only_from_proxy_addresses() -> None:
    off = _web(users={"ann": {"role": "admin"}})
    on = _web(proxy_header="X-User", proxy_addresses=["10.0.0.5"],
              users={"ann": {"role": "admin"}})
    assert proxy_principal(off, "127.0.0.1", {"X-User": "ann"}) is None
    assert proxy_principal(on, "10.0.0.6", {"X-User": "ann"}) is None
    assert proxy_principal(on, "10.0.0.5", {"X-User": "ann"}) == Principal("ann", "admin", "proxy")
    assert proxy_principal(on, "10.0.0.5", {"X-User": "bob"}) == Principal("bob", "viewer",
                                                                           "proxy")
    assert proxy_principal(on, "10.0.0.5", {"X-User": " "}) is None
    assert proxy_principal(on, "10.0.0.5", {}) is None


def test_roles_rank() -> None:
    assert Principal("a", "admin", "session").can("responder")
    assert Principal("r", "responder", "session").can("viewer")
    assert not Principal("r", "responder", "session").can("admin")
    assert not Principal("v", "viewer", "session").can("responder")


def test_csrf_token_is_kept_per_session_and_compared() -> None:
    session: dict[str, object] = {}
    token = csrf_token(session)
    assert csrf_token(session) == token and len(token) >= 40
    assert csrf_ok(session, token)
    assert not csrf_ok(session, token[:-1])
    assert not csrf_ok(session, None)
    assert not csrf_ok({}, token)


def test_login_limiter_window() -> None:
    limiter = LoginLimiter(3, timedelta(minutes=10))
    keys = ["addr:1.2.3.4", "user:ann"]
    for minute in range(3):
        assert limiter.retry_after(keys, NOW + timedelta(minutes=minute)) == 0
        limiter.failed(keys, NOW + timedelta(minutes=minute))
    assert limiter.retry_after(keys, NOW + timedelta(minutes=3)) == 7 * 60
    assert limiter.retry_after(["user:ann"], NOW + timedelta(minutes=9, seconds=59)) == 1
    assert limiter.retry_after(["addr:5.6.7.8", "user:bob"], NOW) == 0
    limiter.succeeded(["user:ann"])  # a good login clears the user, not the address
    assert limiter.retry_after(["user:ann"], NOW + timedelta(minutes=3)) == 0
    assert limiter.retry_after(["addr:1.2.3.4"], NOW + timedelta(minutes=3)) == 7 * 60
    assert limiter.retry_after(keys, NOW + timedelta(minutes=10)) == 0  # the first one expired


@pytest.mark.parametrize(("peer", "forwarded", "address"), [
    ("198.51.100.9", None, "198.51.100.9"),
    ("198.51.100.9", "203.0.113.7", "198.51.100.9"),  # not a proxy: the header is ignored
    ("127.0.0.1", None, "127.0.0.1"),
    ("127.0.0.1", "203.0.113.7", "203.0.113.7"),
    ("127.0.0.1", "1.1.1.1, 203.0.113.7", "203.0.113.7"),  # the hop the proxy appended
    ("127.0.0.1", "203.0.113.7, 127.0.0.1", "203.0.113.7"),
    (None, None, "unknown"),
])
def test_client_address(peer: str | None, forwarded: str | None, address: str) -> None:
    assert client_address(_web(), peer, forwarded) == address


def test_login_limiter_counts_an_attempt_when_it_begins() -> None:
    """Parallel guesses: each attempt is counted before its (slow) password check, so
    the sixth of six simultaneous guesses is refused, not let through."""
    limiter = LoginLimiter(5, timedelta(minutes=15))
    keys = ["addr:1.2.3.4", "user:ann"]
    assert [limiter.begin(keys, NOW) for _ in range(6)] == [0, 0, 0, 0, 0, 15 * 60]
    # A success gives its attempt back (the address) and clears the user name.
    limiter = LoginLimiter(2, timedelta(minutes=15))
    assert limiter.begin(keys, NOW) == 0
    limiter.release(keys[:1], NOW)
    limiter.succeeded(keys[1:])
    assert limiter.begin(keys, NOW) == 0 and limiter.begin(keys, NOW) == 0
    assert limiter.begin(["addr:1.2.3.4", "user:bob"], NOW) == 15 * 60
    assert limiter.begin(["addr:5.6.7.8", "user:bob"], NOW) == 0


def test_a_user_without_a_password_cannot_log_in_and_costs_a_hash(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A user listed for the reverse proxy only (no password_hash) answers as slowly as
    a wrong password: the time does not reveal which names exist."""
    from monitor.web import security

    calls: list[str] = []
    real = security.verify_password

    def counting(hashed: str, password: str) -> bool:
        calls.append(hashed)
        return real(hashed, password)

    monkeypatch.setattr(security, "verify_password", counting)
    config = _web(users={"proxyonly": {"role": "viewer"}})
    assert security.authenticate(config, "proxyonly", "") is None
    assert security.authenticate(config, "nobody", "x") is None
    assert calls == [security._DUMMY_HASH, security._DUMMY_HASH]


@pytest.mark.parametrize(("mention", "incident", "acked_by", "acked", "expected"), [
    ("open", None, None, False, None),
    (None, "open", None, False, None),
    (None, None, None, False, None),  # about neither (source health ...)
    ("acknowledged", None, None, False, "mention acknowledged"),
    ("snoozed", None, None, False, "mention snoozed"),
    ("replied", None, None, False, "mention replied"),
    ("resolved", None, None, False, "mention resolved"),
    ("not_complaint", None, None, False, "mention not complaint"),
    (None, "closed", None, False, "incident closed"),
    ("open", None, "ada", True, "acknowledged by ada"),
    (None, "open", None, True, "acknowledged by someone"),
])
def test_handled_is_what_stops_escalation_and_held_alerts(
        mention: str | None, incident: str | None, acked_by: str | None, acked: bool,
        expected: str | None) -> None:
    assert handled(mention, incident, acked_by, acked) == expected


@pytest.mark.parametrize(("until", "expected"), [
    (datetime(2026, 11, 24, 12, tzinfo=UTC), "mention snoozed"),  # still snoozed
    (datetime(2026, 11, 24, 9, tzinfo=UTC), None),  # ended: waiting for the team again
    (datetime(2026, 11, 24, 10, tzinfo=UTC), None),  # ends now
    (None, None),  # a snooze without an end is over
])
def test_a_snooze_that_has_ended_is_not_handled(until: datetime | None,
                                                  expected: str | None) -> None:
    now = datetime(2026, 11, 24, 10, tzinfo=UTC)
    assert handled("snoozed", snoozed_until=until, now=now) == expected
    assert handled("snoozed", snoozed_until=until) == "mention snoozed"  # no clock given
