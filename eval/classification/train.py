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
sides of a split).

Thresholds (the rule; docs/classification.md, "Learned blend"): per kind the
rules chose (other, question, praise) and per length band (up to
``--long-chars`` characters, longer), the lowest out-of-fold probability at
which the items of that kind and band scoring at or above it are complaints at
least a share q of the time (at least 5 of them). A band with fewer than
``--min-long`` items of a kind takes the kind's threshold over all lengths; a
band with enough items and no such threshold is never overridden. q is the
lowest of PRECISION_STEPS at which the blend keeps complaint precision >=
``--target-precision`` (0.85) on every set in FRESH_SETS (the development sets
the rules were not written on), out of fold.
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
    "dev_learned", "dev_recall",
)
HELD_OUT: frozenset[str] = frozenset({"test", "holdout", "holdout_ja", "fresh3"})
OUT = ROOT / "monitor" / "core" / "lexicon" / WEIGHTS_RESOURCE
OVERRIDABLE: tuple[str, ...] = ("other", "question", "praise")
#: Development sets the rules were not written on: the only ones where the rules'
#: precision is not flattered, so the threshold rule is checked on them.
FRESH_SETS: tuple[str, ...] = ("dev_learned", "dev_recall")
#: Override precisions tried, strictest first (see --precision).
PRECISION_STEPS: tuple[float, ...] = (0.95, 0.9, 0.85, 0.8, 0.75, 0.7)


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
                   precision: float, min_overrides: int = 5) -> dict[str, float]:
    """Per rule kind, the lowest threshold whose overrides are right often enough.

    For each kind the rules chose, the items of that kind are ranked by their
    out-of-fold probability; the threshold is the lowest probability at which
    the items at or above it are complaints at least ``precision`` of the time
    (and there are at least ``min_overrides`` of them). A kind where no such
    threshold exists is never overridden. Clamped to [0.5, 0.99].
    """
    out: dict[str, float] = {}
    kinds = np.array(rule_kind)
    for kind in OVERRIDABLE:
        sel = kinds == kind
        if not sel.any():
            continue
        order = np.argsort(-p[sel], kind="stable")
        ps, ys = p[sel][order], y[sel][order]
        hits = np.cumsum(ys)
        best = -1
        for k in range(min_overrides, len(ps) + 1):
            # only cut between distinct probabilities
            if k < len(ps) and ps[k] == ps[k - 1]:
                continue
            if hits[k - 1] / k >= precision:
                best = k
        if best < 0:
            continue
        t = float(ps[best - 1]) - 1e-6
        out[kind] = round(max(0.5, min(0.99, t)), 4)
    return out


def band_thresholds(p: np.ndarray, y: np.ndarray, rule_kind: Sequence[str],
                    lengths: np.ndarray, precision: float, long_chars: int,
                    min_items: int) -> tuple[dict[str, float], dict[str, float]]:
    """Thresholds for texts up to ``long_chars`` characters and for longer ones.

    Each band gets :func:`thresholds_for` on its own items. A kind with fewer
    than ``min_items`` development items in the long band cannot be judged
    there and takes its threshold over all lengths instead.
    """
    kinds = np.array(rule_kind)
    short = lengths <= long_chars
    overall = thresholds_for(p, y, rule_kind, precision)
    short_th = thresholds_for(p[short], y[short], list(kinds[short]), precision)
    long_th: dict[str, float] = {}
    long_own = thresholds_for(p[~short], y[~short], list(kinds[~short]), precision)
    for kind in OVERRIDABLE:
        if int(((kinds == kind) & ~short).sum()) >= min_items:
            if kind in long_own:
                long_th[kind] = long_own[kind]
        elif kind in overall:
            long_th[kind] = overall[kind]
    return short_th, long_th


def blend(p: np.ndarray, rule_kind: Sequence[str], thresholds: dict[str, float],
          long_thresholds: dict[str, float] | None = None,
          lengths: np.ndarray | None = None, long_chars: int = 0) -> np.ndarray:
    out = []
    for i, (pi, k) in enumerate(zip(p, rule_kind, strict=True)):
        th = thresholds
        if long_thresholds is not None and lengths is not None and lengths[i] > long_chars:
            th = long_thresholds
        out.append(k == "complaint" or (k in th and pi >= th[k]))
    return np.array(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--c", type=float, nargs="+", default=[1.0, 3.0, 10.0, 30.0],
                    help="regularisation strengths to cross-validate (the best F1 is kept)")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--precision", type=float, nargs="+", default=list(PRECISION_STEPS),
                    help="per rule kind, the share of the model's out-of-fold overrides "
                         "that must be complaints (the threshold is the lowest that keeps it); "
                         "of several, the lowest whose blend keeps complaint precision >= "
                         "--target-precision on every set in FRESH_SETS, out of fold")
    ap.add_argument("--target-precision", type=float, default=0.85)
    ap.add_argument("--long-chars", type=int, default=160,
                    help="texts longer than this get their own thresholds")
    ap.add_argument("--min-long", type=int, default=20,
                    help="fewer development items of a kind than this among the long texts: "
                         "the long texts use the kind's threshold over all lengths")
    ap.add_argument("--kinds", nargs="+", default=list(OVERRIDABLE), choices=OVERRIDABLE,
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
    lengths = np.array([len(t) for t in texts])
    sets = np.array([r["set"] for r in rows])
    fresh = [sets == name for name in FRESH_SETS if (sets == name).any()]
    chosen: float | None = None
    for precision in sorted(args.precision, reverse=True):
        short_th, long_th = band_thresholds(p, y, rule_kind, lengths, precision,
                                            args.long_chars, args.min_long)
        th = {k: v for k, v in short_th.items() if k in args.kinds}
        lth = {k: v for k, v in long_th.items() if k in args.kinds}
        pred = blend(p, rule_kind, th, lth, lengths, args.long_chars)
        worst = min((prf(pred[m], y[m])[0] for m in fresh), default=1.0)
        recall = prf(pred, y)[1]
        print(f"  override precision {precision:.2f}: thresholds {th}, longer {lth}; "
              f"blend P {prf(pred, y)[0]:.3f} R {recall:.3f}; lowest precision on "
              f"{'/'.join(FRESH_SETS)} {worst:.3f}")
        if worst >= args.target_precision or chosen is None:
            chosen, keep = precision, (th, lth)
    assert chosen is not None
    th, lth = keep
    print(f"override precision chosen: {chosen:.2f}")
    pred = blend(p, rule_kind, th, lth, lengths, args.long_chars)
    bp, br = prf(pred, y)
    print(f"chosen C={c:g}; thresholds (up to {args.long_chars} chars) {th}; longer {lth}")
    print(f"blend, out of fold (rules in sample): P {bp:.3f} R {br:.3f}")
    for name in FRESH_SETS:
        m = sets == name
        if m.any():
            tp = int((pred & (y == 1) & m).sum())
            print(f"  {name} (the rules were not written on it): rules P {prf(np.array([k == 'complaint' for k in rule_kind])[m], y[m])[0]:.3f} "
                  f"R {prf(np.array([k == 'complaint' for k in rule_kind])[m], y[m])[1]:.3f}; "
                  f"blend P {tp / max(1, int((pred & m).sum())):.3f} "
                  f"R {tp / max(1, int(((y == 1) & m).sum())):.3f}")
    kinds = np.array(rule_kind)
    for kind in OVERRIDABLE:
        for band, sel_len, table in (("short", lengths <= args.long_chars, th),
                                     ("long", lengths > args.long_chars, lth)):
            sel = (kinds == kind) & sel_len
            over = sel & (p >= table.get(kind, 2.0))
            print(f"  rules said {kind:<8} ({band:<5}): {int(sel.sum()):>4} items, "
                  f"{int((sel & (y == 1)).sum()):>3} complaints; model overrides "
                  f"{int(over.sum())} ({int((over & (y == 1)).sum())} complaints)")

    if args.write:
        vec, clf = fit(texts, y, c)
        coef = clf.coef_[0]
        weights = {vec.names[j]: float(w) for j, w in enumerate(coef)
                   if abs(w) >= args.min_weight}
        model = LinearModel(
            weights=weights, bias=float(clf.intercept_[0]), thresholds=th,
            long_thresholds=lth, long_chars=args.long_chars,
            meta={"trained_on": sorted(by_set), "items": len(rows),
                  "complaints": int(y.sum()), "C": c, "override_precision": chosen,
                  "target_precision": args.target_precision, "long_chars": args.long_chars,
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
