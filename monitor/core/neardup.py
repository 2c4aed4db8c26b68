"""Near-duplicates: the same complaint written again, by other people or elsewhere.

When a payment double-charges or an app update breaks login, customers post
very similar complaints on several sites within hours; a copy-paste campaign
posts the same text many times. Spotting those is what opens an incident.

Language-independent by construction: the text is folded (NFKC, case, digits,
punctuation, links) and each word is cut into overlapping character 3-grams
-- no word lists, no stemmers, no language detection, so Russian, Norwegian or
Thai work the same as English. MinHash (datasketch) turns the 3-gram set into a fixed
list of ``NUM_PERM`` integers whose agreement estimates the Jaccard similarity
of the sets; the list is JSON-friendly, so it is stored with the mention and
compared later without the text.

Why word-bounded 3-grams: on complaints reworded slightly (a few words
swapped or reordered, another order number) their Jaccard similarity stays
around 0.8-0.9 in English, Russian and Norwegian, while unrelated complaints
in the same language stay below ~0.2 and two different wordings of the same
problem around 0.3. Grams across word boundaries or longer grams pushed
reworded pairs down to ~0.6, at the 0.6 default threshold.

Why short texts never match: under ``MIN_CHARS`` folded characters a text has
a handful of 3-grams, so the estimate is mostly noise, and short complaints
("worst service ever", "app down again") are generic phrases that unrelated
customers write independently. They still count towards a volume spike, just
not towards a near-duplicate cluster. Their signature is empty and is similar
to nothing.

Signatures are compared only with signatures of the same ``SIGNATURE_VERSION``
(folding, shingle size, seed, ``NUM_PERM``, the gram hash, the permutations of
datasketch's "affine32" scheme); they are kept in memory, never stored, so a change needs no migration.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Hashable, Sequence
from typing import Generic, TypeVar

import numpy as np
from datasketch import MinHash, MinHashLSH

from .dedupe import normalise_text

SIGNATURE_VERSION = 3
NUM_PERM = 128
SEED = 20261124
SHINGLE = 3
#: Folded texts shorter than this have an empty signature (see the module doc).
MIN_CHARS = 20
_SCHEME = "affine32"

Signature = tuple[int, ...]
K = TypeVar("K", bound=Hashable)

_LINK = re.compile(r"(?:https?://|www\.)\S+")
_DIGITS = re.compile(r"\d+")
_NOT_WORD = re.compile(r"[\W_]+")
# The permutations (odd a, any b: h -> a*h + b mod 2^32) of datasketch's "affine32"
# scheme; signatures are computed here with numpy over a whole text at once and handed
# to datasketch's LSH as hash values. Grams never become Python strings: the three code
# points of a gram (21 bits each) are one exact 63-bit key, mixed to 32 bits by a
# multiply-shift and MurmurHash3's finaliser. Signatures live in memory only, so the
# choice is free to change (``SIGNATURE_VERSION``).
_TEMPLATE = MinHash(num_perm=NUM_PERM, seed=SEED, scheme=_SCHEME, hashfunc=zlib.crc32)
_PERM_A, _PERM_B = (np.asarray(row, dtype=np.uint32) for row in _TEMPLATE.permutations)
_KEY_MIX = np.uint64(0x9E3779B97F4A7C15)
_SPACE = ord(" ")


def fold(text: str) -> str:
    """The text as compared: case and width folded, links dropped, every number
    written as 0 (order numbers differ between customers), punctuation as spaces."""
    folded = _LINK.sub(" ", normalise_text(text))
    folded = _DIGITS.sub("0", folded)
    return _NOT_WORD.sub(" ", folded).strip()


def shingles(text: str) -> set[str]:
    """The character ``SHINGLE``-grams of each folded word, padded with a space at
    both ends ("late" -> " la", "lat", "ate", "te "); empty below ``MIN_CHARS``.

    Grams stay inside words, so the set does not depend on word order ("charged
    twice" and "twice charged" agree). Scripts written without spaces (Chinese,
    Thai) make one long "word" per run and are shingled along it.
    """
    folded = fold(text)
    if len(folded) < MIN_CHARS:
        return set()
    grams: set[str] = set()
    for word in folded.split():
        padded = f" {word} "
        grams.update(padded[i:i + SHINGLE] for i in range(len(padded) - SHINGLE + 1))
    return grams


def gram_keys(text: str) -> np.ndarray:
    """The ``shingles`` of a text as distinct integers (three code points of 21 bits),
    computed over the whole folded text at once: the grams of " w1 w2 " whose middle
    character is not a space are exactly those of " w1 " and " w2 "."""
    folded = fold(text)
    if len(folded) < MIN_CHARS:
        return np.empty(0, dtype=np.uint64)
    points = np.frombuffer(f" {folded} ".encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    middle = points[1:-1]
    keys = (points[:-2] << np.uint64(42)) | (middle << np.uint64(21)) | points[2:]
    return np.unique(keys[middle != _SPACE])


def signature(text: str) -> Signature:
    """MinHash of the text's shingles: ``NUM_PERM`` ints, or () for a short text."""
    keys = gram_keys(text)
    if not keys.size:
        return ()
    hashed = ((keys * _KEY_MIX) >> np.uint64(32)).astype(np.uint32)
    # MurmurHash3's 32-bit finaliser, then every permutation of every gram at once
    hashed ^= hashed >> np.uint32(16)
    hashed *= np.uint32(0x85EBCA6B)
    hashed ^= hashed >> np.uint32(13)
    hashed *= np.uint32(0xC2B2AE35)
    hashed ^= hashed >> np.uint32(16)
    permuted = hashed[:, np.newaxis] * _PERM_A + _PERM_B
    return tuple(permuted.min(axis=0).tolist())


def similarity(a: Sequence[int], b: Sequence[int]) -> float:
    """Estimated Jaccard similarity of the two texts' shingle sets, 0..1.

    The share of positions where the signatures agree (what datasketch's
    ``MinHash.jaccard`` computes). Empty or mismatched signatures: 0.0.
    """
    if not a or len(a) != len(b):
        return 0.0
    return sum(1 for x, y in zip(a, b, strict=True) if x == y) / len(a)


class NearDuplicateIndex(Generic[K]):
    """An in-memory LSH index of signatures: which stored keys look like this text.

    ``query`` returns only keys whose estimated similarity is at least
    ``threshold`` (LSH candidates are re-checked), most similar first. Empty
    signatures (short texts) are never stored and never match.
    """

    def __init__(self, threshold: float = 0.6) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {threshold}")
        self.threshold = threshold
        self._lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
        self._signatures: dict[K, Signature] = {}

    def __len__(self) -> int:
        return len(self._signatures)

    def __contains__(self, key: object) -> bool:
        return key in self._signatures

    def add(self, key: K, sig: Sequence[int]) -> None:
        """Store ``sig`` under ``key`` (replacing what was there). An empty signature
        only removes the key."""
        self.remove(key)
        if not sig:
            return
        if len(sig) != NUM_PERM:
            raise ValueError(f"signature of {len(sig)} values, expected {NUM_PERM}")
        stored = tuple(sig)
        self._lsh.insert(key, _minhash(stored))
        self._signatures[key] = stored

    def query(self, sig: Sequence[int]) -> list[K]:
        if len(sig) != NUM_PERM:
            return []
        scored = [(similarity(sig, self._signatures[k]), k) for k in self._lsh.query(_minhash(sig))]
        hits = [(s, k) for s, k in scored if s >= self.threshold]
        hits.sort(key=lambda hit: (-hit[0], repr(hit[1])))
        return [k for _, k in hits]

    def remove(self, key: K) -> None:
        """Forget ``key``; a key that is not there is fine."""
        if self._signatures.pop(key, None) is not None:
            self._lsh.remove(key)


def _minhash(values: Sequence[int]) -> MinHash:
    """A signature as datasketch's LSH takes it."""
    return MinHash(seed=SEED, scheme=_SCHEME, hashfunc=zlib.crc32, hashvalues=list(values),
                   permutations=_TEMPLATE.permutations)
