"""Language detection, offline, for short social posts.

Why py3langid: its model (langid.py's naive Bayes over byte n-grams, 97 languages)
ships inside the wheel, nothing is downloaded at run time; restricted to the languages
a company configured it is as accurate as lingua on our posts, and more so on their
first two to six words (docs/classification.md has the figures), at a fifth of the
time (about 40 µs a short post, 60 µs a review, against 250 and 150 µs) and under
half the memory (about 130 MB resident against 290 MB). lingua, the choice before, was
the largest single cost of ingesting a feed whose entries state no language. Any
``text -> code`` callable can replace the detector (docs/classification.md).

Texts in a script that only one likely language uses (kana, hangul, Thai,
Greek, ...) are recognised from the script alone, without the model.

The model is loaded lazily, once per set of languages, on first use.
"""

from __future__ import annotations

import copy
import functools
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

#: The languages the issue asks for; a company configures its own list.
DEFAULT_LANGUAGES: tuple[str, ...] = ("en", "ru", "ro", "nb", "et", "de", "fr", "es")

#: Codes people write for a language, and the code we use for it.
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
    beyond_latin = _BEYOND_LATIN.findall(text)
    if not beyond_latin:
        return None  # Latin letters only: the model decides
    counts: dict[str, int] = {}
    for ch, count in Counter(beyond_latin).items():
        lang = _script_of(ch)
        if lang is not None:
            counts[lang] = counts.get(lang, 0) + count
    if not counts:
        return None
    letters = sum(map(str.isalpha, text))
    if counts.get("ja", 0) and counts.get("ja", 0) + counts.get("han", 0) >= letters / 2:
        return "ja"
    lang, count = max(counts.items(), key=lambda kv: kv[1])
    if count < letters / 2:
        return None
    return "zh" if lang == "han" else lang


# Letters (and other word characters, sorted out by ``_script_of``) past the Latin
# blocks, which end at U+036F: found by the regex engine instead of a Python loop.
_BEYOND_LATIN = re.compile(r"[^\W\d_\u0000-\u036f]")


@functools.lru_cache(maxsize=4096)
def _script_of(ch: str) -> str | None:
    """The language of a letter's script, "han" for Han; None for other scripts."""
    if not ch.isalpha():
        return None
    cp = ord(ch)
    for lo, hi, lang in _SCRIPT_RANGES:
        if lo <= cp <= hi:
            return lang
    return "han" if _HAN[0] <= cp <= _HAN[1] else None


#: The languages py3langid's model tells apart (its labels, "no" for Norwegian), listed
#: so that a config can be checked without loading the model; a test keeps it in step.
MODEL_LANGUAGES = frozenset({
    "ace", "af", "am", "an", "ar", "ary", "arz", "as", "az", "ba", "bcl", "be", "bg",
    "bn", "br", "bs", "ca", "crh", "cs", "cy", "da", "de", "dz", "el", "en", "eo", "es",
    "et", "eu", "ext", "fa", "fi", "fo", "fr", "fuv", "fy", "ga", "gcf", "gcr", "gd",
    "gl", "gom", "grc", "gu", "gug", "guw", "ha", "hbo", "he", "hi", "hr", "ht", "hu",
    "hy", "id", "ig", "is", "it", "ja", "jv", "ka", "kab", "kik", "kk", "km", "kn",
    "ko", "ku", "ky", "la", "lb", "lg", "lij", "ln", "lo", "lt", "ltg", "lv", "mg",
    "mk", "ml", "mn", "mr", "ms", "mt", "my", "ne", "nl", "nn", "no", "nso", "oc", "om",
    "or", "pa", "pcm", "pl", "ps", "pt", "qu", "ro", "ru", "rw", "sa", "sdh", "se",
    "si", "sk", "sl", "sn", "so", "sq", "sr", "st", "sv", "sw", "ta", "te", "tg", "th",
    "tk", "tl", "tr", "tt", "ug", "uk", "ur", "uz", "uzs", "vec", "vi", "vo", "wa",
    "wuu", "xh", "yo", "yue", "zh", "zu",
})

# Codes py3langid's model names differently from ours (Norwegian: "no", bokmål is "nb").
_TO_MODEL = {"nb": "no"}
_FROM_MODEL = {model: ours for ours, model in _TO_MODEL.items()}


@functools.lru_cache(maxsize=1)
def _full_model() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


@functools.lru_cache(maxsize=8)
def _identifier(codes: tuple[str, ...]) -> Any:
    unknown = [code for code in codes if not supported(code)]
    if unknown:
        raise ValueError(f"language {unknown[0]!r} is not an ISO 639-1 code the language "
                         "detector knows")
    # A restricted copy: set_languages replaces the copy's arrays, the model's stay.
    identifier = copy.copy(_full_model())
    identifier.set_languages([_TO_MODEL.get(code, code) for code in codes])
    return identifier


def supported(code: str) -> bool:
    """Whether the detector can tell this ISO 639-1 code (after ``normalise_code``)."""
    return _TO_MODEL.get(code, code) in MODEL_LANGUAGES


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
        return _identifier(tuple(sorted(self.languages)))

    def warm_up(self) -> None:
        """Load the model now rather than on the first mention."""
        if len(self.languages) > 1:
            self._model()

    def detect(self, text: str) -> str | None:
        by_script = script_language(text)
        if by_script is not None:
            return by_script
        letters = sum(map(str.isalpha, text))
        if letters < self.min_letters:
            return None
        if len(self.languages) == 1:
            return self.languages[0]
        found, _confidence = self._model().classify(text)
        return _FROM_MODEL.get(found, found)

    def ranked(self, text: str) -> Sequence[tuple[str, float]]:
        """(language, confidence) best first; empty when the model is not used."""
        if len(self.languages) == 1 or script_language(text) is not None:
            return ()
        return [(_FROM_MODEL.get(code, code), float(value))
                for code, value in self._model().rank(text)]

    __call__ = detect

