"""Signed one-click acknowledgement links: ``{base_url}/ack/{token}``.

The token is ``ALERT_ID.EXPIRES.SIGNATURE``: the alert id, the expiry as a Unix time and
an HMAC-SHA256 (key ``[web].secret``) of both, URL-safe base64. It works without logging
in, cannot be forged or moved to another alert, and stops working at the expiry; the
clock is a parameter, so tests and the server decide "now" the same way.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from monitor.config import Config
from monitor.errors import MonitorError

_CONTEXT = b"review-monitor ack v1:"
_NUMBER = re.compile(r"[0-9]{1,18}\Z")


class AckLinkError(MonitorError):
    """A link that is malformed, forged or expired; the message says which."""


@dataclass(frozen=True)
class AckToken:
    alert_id: int
    expires: datetime


def _signature(secret: str, alert_id: int, expires: int) -> str:
    digest = hmac.new(secret.encode(), _CONTEXT + f"{alert_id}.{expires}".encode(),
                      hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign(secret: str, alert_id: int, expires: datetime) -> str:
    stamp = int(expires.timestamp())
    return f"{alert_id}.{stamp}.{_signature(secret, alert_id, stamp)}"


def verify(secret: str, token: str, now: datetime) -> AckToken:
    """The alert a token acknowledges; AckLinkError if it is not genuine or expired."""
    parts = token.strip().split(".")
    # ASCII digits that fit a 64-bit id and a Unix time (a 5,000-digit number made int()
    # raise, a page with a traceback instead of "malformed").
    if len(parts) != 3 or not all(_NUMBER.match(part) for part in parts[:2]):
        raise AckLinkError("this acknowledgement link is incomplete or malformed")
    alert_id, stamp = int(parts[0]), int(parts[1])
    if not secret or not hmac.compare_digest(parts[2], _signature(secret, alert_id, stamp)):
        raise AckLinkError("this acknowledgement link is not genuine (wrong signature)")
    expires = datetime.fromtimestamp(stamp, UTC)
    if now >= expires:
        raise AckLinkError(f"this acknowledgement link expired at {expires:%Y-%m-%d %H:%M} UTC;"
                           f" acknowledge in the inbox or with 'review-monitor ack {alert_id}'")
    return AckToken(alert_id, expires)


def ack_url(config: Config, alert_id: int, now: datetime,
            lifetime: timedelta | None = None) -> str | None:
    """The link for an alert, or None when the daemon serves no web side ([web] with a
    secret): the message then names the CLI command instead."""
    web = config.web
    if web is None or not web.secret:
        return None
    expires = now + (lifetime or config.escalation.ack_link_lifetime)
    return f"{web.base_url.rstrip('/')}/ack/{sign(web.secret, alert_id, expires)}"
