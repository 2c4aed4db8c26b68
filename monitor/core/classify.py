"""Classification: is a mention a complaint, a question, praise or other, and how bad.

Pure: no I/O, no clock. ``Classifier`` is the interface the pipeline calls;
``RuleClassifier`` is the light default: multilingual lexicons with negation,
intensifiers and "but", the rating when there is one, question detection,
engagement, and the brand's own vocabulary. Every verdict says which signals
fired, in words a responder understands.

How the rules were set and how well they do: docs/classification.md.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from .language import DEFAULT_LANGUAGES, LanguageDetector, normalise_code
from .lexicon import CRITICAL_LABELS, ESCALATION_LABELS, Lexicon, lexicon_for, universal
from .lexicon.engine import (
    COMPETITOR_TOKEN,
    PRODUCT_TOKEN,
    CompiledLexicon,
    Hit,
    Signals,
    compile_names,
    mask,
)


class Kind(StrEnum):
    COMPLAINT = "complaint"
    QUESTION = "question"
    PRAISE = "praise"
    OTHER = "other"


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.LOW: 0, Severity.NORMAL: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}
_BY_RANK = {rank: sev for sev, rank in _SEVERITY_RANK.items()}


@dataclass(frozen=True)
class Document:
    """What the classifier sees of a mention."""

    text: str
    title: str | None = None
    rating: float | None = None
    rating_max: float = 5.0
    language: str | None = None
    engagement: Mapping[str, int] = field(default_factory=dict)
    author: str | None = None


@dataclass(frozen=True)
class Verdict:
    kind: Kind
    severity: Severity
    # The signals that fired, in words a responder understands.
    reasons: tuple[str, ...]
    # Confidence that this is a complaint, 0..1.
    score: float
    language: str | None = None


@runtime_checkable
class Classifier(Protocol):
    def classify(self, document: Document) -> Verdict: ...


@dataclass(frozen=True)
class BrandVocabulary:
    """The company's own words, from the config file.

    - ``brand_names``: the company's names and handles ("Acme", "@acme"); a
      mention of them addresses the company, and they never count as praise
      or complaint words themselves.
    - ``product_names``: the same, for products ("Perfect Fit", "Nightmare
      Mode"); a verdict says which product a mention is about.
    - ``complaint_words``: extra complaint terms per language code ("*" for
      every language), same syntax as the lexicons ("late deliver*").
    - ``ignore_words``: a mention containing one of these is ``other``/``low``
      (job adverts, the company's own announcements).
    - ``staff_authors``: author names of the company's own staff; their posts
      are ``other``/``low``.
    - ``competitor_names``: praise in a sentence naming a competitor counts
      as a complaint about us ("switched to X, their support actually answers").
    """

    product_names: tuple[str, ...] = ()
    complaint_words: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    ignore_words: tuple[str, ...] = ()
    staff_authors: tuple[str, ...] = ()
    competitor_names: tuple[str, ...] = ()
    brand_names: tuple[str, ...] = ()


#: Critical categories that relayed news does not make the author's own.
_RELAYED = frozenset({"legal", "press", "threat"})

#: Engagement counters that measure the author's reach rather than reactions.
FOLLOWER_KEYS = frozenset({"followers", "author_followers", "subscribers", "karma"})
#: Counters that are not interactions and do not raise severity.
_PASSIVE_KEYS = frozenset({"views", "impressions", "reads"})


def human_count(n: int) -> str:
    """1234 -> '1.2k', 15000 -> '15k', 2500000 -> '2.5M'."""
    if n < 1000:
        return str(n)
    if n < 1_000_000:
        value, unit = n / 1000, "k"
    else:
        value, unit = n / 1_000_000, "M"
    text = f"{value:.1f}".removesuffix(".0") if value < 100 else f"{value:.0f}"
    return text + unit


def reach(engagement: Mapping[str, int]) -> tuple[int, int, list[tuple[int, str]]]:
    """How many saw a post: (interactions, the author's followers, the interaction
    counts as (count, counter) largest first). Views are not interactions."""
    interactions = followers = 0
    counts: list[tuple[int, str]] = []
    for key, value in engagement.items():
        if not isinstance(value, int) or value <= 0:
            continue
        k = key.lower()
        if k in FOLLOWER_KEYS:
            followers = max(followers, value)
        elif k not in _PASSIVE_KEYS:
            interactions += value
            counts.append((value, k))
    counts.sort(reverse=True)
    return interactions, followers, counts


def _count_label(n: int, key: str) -> str:
    label = key.replace("_", " ")
    if n == 1 and label.endswith("s"):
        label = label[:-1]
    return f"{human_count(n)} {label}"


def _shouting(text: str) -> bool:
    """At least 12 letters that have a case, 70% of them capitals. Letters without a
    case mapping (mathematical bold 𝐁, circled Ⓐ, modifier ᵉ) do not count."""
    if text.isascii():  # the cased letters are A-Z and a-z: counted in C
        upper = sum(map(str.isupper, text))
        if upper < 9:  # fewer cannot be 70% of 12 or more
            return False
        letters = upper + sum(map(str.islower, text))
    else:
        # One table look-up a character in numpy: a 600-character review in 7 µs instead
        # of 50 with a Python test of each character.
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        astral = codes > 0xFFFF
        counts = np.bincount(_case_table()[np.where(astral, 0, codes)], minlength=3)
        upper, letters = int(counts[1]), int(counts[1] + counts[2])
        if astral.any():  # emoji (no case), mathematical letters (no case mapping)
            for code in codes[astral].tolist():
                case = _case_of(chr(code))
                upper, letters = upper + (case == 1), letters + (case != 0)
    return letters >= 12 and upper / letters >= 0.7


def _case_of(char: str) -> int:
    """1: a capital, 2: a small letter, 0: not a letter with a case mapping."""
    if char.isalpha() and char.lower() != char.upper():
        return 1 if char.isupper() else 2
    return 0


@functools.cache
def _case_table() -> npt.NDArray[np.uint8]:
    """:func:`_case_of` of every character of the basic multilingual plane (8 ms, once)."""
    return np.fromiter((_case_of(chr(code)) for code in range(0x10000)), dtype=np.uint8,
                       count=0x10000)


@dataclass
class _Tally:
    """Evidence after the rating, sarcasm and competitor rules."""

    complaint: float
    praise: float
    reasons: list[str] = field(default_factory=list)


class RuleClassifier:
    """Lexicons, rating, questions, engagement and brand vocabulary; no model.

    ``languages``: the languages to detect (ISO 639-1); the source's own
    language field always wins. ``detector``: any ``text -> code | None``
    callable (the default is py3langid restricted to ``languages``).
    ``threshold``: the complaint-minus-praise margin at which ``score`` is 0.5
    and the kind becomes complaint. ``service_stories``: read a customer's
    story about an order, bill or repair that holds no praise but some trouble
    as a complaint (more recall, a little less precision).
    """

    def __init__(
        self,
        *,
        languages: Sequence[str] | None = None,
        vocabulary: BrandVocabulary | None = None,
        detector: Callable[[str], str | None] | None = None,
        threshold: float = 0.6,
        high_engagement: int = 100,
        critical_engagement: int = 1000,
        high_followers: int = 10_000,
        critical_followers: int = 100_000,
        service_stories: bool = True,
    ) -> None:
        self.languages: tuple[str, ...] = tuple(
            c for c in (normalise_code(x) for x in (languages or DEFAULT_LANGUAGES)) if c
        )
        self.vocabulary = vocabulary or BrandVocabulary()
        self.detector: Callable[[str], str | None] = detector or LanguageDetector(self.languages)
        self.threshold = threshold
        self.service_stories = service_stories
        # Complaint evidence (with no more praise than this less) at which a
        # question counts as a complaint put as a question.
        self.question_complaint = 0.6
        # A customer story (service words, see the lexicons' ``service``) counts as
        # a complaint when it holds no praise and at least a hint of trouble (a
        # negation, "still", "without"...): plain stories of orders that went
        # fine ("ordered Monday, arrived Wednesday as described") stay "other".
        self._story_min_terms = 1
        self._story_max_praise = 0.79
        self._story_min_complaint = 0.3
        self.high_engagement = high_engagement
        self.critical_engagement = critical_engagement
        self.high_followers = high_followers
        self.critical_followers = critical_followers
        vocab = self.vocabulary
        self._names = compile_names(vocab.product_names, PRODUCT_TOKEN)
        self._product_names = frozenset(n.strip() for n in vocab.product_names)
        self._names += compile_names(vocab.brand_names, PRODUCT_TOKEN)
        self._names += compile_names(vocab.competitor_names, COMPETITOR_TOKEN)
        self._competitors = tuple(n.strip() for n in vocab.competitor_names if n.strip())
        self._staff = frozenset(_fold_name(a) for a in vocab.staff_authors if a.strip())
        self._compiled: dict[str | None, CompiledLexicon] = {}

    # -- lexicons ------------------------------------------------------------

    def _lexicon(self, language: str | None) -> CompiledLexicon:
        compiled = self._compiled.get(language)
        if compiled is None:
            lex = lexicon_for(language)
            base = universal()
            words = self.vocabulary.complaint_words
            extra = list(words.get("*", ()))
            if lex is not None:
                extra += words.get(lex.code, ())
                if language and language != lex.code:
                    extra += words.get(language, ())
            elif language:
                extra += words.get(language, ())
            compiled = CompiledLexicon(
                lex or Lexicon(code=language or "*", name="universal"),
                base=base,
                extra_negative=extra,
                ignore=self.vocabulary.ignore_words,
            )
            self._compiled[language] = compiled
        return compiled

    def _analyse(self, text: str, language: str | None) -> tuple[Signals, CompiledLexicon]:
        if language is not None:
            compiled = self._lexicon(language)
            return compiled.analyse(text), compiled
        # Unknown language (too short to tell): read it with every configured
        # lexicon and keep the one that recognises the most.
        best: tuple[Signals, CompiledLexicon] | None = None
        for code in self.languages:
            compiled = self._lexicon(code)
            signals = compiled.analyse(text)
            weight = signals.complaint + signals.praise
            if best is None or weight > best[0].complaint + best[0].praise:
                best = (signals, compiled)
        assert best is not None
        return best

    # -- the verdict ---------------------------------------------------------

    def classify(self, document: Document) -> Verdict:
        text = document.text or ""
        if document.title:
            text = f"{document.title}\n{text}"
        if document.author and _fold_name(document.author) in self._staff:
            return Verdict(Kind.OTHER, Severity.LOW,
                           (f"posted by the brand's own staff ('{document.author}')",), 0.0,
                           normalise_code(document.language))
        language = normalise_code(document.language)
        if language is None and text.strip():
            language = self.detector(text)
        masked, names = mask(text, self._names) if self._names else (text, [])
        signals, compiled = self._analyse(masked, language)
        ignored = compiled.ignored_by(signals)
        if ignored:
            return Verdict(Kind.OTHER, Severity.LOW, (f"ignored: mentions '{ignored}'",), 0.0,
                           language)
        tally = self._tally(document, signals, names, masked)
        complaint, praise = tally.complaint, tally.praise
        margin = complaint - praise
        score = 1.0 / (1.0 + math.exp(-2.0 * (margin - self.threshold)))
        if complaint >= 1.0 and margin >= self.threshold:
            kind = Kind.COMPLAINT
        elif (signals.question and complaint >= self.question_complaint
              and margin >= self.question_complaint):
            # A question that carries complaint words and no praise ("why does
            # every update reset my settings?", "how many times do I have to
            # send it?") is a complaint put as a question: it needs the same
            # visible reply.
            kind = Kind.COMPLAINT
            score = max(score, 0.55)
            tally.reasons.append("question that complains")
        elif signals.question:
            kind = Kind.QUESTION
        elif signals.job_ad and complaint < 1.0:
            kind = Kind.OTHER
            tally.reasons.append(f"looks like a job advert ('{signals.job_ad}')")
        elif praise >= 0.8 and praise > complaint:
            kind = Kind.PRAISE
        elif signals.reporting or signals.announcement:
            kind = Kind.OTHER
        elif (self.service_stories
              and len(signals.service) + bool(signals.situation and not signals.resolved)
              >= self._story_min_terms
              and praise <= self._story_max_praise
              and complaint >= self._story_min_complaint):
            # Praise has a small vocabulary and the lexicons know it; problems
            # are told in endless ways. A customer's story about an order, a
            # bill or a repair that holds no praise is, in practice, a complaint.
            kind = Kind.COMPLAINT
            score = max(score, 0.55)
            about = signals.service[0] if signals.service else signals.situation
            tally.reasons.append(f"customer story without praise (mentions '{about}')")
        else:
            kind = Kind.OTHER
        reasons = self._reasons(kind, signals, tally, names)
        severity = self._severity(kind, document, signals, complaint, reasons)
        return Verdict(kind, severity, tuple(dict.fromkeys(reasons)), round(score, 3), language)

    def _tally(self, document: Document, signals: Signals, names: list[str],
               text: str = "") -> _Tally:
        tally = _Tally(0.0, 0.0)
        hits = signals.hits
        if signals.competitor_sentences and self._competitors:
            found = [n for n in names if n in self._competitors] or list(self._competitors)
            flipped = False
            for h in hits:
                if h.value > 0 and h.sentence in signals.competitor_sentences:
                    h.value = -0.5 * h.value
                    flipped = True
            if flipped:
                tally.reasons.append(f"praise for competitor '{found[0]}'")
        if signals.reporting:
            # Relayed news: the lawsuit or the journalist is not the author's threat.
            for h in hits:
                if h.entry.critical in _RELAYED:
                    h.value = 0.0
            tally.reasons.append(f"reported news ('{signals.reporting.strip()}')")
        # An unwelcome situation ("hold music", "price rise") that the text does
        # not say was put right: complaint evidence, and irony when praised.
        situation = signals.situation if not signals.resolved else None
        marker = signals.sarcasm if any(h.value < 0 for h in hits) else None
        tag = _praise_tag(signals, text)
        if tag and not marker and not situation:
            # A short praise tag after a complaint told without praise ("So the
            # 'unlimited' plan stops at 20 GB. Great.") is irony.
            for h in hits:
                if h.sentence == signals.last_sentence and h.value > 0:
                    h.value = -0.6 * h.value
            tally.reasons.append(f"sarcasm ('{tag}' after a complaint)")
        if (marker or situation) and any(h.value > 0 for h in hits):
            for h in hits:
                if h.value > 0:
                    h.value = -0.6 * h.value
            tally.reasons.append(f"sarcasm ('{(marker or situation or '').strip()}')")
        complaint = signals.complaint
        praise = signals.praise
        if situation:
            complaint += 0.6
            tally.reasons.append(f"describes '{situation}'")
        if tag and not marker and not situation:
            complaint += 0.6
        if signals.dangling_negations:
            complaint += min(1.0, 0.5 * signals.dangling_negations)
            tally.reasons.append("negative wording ('not', 'no', 'never')")
        if complaint > 0 and _shouting(document.text or ""):
            complaint *= 1.3
            tally.reasons.append("written in capitals")
        if document.rating is not None and document.rating_max:
            stars = document.rating / document.rating_max * 5
            tally.reasons.insert(0, f"rating {document.rating:g}/{document.rating_max:g}")
            if stars <= 1.5:
                complaint += 3.0
            elif stars <= 2.5:
                complaint += 2.0
            elif stars <= 3.5:
                complaint += 0.3
            else:
                praise += 1.0
        tally.complaint, tally.praise = complaint, praise
        return tally

    def _reasons(self, kind: Kind, signals: Signals, tally: _Tally, names: list[str]) -> list[str]:
        reasons = list(tally.reasons[:1]) if tally.reasons[:1] and tally.reasons[0].startswith(
            "rating") else []
        rest = tally.reasons[len(reasons):]
        for h in signals.hits:
            crit = h.critical
            if crit and kind is not Kind.PRAISE:
                reasons.append(f"{CRITICAL_LABELS[crit]}: mentions '{h.surface}'")
        for h in signals.hits:
            if h.entry.escalation and kind is Kind.COMPLAINT and h.value < 0:
                reasons.append(f"{ESCALATION_LABELS[h.entry.escalation]}: mentions '{h.surface}'")
        side: list[Hit]
        if kind is Kind.COMPLAINT:
            side = sorted((h for h in signals.hits if h.value < 0), key=lambda h: h.value)
        elif kind is Kind.PRAISE:
            side = sorted((h for h in signals.hits if h.value > 0), key=lambda h: -h.value)
        else:
            side = sorted(signals.hits, key=lambda h: -abs(h.value))
        for h in side[:4]:
            if h.critical or h.entry.escalation and kind is Kind.COMPLAINT:
                continue
            reasons.append(f"'{h.surface}' (negated)" if h.negated else f"mentions '{h.surface}'")
        if kind is not Kind.COMPLAINT:
            rest = [r for r in rest if not r.startswith(("negative wording", "written in"))]
        reasons.extend(rest)
        if signals.question and kind in (Kind.QUESTION, Kind.COMPLAINT):
            reasons.append("question to the company" if signals.addressed else "question")
        products = [n for n in names if n in self._product_names]
        if products:
            reasons.append(f"about product '{products[0]}'")
        return reasons

    def _severity(
        self,
        kind: Kind,
        document: Document,
        signals: Signals,
        complaint: float,
        reasons: list[str],
    ) -> Severity:
        if kind is Kind.COMPLAINT:
            severity = Severity.NORMAL
            if complaint >= 6.0 or any(h.entry.escalation and h.value < 0 for h in signals.hits):
                severity = Severity.HIGH
        elif kind is Kind.QUESTION:
            severity = Severity.NORMAL
        else:
            severity = Severity.LOW
        if kind is not Kind.PRAISE and any(h.critical for h in signals.hits):
            severity = Severity.CRITICAL
        interactions, followers, counts = reach(document.engagement)
        if kind in (Kind.COMPLAINT, Kind.QUESTION) and (interactions or followers):
            big = [c for c in counts if c[0] >= 10][:2]
            if kind is Kind.COMPLAINT and (
                interactions >= self.critical_engagement or followers >= self.critical_followers
            ):
                severity = Severity.CRITICAL
                reasons.extend(_count_label(n, k) for n, k in big)
                if followers >= self.critical_followers:
                    reasons.append(f"author has {human_count(followers)} followers")
                reasons.append("large audience")
            elif interactions >= self.high_engagement or followers >= self.high_followers:
                cap = 3 if kind is Kind.COMPLAINT else 2
                severity = _BY_RANK[min(cap, severity.rank + 1)]
                reasons.extend(_count_label(n, k) for n, k in big)
                if followers >= self.high_followers:
                    reasons.append(f"author has {human_count(followers)} followers")
        return severity


#: A word in scare quotes ("the 'unlimited' plan", «безлимитный», „nelimitat”).
_SCARE_QUOTES = re.compile(
    r"(?:^|(?<=[\s(]))[«„“\"'‘‚]\s?[^\W\d_][^«»„“”\"'‘’\n]{0,25}?[»“”\"'’‘]")


def _praise_tag(signals: Signals, text: str) -> str | None:
    """The praise tag ending a complaint told without praise, if there is one.

    The last sentence is at most three words and all praise ("Great.",
    "Super Leistung."); what comes before it holds no praise and some trouble:
    complaint evidence, an unwelcome situation or a word in scare quotes.
    """
    last = signals.last_sentence
    if last <= 0 or signals.last_sentence_words > 3:
        return None
    tag = [h for h in signals.hits if h.sentence == last]
    before = [h for h in signals.hits if h.sentence < last]
    if not tag or any(h.value <= 0 for h in tag) or any(h.value > 0 for h in before):
        return None
    trouble = -sum(h.value for h in before) >= 1.0 or bool(signals.situation)
    if not trouble and not _SCARE_QUOTES.search(text):
        return None
    return tag[0].surface


def _fold_name(name: str) -> str:
    return unicodedata.normalize("NFKC", name).strip().lstrip("@").casefold()

