"""Language detectors compared on the project's labelled posts (not a test).

    .venv/bin/pip install lingua-language-detector   # the alternative, not a dependency
    .venv/bin/python eval/classification/compare_detectors.py

Accuracy of the default detector (``monitor.core.language.LanguageDetector``,
py3langid restricted to the eight configured languages) and of lingua (high accuracy
mode, the same eight languages) on every labelled post of the eight languages, whole and
cut to its first 2, 3, 4, 6 and 8 words (short social posts), and the time per post.
The development set written for the learned model (``dev_learned.jsonl``) is left out so
that the figures compare with the earlier ones.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from monitor.core.language import DEFAULT_LANGUAGES, LanguageDetector  # noqa: E402


def posts() -> list[tuple[str, str]]:
    found = []
    for path in sorted((ROOT / "eval" / "classification").glob("*.jsonl")):
        if path.name == "dev_learned.jsonl":
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line) if line.strip() else {}
            if row.get("expected_language") in DEFAULT_LANGUAGES:
                found.append((row["text"], row["expected_language"]))
    return found


def lingua_detector() -> Callable[[str], str | None] | None:
    try:
        from lingua import IsoCode639_1, LanguageDetectorBuilder
    except ImportError:
        return None
    model = LanguageDetectorBuilder.from_iso_codes_639_1(
        *[getattr(IsoCode639_1, code.upper()) for code in DEFAULT_LANGUAGES]
    ).with_preloaded_language_models().build()

    def detect(text: str) -> str | None:
        found = model.detect_language_of(text)
        return None if found is None else str(found.iso_code_639_1.name.lower())
    return detect


def main() -> None:
    labelled = posts()
    detectors: dict[str, Callable[[str], str | None]] = {"py3langid (default)": LanguageDetector()}
    lingua = lingua_detector()
    if lingua is not None:
        detectors["lingua"] = lingua
    else:
        print("lingua is not installed: only the default detector is measured")
    for detect in detectors.values():
        detect("warm up the model")
    print(f"{len(labelled)} posts, mean {sum(len(t) for t, _ in labelled) / len(labelled):.0f} chars")
    for words in (None, 8, 6, 4, 3, 2):
        texts = [(t if words is None else " ".join(t.split()[:words]), lang)
                 for t, lang in labelled]
        chars = sum(len(t) for t, _ in texts) / len(texts)
        cells = []
        for name, detect in detectors.items():
            started = time.perf_counter()
            right = sum(detect(text) == lang for text, lang in texts)
            spent = (time.perf_counter() - started) / len(texts) * 1e6
            cells.append(f"{name} {right}/{len(texts)} ({right / len(texts):.3f}), {spent:.0f} µs")
        label = "whole posts" if words is None else f"first {words} words"
        print(f"{label:>14} (mean {chars:.0f} chars): " + "; ".join(cells))


if __name__ == "__main__":
    main()
