"""The learned complaint model blended with the rules (monitor.core.learned)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

from monitor import classify_cmd
from monitor.classifier_plugin import load_classifier
from monitor.core.classify import BrandVocabulary, Document, Kind, RuleClassifier, Severity, Verdict
from monitor.core.learned import (
    WEIGHTS_RESOURCE,
    LearnedClassifier,
    LinearModel,
    features,
    load_model,
)

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "tests" / "fixtures" / "classify_smoke.jsonl"
HELD_OUT = {"test", "holdout", "holdout_ja", "fresh3"}


@pytest.fixture(scope="module")
def blend() -> Iterator[LearnedClassifier]:
    yield LearnedClassifier()


def test_weights_ship_in_the_package_and_load_once() -> None:
    ref = resources.files("monitor.core.lexicon").joinpath(WEIGHTS_RESOURCE)
    assert ref.is_file()
    assert len(ref.read_bytes()) < 2 * 1024 * 1024
    model = load_model()
    assert load_model() is model  # cached: loaded once per process
    assert len(model.weights) > 1000
    assert set(model.thresholds) <= {"other", "question", "praise"}
    assert 0.5 <= model.thresholds["other"] < 1.0
    trained_on = set(model.meta["trained_on"])
    assert trained_on and not trained_on & HELD_OUT


def test_weights_round_trip(tmp_path: Path) -> None:
    model = LinearModel(weights={"w:late": 1.5, "b:never came": 2.0, "ok": -1.0}, bias=-0.25,
                        thresholds={"other": 0.7}, meta={"items": 3})
    path = tmp_path / "weights.json"
    path.write_text(json.dumps(model.to_json()), encoding="utf-8")
    loaded = load_model(path)
    assert loaded == model
    assert loaded.probability("it never came, late again") > loaded.probability("ok")
    with pytest.raises(ValueError, match="format"):
        LinearModel.from_json({"format": "something-else"})


def test_features_are_words_pairs_and_characters() -> None:
    grams = features("Never  CAME, 12 days!")
    assert "w:never" in grams and "w:came" in grams and "w:0" in grams  # digits -> 0
    assert "b:never came" in grams
    assert " n" in grams and "nev" in grams and "neve" in grams
    assert features("Never  CAME, 12 days!") == grams


def test_probability_does_not_depend_on_the_process() -> None:
    text = "We paid for two large pizzas and got two small ones."
    here = load_model().probability(text)
    assert 0.0 < here < 1.0
    code = ("from monitor.core.learned import load_model; "
            f"print(repr(load_model().probability({text!r})))")
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             cwd=ROOT, env=env, timeout=120, check=True).stdout
        assert float(out) == here


# Clear cases in every language: the blend must keep what the rules get right.
CLEAR = [
    ("Worst service ever, three weeks and still no refund.", Kind.COMPLAINT),
    ("Do you deliver to the Isle of Man?", Kind.QUESTION),
    ("Great staff, quick delivery, thank you!", Kind.PRAISE),
    ("Курьер так и не привёз заказ, а деньги уже списали.", Kind.COMPLAINT),
    ("Подскажите, во сколько открывается офис в воскресенье?", Kind.QUESTION),
    ("Curierul nu a mai venit, iar banii mi-au fost deja luați.", Kind.COMPLAINT),
    ("Sunt foarte mulțumit, totul a fost perfect!", Kind.PRAISE),
    ("Pengene er trukket, men varen har aldri kommet.", Kind.COMPLAINT),
    ("Kuller ei toonud pakki ja raha on juba võetud.", Kind.COMPLAINT),
    ("Väga hea teenindus, aitäh!", Kind.PRAISE),
    ("Das Geld wurde abgebucht, aber die Ware kam nie an.", Kind.COMPLAINT),
    ("Liefert ihr auch in die Schweiz?", Kind.QUESTION),
    ("L'argent a été prélevé mais je n'ai jamais reçu la commande.", Kind.COMPLAINT),
    ("Très bon accueil, je recommande.", Kind.PRAISE),
    ("Me cobraron el pedido pero nunca llegó.", Kind.COMPLAINT),
    ("¿Hacéis envíos a Ceuta?", Kind.QUESTION),
    ("注文したのに届かないまま一か月経ちました。", Kind.COMPLAINT),
    ("とても使いやすくて毎日使っています。", Kind.PRAISE),
]


@pytest.mark.parametrize(("text", "kind"), CLEAR)
def test_clear_cases_in_every_language(blend: LearnedClassifier, text: str, kind: Kind) -> None:
    verdict = blend.classify(Document(text=text))
    assert verdict.kind is kind, verdict
    assert blend.classify(Document(text=text)) == verdict  # deterministic


def test_the_model_catches_a_plainly_told_complaint(blend: LearnedClassifier) -> None:
    text = "We paid for two large pizzas and got two small ones."
    assert blend.rules.classify(Document(text=text)).kind is Kind.OTHER
    verdict = blend.classify(Document(text=text))
    assert verdict.kind is Kind.COMPLAINT
    assert verdict.reasons[0].startswith("reads like a complaint (model 0.")
    assert verdict.severity is Severity.NORMAL
    assert verdict.score >= blend.thresholds["other"]
    assert verdict.language == "en"


class _Fixed:
    """Rules that always answer the same verdict (to test the blend's own logic)."""

    def __init__(self, verdict: Verdict) -> None:
        self.verdict = verdict
        self.high_engagement, self.critical_engagement = 100, 1000
        self.high_followers, self.critical_followers = 10_000, 100_000

    def classify(self, document: Document) -> Verdict:
        return self.verdict


def _with(verdict: Verdict, **thresholds: float) -> LearnedClassifier:
    clf = LearnedClassifier(rules=RuleClassifier(detector=lambda _t: None),
                            thresholds=thresholds)
    clf.rules = _Fixed(verdict)  # type: ignore[assignment]
    return clf


def test_what_the_model_may_override() -> None:
    doc = Document(text="The parcel never came.", engagement={"upvotes": 150})
    other = Verdict(Kind.OTHER, Severity.LOW, ("mentions 'parcel'",), 0.2, "en")
    verdict = _with(other, other=0.0).classify(doc)
    assert verdict.kind is Kind.COMPLAINT and verdict.severity is Severity.HIGH
    assert verdict.reasons[0].startswith("reads like a complaint (model ")
    assert "mentions 'parcel'" in verdict.reasons
    big = Document(text=doc.text, engagement={"likes": 5000})
    assert _with(other, other=0.0).classify(big).severity is Severity.CRITICAL
    assert _with(other, other=1.0).classify(doc) == other  # below the threshold
    question = Verdict(Kind.QUESTION, Severity.NORMAL, ("question",), 0.1, "en")
    assert _with(question).classify(doc) == question  # no threshold for questions
    assert _with(question, question=0.0).classify(doc).kind is Kind.COMPLAINT
    for reason in ("posted by the brand's own staff ('Kari')", "ignored: mentions 'careers'",
                   "looks like a job advert ('we are hiring')"):
        final = Verdict(Kind.OTHER, Severity.LOW, (reason,), 0.0, "en")
        assert _with(final, other=0.0).classify(doc) == final
        # Wherever the rules put it: after lexicon hits, after a rating.
        later = Verdict(Kind.OTHER, Severity.LOW, ("rating 3/5", "mentions 'it's been'", reason),
                        0.0, "en")
        assert _with(later, other=0.0).classify(doc) == later


def test_long_texts_use_their_own_thresholds(tmp_path: Path) -> None:
    model = LinearModel(weights={"w:late": 3.0}, bias=0.0, thresholds={"praise": 0.5},
                        meta={}, long_thresholds={}, long_chars=40)
    path = tmp_path / "weights.json"
    path.write_text(json.dumps(model.to_json()), encoding="utf-8")
    assert load_model(path) == model
    praise = Verdict(Kind.PRAISE, Severity.LOW, ("praise",), 0.0, "en")
    clf = LearnedClassifier(rules=RuleClassifier(detector=lambda _t: None), weights=path)
    clf.rules = _Fixed(praise)  # type: ignore[assignment]
    short = Document(text="Late, late, late. Great.")
    assert clf.classify(short).kind is Kind.COMPLAINT
    long = Document(text="Late, late, late. Great. " + "The rest of the story. " * 3)
    assert clf.classify(long) == praise  # no threshold for long praise
    # the thresholds option sets both bands
    clf.thresholds, clf.long_thresholds = {}, {"praise": 0.5}
    assert clf.classify(long).kind is Kind.COMPLAINT and clf.classify(short) == praise
    # the shipped model: praise is never overridden in a long text
    shipped = load_model()
    assert shipped.long_chars is not None and shipped.long_thresholds is not None
    assert "praise" not in shipped.long_thresholds


def test_a_job_advert_with_complaint_words_stays_an_advert() -> None:
    text = "Paid for next day delivery. It's been five days. We're hiring, apply now."
    rules = RuleClassifier().classify(Document(text=text, language="en"))
    assert rules.kind is Kind.OTHER and any(r.startswith("looks like a job advert")
                                            for r in rules.reasons)
    assert load_classifier(None).classify(Document(text=text, language="en")) == rules


def test_options_reach_the_rules() -> None:
    clf = load_classifier("monitor.core.learned:LearnedClassifier", languages=["en", "de"],
                          vocabulary=BrandVocabulary(staff_authors=("Kari at Acme",)))
    assert isinstance(clf, LearnedClassifier)
    assert clf.rules.languages == ("en", "de")
    verdict = clf.classify(Document(text="We paid for two large pizzas and got two small ones.",
                                    author="Kari at Acme"))
    assert verdict.kind is Kind.OTHER and verdict.reasons[0].startswith("posted by")


def test_eval_command_with_the_learned_classifier(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    code = classify_cmd.main(["--eval", str(SMOKE), "--format", "json",
                              "--classifier", "monitor.core.learned:LearnedClassifier"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["items"] == 26
    complaint = report["per_class"]["complaint"]
    assert complaint["precision"] >= 0.85 and complaint["recall"] >= 0.9
