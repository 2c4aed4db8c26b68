"""``review-monitor classify``: classify one text, a JSON Lines stream, or score a labelled set.

    review-monitor classify "TEXT" [--title T] [--rating 2] [--lang ro]
    review-monitor classify --jsonl < mentions.jsonl > verdicts.jsonl
    review-monitor classify --eval labelled.jsonl [--format json] [--errors 20]

JSON Lines input: one object per line, {"text", "title"?, "rating"?,
"rating_max"?, "lang"?, "engagement"?, "author"?, "id"?}. Output: one object
per input line, in order, {"kind", "severity", "language", "reasons",
"score"} (plus "id" when the input had one). A line that is not a valid
object gets {"error": "..."} in its place and the exit status is 1.

Evaluation input: the same objects with "label" (complaint, question,
praise, other, or not_complaint for complaint-vs-rest sets) and optionally
"expected_language", "severity" and "tags".
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from .classifier_plugin import load_classifier
from .core.classify import Classifier, Document, Verdict
from .core.evaluate import KINDS, NOT_COMPLAINT, Outcome, errors, evaluate, format_report
from .errors import ConfigError

_LABELS = frozenset(KINDS) | {NOT_COMPLAINT}


def add_parser(subparsers: Any) -> None:
    """Add the ``classify`` subcommand to an argparse subparsers object."""
    p = subparsers.add_parser(
        "classify",
        help="classify a text, a JSON Lines stream, or evaluate on a labelled set",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(p)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("text", nargs="?", help='the text to classify ("-" reads it from stdin)')
    p.add_argument("--title", help="the mention's title")
    p.add_argument("--rating", type=float, help="star rating, if the source has one")
    p.add_argument("--rating-max", type=float, default=5.0, help="top of the rating scale")
    p.add_argument("--lang", help="the source's language field (wins over detection)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--jsonl", action="store_true",
                      help="read JSON Lines from stdin, write one verdict per line")
    mode.add_argument("--eval", metavar="FILE", type=Path,
                      help="labelled JSON Lines: print precision/recall/F1, confusion matrix, "
                           "language accuracy")
    p.add_argument("--classifier", metavar="SPEC",
                   help="'rules' (the rule classifier alone), 'module:attr' or an entry "
                        "point in group review_monitor.classifiers (default: the rules and "
                        "the learned model)")
    p.add_argument("--languages", metavar="CODES",
                   help="comma-separated ISO 639-1 codes to detect (default: "
                        "en,ru,ro,nb,et,de,fr,es)")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="--eval report format")
    p.add_argument("--errors", type=int, default=0, metavar="N",
                   help="--eval: also list up to N misclassified items")
    p.add_argument("--text-only", action="store_true",
                   help="ignore ratings in the input (measure the text alone)")


def document_from_json(obj: Any, *, text_only: bool = False) -> Document:
    """A Document from one JSON object; ValueError with a readable message if malformed."""
    if not isinstance(obj, Mapping):
        raise ValueError("expected a JSON object")
    text = obj.get("text", "")
    title = obj.get("title")
    if not isinstance(text, str):
        raise ValueError('"text" must be a string')
    if title is not None and not isinstance(title, str):
        raise ValueError('"title" must be a string')
    if not text and not title:
        raise ValueError('"text" is missing or empty')
    rating = _number(obj.get("rating"), "rating")
    rating_max = _number(obj.get("rating_max"), "rating_max") or 5.0
    lang = obj.get("lang", obj.get("language"))
    if lang is not None and not isinstance(lang, str):
        raise ValueError('"lang" must be a string')
    engagement_raw = obj.get("engagement") or {}
    if not isinstance(engagement_raw, Mapping):
        raise ValueError('"engagement" must be an object of counts')
    engagement: dict[str, int] = {}
    for key, value in engagement_raw.items():
        count = _number(value, f"engagement.{key}")
        if count is not None:
            engagement[str(key)] = int(count)
    author = obj.get("author")
    return Document(
        text=text,
        title=title or None,
        rating=None if text_only else rating,
        rating_max=rating_max,
        language=lang or None,
        engagement=engagement,
        author=author if isinstance(author, str) else None,
    )


def _number(value: Any, name: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f'"{name}" must be a number')
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise ValueError(f'"{name}" must be a number')


def verdict_to_json(verdict: Verdict) -> dict[str, Any]:
    return {
        "kind": verdict.kind.value,
        "severity": verdict.severity.value,
        "language": verdict.language,
        "reasons": list(verdict.reasons),
        "score": verdict.score,
    }


def _dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def _build(args: argparse.Namespace) -> Classifier:
    options: dict[str, Any] = {}
    if getattr(args, "languages", None):
        options["languages"] = [c.strip() for c in args.languages.split(",") if c.strip()]
    return load_classifier(getattr(args, "classifier", None), **options)


def classify_lines(classifier: Classifier, lines: Iterable[str], out: IO[str],
                   text_only: bool = False) -> int:
    """The --jsonl loop; returns the number of bad lines."""
    bad = 0
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            document = document_from_json(obj, text_only=text_only)
        except ValueError as e:  # json.JSONDecodeError is a ValueError
            bad += 1
            out.write(_dump({"error": f"line {number}: {e}"}) + "\n")
            continue
        result = verdict_to_json(classifier.classify(document))
        if isinstance(obj, Mapping) and "id" in obj:
            result = {"id": obj["id"], **result}
        out.write(_dump(result) + "\n")
        out.flush()
    return bad


def _read_labelled(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open("rb") as f:
        for number, raw in enumerate(f, 1):
            # Each problem names the file and line (json's own message names neither).
            try:
                line = raw.decode("utf-8-sig")  # a BOM some editors write is no error
            except UnicodeDecodeError:
                raise ValueError(f"{path}:{number}: not UTF-8 text") from None
            if line.strip():
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path}:{number}: not JSON: {e.msg} at column "
                                     f"{e.colno}") from None
                if not isinstance(obj, dict):
                    raise ValueError(f"{path}:{number}: expected a JSON object")
                yield number, obj


def run_eval(classifier: Classifier, path: Path, out: IO[str], *, fmt: str = "text",
             show_errors: int = 0, text_only: bool = False) -> int:
    outcomes: list[Outcome] = []
    texts: list[str] = []
    for number, obj in _read_labelled(path):
        label = obj.get("label")
        if label not in _LABELS:
            raise ValueError(f"{path}:{number}: label must be one of "
                             f"{', '.join(sorted(_LABELS))}, not {label!r}")
        try:
            document = document_from_json(obj, text_only=text_only)
        except ValueError as e:
            raise ValueError(f"{path}:{number}: {e}") from e
        verdict = classifier.classify(document)
        tags = obj.get("tags") or ()
        outcomes.append(Outcome(
            label=label,
            predicted=verdict.kind.value,
            text_length=len(((document.title or "") + " " + document.text).strip()),
            expected_language=obj.get("expected_language"),
            language=verdict.language,
            expected_severity=obj.get("severity"),
            severity=verdict.severity.value,
            tags=tuple(str(t) for t in tags),
            item_id=str(obj["id"]) if "id" in obj else f"line {number}",
        ))
        texts.append(document.text)
    report = evaluate(outcomes)
    if fmt == "json":
        out.write(_dump(report.to_dict()) + "\n")
    else:
        out.write(format_report(report))
    if show_errors:
        out.write("\nmisclassified:\n")
        for line in errors(outcomes, texts, show_errors):
            out.write(line + "\n")
    return 0


def run(args: argparse.Namespace, classifier: Classifier | None = None) -> int:
    """Run the subcommand; ``classifier`` overrides --classifier (the app passes its own)."""
    out = sys.stdout
    try:
        classifier = classifier or _build(args)
    except ConfigError as e:
        print(f"review-monitor classify: {e}", file=sys.stderr)
        return 2
    if args.eval is not None:
        try:
            return run_eval(classifier, args.eval, out, fmt=args.format,
                            show_errors=args.errors, text_only=args.text_only)
        except (OSError, ValueError) as e:
            print(f"review-monitor classify --eval: {e}", file=sys.stderr)
            return 2
    if args.jsonl:
        bad = classify_lines(classifier, sys.stdin, out, text_only=args.text_only)
        return 1 if bad else 0
    if args.text is None:
        print("review-monitor classify: give TEXT, --jsonl or --eval FILE", file=sys.stderr)
        return 2
    text = sys.stdin.read() if args.text == "-" else args.text
    document = Document(text=text, title=args.title,
                        rating=None if args.text_only else args.rating,
                        rating_max=args.rating_max, language=args.lang)
    out.write(_dump(verdict_to_json(classifier.classify(document))) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Standalone entry (``python -m monitor.classify_cmd``), same as the subcommand."""
    parser = argparse.ArgumentParser(prog="review-monitor classify", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
