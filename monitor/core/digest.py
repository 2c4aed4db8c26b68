"""The weekly digest's pure parts: its schedule, the week it covers, and the numbers
computed from rows (trends, percentiles, reply-time buckets, coverage gaps, complaint
themes). No I/O and no clock: ``now`` is always a parameter."""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$", re.IGNORECASE)


# -- schedule and weeks ---------------------------------------------------------------


@dataclass(frozen=True)
class WeeklySchedule:
    """"mon 08:00 Europe/Oslo": a weekday, a local time and the zone they are read in."""

    weekday: int  # 0 = Monday
    at: time
    zone: str

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)

    def __str__(self) -> str:
        return f"{DAYS[self.weekday]} {self.at:%H:%M} {self.zone}"


def parse_schedule(text: str) -> WeeklySchedule:
    """``DAY HH:MM [ZONE]`` (zone defaults to UTC); ValueError says what is wrong."""
    parts = text.split()
    if len(parts) not in (2, 3):
        raise ValueError(f"'{text}': use 'DAY HH:MM ZONE', e.g. 'mon 08:00 Europe/Oslo'")
    day = parts[0].lower()[:3]
    if day not in DAYS or not parts[0].lower().startswith(day):
        raise ValueError(f"'{parts[0]}' is not a weekday (mon, tue, ... sun)")
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", parts[1])
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValueError(f"'{parts[1]}' is not a time of day (HH:MM, 00:00 to 23:59)")
    zone = parts[2] if len(parts) == 3 else "UTC"
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"'{zone}' is not a time zone (e.g. Europe/Oslo, UTC)") from None
    return WeeklySchedule(DAYS.index(day), time(int(match.group(1)), int(match.group(2))), zone)


@dataclass(frozen=True, order=True)
class IsoWeek:
    year: int
    week: int

    def __str__(self) -> str:
        return f"{self.year}-W{self.week:02d}"

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    def previous(self) -> IsoWeek:
        return IsoWeek.of(self.monday - timedelta(days=7))

    @staticmethod
    def of(day: date) -> IsoWeek:
        year, week, _ = day.isocalendar()
        return IsoWeek(year, week)

    @staticmethod
    def parse(text: str) -> IsoWeek:
        match = _WEEK.match(text.strip())
        if not match:
            raise ValueError(f"'{text}' is not an ISO week; write it like 2026-W47")
        year, week = int(match.group(1)), int(match.group(2))
        try:
            date.fromisocalendar(year, week, 1)
        except ValueError:
            raise ValueError(f"'{text}': {year} has no week {week}") from None
        return IsoWeek(year, week)


def week_bounds(week: IsoWeek, zone: str) -> tuple[datetime, datetime]:
    """Monday 00:00 to the next Monday 00:00 in the zone, as UTC instants (a DST week is
    167 or 169 hours long)."""
    tz = ZoneInfo(zone)
    start = datetime.combine(week.monday, time(0), tzinfo=tz)
    end = datetime.combine(week.monday + timedelta(days=7), time(0), tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def day_starts(week: IsoWeek, zone: str) -> list[datetime]:
    """The eight local midnights that bound the week's seven days, in UTC."""
    tz = ZoneInfo(zone)
    return [datetime.combine(week.monday + timedelta(days=offset), time(0), tzinfo=tz)
            .astimezone(UTC) for offset in range(8)]


def last_occurrence(schedule: WeeklySchedule, now: datetime) -> datetime:
    """The latest scheduled instant at or before ``now`` (UTC). A time that does not exist
    on a DST day is read as the same wall-clock time the zone maps it to."""
    tz = schedule.tz
    local = now.astimezone(tz)
    back = (local.weekday() - schedule.weekday) % 7
    for extra in (0, 7):
        day = local.date() - timedelta(days=back + extra)
        candidate = datetime.combine(day, schedule.at, tzinfo=tz).astimezone(UTC)
        if candidate <= now:
            return candidate
    raise AssertionError("unreachable: one of two consecutive weeks is in the past")


def week_reported_at(schedule: WeeklySchedule, occurrence: datetime) -> IsoWeek:
    """A run at ``occurrence`` reports the ISO week before the one it falls in (local)."""
    return IsoWeek.of(occurrence.astimezone(schedule.tz).date()).previous()


@dataclass(frozen=True)
class DueDigest:
    week: IsoWeek
    scheduled_at: datetime


def due_digest(schedule: WeeklySchedule, now: datetime) -> DueDigest:
    """The run that should have happened most recently. Only the latest is caught up
    after downtime: three weeks down sends one digest (the last full week), not three."""
    occurrence = last_occurrence(schedule, now)
    return DueDigest(week_reported_at(schedule, occurrence), occurrence)


# -- counts and trends ----------------------------------------------------------------


@dataclass(frozen=True)
class Trend:
    key: str
    current: int
    previous: int

    @property
    def delta(self) -> int:
        return self.current - self.previous

    @property
    def percent(self) -> float | None:
        """Change against last week in percent; None when last week had none."""
        if self.previous == 0:
            return None
        return 100.0 * self.delta / self.previous

    @property
    def label(self) -> str:
        """"+3, +50%", "−2, −20%", "new", "±0"."""
        if self.delta == 0:
            return "±0"
        if self.previous == 0:
            return "new"
        sign = "+" if self.delta > 0 else "−"
        percent = self.percent or 0.0
        return f"{sign}{abs(self.delta)}, {sign}{abs(percent):.0f}%"

    @property
    def direction(self) -> str:
        return "up" if self.delta > 0 else "down" if self.delta < 0 else "flat"


def trends(current: Mapping[str, int], previous: Mapping[str, int],
           top: int | None = None) -> tuple[list[Trend], Trend | None]:
    """Rows for every key seen in either week, largest this week first (then last week,
    then name); beyond ``top`` rows the rest is folded into one "other (N more)" row."""
    keys = set(current) | set(previous)
    rows = sorted((Trend(key, current.get(key, 0), previous.get(key, 0)) for key in keys),
                  key=lambda row: (-row.current, -row.previous, row.key))
    if top is None or len(rows) <= top:
        return rows, None
    rest = rows[top:]
    folded = Trend(f"other ({len(rest)} more)", sum(row.current for row in rest),
                   sum(row.previous for row in rest))
    return rows[:top], folded


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) by linear interpolation between closest ranks (the
    method of numpy's default and PostgreSQL's percentile_cont); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = math.ceil(position)
    if low == high:
        return float(ordered[low])
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# Reply-time buckets for the distribution chart: (label, upper bound in hours).
REPLY_BUCKETS: tuple[tuple[str, float], ...] = (
    ("< 1 h", 1), ("1-4 h", 4), ("4-12 h", 12), ("12-24 h", 24), ("1-3 d", 72),
    ("> 3 d", math.inf),
)


def reply_buckets(hours: Iterable[float]) -> list[tuple[str, int]]:
    counts = [0] * len(REPLY_BUCKETS)
    for value in hours:
        for index, (_label, upper) in enumerate(REPLY_BUCKETS):
            if value < upper:
                counts[index] += 1
                break
    return [(label, count) for (label, _upper), count in zip(REPLY_BUCKETS, counts, strict=True)]


@dataclass(frozen=True)
class SlaTally:
    within: int
    breached: int
    pending: int

    @property
    def share_within(self) -> float | None:
        decided = self.within + self.breached
        return None if decided == 0 else self.within / decided


def sla_outcome(first_reply_at: datetime | None, sla_due_at: datetime | None,
                sla_breached_at: datetime | None, now: datetime) -> str | None:
    """within | breached | pending for one complaint; None when it had no SLA."""
    if sla_due_at is None:
        return None
    if first_reply_at is not None:
        return "within" if first_reply_at <= sla_due_at else "breached"
    if sla_breached_at is not None or sla_due_at <= now:
        return "breached"
    return "pending"


def format_hours(hours: float | None) -> str:
    """3 min, 2.5 h, 3.2 d: the reader's units."""
    if hours is None:
        return "–"
    if hours < 1:
        return f"{max(0, round(hours * 60))} min"
    if hours < 48:
        return f"{hours:.1f} h".replace(".0 h", " h")
    return f"{hours / 24:.1f} d".replace(".0 d", " d")


def format_age(delta: timedelta) -> str:
    return format_hours(delta.total_seconds() / 3600)


# -- review text shown in the digest ---------------------------------------------------

# Bidirectional embedding, override and isolate controls (LRE, RLE, PDF, LRO, RLO, LRI,
# RLI, FSI, PDI). A review may carry them on purpose (an RLO turns "refund" into
# "dnufer" and reverses whatever follows it on the line, ours included); real text
# in any script reads right without them. Marks (LRM, RLM) are kept: they do not spill.
_BIDI_CONTROLS = dict.fromkeys(
    [*range(0x202A, 0x202F), *range(0x2066, 0x206A)], None)
# Other invisible format characters that only hide or disguise text in one line.
_INVISIBLE = dict.fromkeys([0x200B, 0x2060, 0xFEFF, 0x00AD], None)


def display_text(text: str | None, limit: int | None = None) -> str:
    """Review text (a title, an author, a reply) made safe to show on one line: bidi
    controls and invisible characters removed, whitespace runs made one space, and cut
    at ``limit`` characters with an ellipsis. HTML escaping is the template's job."""
    if not text:
        return ""
    cleaned = " ".join(text.translate(_BIDI_CONTROLS).translate(_INVISIBLE).split())
    if limit is not None and len(cleaned) > limit:
        cleaned = cleaned[: limit - 1].rstrip() + "…"
    return cleaned


# -- coverage -------------------------------------------------------------------------

UNHEALTHY = ("blocked", "failing", "silent")


@dataclass(frozen=True)
class CoverageGap:
    source_id: str
    status: str  # blocked | failing | silent
    hours: float
    # Still in that state at the end of the week.
    ongoing: bool
    mentions: int
    last_error: str | None = None
    # The gap spans the whole week (which is 167 or 169 h long across a DST change);
    # None: judged from the hours alone (168).
    whole_week: bool | None = None

    @property
    def sentence(self) -> str:
        whole = self.hours >= 24 * 7 - 0.01 if self.whole_week is None else self.whole_week
        duration = "the whole week" if whole else f"for {format_hours(self.hours)}"
        text = f"{self.source_id} {self.status} {duration}"
        if self.ongoing:
            text += " (still now)"
        if self.mentions == 0:
            return text + ": zero mentions there may mean no coverage, not no complaints."
        plural = "" if self.mentions == 1 else "s"
        # The count is the whole week's: say so, and what the gap may have cost.
        return text + (f": {self.mentions} mention{plural} arrived this week; some posted "
                       f"while it was {self.status} may have been missed.")


@dataclass(frozen=True)
class HealthEvent:
    source_id: str
    at: datetime
    status: str
    error: str | None = None


def coverage_gaps(events: Iterable[HealthEvent], start: datetime, end: datetime,
                  mentions_by_source: Mapping[str, int]) -> list[CoverageGap]:
    """Time each source spent blocked, failing or silent within [start, end), from its
    health transitions (the last one before ``start`` says how the week began). One gap
    per source and status, longest first."""
    by_source: dict[str, list[HealthEvent]] = {}
    for event in events:
        by_source.setdefault(event.source_id, []).append(event)
    gaps: list[CoverageGap] = []
    for source_id, source_events in by_source.items():
        ordered = sorted(source_events, key=lambda event: event.at)
        seconds: dict[str, float] = {}
        errors: dict[str, str] = {}
        state, since = "ok", start
        for event in ordered:
            if event.at >= end:
                break
            if event.at > since and state in UNHEALTHY:
                seconds[state] = seconds.get(state, 0.0) + (event.at - since).total_seconds()
            state, since = event.status, max(event.at, start)
            if event.status in UNHEALTHY and event.error:
                errors[event.status] = event.error
        if state in UNHEALTHY and end > since:
            seconds[state] = seconds.get(state, 0.0) + (end - since).total_seconds()
        for status, total in seconds.items():
            if total <= 0:
                continue
            gaps.append(CoverageGap(source_id, status, total / 3600,
                                    ongoing=state == status,
                                    mentions=mentions_by_source.get(source_id, 0),
                                    last_error=errors.get(status),
                                    whole_week=total >= (end - start).total_seconds()))
    return sorted(gaps, key=lambda gap: (-gap.hours, gap.source_id, gap.status))


# -- complaint themes -----------------------------------------------------------------

# Function words of the languages the classifier knows, plus review boilerplate. Short
# on purpose: n-grams made only of these are dropped, and a phrase may not start or end
# with one ("the app" -> "app"), so a missing word costs little.
STOP_WORDS: frozenset[str] = frozenset(["a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could", "did", "do", "does", "doing", "done", "down", "during", "each", "even", "ever", "few", "for", "from", "further", "get", "got", "had", "has", "have", "having", "he", "her", "here", "hers", "him", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just", "let", "me", "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "ours", "out", "over", "own", "same", "she", "should", "so", "some", "such", "than", "that", "the", "their", "theirs", "them", "then", "there", "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours", "yourself", "im", "ive", "dont", "didnt", "cant", "wont", "isnt", "its", "thats", "theyre", "youre", "doesnt", "wasnt", "arent", "still", "really", "one", "two", "us", "via", "per", "der", "die", "das", "und", "ist", "nicht", "ein", "eine", "einen", "einem", "einer", "es", "ich", "sie", "wir", "ihr", "mit", "von", "zu", "den", "dem", "des", "auf", "für", "an", "im", "in", "ist", "sind", "war", "waren", "bei", "aus", "auch", "noch", "nur", "wie", "was", "wenn", "aber", "oder", "so", "le", "la", "les", "un", "une", "des", "et", "est", "pas", "de", "du", "en", "au", "aux", "je", "il", "elle", "nous", "vous", "ils", "ce", "cette", "qui", "que", "pour", "dans", "sur", "avec", "mais", "ou", "ne", "plus", "très", "se", "sa", "son", "ses", "mon", "ma", "mes", "el", "la", "los", "las", "un", "una", "unos", "y", "es", "no", "de", "del", "en", "que", "por", "para", "con", "se", "su", "mi", "muy", "lo", "al", "pero", "og", "er", "ikke", "en", "et", "det", "den", "de", "jeg", "vi", "du", "har", "med", "på", "til", "av", "for", "som", "fra", "var", "meg", "seg", "men", "om", "så", "și", "nu", "în", "la", "cu", "de", "pe", "pentru", "că", "este", "sunt", "am", "un", "o", "ce", "mai", "sa", "se", "care", "din", "ei", "ja", "ei", "on", "see", "et", "ma", "mu", "ta", "nad", "oli", "olen", "kui", "aga", "ka", "ning", "ning", "siis", "и", "в", "не", "на", "я", "что", "с", "по", "это", "как", "но", "а", "к", "из", "у", "за", "от", "так", "же", "то", "все", "мы", "вы", "он", "она", "они", "был", "была", "было", "мне", "меня", "уже", "очень"])

_TOKEN = re.compile(r"\w+", re.UNICODE)
# Words (with inner apostrophes and hyphens: "don't", "e-mail") and single punctuation
# marks, which end a phrase ("my order, late delivery" is not one phrase).
_WORD_OR_MARK = re.compile(r"\w+(?:['’\-]\w+)*|[^\w\s]", re.UNICODE)
_HAS_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)


# A longer "word" is not a word a reader would recognise as a theme (a pasted token, a
# run of letters typed in anger): it breaks a phrase instead of heading the list.
MAX_WORD = 30


def _tokens(text: str, extra_stop: frozenset[str]) -> list[str | None]:
    """Casefolded NFKC word tokens; None marks a stop word, a number, a short or overlong
    word, a punctuation mark or a line break, which breaks a phrase (a title and the body
    under it are not one sentence)."""
    tokens: list[str | None] = []
    for line in unicodedata.normalize("NFKC", text).casefold().splitlines():
        tokens.append(None)
        for raw in _WORD_OR_MARK.findall(line):
            word = raw.replace("_", "").replace("'", "").replace("’", "")
            if not word or not _HAS_LETTER.search(word) or word in STOP_WORDS \
                    or word in extra_stop or (len(word) < 3 and word.isascii()) \
                    or len(word) > MAX_WORD:
                tokens.append(None)
            else:
                tokens.append(word)
    return tokens


@dataclass(frozen=True)
class Theme:
    phrase: str
    mentions: int
    # The ids of a few mentions it came from (for links).
    examples: tuple[int, ...] = field(default_factory=tuple)


def complaint_themes(texts: Iterable[tuple[int, str]], top: int = 10, min_mentions: int = 2,
                     ignore: Iterable[str] = ()) -> list[Theme]:
    """Frequent phrases (1 to 3 words) in complaint texts, counted once per mention.
    Stop words and ``ignore`` (the brand's own names) are dropped; a phrase is not
    shown when a longer phrase containing it covers the same mentions ("late delivery"
    hides "delivery" when every "delivery" was "late delivery"). Works on any script
    that separates words with spaces or punctuation."""
    # A one-word name ("Acme") is a stop word. The words of a longer name ("Acme Delivery")
    # are not ("late delivery" is a real theme); only a phrase made of nothing but that
    # name's words ("delivery", "acme delivery") is left out.
    names = [frozenset(_TOKEN.findall(unicodedata.normalize("NFKC", name).casefold()))
             for name in ignore]
    extra = frozenset(word for words in names if len(words) == 1 for word in words)
    multi = [words for words in names if len(words) > 1]
    counts: Counter[str] = Counter()
    examples: dict[str, list[int]] = {}
    for mention_id, text in texts:
        tokens = _tokens(text, extra)
        seen: set[str] = set()
        for size in (1, 2, 3):
            for index in range(len(tokens) - size + 1):
                window = tokens[index:index + size]
                first, last = window[0], window[-1]
                if first is None or last is None or any(token is None for token in window):
                    continue
                phrase = " ".join(token for token in window if token is not None)
                seen.add(phrase)
        for phrase in seen:
            counts[phrase] += 1
            bucket = examples.setdefault(phrase, [])
            if len(bucket) < 3:
                bucket.append(mention_id)
    frequent = {phrase: count for phrase, count in counts.items() if count >= min_mentions
                and not any(set(phrase.split(" ")) <= words for words in multi)}
    covered: set[str] = set()
    for phrase, count in frequent.items():
        words = phrase.split(" ")
        for size in range(1, len(words)):
            for index in range(len(words) - size + 1):
                part = " ".join(words[index:index + size])
                if frequent.get(part, 0) <= count:
                    covered.add(part)
    kept = [(phrase, count) for phrase, count in frequent.items() if phrase not in covered]
    kept.sort(key=lambda item: (-item[1], -len(item[0].split(" ")), item[0]))
    return [Theme(phrase, count, tuple(examples[phrase])) for phrase, count in kept[:top]]
