"""Multilingual lexicons for the rule classifier, shipped as Python data.

One module per language (``en``, ``ru``, ``ro``, ``nb``, ``et``, ``de``, ``fr``,
``es``, ``ja``) defines ``LEXICON``; ``_universal`` holds what is the same in every
language (emoji, emoticons, a few loanwords such as "scam" or "GDPR").

Term syntax, shared by every field that holds terms:

- words are separated by single spaces and matched as whole tokens;
- a word ending in ``*`` matches any token that starts with it ("disappoint*"
  matches "disappointed", "disappointing");
- lexicons with ``fold_diacritics`` are matched without accents on both sides,
  so "nemulțumit", "nemultumit" and "nemulţumit" are the same word;
- unsegmented languages (Japanese) match terms as substrings.

Weights are rough strengths: 2.0 for an unambiguous word ("terrible"), 1.5 for
a clear one, 1.0 for a mild one, 0.5 for a hint. They were set by hand from
general knowledge of each language, not fitted to any evaluation set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

#: Critical categories and the words a responder reads in a reason.
CRITICAL_LABELS: Mapping[str, str] = {
    "legal": "legal threat",
    "fraud": "fraud or scam accusation",
    "safety": "safety or health risk",
    "privacy": "data or privacy breach",
    "threat": "threat of violence",
    "press": "press or public audience",
}

#: Escalation labels (these raise a complaint to high severity).
ESCALATION_LABELS: Mapping[str, str] = {
    "refund": "asks for a refund",
    "chargeback": "chargeback or payment dispute",
    "compensation": "asks for compensation",
    "cancel": "cancelling",
    "churn": "leaving for a competitor",
    "repeat": "repeated contact or still unresolved",
    "wait": "long wait",
    "manager": "asks for a manager",
    "money": "money lost",
}


@dataclass(frozen=True)
class Lexicon:
    """Everything the rule classifier knows about one language."""

    code: str
    name: str
    # term -> strength of complaint evidence
    negative: Mapping[str, float] = field(default_factory=dict)
    # term -> strength of praise evidence
    positive: Mapping[str, float] = field(default_factory=dict)
    # phrases that consume their tokens and weigh nothing ("guten tag", "bună ziua")
    neutral: tuple[str, ...] = ()
    # term -> critical category (a key of CRITICAL_LABELS); also complaint evidence
    critical: Mapping[str, str] = field(default_factory=dict)
    # term -> escalation label (a key of ESCALATION_LABELS); also complaint evidence
    escalation: Mapping[str, str] = field(default_factory=dict)
    # phrases that mark irony: praise words in the same text count as complaint
    sarcasm: tuple[str, ...] = ()
    # situations nobody enjoys (hold music, a price rise, being logged out in the
    # middle of a payment): praise next to one is irony ("thanks for the 40
    # minutes of hold music"), unless the text also says it was put right
    # (``resolution``: "fixed", "refunded"). A trailing ``*`` matches a prefix.
    situations: tuple[str, ...] = ()
    resolution: tuple[str, ...] = ()
    # tokens that negate the next sentiment word within three tokens
    negators: frozenset[str] = frozenset()
    # languages where the negator follows the verb ("anbefaler ikke", "empfehle nicht")
    negation_after: bool = False
    # token -> multiplier for the next sentiment word (>1 intensifies, <1 softens)
    intensifiers: Mapping[str, float] = field(default_factory=dict)
    # "but": what came before it in the sentence counts less
    contrast: frozenset[str] = frozenset()
    # a sentence starting with one of these phrases is a question even without "?"
    question_starters: tuple[str, ...] = ()
    # a token anywhere that marks a question ("ли")
    question_particles: frozenset[str] = frozenset()
    # second person: the post speaks to the company
    addressee: frozenset[str] = frozenset()
    # phrases typical of job adverts (ignored unless the text clearly complains)
    # reported speech ("according to", "reports"): the post relays news, so a
    # lawsuit or a journalist it mentions is not the author's own threat
    reporting: tuple[str, ...] = ()
    job_ad: tuple[str, ...] = ()
    # the vocabulary of a customer's dealings with a company (order, delivery,
    # bill, support, technician...): a customer story in these words that holds
    # no praise is, in practice, a complaint ("one chair came without a leg")
    service: tuple[str, ...] = ()
    # company announcements ("launches", "opens", "results"): news, not a customer
    announcement: tuple[str, ...] = ()
    # token -> replacement before matching (Romanian "n" in "n-am" -> "nu")
    aliases: Mapping[str, str] = field(default_factory=dict)
    fold_diacritics: bool = False
    split_apostrophes: bool = False
    # False: no spaces between words (Japanese); terms are matched as substrings
    segmented: bool = True
    # unsegmented only: endings that negate the term before them ("じゃない")
    negation_suffixes: tuple[str, ...] = ()


def _load() -> dict[str, Lexicon]:
    from . import de, en, es, et, fr, ja, nb, ro, ru

    return {m.LEXICON.code: m.LEXICON for m in (en, ru, ro, nb, et, de, fr, es, ja)}


LEXICONS: Mapping[str, Lexicon] = _load()

#: Other codes that mean a language we have a lexicon for.
ALIASES: Mapping[str, str] = {"no": "nb", "nn": "nb", "nob": "nb", "nor": "nb"}


def lexicon_for(language: str | None) -> Lexicon | None:
    """The lexicon for an ISO 639-1 code ("en", "pt-BR" -> "pt"), or None."""
    if not language:
        return None
    code = language.strip().lower().replace("_", "-").split("-")[0]
    return LEXICONS.get(ALIASES.get(code, code))


def universal() -> Lexicon:
    from ._universal import LEXICON

    return LEXICON
