"""The digest's pure parts (monitor/core/digest.py), as tables of cases."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from monitor.core.digest import (
    MAX_WORD,
    CoverageGap,
    HealthEvent,
    IsoWeek,
    Trend,
    complaint_themes,
    coverage_gaps,
    day_starts,
    display_text,
    due_digest,
    format_hours,
    parse_schedule,
    percentile,
    reply_buckets,
    sla_outcome,
    trends,
    week_bounds,
)

OSLO = "Europe/Oslo"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize("text,weekday,at,zone", [
    ("mon 08:00 Europe/Oslo", 0, time(8, 0), OSLO),
    ("Monday 8:30 UTC", 0, time(8, 30), "UTC"),
    ("sun 23:59", 6, time(23, 59), "UTC"),
    ("FRI 00:00 America/New_York", 4, time(0, 0), "America/New_York"),
])
def test_parse_schedule(text: str, weekday: int, at: time, zone: str) -> None:
    schedule = parse_schedule(text)
    assert (schedule.weekday, schedule.at, schedule.zone) == (weekday, at, zone)


@pytest.mark.parametrize("text,problem", [
    ("mon", "use 'DAY HH:MM ZONE'"),
    ("mo 08:00", "not a weekday"),
    ("mox 08:00", "not a weekday"),
    ("mon 24:00", "not a time of day"),
    ("mon 8h", "not a time of day"),
    ("mon 08:00 Mars/Olympus", "not a time zone"),
    ("mon 08:00 Europe/Oslo extra", "use 'DAY HH:MM ZONE'"),
])
def test_parse_schedule_rejects(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_schedule(text)


@pytest.mark.parametrize("text,expected", [
    ("2026-W47", IsoWeek(2026, 47)),
    (" 2026-W01 ", IsoWeek(2026, 1)),
    ("2026-W53", IsoWeek(2026, 53)),  # 2026 has 53 ISO weeks
    ("2026-w47", IsoWeek(2026, 47)),  # typed in lower case
])
def test_parse_week(text: str, expected: IsoWeek) -> None:
    assert IsoWeek.parse(text) == expected
    assert str(expected) == text.strip().upper()


@pytest.mark.parametrize("text", ["2026-47", "2026W47", "2025-W53", "2026-W00"])
def test_parse_week_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        IsoWeek.parse(text)


@pytest.mark.parametrize("week,previous", [
    (IsoWeek(2026, 47), IsoWeek(2026, 46)),
    (IsoWeek(2027, 1), IsoWeek(2026, 53)),
    (IsoWeek(2026, 1), IsoWeek(2025, 52)),
])
def test_previous_week(week: IsoWeek, previous: IsoWeek) -> None:
    assert week.previous() == previous


@pytest.mark.parametrize("week,zone,start,end,hours", [
    # Winter time in Oslo: UTC+1.
    ("2026-W47", OSLO, utc(2026, 11, 15, 23), utc(2026, 11, 22, 23), 168),
    # The week the clocks go back (Sun 25 Oct 2026): 169 hours.
    ("2026-W43", OSLO, utc(2026, 10, 18, 22), utc(2026, 10, 25, 23), 169),
    # Spring forward (Sun 29 Mar 2026): 167 hours.
    ("2026-W13", OSLO, utc(2026, 3, 22, 23), utc(2026, 3, 29, 22), 167),
    ("2026-W47", "UTC", utc(2026, 11, 16), utc(2026, 11, 23), 168),
])
def test_week_bounds(week: str, zone: str, start: datetime, end: datetime, hours: int) -> None:
    assert week_bounds(IsoWeek.parse(week), zone) == (start, end)
    assert (end - start) == timedelta(hours=hours)
    days = day_starts(IsoWeek.parse(week), zone)
    assert days[0] == start and days[-1] == end and len(days) == 8


@pytest.mark.parametrize("now,week,scheduled", [
    # Exactly at the scheduled instant (Mon 08:00 Oslo = 07:00 UTC): last week is due.
    (utc(2026, 11, 23, 7, 0), "2026-W47", utc(2026, 11, 23, 7, 0)),
    # A minute before: still the run of the week before.
    (utc(2026, 11, 23, 6, 59), "2026-W46", utc(2026, 11, 16, 7, 0)),
    # Down over the weekend and Monday, back on Wednesday: W47 is still the due one.
    (utc(2026, 11, 25, 13, 0), "2026-W47", utc(2026, 11, 23, 7, 0)),
    # Sunday night: the Monday before.
    (utc(2026, 11, 29, 22, 0), "2026-W47", utc(2026, 11, 23, 7, 0)),
    # Across the year: Mon 4 Jan 2027 reports 2026-W53.
    (utc(2027, 1, 4, 9, 0), "2026-W53", utc(2027, 1, 4, 7, 0)),
])
def test_due_digest(now: datetime, week: str, scheduled: datetime) -> None:
    due = due_digest(parse_schedule("mon 08:00 Europe/Oslo"), now)
    assert (str(due.week), due.scheduled_at) == (week, scheduled)


def test_due_digest_in_summer_time() -> None:
    due = due_digest(parse_schedule("mon 08:00 Europe/Oslo"), utc(2026, 6, 15, 6, 30))
    assert due.scheduled_at == utc(2026, 6, 15, 6, 0)  # UTC+2
    assert str(due.week) == "2026-W24"


@pytest.mark.parametrize("current,previous,label,percent,direction", [
    (3, 2, "+1, +50%", 50.0, "up"),
    (8, 10, "−2, −20%", -20.0, "down"),
    (4, 0, "new", None, "up"),
    (0, 0, "±0", None, "flat"),
    (5, 5, "±0", 0.0, "flat"),
    (0, 3, "−3, −100%", -100.0, "down"),
])
def test_trend(current: int, previous: int, label: str, percent: float | None,
               direction: str) -> None:
    trend = Trend("x", current, previous)
    assert (trend.label, trend.percent, trend.direction) == (label, percent, direction)


def test_trends_order_and_fold() -> None:
    rows, other = trends({"a": 5, "b": 9, "c": 1, "d": 1}, {"a": 2, "e": 7})
    assert [(row.key, row.current, row.previous) for row in rows] == [
        ("b", 9, 0), ("a", 5, 2), ("c", 1, 0), ("d", 1, 0), ("e", 0, 7)]
    assert other is None
    rows, other = trends({"a": 5, "b": 9, "c": 1, "d": 1}, {"a": 2, "e": 7}, top=2)
    assert [row.key for row in rows] == ["b", "a"]
    assert other == Trend("other (3 more)", 2, 7)


@pytest.mark.parametrize("values,q,expected", [
    ([], 50, None),
    ([5.0], 50, 5.0),
    ([5.0], 90, 5.0),
    ([1.0, 2.0, 6.0, 10.0], 50, 4.0),
    ([1.0, 2.0, 6.0, 10.0], 90, 8.8),
    ([10.0, 1.0, 6.0, 2.0], 90, 8.8),  # order does not matter
    ([4.0, 12.0], 90, 11.2),
    ([float(n) for n in range(1, 101)], 50, 50.5),
    ([float(n) for n in range(1, 101)], 90, 90.1),
])
def test_percentile(values: list[float], q: float, expected: float | None) -> None:
    result = percentile(values, q)
    assert result == expected if expected is None else result == pytest.approx(expected)


def test_reply_buckets() -> None:
    assert reply_buckets([0.0, 0.99, 1.0, 3.9, 4.0, 11.9, 12.0, 23.9, 24.0, 71.9, 72.0, 500.0]) \
        == [("< 1 h", 2), ("1-4 h", 2), ("4-12 h", 2), ("12-24 h", 2), ("1-3 d", 2), ("> 3 d", 2)]
    assert [count for _label, count in reply_buckets([])] == [0] * 6


NOW = utc(2026, 11, 23, 7)


@pytest.mark.parametrize("reply,due,breached,expected", [
    (None, None, None, None),                                  # no SLA
    (NOW - timedelta(hours=5), NOW - timedelta(hours=4), None, "within"),
    (NOW - timedelta(hours=4), NOW - timedelta(hours=4), None, "within"),  # on the minute
    (NOW - timedelta(hours=3), NOW - timedelta(hours=4), None, "breached"),
    (None, NOW - timedelta(hours=1), None, "breached"),       # due passed, no reply
    (None, NOW + timedelta(hours=1), None, "pending"),
    (None, NOW + timedelta(hours=1), NOW, "breached"),        # the sweeper said so
])
def test_sla_outcome(reply: datetime | None, due: datetime | None, breached: datetime | None,
                     expected: str | None) -> None:
    assert sla_outcome(reply, due, breached, NOW) == expected


@pytest.mark.parametrize("hours,text", [
    (None, "–"), (0.0, "0 min"), (0.05, "3 min"), (1.0, "1 h"), (2.5, "2.5 h"), (47.9, "47.9 h"),
    (48.0, "2 d"), (122.0, "5.1 d"),
])
def test_format_hours(hours: float | None, text: str) -> None:
    assert format_hours(hours) == text


START = utc(2026, 11, 15, 23)
END = utc(2026, 11, 22, 23)


def event(source: str, hours: float, status: str, error: str | None = None) -> HealthEvent:
    return HealthEvent(source, START + timedelta(hours=hours), status, error)


@pytest.mark.parametrize("events,expected", [
    # Blocked since before the week, ok after 6 h.
    ([event("tp", -48, "blocked", "403"), event("tp", 6, "ok")],
     [("tp", "blocked", 6.0, False, "403")]),
    # Failing twice (2 h + 1 h), the second time still at the end.
    ([event("r", 10, "failing"), event("r", 12, "ok"), event("r", 167, "failing")],
     [("r", "failing", 3.0, True, None)]),
    # Blocked then failing then ok: one gap per status.
    ([event("x", 0, "blocked"), event("x", 5, "failing"), event("x", 6, "ok")],
     [("x", "blocked", 5.0, False, None), ("x", "failing", 1.0, False, None)]),
    # Problems entirely before or after the week do not count.
    ([event("y", -10, "blocked"), event("y", -5, "ok"), event("y", 170, "blocked")], []),
    # Ok all along.
    ([event("z", -10, "ok")], []),
    # Silent the whole week.
    ([event("n", -1, "silent")], [("n", "silent", 168.0, True, None)]),
])
def test_coverage_gaps(events: list[HealthEvent],
                       expected: list[tuple[str, str, float, bool, str | None]]) -> None:
    gaps = coverage_gaps(events, START, END, {})
    assert [(g.source_id, g.status, g.hours, g.ongoing, g.last_error) for g in gaps] == expected


def test_coverage_sentences() -> None:
    blind = CoverageGap("trustpilot", "blocked", 6.0, ongoing=False, mentions=0)
    assert blind.sentence == ("trustpilot blocked for 6 h: zero mentions there may mean no "
                              "coverage, not no complaints.")
    week = CoverageGap("gp", "blocked", 168.0, ongoing=True, mentions=0)
    assert week.sentence.startswith("gp blocked the whole week (still now): zero mentions")
    some = CoverageGap("reddit", "failing", 3.0, ongoing=False, mentions=1)
    assert some.sentence == ("reddit failing for 3 h: 1 mention arrived this week; some "
                             "posted while it was failing may have been missed.")


def test_themes_prefer_the_longer_phrase_and_drop_stop_words() -> None:
    texts = [
        (1, "Late delivery again, the parcel never arrived"),
        (2, "late delivery and no refund from Acme"),
        (3, "No refund yet. LATE DELIVERY!"),
        (4, "The delivery was fine but the refund took weeks"),
    ]
    themes = complaint_themes(texts, ignore=["Acme"])
    assert [(t.phrase, t.mentions) for t in themes] == [
        ("delivery", 4), ("late delivery", 3), ("refund", 3)]
    assert themes[1].examples == (1, 2, 3)
    assert not any("acme" in theme.phrase or theme.phrase in ("the", "and", "no")
                   for theme in themes)


def test_themes_are_multilingual() -> None:
    texts = [
        (1, "Доставка опоздала, доставка ужасная"),
        (2, "доставка опоздала опять"),
        (3, "Lieferung verspätet und kein Geld zurück"),
        (4, "Die Lieferung verspätet sich"),
        (5, "配送が遅い 配送が遅い"),
        (6, "配送が遅い"),
        (7, "Comandă întârziată, comandă anulată"),
        (8, "comandă întârziată"),
    ]
    phrases = {t.phrase: t.mentions for t in complaint_themes(texts)}
    assert phrases["доставка опоздала"] == 2
    assert phrases["lieferung verspätet"] == 2
    assert phrases["配送が遅い"] == 2
    assert phrases["comandă întârziată"] == 2
    assert "und" not in phrases and "die" not in phrases


@pytest.mark.parametrize("texts,expected", [
    ([], []),
    ([(1, "only once")], []),                 # below min_mentions
    ([(1, "123 456"), (2, "123 456")], []),   # numbers are not themes
    ([(1, "the and of"), (2, "the and of")], []),
])
def test_themes_edge_cases(texts: list[tuple[int, str]], expected: list[str]) -> None:
    assert [t.phrase for t in complaint_themes(texts)] == expected


def test_themes_top_n() -> None:
    texts = [(i, " ".join(f"word{j}x" for j in range(i % 30))) for i in range(200)]
    themes = complaint_themes(texts, top=5)
    assert len(themes) == 5
    assert all(a.mentions >= b.mentions for a, b in zip(themes, themes[1:], strict=False))


def test_themes_do_not_cross_punctuation() -> None:
    texts = [(1, "Lost my order, late delivery. Don't ship again!"),
             (2, "Wrong order; late delivery (again) - don’t ship")]
    phrases = {t.phrase: t.mentions for t in complaint_themes(texts)}
    assert phrases == {"order": 2, "late delivery": 2, "ship": 2}


def test_themes_do_not_cross_a_line_break() -> None:
    """The digest reads "title\\nbody": the title's last word and the body's first are not a
    phrase ("rlo trick nobody" was a theme before)."""
    texts = [(1, "Refund trick\nNobody answers"), (2, "Refund trick\nNobody answers")]
    phrases = {t.phrase: t.mentions for t in complaint_themes(texts)}
    assert phrases == {"refund trick": 2, "nobody answers": 2}


def test_themes_skip_overlong_words() -> None:
    """A 2,000-letter 'word' typed in anger is not a theme, and not part of one."""
    shout = "a" * 2000
    texts = [(1, f"{shout} late delivery"), (2, f"{shout} late delivery")]
    assert [t.phrase for t in complaint_themes(texts)] == ["late delivery"]
    word = "x" * MAX_WORD
    assert [t.phrase for t in complaint_themes([(1, word), (2, word)])] == [word]


@pytest.mark.parametrize("text,limit,expected", [
    (None, None, ""),
    ("  Late\n\tdelivery  ", None, "Late delivery"),
    # An RLO would reverse the rest of the line (ours too); isolates and embeddings go.
    ("\u202eGNIHTYREVE\u202c ok", None, "GNIHTYREVE ok"),
    ("a\u2066b\u2067c\u2068d\u2069e\u202af\u202bg\u202dh", None, "abcdefgh"),
    # Zero-width and soft-hyphen tricks go; joiners that scripts need stay.
    ("re\u200bfu\u00adnd\ufeff", None, "refund"),
    ("\u0645\u0631\u062d\u0628\u0627 \u200f!", None, "\u0645\u0631\u062d\u0628\u0627 \u200f!"),
    ("\U0001f468\u200d\U0001f469", None, "\U0001f468\u200d\U0001f469"),
    ("abcdef", 4, "abc…"),
    ("ab   cd", 5, "ab cd"),
])
def test_display_text(text: str | None, limit: int | None, expected: str) -> None:
    assert display_text(text, limit) == expected


@pytest.mark.parametrize("week,hours", [("2026-W13", 167), ("2026-W43", 169)])
def test_a_gap_over_a_dst_week_is_the_whole_week(week: str, hours: int) -> None:
    """Oslo's week with the spring change is 167 h long: blocked all of it is "the whole
    week", not "for 7 d" (and the autumn week's 169 h is not "for 7 d" either)."""
    start, end = week_bounds(IsoWeek.parse(week), OSLO)
    assert (end - start) == timedelta(hours=hours)
    (gap,) = coverage_gaps([HealthEvent("tp", start - timedelta(days=1), "blocked")], start,
                           end, {})
    assert gap.whole_week and gap.hours == hours
    assert gap.sentence.startswith("tp blocked the whole week (still now): zero mentions")
    (part,) = coverage_gaps([HealthEvent("tp", start + timedelta(hours=1), "blocked")], start,
                            end, {})
    assert not part.whole_week and part.sentence.startswith("tp blocked for 7 d" if hours == 169
                                                            else "tp blocked for 6.9 d")


@pytest.mark.parametrize("ignore,expected", [
    # A one-word name is a stop word: it breaks phrases and is never a theme.
    (["Acme"], {"delivery": 4, "late delivery": 2, "delivery app": 2}),
    # The digest passes the brand key and its name: a longer name ("Acme Delivery") hides
    # the phrases made only of its words ("delivery"), not "late delivery" (before, every
    # word of the name was a stop word: "late" and "app" were the themes).
    (["acme", "Acme Delivery"], {"late delivery": 2, "delivery app": 2}),
    ([], {"acme": 4, "delivery": 4, "late delivery acme": 2, "acme delivery app": 2}),
])
def test_themes_leave_out_brand_names(ignore: list[str], expected: dict[str, int]) -> None:
    texts = [(1, "late delivery acme"), (2, "Late delivery Acme"), (3, "acme delivery app"),
             (4, "Acme Delivery app")]
    assert {t.phrase: t.mentions for t in complaint_themes(texts, ignore=ignore)} == expected
