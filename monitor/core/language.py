"""Language detection, offline, for short social posts.

Why lingua (``lingua-language-detector``): its n-gram models ship inside the
wheel (nothing is downloaded at run time); it is built for short texts (one
sentence, a few words), which is what social mentions are; it needs no other
package; and it can be restricted to the languages a company configured, which
removes confusions with languages nobody writes to it in (Danish vs Norwegian,
Finnish vs Estonian) and keeps it fast: about 10,000 texts/s on one core with
eight languages. The price is memory (about 290 MB resident with eight
languages loaded). py3langid was measured as the alternative: as accurate on
our sets, six times faster and half the memory, but it needs numpy; any
``text -> code`` callable can replace the detector (docs/classification.md).

Texts in a script that only one likely language uses (kana, hangul, Thai,
Greek, ...) are recognised from the script alone, without the model.

The model is loaded lazily, once per set of languages, on first use.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any

#: The languages the issue asks for; a company configures its own list.
DEFAULT_LANGUAGES: tuple[str, ...] = ("en", "ru", "ro", "nb", "et", "de", "fr", "es")

#: Codes people write for a language that lingua names differently.
_CODE_ALIASES = {"no": "nb", "nn": "nn", "nob": "nb", "iw": "he", "in": "id"}

# (first code point, last code point, language) for scripts that name a language
_SCRIPT_RANGES: tuple[tuple[int, int, str], ...] = (
    (0x3040, 0x30FF, "ja"),  # hiragana, katakana
    (0x31F0, 0x31FF, "ja"),
    (0xFF66, 0xFF9F, "ja"),  # half-width katakana
    (0xAC00, 0xD7AF, "ko"),
    (0x1100, 0x11FF, "ko"),
    (0x3130, 0x318F, "ko"),
    (0x0E00, 0x0E7F, "th"),
    (0x0370, 0x03FF, "el"),
    (0x0590, 0x05FF, "he"),
    (0x0600, 0x06FF, "ar"),
    (0x10A0, 0x10FF, "ka"),
    (0x0530, 0x058F, "hy"),
    (0x0900, 0x097F, "hi"),
)
_HAN = (0x4E00, 0x9FFF)


def normalise_code(code: str | None) -> str | None:
    """'en-US' -> 'en', 'NO' -> 'nb', '' -> None."""
    if not code:
        return None
    primary = code.strip().lower().replace("_", "-").split("-")[0]
    if not primary:
        return None
    return _CODE_ALIASES.get(primary, primary)


def script_language(text: str) -> str | None:
    """The language a text's dominant script implies, if only one does.

    Japanese is recognised by its kana (Japanese text is rarely pure kanji);
    Han characters without kana are taken as Chinese.
    """
    counts: dict[str, int] = {}
    letters = 0
    for ch in text:
        if not ch.isalpha():
            continue
        letters += 1
        cp = ord(ch)
        if cp < 0x0370:
            continue  # Latin: the model decides
        for lo, hi, lang in _SCRIPT_RANGES:
            if lo <= cp <= hi:
                counts[lang] = counts.get(lang, 0) + 1
                break
        else:
            if _HAN[0] <= cp <= _HAN[1]:
                counts["han"] = counts.get("han", 0) + 1
    if not counts:
        return None
    if counts.get("ja", 0) and counts.get("ja", 0) + counts.get("han", 0) >= letters / 2:
        return "ja"
    lang, count = max(counts.items(), key=lambda kv: kv[1])
    if count < letters / 2:
        return None
    return "zh" if lang == "han" else lang


@functools.lru_cache(maxsize=8)
def _lingua_detector(codes: tuple[str, ...]) -> Any:
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    isos = []
    for code in codes:
        iso = getattr(IsoCode639_1, code.upper(), None)
        if iso is None:
            raise ValueError(f"language {code!r} is not an ISO 639-1 code lingua knows")
        isos.append(iso)
    return LanguageDetectorBuilder.from_iso_codes_639_1(*isos).with_preloaded_language_models(
    ).build()


def supported(code: str) -> bool:
    """Whether lingua can detect this ISO 639-1 code."""
    from lingua import IsoCode639_1

    return getattr(IsoCode639_1, code.upper(), None) is not None


class LanguageDetector:
    """Detects one of the configured languages; callable as ``detector(text)``."""

    def __init__(self, languages: Iterable[str] | None = None, min_letters: int = 3) -> None:
        codes: list[str] = []
        for lang in languages if languages is not None else DEFAULT_LANGUAGES:
            code = normalise_code(lang)
            if code and code not in codes:
                codes.append(code)
        if not codes:
            raise ValueError("at least one language must be configured")
        self.languages: tuple[str, ...] = tuple(codes)
        self.min_letters = min_letters

    def _model(self) -> Any:
        return _lingua_detector(tuple(sorted(self.languages)))

    def warm_up(self) -> None:
        """Load the model now rather than on the first mention."""
        if len(self.languages) > 1:
            self._model()

    def detect(self, text: str) -> str | None:
        by_script = script_language(text)
        if by_script is not None:
            return by_script
        letters = sum(1 for ch in text if ch.isalpha())
        if letters < self.min_letters:
            return None
        if len(self.languages) == 1:
            return self.languages[0]
        found = self._model().detect_language_of(text)
        if found is None:
            return None
        return str(found.iso_code_639_1.name.lower())

    def ranked(self, text: str) -> Sequence[tuple[str, float]]:
        """(language, confidence) best first; empty when the model is not used."""
        if len(self.languages) == 1 or script_language(text) is not None:
            return ()
        values = self._model().compute_language_confidence_values(text)
        return [(str(v.language.iso_code_639_1.name.lower()), float(v.value)) for v in values]

    __call__ = detect

