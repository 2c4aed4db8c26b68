"""Train the learned complaint model of monitor.core.learned on the development sets.

    .venv/bin/python eval/classification/train.py            # cross-validate, print figures
    .venv/bin/python eval/classification/train.py --write    # ... and write the weights

Needs scikit-learn (the ``dev`` extra); the daemon never imports it.

Data: the development sets only (DEV_SETS below). The held-out sets
(test, holdout, holdout_ja, fresh3, the real reviews) are never read here.

Model: logistic regression, complaint vs the rest, over
``monitor.core.learned.features`` (words, word pairs, 2-4 characters; counts
scaled by 1/sqrt(total)). Cross-validation is grouped by scenario (the n-th
post of a set in every language is one group: translations never sit on both
sides of a split). The thresholds (per kind the rules chose) are set on the
out-of-fold probabilities: the lowest probability at which at most
``--fpr`` of the development non-complaints of that kind would be overridden.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from monitor.core.classify import Document, RuleClassifier  # noqa: E402
from monitor.core.learned import CHAR_SIZES, WEIGHTS_RESOURCE, LinearModel, features  # noqa: E402

HERE = Path(__file__).resolve().parent
DEV_SETS: tuple[str, ...] = (
    "dev", "dev2", "dev3", "dev_apps", "dev_ja", "dev_sarcasm", "fresh", "fresh2", "stories",
    "dev_learned",
)
HELD_OUT: frozenset[str] = frozenset({"test", "holdout", "holdout_ja", "fresh3"})
OUT = ROOT / "monitor" / "core" / "lexicon" / WEIGHTS_RESOURCE
OVERRIDABLE: tuple[str, ...] = ("other", "question", "praise")


def load(names: Sequence[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for name in names:
        assert name not in HELD_OUT, name
        path = HERE / f"{name}.jsonl"
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                row["set"] = name
                row["group"] = (f"{name}:{row['scenario']}" if row.get("scenario")
                                else group_of(name, str(row["id"])))
                rows.append(row)
    return rows


def group_of(set_name: str, item_id: str) -> str:
    """Translations share a group: 'en-d2-07' and 'ru-d2-07' -> 'dev2:d2-07'."""
    return f"{set_name}:{re.sub(r'^[a-z]{2}-', '', item_id)}"


class Vectoriser:
    def __init__(self, texts: Sequence[str]) -> None:
        index: dict[str, int] = {}
        for t in texts:
            for g in features(t):
                if g not in index:
                    index[g] = len(index)
        self.index = index
        self.names = list(index)

    def transform(self, texts: Sequence[str]) -> csr_matrix:
        data: list[float] = []
        cols: list[int] = []
        ptr = [0]
        for t in texts:
            counts: Counter[int] = Counter()
            total = 0
            for g in features(t):
                total += 1
                j = self.index.get(g)
                if j is not None:
                    counts[j] += 1
            scale = 1.0 / math.sqrt(total) if total else 0.0
            for j, c in counts.items():
                cols.append(j)
                data.append(c * scale)
            ptr.append(len(cols))
        return csr_matrix((data, cols, ptr), shape=(len(texts), len(self.index)))


def fit(texts: Sequence[str], y: np.ndarray, c: float) -> tuple[Vectoriser, LogisticRegression]:
    vec = Vectoriser(texts)
    clf = LogisticRegression(C=c, class_weight="balanced", solver="liblinear", max_iter=2000)
    clf.fit(vec.transform(texts), y)
    return vec, clf


def out_of_fold(texts: list[str], y: np.ndarray, groups: list[str], c: float,
                folds: int) -> np.ndarray:
    p = np.zeros(len(texts))
    for train, test in GroupKFold(n_splits=folds).split(texts, y, groups):
        vec, clf = fit([texts[i] for i in train], y[train], c)
        p[test] = clf.predict_proba(vec.transform([texts[i] for i in test]))[:, 1]
    return p


def prf(pred: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    tp = int((pred & (y == 1)).sum())
    return tp / max(1, int(pred.sum())), tp / max(1, int((y == 1).sum()))


def thresholds_for(p: np.ndarray, y: np.ndarray, rule_kind: Sequence[str],
                   fpr: float) -> dict[str, float]:
    """Per rule kind, the lowest threshold overriding at most ``fpr`` of its non-complaints."""
    out: dict[str, float] = {}
    kinds = np.array(rule_kind)
    for kind in OVERRIDABLE:
        neg = np.sort(p[(kinds == kind) & (y == 0)])[::-1]
        if len(neg) == 0:
            continue
        allowed = int(math.floor(fpr * len(neg)))
        # threshold just above the (allowed+1)-th highest negative probability
        t = float(neg[allowed]) + 1e-6 if allowed < len(neg) else 0.5
        out[kind] = round(max(0.5, min(0.99, t)), 4)
    return out


def blend(p: np.ndarray, rule_kind: list[str], thresholds: dict[str, float]) -> np.ndarray:
    return np.array([k == "complaint" or (k in thresholds and pi >= thresholds[k])
                     for pi, k in zip(p, rule_kind, strict=True)])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--c", type=float, nargs="+", default=[1.0, 3.0, 10.0, 30.0],
                    help="regularisation strengths to cross-validate (the best F1 is kept)")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--fpr", type=float, default=0.10,
                    help="share of each kind's development non-complaints the model may "
                         "override (out of fold)")
    ap.add_argument("--kinds", nargs="+", default=["other"], choices=OVERRIDABLE,
                    help="rule kinds the model may turn into complaints")
    ap.add_argument("--min-weight", type=float, default=0.02,
                    help="drop weights smaller than this from the shipped file")
    ap.add_argument("--write", action="store_true", help="write the weights (to --out)")
    ap.add_argument("--out", type=Path, default=OUT,
                    help=f"where --write writes (default {OUT.relative_to(ROOT)})")
    ap.add_argument("--sets", nargs="+", default=list(DEV_SETS))
    args = ap.parse_args()

    rows = load(args.sets)
    texts = [r["text"] if not r.get("title") else f"{r['title']}\n{r['text']}" for r in rows]
    y = np.array([1 if r["label"] == "complaint" else 0 for r in rows])
    groups = [r["group"] for r in rows]
    rules = RuleClassifier()
    rule_kind = [rules.classify(Document(text=r["text"], title=r.get("title"))).kind.value
                 for r in rows]
    by_set = Counter(r["set"] for r in rows)
    print(f"items: {len(rows)} ({', '.join(f'{k} {v}' for k, v in by_set.items())}); "
          f"complaints {int(y.sum())}; groups {len(set(groups))}")
    rp, rr = prf(np.array([k == "complaint" for k in rule_kind]), y)
    print(f"rules alone (in sample: the rules were written on these): P {rp:.3f} R {rr:.3f}")

    best: tuple[float, float, np.ndarray] | None = None
    for c in args.c:
        p = out_of_fold(texts, y, groups, c, args.folds)
        pred = p >= 0.5
        mp, mr = prf(pred, y)
        f1 = 2 * mp * mr / max(1e-9, mp + mr)
        print(f"C={c:g}: model alone, out of fold: P {mp:.3f} R {mr:.3f} F1 {f1:.3f}")
        if best is None or f1 > best[1]:
            best = (c, f1, p)
    assert best is not None
    c, _, p = best
    th = {k: v for k, v in thresholds_for(p, y, rule_kind, args.fpr).items()
          if k in args.kinds}
    bp, br = prf(blend(p, rule_kind, th), y)
    print(f"chosen C={c:g}; thresholds {th}")
    print(f"blend, out of fold (rules in sample): P {bp:.3f} R {br:.3f}")
    kinds = np.array(rule_kind)
    for kind in OVERRIDABLE:
        if kind not in th:
            continue
        sel = kinds == kind
        over = sel & (p >= th[kind])
        print(f"  rules said {kind:<8}: {int(sel.sum()):>4} items, "
              f"{int((sel & (y == 1)).sum()):>3} complaints; model overrides "
              f"{int(over.sum())} ({int((over & (y == 1)).sum())} complaints)")
    # How the model alone ranks complaints the rules were not written on cannot be told
    # from these sets; the out-of-fold recall of the model on all complaints is the proxy.
    for t in sorted(set(th.values())):
        pred = p >= t
        print(f"  model alone at {t:.3f}: P {prf(pred, y)[0]:.3f} R {prf(pred, y)[1]:.3f}")

    if args.write:
        vec, clf = fit(texts, y, c)
        coef = clf.coef_[0]
        weights = {vec.names[j]: float(w) for j, w in enumerate(coef)
                   if abs(w) >= args.min_weight}
        model = LinearModel(
            weights=weights, bias=float(clf.intercept_[0]), thresholds=th,
            meta={"trained_on": sorted(by_set), "items": len(rows),
                  "complaints": int(y.sum()), "C": c, "fpr": args.fpr,
                  "char_sizes": list(CHAR_SIZES),
                  "trainer": "eval/classification/train.py"})
        out: Path = args.out
        out.write_text(json.dumps(model.to_json(), ensure_ascii=False, separators=(",", ":"))
                       + "\n", encoding="utf-8")
        print(f"wrote {out}: {len(weights)} of {len(coef)} weights, "
              f"{out.stat().st_size / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
