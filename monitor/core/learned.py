"""A small learned complaint model blended with the rules (issue #5).

``LearnedClassifier`` wraps a :class:`~monitor.core.classify.RuleClassifier`.
The rules decide first; when they do not call a mention a complaint, a linear
model (logistic regression over word and character n-grams, language
independent) reads the text, and a probability at or above the threshold for
the rules' kind makes it a complaint ("reads like a complaint (model 0.83)").
Staff posts, ignored words and job adverts stay as the rules decided.

The weights are a small JSON file shipped in the package
(``lexicon/learned_weights.json``), loaded once per process; inference is
pure Python (a dictionary look-up per n-gram). They are trained offline by
``eval/classification/train.py`` on the development sets only; how and how
well: docs/classification.md, "Learned blend".

Pure: no I/O after the weights are loaded, no clock.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources
from itertools import repeat
from pathlib import Path
from typing import Any

from .classify import Document, Kind, RuleClassifier, Severity, Verdict, reach

WEIGHTS_RESOURCE = "learned_weights.json"

_DIGITS = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"\w+")

#: Character n-gram lengths (over the whole normalised text, spaces included).
CHAR_SIZES: tuple[int, ...] = (2, 3, 4)


def normalise(text: str) -> str:
    """NFKC, case-folded, digits as '0', one space between words."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _DIGITS.sub("0", text)
    return _SPACE.sub(" ", text).strip()


def features(text: str) -> list[str]:
    """The n-grams the model reads: words, word pairs and 2-4 characters.

    The same function serves training and inference, so the two cannot
    disagree. Repeated n-grams are repeated in the list (counts).
    """
    norm = normalise(text)
    words = _WORD.findall(norm)
    grams = ["w:" + w for w in words]
    grams += ["b:" + a + " " + b for a, b in zip(words, words[1:], strict=False)]
    padded = f" {norm} "
    length = len(padded)
    for n in CHAR_SIZES:
        grams += [padded[i:i + n] for i in range(length - n + 1)]
    return grams


@dataclass(frozen=True)
class LinearModel:
    """Logistic regression over :func:`features`, counts scaled by 1/sqrt(total)."""

    weights: Mapping[str, float]
    bias: float
    # Probability at or above which a mention the rules call <kind> becomes a
    # complaint; a kind that is missing is never overridden.
    thresholds: Mapping[str, float]
    meta: Mapping[str, Any]
    # Texts longer than ``long_chars`` characters use ``long_thresholds`` instead
    # (set apart on the development data: long reviews read differently).
    long_thresholds: Mapping[str, float] | None = None
    long_chars: int | None = None

    def probability(self, text: str) -> float:
        grams = features(text)
        z = self.bias
        if grams:
            z += sum(map(self.weights.get, grams, repeat(0.0))) / math.sqrt(len(grams))
        if z >= 0:
            return 1.0 / (1.0 + math.exp(-z))
        e = math.exp(z)
        return e / (1.0 + e)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LinearModel:
        if data.get("format") != "review-monitor-linear-1":
            raise ValueError(f"unknown learned weights format {data.get('format')!r}")
        return cls(
            weights={str(k): float(v) for k, v in data["weights"].items()},
            bias=float(data["bias"]),
            thresholds={str(k): float(v) for k, v in data["thresholds"].items()},
            meta=dict(data.get("meta", {})),
            long_thresholds=({str(k): float(v) for k, v in data["long_thresholds"].items()}
                             if data.get("long_thresholds") is not None else None),
            long_chars=(int(data["long_chars"]) if data.get("long_chars") is not None
                        else None),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format": "review-monitor-linear-1",
            "meta": dict(self.meta),
            "bias": round(self.bias, 6),
            "thresholds": dict(self.thresholds),
        }
        if self.long_chars is not None and self.long_thresholds is not None:
            out["long_chars"] = self.long_chars
            out["long_thresholds"] = dict(self.long_thresholds)
        out["weights"] = {k: round(v, 5) for k, v in sorted(self.weights.items())}
        return out


def load_model(path: str | Path | None = None) -> LinearModel:
    """The weights at ``path``, or the ones shipped in the package (cached)."""
    if path is None:
        return _packaged_model()
    return LinearModel.from_json(json.loads(Path(path).read_text(encoding="utf-8")))


@lru_cache(maxsize=1)
def _packaged_model() -> LinearModel:
    ref = resources.files("monitor.core.lexicon").joinpath(WEIGHTS_RESOURCE)
    return LinearModel.from_json(json.loads(ref.read_text(encoding="utf-8")))


#: Rule verdicts the model never overrides (the rules' reason starts with one of these).
_FINAL_REASONS = ("posted by the brand's own staff", "ignored:", "looks like a job advert")


class LearnedClassifier:
    """The rules, then a linear model for the complaints they miss.

    Takes the :class:`RuleClassifier` options (``languages``, ``vocabulary``,
    ``detector``...) and passes them on. ``weights``: a JSON file of weights
    (default: the packaged ones). ``thresholds``: per rule kind ("other",
    "question", "praise"), the model probability at or above which the
    mention becomes a complaint (default: the ones trained with the weights;
    texts longer than the model's ``long_chars`` use its long-text thresholds,
    and ``thresholds`` sets both).
    """

    def __init__(self, *, weights: str | Path | None = None,
                 thresholds: Mapping[str, float] | None = None,
                 rules: RuleClassifier | None = None, **rule_options: Any) -> None:
        self.rules = rules or RuleClassifier(**rule_options)
        self.model = load_model(weights)
        self.thresholds: dict[str, float] = dict(self.model.thresholds)
        self.long_thresholds: dict[str, float] = dict(
            self.model.long_thresholds if self.model.long_thresholds is not None
            else self.model.thresholds)
        if thresholds is not None:
            given = {str(k): float(v) for k, v in thresholds.items()}
            self.thresholds.update(given)
            self.long_thresholds.update(given)

    @staticmethod
    def _text(document: Document) -> str:
        text = document.text or ""
        if document.title:
            text = f"{document.title}\n{text}"
        return text

    def probability(self, document: Document) -> float:
        return self.model.probability(self._text(document))

    def classify(self, document: Document) -> Verdict:
        verdict = self.rules.classify(document)
        if verdict.kind is Kind.COMPLAINT or not (document.text or document.title):
            return verdict
        if any(reason.startswith(_FINAL_REASONS) for reason in verdict.reasons):
            return verdict
        text = self._text(document)
        long_chars = self.model.long_chars
        table = (self.long_thresholds if long_chars is not None and len(text) > long_chars
                 else self.thresholds)
        threshold = table.get(verdict.kind.value)
        if threshold is None:
            return verdict
        p = self.model.probability(text)
        if p < threshold:
            return verdict
        reasons = [f"reads like a complaint (model {p:.2f})"]
        reasons.extend(r for r in verdict.reasons
                       if not r.startswith(("question", "looks like", "reported news")))
        return replace(verdict, kind=Kind.COMPLAINT,
                       severity=self._severity(document, verdict.severity, reasons),
                       reasons=tuple(dict.fromkeys(reasons)),
                       score=round(max(verdict.score, p), 3))

    def _severity(self, document: Document, severity: Severity, reasons: list[str]) -> Severity:
        """At least normal; raised by engagement as the rules raise a complaint's."""
        rank = max(severity.rank, Severity.NORMAL.rank)
        interactions, followers, _counts = reach(document.engagement)
        rules = self.rules
        if interactions >= rules.critical_engagement or followers >= rules.critical_followers:
            if "large audience" not in reasons:
                reasons.append("large audience")
            rank = Severity.CRITICAL.rank
        elif interactions >= rules.high_engagement or followers >= rules.high_followers:
            rank = max(rank, Severity.HIGH.rank)
        return next(s for s in Severity if s.rank == rank)
