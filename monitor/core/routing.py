"""Which channels hear about a mention. Pure: config rules in, channel names out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from monitor.core.classify import Kind, Severity


@dataclass(frozen=True)
class Rule:
    channels: tuple[str, ...]
    brands: frozenset[str] = field(default_factory=frozenset)
    sources: frozenset[str] = field(default_factory=frozenset)
    kinds: frozenset[Kind] = frozenset({Kind.COMPLAINT, Kind.QUESTION})
    min_severity: Severity = Severity.NORMAL

    def matches(self, brand: str | None, source_id: str, kind: Kind, severity: Severity) -> bool:
        if self.brands and brand not in self.brands:
            return False
        if self.sources and source_id not in self.sources:
            return False
        return kind in self.kinds and severity.rank >= self.min_severity.rank


def route(rules: Sequence[Rule], default_channels: Sequence[str], brand: str | None,
          source_id: str, kind: Kind, severity: Severity, first_only: bool = False
          ) -> list[str]:
    """Channel names, each once, in rule order.

    A mention that matched no brand alerts nobody: it is stored, not sent.
    With no rules configured, complaints and questions of normal severity or
    worse go to every default channel.
    """
    if brand is None:
        return []
    if not rules:
        fallback = Rule(channels=tuple(default_channels))
        return list(fallback.channels) if fallback.matches(brand, source_id, kind, severity) \
            else []
    chosen: list[str] = []
    for rule in rules:
        if rule.matches(brand, source_id, kind, severity):
            chosen.extend(name for name in rule.channels if name not in chosen)
            if first_only:
                break
    return chosen


def match_brand(text: str, source_brand: str | None,
                keywords: Sequence[tuple[str, Sequence[str]]]) -> str | None:
    """The brand a mention is about: the source's own brand, else the first whose keyword
    appears in the (case-folded) text."""
    if source_brand is not None:
        return source_brand
    folded = text.casefold()
    for brand, words in keywords:
        if any(word.casefold() in folded for word in words if word):
            return brand
    return None
