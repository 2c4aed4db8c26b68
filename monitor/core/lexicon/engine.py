"""Lexicon matching: tokens, phrases, negation, intensifiers, "but".

Pure and deterministic. A ``CompiledLexicon`` is built once per language (and
brand vocabulary) and then reads texts: ``analyse(text)`` returns the
``Signals`` the classifier turns into a verdict.

The approach is the one VADER made popular, generalised to several languages:
every lexicon hit has a strength; a negator up to three tokens before it (or
just after it, in languages that put the negation after the verb) flips it;
an intensifier right before it scales it; "but" halves what came before it in
the same sentence. Phrases win over single words ("not working", "no
problems"), exact words over prefixes.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from . import Lexicon

# Critical categories that negation does not cancel: "I don't want to call a
# lawyer, but..." is still a legal threat. "Not a scam" is not an accusation.
_NEGATABLE_CRITICAL = frozenset({"fraud", "safety"})

_URL_RE = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_EMOJI = "\U0001f000-\U0001faff\u2600-\u27bf\u2b50\u2b55\u2764"
_TOKEN_RE = re.compile(
    r"‹[a-z]+›"  # placeholders for masked brand vocabulary
    r"|:-?\(|:-?\)|:-?d\b|:-?/|<3|-_-|/s\b"  # emoticons and the sarcasm tag
    rf"|[{_EMOJI}]"
    r"|[^\W_]+(?:['’][^\W_]+)*"  # words, with inner apostrophes (doesn't, n'est)
    r"|[.!?;…¡¿\n]+"  # sentence boundaries
    r"|,",  # clause boundary
)
_SENTENCE_END = frozenset(".!?;…¡¿\n")
_BOUNDARY_START = _SENTENCE_END | {","}  # a token starting with one is a boundary

#: Placeholder tokens the classifier substitutes for brand vocabulary.
PRODUCT_TOKEN = "‹product›"
COMPETITOR_TOKEN = "‹competitor›"


class _FoldTable(dict[int, str]):
    """``str.translate`` table that strips accents, filled on first sight of a character.

    Per character is the same as per text: NFD only reorders combining marks, and
    those are all dropped."""

    def __missing__(self, code: int) -> str:
        if len(self) >= _FOLD_TABLE_SIZE:  # only text made of every code point gets here
            self.clear()
        decomposed = unicodedata.normalize("NFD", chr(code))
        folded = self[code] = "".join(c for c in decomposed if not unicodedata.combining(c))
        return folded


_FOLD_TABLE_SIZE = 65_536
_FOLD = _FoldTable()


def fold(text: str) -> str:
    """Remove accents: 'nemulțumit' -> 'nemultumit', 'déçu' -> 'decu'."""
    return text if text.isascii() else text.translate(_FOLD)


def normalise(text: str, lexicon: Lexicon) -> str:
    text = unicodedata.normalize("NFKC", text).lower().replace("ё", "е").replace("’", "'")
    if lexicon.fold_diacritics:
        text = fold(text)
    return text


def tokenize(text: str, lexicon: Lexicon) -> list[str]:
    """Tokens of an already normalised text (see ``normalise``)."""
    tokens = _TOKEN_RE.findall(_URL_RE.sub(" ", text))
    if lexicon.split_apostrophes:
        out: list[str] = []
        for tok in tokens:
            if "'" in tok:
                out.extend(p for p in tok.split("'") if p)
            else:
                out.append(tok)
        tokens = out
    if lexicon.aliases:
        tokens = [lexicon.aliases.get(t, t) for t in tokens]
    return tokens


def _is_boundary(token: str) -> bool:
    return token == "," or token[0] in _SENTENCE_END


@dataclass(frozen=True, slots=True)
class Entry:
    words: tuple[tuple[str, bool], ...]  # (text, is_prefix)
    term: str  # as written in the lexicon
    value: float  # < 0 complaint evidence, > 0 praise evidence
    critical: str | None = None
    escalation: str | None = None
    immune: bool = False  # negation does not flip it


@dataclass(frozen=True, slots=True)
class _Token:
    """What a lexicon knows of one token, looked up once per distinct token."""

    # phrases (two words or more) that may start here, in trial order
    phrases: tuple[Entry, ...]
    # the first one-word entry in trial order that matches it: a phrase that matches
    # is longer, so this counts only when none does
    word: Entry | None
    negator: bool
    intensifier: float | None
    contrast: bool
    addressee: bool
    particle: bool
    service: bool
    starters: tuple[str, ...]  # question starters whose first word it is
    plain: bool  # none of the above, nor a placeholder: the reading loop just moves on


def _plain(info: _Token, token: str) -> _Token:
    """``info`` with ``plain`` set when the token matters to no rule of the loop."""
    plain = not (info.phrases or info.word or info.negator or info.intensifier is not None
                 or info.contrast or info.addressee or info.particle or info.starters
                 or token in (PRODUCT_TOKEN, COMPETITOR_TOKEN))
    return replace(info, plain=plain)


#: Distinct tokens remembered per lexicon (one per brand and language; about 150 bytes
#: a token); past it the memory starts afresh.
_TOKEN_CACHE_SIZE = 50_000


@dataclass(slots=True)
class Hit:
    surface: str  # the words of the text that matched (normalised)
    value: float  # after negation, intensifiers and "but"
    entry: Entry
    negated: bool = False
    intensified: bool = False
    sentence: int = 0

    @property
    def critical(self) -> str | None:
        return None if self.negated and self.entry.critical in _NEGATABLE_CRITICAL else (
            self.entry.critical
        )


@dataclass(slots=True)
class Signals:
    hits: list[Hit] = field(default_factory=list)
    question: bool = False
    addressed: bool = False
    job_ad: str | None = None
    sarcasm: str | None = None  # the irony marker found ("thanks a lot", "🙄")
    situation: str | None = None  # an unwelcome situation ("hold music", "price rise")
    resolved: str | None = None  # the text says it was put right ("fixed")
    reporting: str | None = None  # a reported-speech phrase ("according to")
    competitor_sentences: set[int] = field(default_factory=set)
    # negations that negate no sentiment word ("no hotel, no vouchers"):
    # complaints are full of them, praise rarely has any
    dangling_negations: int = 0
    service: list[str] = field(default_factory=list)  # service-encounter words found
    announcement: str | None = None
    tokens: int = 0
    # the last sentence (its index and number of words): a short praise tag
    # after a complaint ("... after 20 GB. Great.") is irony
    last_sentence: int = -1
    last_sentence_words: int = 0
    text: str = ""  # the normalised, space-joined tokens (for phrase look-ups)

    @property
    def complaint(self) -> float:
        return -sum(h.value for h in self.hits if h.value < 0)

    @property
    def praise(self) -> float:
        return sum(h.value for h in self.hits if h.value > 0)

    def contains(self, phrase: str) -> bool:
        return f" {phrase} " in self.text


def _words(term: str, lexicon: Lexicon) -> tuple[tuple[str, bool], ...]:
    words: list[tuple[str, bool]] = []
    for raw in term.split():
        prefix = raw.endswith("*")
        toks = tokenize(normalise(raw.rstrip("*"), lexicon), lexicon)
        if not toks:
            continue
        words.extend((t, False) for t in toks[:-1])
        words.append((toks[-1], prefix))
    return tuple(words)


def _merge_entries(lexicons: Iterable[Lexicon], extra_negative: Iterable[str]) -> dict[str, Entry]:
    """term -> Entry; later lexicons override earlier ones term by term."""
    values: dict[str, float] = {}
    critical: dict[str, str] = {}
    escalation: dict[str, str] = {}
    for lex in lexicons:
        for term in lex.neutral:
            values[term] = 0.0
        for term, weight in lex.negative.items():
            values[term] = -weight
        for term, weight in lex.positive.items():
            values[term] = weight
        critical.update(lex.critical)
        escalation.update(lex.escalation)
    for term in extra_negative:
        values[term] = -1.5
    entries: dict[str, Entry] = {}
    # In insertion order, not a set's: equal-length terms at one position are tried in
    # this order, and a set's order changes with each process's string hash seed.
    for term in dict.fromkeys([*values, *critical, *escalation]):
        crit = critical.get(term)
        esc = escalation.get(term)
        if term in values:
            value = values[term]
        elif crit:
            value = -2.0
        elif esc:
            value = -0.8  # asking for a refund is not yet a complaint
        else:
            value = 0.0
        immune = esc is not None or (crit is not None and crit not in _NEGATABLE_CRITICAL)
        entries[term] = Entry((), term, value, crit, esc, immune)
    return entries


class CompiledLexicon:
    """A lexicon (plus the universal one and brand words) ready to read texts."""

    def __init__(
        self,
        lexicon: Lexicon,
        base: Lexicon | None = None,
        extra_negative: Iterable[str] = (),
        ignore: Iterable[str] = (),
    ) -> None:
        self.lexicon = lexicon
        layers = [base, lexicon] if base is not None else [lexicon]
        merged = _merge_entries(layers, extra_negative)
        self._exact: dict[str, list[Entry]] = {}
        self._prefix: dict[str, list[Entry]] = {}
        self._alternation: re.Pattern[str] | None = None
        self._by_surface: dict[str, Entry] = {}
        if lexicon.segmented:
            for term, proto in merged.items():
                words = _words(term, lexicon)
                if not words:
                    continue
                # A phrase with its own negation ("pas satisfait", "no problems") is
                # not negated again by a "ne"/"not" before it.
                immune = proto.immune or any(w in lexicon.negators for w, _ in words)
                entry = Entry(words, term, proto.value, proto.critical, proto.escalation,
                              immune)
                first, is_prefix = words[0]
                (self._prefix if is_prefix else self._exact).setdefault(first, []).append(entry)
            for table in (self._exact, self._prefix):
                for entries in table.values():
                    entries.sort(key=lambda e: -len(e.words))
            self._prefix_lengths = sorted({len(k) for k in self._prefix}, reverse=True)
        else:
            for term, proto in merged.items():
                key = normalise(term, lexicon).rstrip("*")
                if key:
                    self._by_surface[key] = proto
            ordered = sorted(self._by_surface, key=len, reverse=True)
            self._alternation = re.compile("|".join(re.escape(k) for k in ordered))
        self._negators = frozenset(n for n in lexicon.negators if not n.startswith("*"))
        self._negator_suffixes = tuple(n[1:] for n in lexicon.negators if n.startswith("*"))
        self._intensifiers = {normalise(k, lexicon): v for k, v in lexicon.intensifiers.items()}
        self._contrast = frozenset(normalise(c, lexicon) for c in lexicon.contrast)
        self._addressee = frozenset(normalise(a, lexicon) for a in lexicon.addressee)
        self._particles = frozenset(normalise(p, lexicon) for p in lexicon.question_particles)
        self._starters = tuple(
            " ".join(tokenize(normalise(s, lexicon), lexicon)) for s in lexicon.question_starters
        )
        self._job_ad = self._phrases(lexicon.job_ad)
        sarcasm = list(lexicon.sarcasm) + (list(base.sarcasm) if base is not None else [])
        self._sarcasm = self._phrases(sarcasm)
        self._situations = self._stems(lexicon.situations)
        self._resolution = self._stems(lexicon.resolution)
        self._reporting = self._phrases(lexicon.reporting)
        self._announcement = self._phrases(lexicon.announcement)
        self._service_exact: set[str] = set()
        self._service_prefix: set[str] = set()
        self._service_phrases: list[str] = []
        for term in lexicon.service:
            words = _words(term, lexicon)
            if len(words) == 1:
                word, is_prefix = words[0]
                (self._service_prefix if is_prefix else self._service_exact).add(word)
            elif words:
                self._service_phrases.append(" ".join(w for w, _ in words))
        self._service_lengths = sorted({len(p) for p in self._service_prefix}, reverse=True)
        self._ignore = tuple(
            (s, " ".join(tokenize(normalise(s, lexicon), lexicon))) for s in ignore
        )
        self._tokens: dict[str, _Token] = {}

    def _token(self, token: str) -> _Token:
        """Everything the reading loop asks of a token, computed on first sight: a
        text's words repeat across mentions, and each question costs dictionary
        look-ups (prefixes of every length) that are the same every time."""
        known = self._tokens.get(token)
        if known is None:
            if len(self._tokens) >= _TOKEN_CACHE_SIZE:
                self._tokens.clear()
            candidates = tuple(self._candidates(token))
            known = self._tokens[token] = _plain(_Token(
                phrases=tuple(e for e in candidates if len(e.words) > 1),
                word=next((e for e in candidates
                           if len(e.words) == 1 and self._matches(e, [token], 0)), None),
                negator=self._is_negator(token),
                intensifier=self._intensifiers.get(token),
                contrast=token in self._contrast,
                addressee=token in self._addressee,
                particle=token in self._particles,
                service=token in self._service_exact or any(
                    token[:k] in self._service_prefix
                    for k in self._service_lengths if k <= len(token)),
                starters=tuple(s for s in self._starters if s.split(" ", 1)[0] == token),
                plain=False,
            ), token)
        return known

    # -- helpers -------------------------------------------------------------

    def _phrases(self, phrases: Iterable[str]) -> tuple[str, ...]:
        if not self.lexicon.segmented:
            return tuple(normalise(p, self.lexicon) for p in phrases)
        return tuple(
            " ".join(tokenize(normalise(p, self.lexicon), self.lexicon)) for p in phrases
        )

    def _stems(self, phrases: Iterable[str]) -> tuple[tuple[str, str], ...]:
        """(as written, search key): a trailing ``*`` leaves the key open-ended."""
        out: list[tuple[str, str]] = []
        for p in phrases:
            (key,) = self._phrases([p.rstrip("*")])
            if not key:
                continue
            if self.lexicon.segmented:
                key = f" {key}" if p.endswith("*") else f" {key} "
            out.append((p.rstrip("*"), key))
        return tuple(out)

    @staticmethod
    def _first(stems: tuple[tuple[str, str], ...], text: str) -> str | None:
        return next((p for p, key in stems if key in text), None)

    def _is_negator(self, token: str) -> bool:
        return token in self._negators or (
            bool(self._negator_suffixes) and token.endswith(self._negator_suffixes)
        )

    def _candidates(self, token: str) -> Iterable[Entry]:
        exact = self._exact.get(token)
        if exact:
            yield from exact
        for k in self._prefix_lengths:
            if k <= len(token):
                found = self._prefix.get(token[:k])
                if found:
                    yield from found

    @staticmethod
    def _matches(entry: Entry, tokens: list[str], i: int) -> bool:
        if i + len(entry.words) > len(tokens):
            return False
        for k, (word, is_prefix) in enumerate(entry.words):
            tok = tokens[i + k]
            if not (tok.startswith(word) if is_prefix else tok == word):
                return False
        return True

    def ignored_by(self, signals: Signals) -> str | None:
        """The first brand ignore phrase the text contains, as configured."""
        for original, phrase in self._ignore:
            if phrase and signals.contains(phrase):
                return original
        return None

    # -- reading -------------------------------------------------------------

    def analyse(self, text: str) -> Signals:
        norm = normalise(text, self.lexicon)
        if not self.lexicon.segmented:
            return self._analyse_unsegmented(norm)
        tokens = tokenize(norm, self.lexicon)
        signals = Signals(tokens=len(tokens), text=f" {' '.join(tokens)} ")
        signals.question = "?" in norm or "¿" in norm
        signals.addressed = "@" in norm  # @brand
        hits = signals.hits
        negators: list[int] = []
        intensifiers: list[tuple[int, float]] = []
        used_negators: set[int] = set()
        sentence = 0
        clause_start = 0
        sentence_start = 0
        sentence_first_hit = 0
        n = len(tokens)
        token_info = self._token
        i = 0
        while i < n:
            tok = tokens[i]
            if tok[0] in _BOUNDARY_START:
                if tok != ",":
                    sentence += 1
                    sentence_start = i + 1
                    sentence_first_hit = len(hits)
                clause_start = i + 1
                i += 1
                continue
            info = token_info(tok)
            if info.plain:
                i += 1
                continue
            if i == sentence_start and not signals.question and info.starters:
                # a starter's first word is this token: "how" starts "how", "how do"
                rest = " ".join(tokens[i:i + 4])
                if any(rest == s or rest.startswith(s + " ") for s in info.starters):
                    signals.question = True
            if info.addressee or tok == PRODUCT_TOKEN:
                signals.addressed = True
            elif tok == COMPETITOR_TOKEN:
                signals.competitor_sentences.add(sentence)
            if info.particle:
                signals.question = True
            best: Entry | None = None
            for entry in info.phrases:
                if (best is None or len(entry.words) > len(best.words)) and self._matches(
                    entry, tokens, i
                ):
                    best = entry
            if best is None:
                best = info.word
            if best is None:
                if info.negator:
                    negators.append(i)
                elif info.intensifier is not None:
                    intensifiers.append((i, info.intensifier))
                elif info.contrast:
                    for h in hits[sentence_first_hit:]:
                        h.value *= 0.5
                    clause_start = i + 1
                i += 1
                continue
            length = len(best.words)
            value = best.value
            lo = max(clause_start, i - 3)
            negated = any(lo <= p < i and p not in used_negators for p in negators[-3:])
            if not negated and self.lexicon.negation_after and value > 0:
                for j in range(i + length, min(n, i + length + 3)):
                    if _is_boundary(tokens[j]):
                        break
                    if token_info(tokens[j]).negator:
                        negated = True
                        used_negators.add(j)
                        break
            mult = 1.0
            for p, m in intensifiers[-2:]:
                if max(clause_start, i - 2) <= p < i:
                    mult *= m
            value *= mult
            if negated and not best.immune and value != 0:
                value = -value * 0.9 if value > 0 else -value * 0.7
                used_negators.update(p for p in negators[-3:] if lo <= p < i)
            elif negated and best.immune:
                negated = False
            surface = " ".join(tokens[i:i + length])
            if negated:
                start = max(p for p in negators if lo <= p < i) if any(
                    lo <= p < i for p in negators
                ) else i
                surface = " ".join(tokens[start:i + length])
                if start == i:  # negator after the word
                    j = i + length
                    while j < n and not token_info(tokens[j]).negator:
                        j += 1
                    surface = " ".join(tokens[i:j + 1])
            hits.append(Hit(surface, value, best, negated, mult > 1.0, sentence))
            i += length
        signals.hits = [h for h in hits if h.value != 0 or h.critical]
        j = n - 1
        while j >= 0 and _is_boundary(tokens[j]) and tokens[j] != ",":
            j -= 1
        k = j
        while k >= 0 and not (_is_boundary(tokens[k]) and tokens[k] != ","):
            signals.last_sentence_words += tokens[k] != ","
            k -= 1
        if k >= 0:  # more than one sentence
            signals.last_sentence = sum(1 for t in tokens[:k + 1] if t[0] in _SENTENCE_END)
        signals.dangling_negations = sum(1 for p in negators if p not in used_negators)
        signals.job_ad = next((j for j in self._job_ad if signals.contains(j)), None)
        signals.sarcasm = next((j for j in self._sarcasm if signals.contains(j)), None)
        signals.situation = self._first(self._situations, signals.text)
        signals.resolved = self._first(self._resolution, signals.text)
        signals.reporting = next((j for j in self._reporting if signals.contains(j)), None)
        signals.announcement = next((j for j in self._announcement if signals.contains(j)), None)
        if self._service_exact or self._service_prefix:
            signals.service.extend(tok for tok in tokens if token_info(tok).service)
        signals.service.extend(p for p in self._service_phrases if signals.contains(p))
        return signals

    def _analyse_unsegmented(self, norm: str) -> Signals:
        assert self._alternation is not None
        text = _URL_RE.sub(" ", norm)
        signals = Signals(tokens=len(text), text=f" {text} ")
        signals.question = "?" in text or any(p in text for p in self._particles)
        signals.question = signals.question or any(s in text for s in self.lexicon.question_starters)
        signals.addressed = any(a in text for a in self._addressee) or PRODUCT_TOKEN in text
        contrast_at = [m.start() for c in self._contrast for m in re.finditer(re.escape(c), text)]
        ends = [i for i, c in enumerate(text) if c in "。.!?\n"]
        spans: list[tuple[int, int]] = []
        for m in self._alternation.finditer(text):
            spans.append((m.start(), m.end() + 4))
            entry = self._by_surface[m.group(0)]
            value = entry.value
            after = text[m.end():m.end() + 6]
            negated = value > 0 and after.startswith(self.lexicon.negation_suffixes)
            before = text[max(0, m.start() - 5):m.start()]
            mult = max((v for k, v in self._intensifiers.items() if k in before), default=1.0)
            value *= mult
            if negated:
                value = -value * 0.9
            sentence = sum(1 for e in ends if e < m.start())
            if any(c > m.end() and not any(m.end() <= e < c for e in ends) for c in contrast_at):
                value *= 0.5
            surface = m.group(0) + (after[:4] if negated else "")
            if value != 0 or entry.critical:
                signals.hits.append(Hit(surface, value, entry, negated, mult > 1.0, sentence))
        if self.lexicon.negation_suffixes:
            endings = re.finditer("|".join(map(re.escape, self.lexicon.negation_suffixes)), text)
            signals.dangling_negations = sum(
                1 for m in endings if not any(a <= m.start() < b for a, b in spans))
        if COMPETITOR_TOKEN in text:
            signals.competitor_sentences.update(h.sentence for h in signals.hits)
        signals.job_ad = next((j for j in self._job_ad if j in text), None)
        signals.sarcasm = next((j for j in self._sarcasm if j in text), None)
        signals.situation = self._first(self._situations, text)
        signals.resolved = self._first(self._resolution, text)
        signals.reporting = next((j for j in self._reporting if j in text), None)
        signals.announcement = next((j for j in self._announcement if j in text), None)
        signals.service = [t for t in self.lexicon.service if t in text]
        return signals


def compile_names(names: Iterable[str], placeholder: str) -> list[tuple[str, re.Pattern[str], str]]:
    """Patterns for ``mask``: whole-word, case-insensitive, longest name first."""
    return [
        (name, re.compile(rf"(?<!\w){re.escape(name)}(?!\w)", re.IGNORECASE), f" {placeholder} ")
        for name in sorted({n.strip() for n in names if n.strip()}, key=len, reverse=True)
    ]


def mask(text: str, patterns: Iterable[tuple[str, re.Pattern[str], str]]) -> tuple[str, list[str]]:
    """Replace each configured name by its placeholder; returns the names found.

    Product names often contain sentiment words ("Perfect Fit", "Nightmare
    Mode"); masking keeps them from counting as praise or complaint.
    """
    found: list[str] = []
    for name, pattern, replacement in patterns:
        text, count = pattern.subn(replacement, text)
        if count:
            found.append(name)
    return text, found
