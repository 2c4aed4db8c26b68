"""Identity of a mention: when are two sightings the same mention.

Order of preference: the source's own id for the item (stable across edits),
else the canonical URL, else a hash of the content. Pure functions.

The canonical URL is what lets the same post, reached through two sources (a
site spider and a Google Alerts feed, say), be stored once: redirect wrappers
are unwrapped, tracking parameters dropped and the several hosts that serve
the same page folded into one. Every rule here is conservative: storing a
post twice is a nuisance, merging two different posts loses one of them.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable
from urllib.parse import parse_qs, parse_qsl, urlsplit, urlunsplit

from w3lib.url import canonicalize_url, url_query_cleaner

# Query parameters that only say how someone arrived, never what the page is.
# Any ``utm_*`` parameter is dropped too (see ``TRACKING_PREFIXES``).
TRACKING_PARAMETERS = (
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "utm_id",
    "fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid", "ref_src", "yclid",
    "_ga", "_gl", "gbraid", "wbraid", "igsh", "twclid", "ttclid", "li_fat_id", "mkt_tok",
    "srsltid",
)
TRACKING_PREFIXES = ("utm_",)
# Parameters that are tracking only on some sites: elsewhere ``si`` or ``t``
# may well select the content, so they are dropped for these hosts alone
# (hosts after folding, without "www."). YouTube's ``t`` (start time) is kept.
HOST_TRACKING_PARAMETERS: dict[str, tuple[str, ...]] = {
    "youtube.com": ("si", "feature", "pp"),
    "open.spotify.com": ("si",),
    "twitter.com": ("s", "t", "ref_url"),
    "reddit.com": ("share_id",),
}
# Hosts that serve the same page under another name -> the one name we store.
HOST_ALIASES: dict[str, str] = {
    "old.reddit.com": "reddit.com",
    "new.reddit.com": "reddit.com",
    "np.reddit.com": "reddit.com",
    "m.reddit.com": "reddit.com",
    "i.reddit.com": "reddit.com",
    "amp.reddit.com": "reddit.com",
    "mobile.twitter.com": "twitter.com",
    "m.twitter.com": "twitter.com",
    "x.com": "twitter.com",
    "mobile.x.com": "twitter.com",
    "m.yelp.com": "yelp.com",
    "m.facebook.com": "facebook.com",
    "mbasic.facebook.com": "facebook.com",
    "touch.facebook.com": "facebook.com",
    "web.facebook.com": "facebook.com",
    "m.youtube.com": "youtube.com",
}
# Trustpilot's country sites (de., uk., no., ...) show the same review under
# the same path.
_COUNTRY_SITE = re.compile(r"^[a-z]{2}\.(trustpilot\.com)$")
# Hosts whose paths never differ by a trailing slash alone.
_SLASH_INSENSITIVE = frozenset({"reddit.com"})
_WHITESPACE = re.compile(r"\s+")
_GOOGLE = re.compile(r"^(?:www\.)?google\.[a-z]{2,3}(?:\.[a-z]{2})?$")
_MAX_UNWRAP = 5


def canonical_url(url: str | None) -> str | None:
    """The URL with redirect wrappers unwrapped, hosts folded, tracking parameters
    removed, query sorted and fragment dropped."""
    if not url:
        return None
    try:
        target = _fold(_unwrap(url.strip()))
        cleaned = url_query_cleaner(target, _tracking_in(target), remove=True,
                                    keep_fragments=False)
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


def _host(netloc: str) -> str:
    host = netloc.rpartition("@")[2].lower()
    return host.removeprefix("www.")


def _absolute(candidate: str | None) -> str | None:
    if (candidate and candidate.lower().startswith(("http://", "https://"))
            and urlsplit(candidate).netloc):
        return candidate
    return None


def _param(query: str, *names: str) -> str | None:
    values = parse_qs(query, keep_blank_values=True)
    for name in names:
        for value in values.get(name, ()):
            if value:
                return value
    return None


def _after_prefix(path: str, query: str, prefix: str, scheme: str) -> str | None:
    """``/amp/s/example.com/a`` -> ``https://example.com/a`` (``s`` means https)."""
    if not path.startswith(prefix):
        return None
    rest = path[len(prefix):]
    if rest.startswith("s/"):
        scheme, rest = "https", rest[2:]
    if not rest or rest.startswith("/"):
        return None
    return f"{scheme}://{rest}" + (f"?{query}" if query else "")


def _google(parts: tuple[str, str, str, str, str]) -> str | None:
    _scheme, _netloc, path, query, _fragment = parts
    if path == "/url":
        return _param(query, "q", "url")
    return _after_prefix(path, query, "/amp/", "http")


# Redirect wrappers: host (after folding "www.") -> the target, or None when the
# URL is not a wrapper after all. news.google.com links are opaque article ids
# (only a fetch reveals the target), so they are deliberately absent.
_Unwrapper = Callable[[tuple[str, str, str, str, str]], str | None]
REDIRECTORS: dict[str, _Unwrapper] = {
    "l.facebook.com": lambda p: _param(p[3], "u") if p[2] == "/l.php" else None,
    "lm.facebook.com": lambda p: _param(p[3], "u") if p[2] == "/l.php" else None,
    "l.instagram.com": lambda p: _param(p[3], "u"),
    "out.reddit.com": lambda p: _param(p[3], "url"),
    "href.li": lambda p: p[3] or None,
    "youtube.com": lambda p: _param(p[3], "q") if p[2] == "/redirect" else None,
    "away.vk.com": lambda p: _param(p[3], "to") if p[2] == "/away.php" else None,
}


def _unwrap(url: str) -> str:
    """Follow redirect wrappers whose target is in the URL itself (never fetches)."""
    for _ in range(_MAX_UNWRAP):
        parts = urlsplit(url)
        host = _host(parts.netloc)
        if _GOOGLE.match(host):
            target = _google(parts)
        elif host.endswith(".cdn.ampproject.org"):
            # /c/s/example.com/a (a page) and /v/s/... (a viewer) of the AMP cache
            target = (_after_prefix(parts.path, parts.query, "/c/", "http")
                      or _after_prefix(parts.path, parts.query, "/v/", "http"))
        elif host in REDIRECTORS:
            target = REDIRECTORS[host](parts)
        else:
            return url
        target = _absolute(target)
        if target is None:
            return url
        url = target
    return url


def _fold(url: str) -> str:
    """One host for one page: mobile and legacy hosts, youtu.be, AMP suffixes."""
    scheme, netloc, path, query, fragment = urlsplit(url)
    host = _host(netloc)
    if ":" in host or "@" in netloc:  # a port or credentials: not a public page link
        return url
    folded = HOST_ALIASES.get(host, host)
    if country := _COUNTRY_SITE.match(folded):
        folded = country.group(1)
    new_path, new_query = path, query
    if folded == "youtu.be" and path.strip("/"):
        folded, new_path = "youtube.com", "/watch"
        new_query = f"v={path.strip('/')}" + (f"&{query}" if query else "")
    if folded in _SLASH_INSENSITIVE and len(new_path) > 1:
        new_path = new_path.rstrip("/")
    # A trailing /amp segment is the AMP rendering of the page before it
    # (example.com/news/123/amp); a bare example.com/amp is left alone.
    bare = new_path.rstrip("/")
    if bare.endswith("/amp") and bare.count("/") >= 2:
        new_path = bare[: -len("/amp")]
    if (folded, new_path, new_query) == (host, path, query):
        return url
    new_netloc = netloc if folded == host else folded
    return urlunsplit((scheme, new_netloc, new_path, new_query, fragment))


def _tracking_in(url: str) -> list[str]:
    """The names of the tracking parameters in ``url``'s query."""
    parts = urlsplit(url)
    site = HOST_TRACKING_PARAMETERS.get(_host(parts.netloc), ())
    names = {name for name, _ in parse_qsl(parts.query, keep_blank_values=True)}
    found = [n for n in names if n.lower() in TRACKING_PARAMETERS or n in site
             or n.lower().startswith(TRACKING_PREFIXES)]
    return sorted(found)

