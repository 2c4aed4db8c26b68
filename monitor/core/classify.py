"""Classification: is a mention a complaint, a question, praise or other, and how bad.

Pure: no I/O, no clock. ``Classifier`` is the interface the pipeline calls;
``RuleClassifier`` is the light default.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


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


class Classifier(Protocol):
    def classify(self, document: Document) -> Verdict: ...


_COMPLAINT_WORDS = re.compile(
    r"\b(terrible|awful|worst|broken|scam|refund|never again|disappointed|useless|"
    r"doesn't work|does not work|not working|crash\w*|angry|horrible|complain\w*)\b",
    re.IGNORECASE,
)
_CRITICAL_WORDS = re.compile(
    r"\b(lawyer|lawsuit|sue|fraud|scam|data breach|police|dangerous|injur\w*)\b", re.IGNORECASE
)
_PRAISE_WORDS = re.compile(
    r"\b(love|great|excellent|amazing|thank you|thanks|awesome|perfect|recommend)\b",
    re.IGNORECASE,
)


class RuleClassifier:
    """v0: rating first, then keyword rules."""

    def classify(self, document: Document) -> Verdict:
        text = f"{document.title or ''}\n{document.text}"
        reasons: list[str] = []
        kind = Kind.OTHER
        score = 0.0
        if document.rating is not None and document.rating_max:
            stars = document.rating / document.rating_max * 5
            reasons.append(f"rating {document.rating:g}/{document.rating_max:g}")
            if stars <= 2:
                kind, score = Kind.COMPLAINT, 0.9
            elif stars >= 4:
                kind, score = Kind.PRAISE, 0.1
        complaint = _COMPLAINT_WORDS.search(text)
        if kind is Kind.OTHER and complaint:
            kind, score = Kind.COMPLAINT, 0.7
            reasons.append(f"mentions '{complaint.group(0).lower()}'")
        if kind is Kind.OTHER and "?" in text:
            kind, score = Kind.QUESTION, 0.3
            reasons.append("question to the company")
        if kind is Kind.OTHER and (praise := _PRAISE_WORDS.search(text)):
            kind, score = Kind.PRAISE, 0.1
            reasons.append(f"mentions '{praise.group(0).lower()}'")
        severity = Severity.NORMAL if kind in (Kind.COMPLAINT, Kind.QUESTION) else Severity.LOW
        if critical := _CRITICAL_WORDS.search(text):
            severity = Severity.CRITICAL
            kind = Kind.COMPLAINT
            reasons.append(f"mentions '{critical.group(0).lower()}'")
        return Verdict(kind, severity, tuple(reasons), score, document.language)
