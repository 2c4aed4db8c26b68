"""Ignore rules: what responders marked "not a complaint" in the inbox, applied to new
mentions of the same brand so the same author or phrase does not alert again.

Pure: the rules are loaded by the caller; nothing here reads the store or the clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from monitor.core.classify import Kind, Severity, Verdict
from monitor.core.lexicon import CRITICAL_LABELS

AUTHOR = "author"
PHRASE = "phrase"
FIELDS = (AUTHOR, PHRASE)

_SPACE = re.compile(r"\s+")
# Reasons (monitor.core.classify) of critical complaints that an ignore rule never hides.
_NEVER_SILENCED = tuple(f"{CRITICAL_LABELS[category]}:"
                        for category in ("legal", "safety", "privacy", "threat"))


def normalise_phrase(text: str) -> str:
    """Case- and whitespace-insensitive form of a phrase (how it is stored and matched)."""
    return _SPACE.sub(" ", text).strip().casefold()


@dataclass(frozen=True)
class IgnoreRule:
    id: int
    # None: applies to mentions of no brand
    brand: str | None
    field: str
    value: str

    def describe(self) -> str:
        what = "author" if self.field == AUTHOR else "phrase"
        return f"ignore rule #{self.id}: {what} '{self.value}' marked not a complaint"


def matching_rule(rules: Iterable[IgnoreRule], brand: str | None, author_key: str | None,
                  text: str) -> IgnoreRule | None:
    """The first rule of ``brand`` that matches the mention, or None.

    ``author_key`` is the mention's "site:author" key (None for anonymous posts, which an
    author rule never matches); ``text`` its title and body.
    """
    folded: str | None = None
    for rule in rules:
        if rule.brand != brand:
            continue
        if rule.field == AUTHOR:
            if author_key is not None and author_key == rule.value:
                return rule
        elif rule.field == PHRASE and rule.value:
            if folded is None:
                folded = normalise_phrase(text)
            if phrase_in(rule.value, folded):
                return rule
    return None


def phrase_in(phrase: str, folded: str) -> bool:
    """Whole words only: a phrase "scar" must not silence every complaint that says
    "scared", nor "card" one about a "cardboard box" (an ignored complaint alerts
    nobody)."""
    start = folded.find(phrase)
    while start != -1:
        end = start + len(phrase)
        before = folded[start - 1] if start else " "
        after = folded[end] if end < len(folded) else " "
        if not (before.isalnum() and phrase[0].isalnum()) and \
                not (after.isalnum() and phrase[-1].isalnum()):
            return True
        start = folded.find(phrase, start + 1)
    return False


def apply(rules: Sequence[IgnoreRule], brand: str | None, author_key: str | None,
          title: str | None, body: str, verdict: Verdict) -> Verdict:
    """The verdict ingest stores: "other" (alerts nobody) when an ignore rule of the brand
    matches a complaint or question, the classifier's verdict otherwise.

    A critical complaint for a legal threat, a safety or health risk, a data breach or a
    threat of violence is never silenced: a rule taught by a bot's spam or a grumbler's
    rants must not hide the day the same author threatens to sue. The rule is named in
    its reasons instead. "Scam" accusations and a large audience, the staple of spam and
    rants, stay silenced.
    """
    if not rules or verdict.kind not in (Kind.COMPLAINT, Kind.QUESTION):
        return verdict
    rule = matching_rule(rules, brand, author_key, f"{title or ''}\n{body}")
    if rule is None:
        return verdict
    if verdict.severity is Severity.CRITICAL and any(
            reason.startswith(_NEVER_SILENCED) for reason in verdict.reasons):
        return replace(verdict, reasons=(*verdict.reasons,
                                         f"{rule.describe()}, but critical: still alerts"))
    return replace(verdict, kind=Kind.OTHER, severity=Severity.LOW,
                   reasons=(*verdict.reasons, rule.describe()))
