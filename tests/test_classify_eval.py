"""`review-monitor classify`: one text, the JSON Lines contract, --eval, and the real corpus."""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from monitor import classify_cmd
from monitor.core.classify import Document, Kind, Severity, Verdict
from monitor.core.evaluate import Outcome, evaluate, format_report

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
SMOKE = ROOT / "tests" / "fixtures" / "classify_smoke.jsonl"
PROJECT_SETS = ROOT / "eval" / "classification"


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="review-monitor")
    sub = parser.add_subparsers(dest="command", required=True)
    classify_cmd.add_parser(sub)
    return parser.parse_args(["classify", *argv])


def run(argv: list[str], stdin: str = "", monkeypatch: pytest.MonkeyPatch | None = None,
        capsys: pytest.CaptureFixture[str] | None = None) -> tuple[int, str, str]:
    assert monkeypatch is not None and capsys is not None
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = classify_cmd.run(parse(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_one_text(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["Не рекомендую, доставка ужасная."], monkeypatch=monkeypatch,
                       capsys=capsys)
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert set(result) == {"kind", "severity", "language", "reasons", "score"}
    assert result["kind"] == "complaint"
    assert result["language"] == "ru"
    assert isinstance(result["reasons"], list) and result["reasons"]


def test_one_text_with_rating_and_lang(monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["Livrat marți.", "--rating", "1", "--lang", "ro"],
                       monkeypatch=monkeypatch, capsys=capsys)
    result = json.loads(out)
    assert code == 0
    assert result["kind"] == "complaint"
    assert result["language"] == "ro"
    assert result["reasons"][0] == "rating 1/5"


def test_text_from_stdin(monkeypatch: pytest.MonkeyPatch,
                         capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["-"], stdin="Terrible app, crashes all the time.",
                       monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0 and json.loads(out)["kind"] == "complaint"


def test_no_input_is_a_usage_error(monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run([], monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2 and not out and "TEXT" in err


def test_jsonl_contract(monkeypatch: pytest.MonkeyPatch,
                        capsys: pytest.CaptureFixture[str]) -> None:
    inputs = [
        {"text": "Worst service ever, never again."},
        {"text": "Mulțumesc, totul a fost perfect!", "lang": "ro"},
        {"title": "Question", "text": "Kas saadate ka Soome?"},
        {"text": "Great shop", "rating": 1},
        {"id": 7, "text": "Die App stürzt ständig ab.", "engagement": {"upvotes": 2000}},
    ]
    stdin = "\n".join(json.dumps(i, ensure_ascii=False) for i in inputs) + "\n\n"
    code, out, _ = run(["--jsonl"], stdin=stdin, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0
    results = [json.loads(line) for line in out.splitlines()]
    assert len(results) == len(inputs)
    for result in results:
        assert {"kind", "severity", "language", "reasons", "score"} <= set(result)
    assert [r["kind"] for r in results] == ["complaint", "praise", "question", "complaint",
                                           "complaint"]
    assert results[1]["language"] == "ro"
    assert results[2]["language"] == "et"
    assert results[3]["reasons"][0] == "rating 1/5"
    assert results[4]["id"] == 7 and results[4]["severity"] == "critical"
    assert "2k upvotes" in results[4]["reasons"]


def test_jsonl_bad_lines_keep_their_place(monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    stdin = '{"text": "awful"}\nnot json\n{"text": 5}\n[1, 2]\n{"text": "lovely, thanks"}\n'
    code, out, _ = run(["--jsonl"], stdin=stdin, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 1
    results = [json.loads(line) for line in out.splitlines()]
    assert len(results) == 5
    assert results[0]["kind"] == "complaint"
    assert results[1]["error"].startswith("line 2:")
    assert "text" in results[2]["error"]
    assert "object" in results[3]["error"]
    assert results[4]["kind"] == "praise"


def test_eval_on_the_smoke_set(monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["--eval", str(SMOKE)], monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0
    assert "precision" in out and "confusion matrix" in out and "language accuracy" in out
    code, out, _ = run(["--eval", str(SMOKE), "--format", "json"], monkeypatch=monkeypatch,
                       capsys=capsys)
    report = json.loads(out)
    assert report["items"] == 26
    complaint = report["per_class"]["complaint"]
    assert complaint["precision"] >= 0.85
    assert complaint["recall"] >= 0.9
    for kind in ("question", "praise"):
        assert report["per_class"][kind]["f1"] >= 0.85
    assert report["language_accuracy"]["value"] >= 0.95
    assert report["critical"]["recall"] == 1.0


def test_eval_rejects_bad_labels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "x", "label": "angry"}\n', encoding="utf-8")
    code, _, err = run(["--eval", str(bad)], monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2 and "label must be one of" in err and "bad.jsonl:1" in err


def test_eval_lists_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "one.jsonl"
    data.write_text('{"id": "x1", "text": "Lovely staff!", "label": "complaint"}\n',
                    encoding="utf-8")
    code, out, _ = run(["--eval", str(data), "--errors", "5"], monkeypatch=monkeypatch,
                       capsys=capsys)
    assert code == 0
    assert "x1\tcomplaint -> praise\tLovely staff!" in out


def test_plugged_in_classifier_via_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "rm_cli_plugin.py").write_text(textwrap.dedent('''
        from monitor.core.classify import Document, Kind, Severity, Verdict

        class Always:
            def classify(self, document: Document) -> Verdict:
                return Verdict(Kind.QUESTION, Severity.HIGH, ("plugged in",), 0.5, "xx")
    '''), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    code, out, _ = run(["--classifier", "rm_cli_plugin:Always", "--jsonl"],
                       stdin='{"text": "anything"}\n', monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0
    assert json.loads(out) == {"kind": "question", "severity": "high", "language": "xx",
                               "reasons": ["plugged in"], "score": 0.5}
    code, _, err = run(["--classifier", "rm_cli_plugin:Nope", "x"], monkeypatch=monkeypatch,
                       capsys=capsys)
    assert code == 2 and "rm_cli_plugin" in err
    sys.modules.pop("rm_cli_plugin", None)


def test_run_accepts_the_apps_classifier(monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    class Fixed:
        def classify(self, document: Document) -> Verdict:
            return Verdict(Kind.PRAISE, Severity.LOW, (), 0.0, None)

    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert classify_cmd.run(parse(["hello"]), classifier=Fixed()) == 0
    assert json.loads(capsys.readouterr().out)["kind"] == "praise"


def test_module_entry_in_a_subprocess() -> None:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    proc = subprocess.run(
        [sys.executable, "-m", "monitor.classify_cmd", "--jsonl"],
        input='{"text": "Не рекомендую"}\n{"text": "nu sunt mulțumit"}\n',
        capture_output=True, text=True, encoding="utf-8", cwd=ROOT, env=env, timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    kinds = [json.loads(line)["kind"] for line in proc.stdout.splitlines()]
    assert kinds == ["complaint", "complaint"]


# -- metrics ------------------------------------------------------------------


def test_metrics_by_hand() -> None:
    outcomes = [
        Outcome("complaint", "complaint"), Outcome("complaint", "complaint"),
        Outcome("complaint", "other"), Outcome("praise", "complaint"),
        Outcome("praise", "praise"), Outcome("question", "question"),
    ]
    report = evaluate(outcomes)
    c = report.per_class["complaint"]
    assert (round(c.precision, 3), round(c.recall, 3)) == (0.667, 0.667)
    assert report.confusion["complaint"]["other"] == 1
    assert report.accuracy.correct == 4
    assert "complaint" in format_report(report)


def test_binary_metrics() -> None:
    outcomes = [Outcome("complaint", "complaint"), Outcome("not_complaint", "praise"),
                Outcome("not_complaint", "question"), Outcome("not_complaint", "complaint"),
                Outcome("complaint", "other")]
    report = evaluate(outcomes)
    assert report.labels == ("complaint", "not_complaint")
    c = report.per_class["complaint"]
    assert (c.precision, c.recall) == (0.5, 0.5)
    assert report.per_class["not_complaint"].recall == pytest.approx(2 / 3)


def test_language_accuracy_long_texts_only() -> None:
    outcomes = [Outcome("other", "other", 10, "en", "de"),
                Outcome("other", "other", 50, "en", "en")]
    report = evaluate(outcomes)
    assert report.language.value == 0.5
    assert report.language_long.value == 1.0


# -- the project's labelled set (held-out half) -------------------------------


def _eval_json(path: Path, monkeypatch: pytest.MonkeyPatch,
               capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    code, out, err = run(["--eval", str(path), "--format", "json", *extra],
                         monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0, err
    report: dict[str, Any] = json.loads(out)
    return report


def test_project_set_is_big_enough() -> None:
    items = [json.loads(line) for name in ("dev.jsonl", "test.jsonl")
             for line in (PROJECT_SETS / name).read_text(encoding="utf-8").splitlines()
             if line.strip()]
    assert len(items) >= 400
    by_lang: dict[str, int] = {}
    for item in items:
        by_lang[item["expected_language"]] = by_lang.get(item["expected_language"], 0) + 1
    assert set(by_lang) >= {"en", "ru", "ro", "nb", "et", "de", "fr", "es"}
    assert min(by_lang.values()) >= 30
    complaints = sum(1 for i in items if i["label"] == "complaint")
    assert complaints == len(items) - complaints


# Floors under the figures in docs/classification.md (measured, text only), so
# that a change that makes things worse fails here.
def test_project_test_set_figures(monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    report = _eval_json(PROJECT_SETS / "test.jsonl", monkeypatch, capsys)
    complaint = report["per_class"]["complaint"]
    assert complaint["precision"] >= FLOORS["test_precision"]
    assert complaint["recall"] >= FLOORS["test_recall"]
    assert report["language_accuracy_long"]["value"] >= 0.95


def test_project_dev_set_figures(monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    report = _eval_json(PROJECT_SETS / "dev.jsonl", monkeypatch, capsys)
    complaint = report["per_class"]["complaint"]
    assert complaint["precision"] >= 0.85
    assert complaint["recall"] >= 0.90
    assert report["language_accuracy_long"]["value"] >= 0.95


# Just under the default classifier's figures (the rules and the learned model: test
# 0.953 / 0.842, real 0.939 / 0.859, holdout 0.907 / 0.850; the rules alone: test
# 0.980 / 0.808, real 0.948 / 0.775, holdout 0.913 / 0.787).
FLOORS = {"test_precision": 0.94, "test_recall": 0.835, "real_precision": 0.93,
          "real_recall": 0.85, "holdout_precision": 0.90, "holdout_recall": 0.845}


def test_second_held_out_set_figures(monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """holdout.jsonl: written before the recall work, never used to tune it."""
    report = _eval_json(PROJECT_SETS / "holdout.jsonl", monkeypatch, capsys)
    complaint = report["per_class"]["complaint"]
    assert complaint["precision"] >= FLOORS["holdout_precision"]
    assert complaint["recall"] >= FLOORS["holdout_recall"]
    assert report["language_accuracy_long"]["value"] >= 0.95


def test_third_held_out_set_figures(monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    """fresh3.jsonl: written before fresh2 was used for development; never tuned on."""
    report = _eval_json(PROJECT_SETS / "fresh3.jsonl", monkeypatch, capsys)
    complaint = report["per_class"]["complaint"]
    assert complaint["precision"] >= 0.89  # the blend: 0.897; the rules alone: 0.909
    assert complaint["recall"] >= 0.92  # the blend: 0.929; the rules alone: 0.714
    assert report["language_accuracy_long"]["value"] >= 0.95


def test_fresh2_development_figures(monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    # Facts told without judging words: 0.268 recall when first scored.
    report = _eval_json(PROJECT_SETS / "fresh2.jsonl", monkeypatch, capsys)
    complaint = report["per_class"]["complaint"]
    assert complaint["precision"] >= 0.95
    assert complaint["recall"] >= 0.75


@pytest.mark.parametrize("name", ["dev2", "dev3", "fresh", "dev_sarcasm", "dev_ja", "dev_apps"])
def test_development_sets_figures(name: str, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    # The rules were written against these: they guard against regressions only.
    report = _eval_json(PROJECT_SETS / f"{name}.jsonl", monkeypatch, capsys)
    complaint = report["per_class"]["complaint"]
    assert complaint["precision"] >= 0.95
    assert complaint["recall"] >= 0.92


# -- the real rated reviews in ../shared/corpus -------------------------------


def _real_reviews_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "real_reviews", PROJECT_SETS / "real_reviews.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def corpus() -> Iterator[Path]:
    if not CORPUS.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"the shared corpus is missing at {CORPUS}")
        pytest.skip(f"no shared corpus at {CORPUS}")
    yield CORPUS


@pytest.mark.corpus
def test_real_reviews_loader(corpus: Path) -> None:
    items = _real_reviews_module().real_reviews(corpus)
    sources = {i["source"] for i in items}
    assert sources == {"trustpilot", "appstore", "googleplay", "googleplay-page", "yelp"}
    assert all("rating" not in i and "lang" not in i for i in items)
    assert all(i["label"] in ("complaint", "not_complaint") for i in items)
    assert sum(1 for i in items if i["label"] == "complaint") >= 70


@pytest.mark.corpus
def test_real_reviews_figures(corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    items = _real_reviews_module().real_reviews(corpus)
    path = tmp_path / "real.jsonl"
    path.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items),
                    encoding="utf-8")
    report = _eval_json(path, monkeypatch, capsys)
    complaint = report["per_class"]["complaint"]
    assert complaint["precision"] >= FLOORS["real_precision"]
    assert complaint["recall"] >= FLOORS["real_recall"]
    assert report["language_accuracy_long"]["value"] >= 0.95
