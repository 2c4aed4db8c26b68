"""Metrics for the classifier: precision, recall, F1 per kind, confusion, language accuracy.

Pure: takes labelled outcomes, returns numbers and text. The CLI
(``review-monitor classify --eval``) reads the files and prints the report.

Labels are the kinds ("complaint", "question", "praise", "other"), or
"not_complaint" for sets that only know complaint vs the rest (real reviews
whose star rating is the label): such an item counts as right whenever the
prediction is not "complaint".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

KINDS: tuple[str, ...] = ("complaint", "question", "praise", "other")
NOT_COMPLAINT = "not_complaint"
#: Language accuracy is reported separately for texts at least this long.
LONG_TEXT = 40


@dataclass(frozen=True)
class Outcome:
    """One evaluated item."""

    label: str
    predicted: str
    text_length: int = 0
    expected_language: str | None = None
    language: str | None = None
    expected_severity: str | None = None
    severity: str | None = None
    tags: tuple[str, ...] = ()
    item_id: str | None = None


@dataclass(frozen=True)
class ClassScores:
    precision: float
    recall: float
    f1: float
    support: int
    predicted: int


@dataclass(frozen=True)
class Accuracy:
    correct: int
    total: int

    @property
    def value(self) -> float:
        return self.correct / self.total if self.total else 0.0


@dataclass
class Report:
    items: int
    labels: tuple[str, ...]
    predictions: tuple[str, ...]
    per_class: dict[str, ClassScores]
    confusion: dict[str, dict[str, int]]
    accuracy: Accuracy
    language: Accuracy
    language_long: Accuracy
    language_by_expected: dict[str, Accuracy]
    critical: ClassScores | None
    by_tag: dict[str, Accuracy] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        def acc(a: Accuracy) -> dict[str, Any]:
            return {"correct": a.correct, "total": a.total, "value": round(a.value, 4)}

        def scores(s: ClassScores) -> dict[str, Any]:
            return {"precision": round(s.precision, 4), "recall": round(s.recall, 4),
                    "f1": round(s.f1, 4), "support": s.support, "predicted": s.predicted}

        return {
            "items": self.items,
            "per_class": {k: scores(v) for k, v in self.per_class.items()},
            "confusion": self.confusion,
            "accuracy": acc(self.accuracy),
            "language_accuracy": acc(self.language),
            "language_accuracy_long": acc(self.language_long),
            "language_by_expected": {k: acc(v) for k, v in self.language_by_expected.items()},
            "critical": scores(self.critical) if self.critical else None,
            "by_tag": {k: acc(v) for k, v in self.by_tag.items()},
        }


def _scores(tp: int, fp: int, fn: int) -> ClassScores:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return ClassScores(precision, recall, f1, tp + fn, tp + fp)


def evaluate(outcomes: Iterable[Outcome]) -> Report:
    items = list(outcomes)
    binary = any(o.label == NOT_COMPLAINT for o in items)
    if binary:
        labels: tuple[str, ...] = ("complaint", NOT_COMPLAINT)
        pairs = [(o.label if o.label == "complaint" else NOT_COMPLAINT,
                  "complaint" if o.predicted == "complaint" else NOT_COMPLAINT) for o in items]
        predictions = labels
    else:
        extra = sorted({o.label for o in items} - set(KINDS))
        labels = KINDS + tuple(extra)
        pairs = [(o.label, o.predicted) for o in items]
        predictions = KINDS + tuple(sorted({p for _, p in pairs} - set(KINDS)))
    confusion = {g: {p: 0 for p in predictions} for g in labels}
    for gold, pred in pairs:
        confusion.setdefault(gold, {p: 0 for p in predictions})
        confusion[gold][pred] = confusion[gold].get(pred, 0) + 1
    per_class: dict[str, ClassScores] = {}
    for label in labels:
        tp = sum(1 for g, p in pairs if g == label and p == label)
        fp = sum(1 for g, p in pairs if g != label and p == label)
        fn = sum(1 for g, p in pairs if g == label and p != label)
        per_class[label] = _scores(tp, fp, fn)
    accuracy = Accuracy(sum(1 for g, p in pairs if g == p), len(pairs))

    with_lang = [o for o in items if o.expected_language]
    language = Accuracy(sum(1 for o in with_lang if o.language == o.expected_language),
                        len(with_lang))
    long = [o for o in with_lang if o.text_length >= LONG_TEXT]
    language_long = Accuracy(sum(1 for o in long if o.language == o.expected_language),
                             len(long))
    by_expected: dict[str, Accuracy] = {}
    for code in sorted({o.expected_language for o in with_lang if o.expected_language}):
        group = [o for o in with_lang if o.expected_language == code]
        by_expected[code] = Accuracy(
            sum(1 for o in group if o.language == o.expected_language), len(group))

    with_sev = [o for o in items if o.expected_severity and o.severity]
    critical = None
    if with_sev:
        tp = sum(1 for o in with_sev if o.expected_severity == "critical" == o.severity)
        fp = sum(1 for o in with_sev if o.expected_severity != "critical" == o.severity)
        fn = sum(1 for o in with_sev if o.expected_severity == "critical" != o.severity)
        critical = _scores(tp, fp, fn)

    by_tag: dict[str, Accuracy] = {}
    tag_counts: Counter[str] = Counter()
    tag_right: Counter[str] = Counter()
    for o, (g, p) in zip(items, pairs, strict=True):
        for t in o.tags:
            tag_counts[t] += 1
            tag_right[t] += g == p
    for t in sorted(tag_counts):
        by_tag[t] = Accuracy(tag_right[t], tag_counts[t])

    return Report(len(items), labels, predictions, per_class, confusion, accuracy, language,
                  language_long, by_expected, critical, by_tag)


def format_report(report: Report) -> str:
    """The report as the fixed-width text the CLI prints."""
    lines = [f"items: {report.items}", ""]
    width = max(len(label) for label in (*report.labels, "label")) + 2
    lines.append(f"{'kind':<{width}}{'precision':>10}{'recall':>9}{'f1':>8}{'support':>9}")
    for label in report.labels:
        s = report.per_class[label]
        lines.append(f"{label:<{width}}{s.precision:>10.3f}{s.recall:>9.3f}{s.f1:>8.3f}"
                     f"{s.support:>9d}")
    lines.append(f"accuracy: {report.accuracy.value:.3f} "
                 f"({report.accuracy.correct}/{report.accuracy.total})")
    lines.append("")
    lines.append("confusion matrix (rows: label, columns: predicted)")
    col = max(len(p) for p in report.predictions) + 2
    lines.append(" " * width + "".join(f"{p:>{col}}" for p in report.predictions))
    for label in report.labels:
        row = report.confusion.get(label, {})
        lines.append(f"{label:<{width}}" + "".join(f"{row.get(p, 0):>{col}d}"
                                                   for p in report.predictions))
    lines.append("")
    if report.language.total:
        lines.append(f"language accuracy: {report.language.value:.3f} "
                     f"({report.language.correct}/{report.language.total})")
        lines.append(f"language accuracy, texts >= {LONG_TEXT} chars: "
                     f"{report.language_long.value:.3f} "
                     f"({report.language_long.correct}/{report.language_long.total})")
        lines.append("  by language: " + ", ".join(
            f"{k} {v.correct}/{v.total}" for k, v in report.language_by_expected.items()))
    else:
        lines.append("language accuracy: no item has expected_language")
    if report.critical is not None:
        c = report.critical
        lines.append(f"critical severity: precision {c.precision:.3f} recall {c.recall:.3f} "
                     f"f1 {c.f1:.3f} (labelled {c.support}, predicted {c.predicted})")
    if report.by_tag:
        lines.append("hard cases (accuracy by tag): " + ", ".join(
            f"{k} {v.correct}/{v.total}" for k, v in report.by_tag.items()))
    return "\n".join(lines) + "\n"


def errors(outcomes: Sequence[Outcome], texts: Sequence[str], limit: int) -> list[str]:
    """Lines describing misclassified items, for looking at a development set."""
    out: list[str] = []
    for o, text in zip(outcomes, texts, strict=True):
        gold = o.label
        pred = o.predicted
        wrong = pred == "complaint" if gold == NOT_COMPLAINT else gold != pred
        if wrong:
            out.append(f"{o.item_id or '-'}\t{gold} -> {pred}\t{text}")
        if len(out) >= limit:
            break
    return out
