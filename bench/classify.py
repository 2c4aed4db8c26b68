"""Throughput of the default classifier on one core: prints figures, asserts nothing.

    .venv/bin/python bench/classify.py [--n 20000] [--classifier SPEC]

Mentions are the project's labelled posts (eval/classification/*.jsonl),
cycled with a counter appended so no two texts are identical. The process is
pinned to one CPU where the OS allows it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.classifier_plugin import load_classifier  # noqa: E402
from monitor.core.classify import Classifier, Document  # noqa: E402
from monitor.core.language import LanguageDetector  # noqa: E402


def load_texts() -> list[str]:
    texts: list[str] = []
    for path in sorted((ROOT / "eval" / "classification").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                texts.append(json.loads(line)["text"])
    return texts


def measure(clf: Classifier, docs: list[Document]) -> tuple[float, list[float]]:
    latencies: list[float] = []
    start = time.perf_counter()
    for doc in docs:
        t0 = time.perf_counter()
        clf.classify(doc)
        latencies.append(time.perf_counter() - t0)
    return time.perf_counter() - start, latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20_000, help="mentions per run")
    parser.add_argument("--classifier", metavar="SPEC", default=None,
                        help="'module:attr' as for review-monitor classify --classifier "
                             "(built with detector=...); default: the rule classifier")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        print(f"pinned to CPU {min(os.sched_getaffinity(0))}")
    texts = load_texts()
    print(f"texts: {len(texts)} distinct, mean {statistics.mean(map(len, texts)):.0f} chars")

    detector = LanguageDetector()
    t0 = time.perf_counter()
    detector.warm_up()
    print(f"language model load: {time.perf_counter() - t0:.2f} s (once per process)")
    clf = load_classifier(args.classifier, detector=detector)
    print(f"classifier: {type(clf).__module__}.{type(clf).__name__}")

    detected = [Document(text=f"{texts[i % len(texts)]} #{i}") for i in range(args.n)]
    given = [Document(text=d.text, language="en") for d in detected]
    measure(clf, detected[:2000])  # compile the lexicons, warm caches

    for label, docs in (("language detected", detected), ("language given by source", given)):
        elapsed, lat = measure(clf, docs)
        lat.sort()
        p50 = lat[len(lat) // 2] * 1e6
        p99 = lat[int(len(lat) * 0.99)] * 1e6
        print(f"{label:>26}: {len(docs) / elapsed:>8,.0f} mentions/s "
              f"(p50 {p50:.0f} µs, p99 {p99:.0f} µs, n={len(docs)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
