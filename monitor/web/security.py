"""Who is asking, and may they: passwords (argon2), API tokens, the reverse-proxy header,
roles, CSRF tokens, the login rate limit and the security headers.

Sessions are Starlette's signed cookies (itsdangerous, keyed by ``web.secret``):
HttpOnly, SameSite=Lax, Secure when ``web.base_url`` is https. A session holds the
user name, a fingerprint of the password hash (changing the hash in the config logs
the user out everywhere) and the CSRF token.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from monitor.config import WebConfig

ROLES = ("viewer", "responder", "admin")
_RANK = {role: rank for rank, role in enumerate(ROLES)}

_hasher = PasswordHasher()
# Verified against when the user name is unknown, so a wrong name and a wrong password
# take the same time.
_DUMMY_HASH = _hasher.hash("review-monitor: not a user")

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")

# The acknowledgement pages carry their own small inline stylesheet.
ACK_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")

SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    # session | proxy | token
    via: str

    def can(self, role: str) -> bool:
        return _RANK[self.role] >= _RANK[role]


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def password_fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def authenticate(config: WebConfig, name: str, password: str) -> Principal | None:
    user = config.users.get(name)
    if user is None or not user.password_hash:
        # Unknown, or listed without a password (a reverse-proxy user): the same argon2
        # work as a wrong password, so the answer time does not tell them apart.
        verify_password(_DUMMY_HASH, password)
        return None
    if not verify_password(user.password_hash, password):
        return None
    return Principal(name, user.role, "session")


def session_principal(config: WebConfig, session: dict[str, Any],
                      now: datetime) -> Principal | None:
    """The session's user, while the login is younger than ``session_lifetime`` (the
    cookie itself also expires after that long unused) and the user's password hash is
    the one they logged in with."""
    name = session.get("user")
    if not isinstance(name, str):
        return None
    logged_in = session.get("at")
    if not isinstance(logged_in, int | float) or \
            not 0 <= now.timestamp() - logged_in <= config.session_lifetime.total_seconds():
        return None
    user = config.users.get(name)
    if user is None or not user.password_hash:
        return None
    if not hmac.compare_digest(str(session.get("pw", "")),
                               password_fingerprint(user.password_hash)):
        return None
    return Principal(name, user.role, "session")


def proxy_principal(config: WebConfig, client_host: str | None,
                    headers: Any) -> Principal | None:
    """The reverse proxy's user, believed only from the configured proxy addresses."""
    if not config.proxy_header or client_host not in config.proxy_addresses:
        return None
    name = str(headers.get(config.proxy_header, "")).strip()
    if not name or len(name) > 200:
        return None
    user = config.users.get(name)
    return Principal(name, user.role if user else config.proxy_role, "proxy")


def client_address(config: WebConfig, peer: str | None, forwarded_for: str | None) -> str:
    """The address a login attempt is counted against. Behind a reverse proxy listed in
    ``proxy_addresses`` it is the nearest address in X-Forwarded-For that is not one of
    the proxies (the client cannot forge the hops the proxy appended)."""
    address = peer or "unknown"
    if peer in config.proxy_addresses and forwarded_for:
        for hop in reversed([part.strip() for part in forwarded_for.split(",")]):
            if hop and hop not in config.proxy_addresses:
                return hop[:100]
    return address


def printable(text: str) -> str:
    """User-supplied text fit for one log line."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)[:200]


def token_principal(config: WebConfig, authorization: str | None) -> Principal | None:
    """``Authorization: Bearer <token>``: compared as sha256 digests in constant time,
    against every configured token (no early exit)."""
    if not authorization:
        return None
    scheme, _, presented = authorization.partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        return None
    digest = hashlib.sha256(presented.strip().encode()).hexdigest()
    found: Principal | None = None
    for name, token in config.tokens.items():
        expected = token.token[7:] if token.token.startswith("sha256:") else \
            hashlib.sha256(token.token.encode()).hexdigest()
        if hmac.compare_digest(digest, expected) and found is None:
            found = Principal(name, token.role, "token")
    return found


def csrf_token(session: dict[str, Any]) -> str:
    token = session.get("csrf")
    if not isinstance(token, str) or len(token) < 20:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def csrf_ok(session: dict[str, Any], presented: str | None) -> bool:
    expected = session.get("csrf")
    return isinstance(expected, str) and bool(presented) and \
        hmac.compare_digest(expected.encode(), (presented or "").encode())


class LoginLimiter:
    """Failed logins per key (address, user name) in a sliding window. In memory: each
    process counts its own, which still bounds guessing to N per window per process."""

    def __init__(self, attempts: int, window: timedelta) -> None:
        self.attempts = attempts
        self.window = window
        self.failures: dict[str, deque[datetime]] = {}
        # Logins are handled in worker threads.
        self.lock = threading.Lock()

    def _recent(self, key: str, now: datetime) -> deque[datetime]:
        times = self.failures.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            self.failures.pop(key, None)
        return times

    def retry_after(self, keys: list[str], now: datetime) -> int:
        """Seconds until a login may be tried again, 0 if now."""
        wait = 0.0
        with self.lock:
            for key in keys:
                times = self._recent(key, now)
                if len(times) >= self.attempts:
                    wait = max(wait, (times[0] + self.window - now).total_seconds())
        return math.ceil(wait)

    def begin(self, keys: list[str], now: datetime) -> int:
        """Check and count a login attempt at once: seconds to wait (nothing counted),
        or 0 and the attempt counted as a failure until ``release``. Checking first and
        counting after the (slow) password check let N parallel guesses all pass the
        check: the limit held only per round of the worker pool."""
        with self.lock:
            wait = 0.0
            for key in keys:
                times = self._recent(key, now)
                if len(times) >= self.attempts:
                    wait = max(wait, (times[0] + self.window - now).total_seconds())
            if wait:
                return max(1, math.ceil(wait))
            for key in keys:
                self.failures.setdefault(key, deque()).append(now)
            self._bound()
        return 0

    def release(self, keys: list[str], at: datetime) -> None:
        """The attempt counted by ``begin`` at ``at`` succeeded: it no longer counts."""
        with self.lock:
            for key in keys:
                times = self.failures.get(key)
                if times is not None and at in times:
                    times.remove(at)
                    if not times:
                        del self.failures[key]

    def _bound(self) -> None:
        if len(self.failures) > 10_000:  # keep memory bounded under a spray
            for key in list(self.failures)[:5_000]:
                del self.failures[key]

    def failed(self, keys: list[str], now: datetime) -> None:
        with self.lock:
            for key in keys:
                self._recent(key, now)
                self.failures.setdefault(key, deque()).append(now)
            if len(self.failures) > 10_000:  # keep memory bounded under a spray
                for key in list(self.failures)[:5_000]:
                    del self.failures[key]

    def succeeded(self, keys: list[str]) -> None:
        with self.lock:
            for key in keys:
                self.failures.pop(key, None)


def safe_next(target: str | None, default: str = "/") -> str:
    """A redirect target that stays on this site (no //host, no scheme)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def safe_href(url: str | None) -> str | None:
    """An http(s) URL fit for href; anything else (javascript:, data:) is dropped."""
    if not url:
        return None
    text = url.strip()
    if text.lower().startswith(("http://", "https://")) and not any(
            ord(ch) < 32 for ch in text):
        return text
    return None
