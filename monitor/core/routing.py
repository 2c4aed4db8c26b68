"""Which channels hear about a mention. Pure: config rules in, channel names out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from monitor.core.classify import Kind, Severity


@dataclass(frozen=True)
class Rule:
    """One route. ``channels`` are targets: channel names, "oncall:NAME", "member:NAME",
    "tag:TAG" or apprise URLs (resolved by monitor.notify.targets)."""

    channels: tuple[str, ...]
    brands: frozenset[str] = field(default_factory=frozenset)
    sources: frozenset[str] = field(default_factory=frozenset)
    kinds: frozenset[Kind] = frozenset({Kind.COMPLAINT, Kind.QUESTION})
    min_severity: Severity = Severity.NORMAL
    # Exactly these severities; empty = min_severity decides.
    severities: frozenset[Severity] = field(default_factory=frozenset)
    languages: frozenset[str] = field(default_factory=frozenset)
    # True: incident alerts only; False: single mentions only; None: both.
    incident: bool | None = None
    name: str = ""

    def matches(self, brand: str | None, source_id: str, kind: Kind, severity: Severity,
                language: str | None = None, incident: bool = False) -> bool:
        if self.brands and brand not in self.brands:
            return False
        # An incident spans sources: a rule about particular sources is not about it.
        if self.sources and (incident or source_id not in self.sources):
            return False
        if self.languages and (language or "").split("-")[0].lower() not in self.languages:
            return False
        if self.incident is not None and self.incident != incident:
            return False
        if self.severities:
            if severity not in self.severities:
                return False
        elif severity.rank < self.min_severity.rank:
            return False
        return kind in self.kinds


@dataclass(frozen=True)
class Sample:
    """What routing looks at in a mention (or an incident, ``incident=True``)."""

    brand: str | None
    source_id: str
    kind: Kind
    severity: Severity
    language: str | None = None
    incident: bool = False


def route_sample(rules: Sequence[Rule], default_channels: Sequence[str], sample: Sample,
                 first_only: bool = False) -> list[tuple[str, str]]:
    """(target, rule name) pairs, each target once, in rule order; see ``route``."""
    if sample.brand is None:
        return []
    if not rules:
        fallback = Rule(channels=tuple(default_channels), name="(default)")
        ok = fallback.matches(sample.brand, sample.source_id, sample.kind, sample.severity,
                              sample.language, sample.incident)
        return [(name, fallback.name) for name in fallback.channels] if ok else []
    chosen: list[tuple[str, str]] = []
    for index, rule in enumerate(rules):
        if rule.matches(sample.brand, sample.source_id, sample.kind, sample.severity,
                        sample.language, sample.incident):
            label = rule.name or f"routes[{index}]"
            chosen.extend((name, label) for name in rule.channels
                          if name not in {target for target, _ in chosen})
            if first_only:
                break
    return chosen


def route(rules: Sequence[Rule], default_channels: Sequence[str], brand: str | None,
          source_id: str, kind: Kind, severity: Severity, first_only: bool = False
          ) -> list[str]:
    """Channel names, each once, in rule order.

    A mention that matched no brand alerts nobody: it is stored, not sent.
    With no rules configured, complaints and questions of normal severity or
    worse go to every default channel.
    """
    return [target for target, _ in route_sample(
        rules, default_channels, Sample(brand, source_id, kind, severity), first_only)]


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
