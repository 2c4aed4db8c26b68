"""Identity of a mention: when are two sightings the same mention.

Order of preference: the source's own id for the item (stable across edits),
else the canonical URL, else a hash of the content. Pure functions.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from w3lib.url import canonicalize_url, url_query_cleaner

# Query parameters that only say how someone arrived, never what the page is.
TRACKING_PARAMETERS = (
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "utm_id",
    "fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid", "ref_src", "yclid",
)
_WHITESPACE = re.compile(r"\s+")


def canonical_url(url: str | None) -> str | None:
    """The URL with tracking parameters removed, query sorted and fragment dropped."""
    if not url:
        return None
    try:
        cleaned = url_query_cleaner(url, TRACKING_PARAMETERS, remove=True, keep_fragments=False)
        canonical = canonicalize_url(cleaned, keep_fragments=False)
    except ValueError:
        return url.strip()
    return canonical.replace("://www.", "://", 1)


def normalise_text(text: str) -> str:
    """Text folded for comparison: NFKC, case-folded, whitespace collapsed."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def content_hash(title: str | None, body: str) -> str:
    return hashlib.sha256(
        f"{normalise_text(title or '')}\n{normalise_text(body)}".encode()
    ).hexdigest()


def dedupe_key(source_id: str, external_id: str | None, canonical: str | None,
               digest: str) -> str:
    """The one key under which a mention is stored (unique in the store)."""
    if external_id:
        return f"id:{source_id}:{external_id}"[:600]
    if canonical:
        return f"url:{canonical}"[:600]
    return f"hash:{digest}"
