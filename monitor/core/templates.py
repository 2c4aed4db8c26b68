"""Copy-paste replies: is the company answering everybody with the same text?

Customer-care practice says never to answer a public complaint with a template:
one identical reply pasted under every review reads as "we don't care". A
template is rarely byte-identical, though: it greets each customer by name,
quotes their order number, links a help page, and is signed by whoever pasted
it. So replies are compared after ``normalise`` removes exactly those parts
(greeting and name, sign-off and signature, names of the people involved,
order/ticket numbers and anything with a digit, e-mail addresses, URLs, @handles,
case, punctuation and whitespace), in English and in the project's other
languages (ru, ro, nb, et, de, fr, es).

What is left is cut into overlapping word 3-grams (``shingles``); two replies
are near-identical when the Jaccard similarity of their shingle sets reaches the
threshold (0.6 by default: one changed word in a 30-word reply scores about 0.8,
two personal answers that open with the same apology about 0.1). Word shingles, not
character grams, because a template differs from a personal answer in its
sentences, not its spelling. A reply near-identical to K or more other replies
of the same brand is a template.

Pure: text in, decisions out. The store side (monitor/replies.py) feeds it the
brand's recent replies, never the whole table.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K")

#: Word n-gram size of a shingle.
SHINGLE = 3

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_HANDLE = re.compile(r"(?<!\w)@[\w.]+")
# Order, ticket, case and phone numbers: any token holding a digit (#12345, AB-1234, 555-0100).
_WITH_DIGIT = re.compile(r"[#№]?[\w-]*\d[\w/-]*")
_NOT_WORD = re.compile(r"[\W_]+")

# Greetings that open a reply, per language; a name (up to three words) may follow
# before the first comma, exclamation mark, colon or line break.
_GREETINGS = (
    # en
    "good morning", "good afternoon", "good evening", "hello there", "hi there", "hello",
    "hi", "hey", "dear", "greetings",
    # ru
    "здравствуйте", "добрый день", "добрый вечер", "доброе утро", "приветствуем",
    "привет", "уважаемая", "уважаемый", "уважаемые",
    # ro
    "bună ziua", "buna ziua", "bună seara", "buna seara", "bună", "buna", "salut",
    "stimată", "stimata", "stimate", "dragă", "draga",
    # nb
    "god morgen", "god dag", "kjære", "hallo", "hei",
    # et
    "tere päevast", "tere", "lugupeetud", "hea",
    # de
    "sehr geehrte", "sehr geehrter", "guten morgen", "guten tag", "guten abend",
    "liebe", "lieber", "moin", "servus",
    # fr
    "bonjour", "bonsoir", "chère", "chere", "cher", "madame", "monsieur",
    # es
    "buenos días", "buenos dias", "buenas tardes", "buenas noches", "hola",
    "estimada", "estimado", "querida", "querido",
)

# Sign-offs that close a reply; everything after one (a name, a team, a title) goes too.
_SIGN_OFFS = (
    # en
    "best regards", "kind regards", "warm regards", "regards", "best wishes", "sincerely",
    "yours truly", "many thanks", "thanks again", "thank you again", "cheers",
    "all the best",
    # ru
    "с уважением", "с наилучшими пожеланиями", "всего доброго", "всего хорошего",
    # ro
    "cu stimă", "cu stima", "cu respect", "toate cele bune", "o zi bună", "o zi buna",
    # nb
    "med vennlig hilsen", "vennlig hilsen", "beste hilsen", "mvh", "hilsen",
    # et
    "lugupidamisega", "parimate soovidega", "parimat", "tervitades", "tervitustega",
    # de
    "mit freundlichen grüßen", "mit freundlichen gruessen", "freundliche grüße",
    "viele grüße", "beste grüße", "liebe grüße", "herzliche grüße", "mfg",
    # fr
    "bien cordialement", "cordialement", "bien à vous", "bien a vous", "salutations",
    "sincères salutations", "belle journée", "bonne journée",
    # es
    "un saludo", "saludos cordiales", "saludos", "atentamente", "un abrazo",
)

# A sign-off only counts near the end, at the start of a sentence or line: at most this
# many words may follow it.
_SIGNATURE_WORDS = 8


def _phrase_pattern(phrases: Iterable[str]) -> str:
    ordered = sorted({phrase.rstrip(",") for phrase in phrases}, key=len, reverse=True)
    return "|".join(re.escape(phrase) for phrase in ordered)


_GREETING = re.compile(
    rf"^\s*(?:{_phrase_pattern(_GREETINGS)})(?![\w])"
    r"(?:[ \t]+[^\s,!:;.\n]+(?:[ \t]+[^\s,!:;.\n]+){0,2})?[ \t]*[,!:;.\n]",
    re.IGNORECASE,
)
_GREETING_WORD = re.compile(rf"^\s*(?:{_phrase_pattern(_GREETINGS)})(?![\w])\s*[,!:;.]?",
                            re.IGNORECASE)
_SIGN_OFF = re.compile(rf"(?<![\w])(?:{_phrase_pattern(_SIGN_OFFS)})(?![\w])", re.IGNORECASE)


def normalise(text: str, names: Iterable[str] = ()) -> str:
    """The words of a reply that say something, in a canonical form.

    ``names`` are the people involved (the customer, the replying agent): their
    name parts are dropped wherever they appear, so "Sorry, Jane" and "Sorry,
    Tom" are the same reply.
    """
    folded = unicodedata.normalize("NFKC", text or "")
    folded = _strip_sign_off(_strip_greeting(folded))
    folded = _URL.sub(" ", folded)
    folded = _EMAIL.sub(" ", folded)
    folded = _HANDLE.sub(" ", folded)
    folded = _WITH_DIGIT.sub(" ", folded.casefold())
    name_words = {
        part for name in names if name
        for part in _NOT_WORD.split(unicodedata.normalize("NFKC", name).casefold())
        if len(part) > 1
    }
    words = [word for word in _NOT_WORD.split(folded) if word and word not in name_words]
    return " ".join(words)


def _strip_greeting(text: str) -> str:
    match = _GREETING.match(text)
    if match is None:
        match = _GREETING_WORD.match(text)
    return text[match.end():] if match else text


def _strip_sign_off(text: str) -> str:
    # The last sign-off followed by no more than a signature's worth of words.
    for match in reversed(list(_SIGN_OFF.finditer(text))):
        before = text[:match.start()].rstrip(" \t")
        # A sign-off starts a sentence or a line ("... today. Best regards, Tom"), never
        # the middle of one ("with regards to your order").
        if not before or before[-1] not in ".!?\n-—–,:;)":
            continue
        tail = [word for word in _NOT_WORD.split(text[match.end():]) if word]
        if len(tail) <= _SIGNATURE_WORDS:
            return text[:match.start()]
    return text


def body_hash(normalised: str) -> str:
    """The key of a reply on its mention: the same reply seen again (a re-crawl, a second
    process, another source) is never recorded twice."""
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


def shingles(normalised: str, size: int = SHINGLE) -> frozenset[str]:
    """Overlapping word n-grams; a reply shorter than ``size`` words is one shingle."""
    words = normalised.split()
    if not words:
        return frozenset()
    if len(words) <= size:
        return frozenset({" ".join(words)})
    return frozenset(" ".join(words[start:start + size])
                     for start in range(len(words) - size + 1))


def jaccard(first: frozenset[str], second: frozenset[str]) -> float:
    if not first or not second:
        return 0.0
    return len(first & second) / len(first | second)


@dataclass(frozen=True)
class Candidate(Generic[K]):
    """A stored reply to compare with: its key and its shingles (``Candidate.of`` builds
    one from normalised text; shingle each reply once, compare it many times)."""

    key: K
    shingles: frozenset[str]

    @classmethod
    def of(cls, key: K, normalised: str) -> Candidate[K]:
        return cls(key, shingles(normalised))


def near_identical(normalised: str, candidates: Sequence[Candidate[K]],
                   threshold: float) -> list[K]:
    """Keys of the candidates near-identical to this reply (Jaccard of shingles).

    An empty reply (nothing left after normalising: "Thanks!") matches nothing:
    it says nothing, so it is neither personal nor a template.
    """
    mine = shingles(normalised)
    if not mine:
        return []
    return [candidate.key for candidate in candidates
            if jaccard(mine, candidate.shingles) >= threshold]


def is_template(matches: int, min_matches: int) -> bool:
    """K or more near-identical other replies make a template."""
    return matches >= min_matches
