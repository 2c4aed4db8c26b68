"""Send a rendered digest: one MIME message (text and HTML alternatives, charts as inline
images) over SMTP to each mail server the recipients name.

Recipients are apprise ``mailto://`` / ``mailtos://`` URLs (host, port, user, password,
TLS mode, from and to are read with apprise's own URL parsing, so its provider
shortcuts such as ``mailtos://user:pass@gmail.com`` work too) or plain addresses sent
through the ``[smtp]`` server."""

from __future__ import annotations

import hashlib
import logging
import smtplib
import ssl
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from typing import TYPE_CHECKING, Literal

from monitor.config import Config, DigestConfig, SmtpConfig
from monitor.digest.render import CHART_IDS, Rendered
from monitor.errors import ConfigError, NotifyError

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

log = logging.getLogger(__name__)

Tls = Literal["starttls", "ssl", "none"]


@dataclass(frozen=True)
class SmtpTarget:
    """One mail server and the recipients it gets the digest for."""

    host: str
    port: int
    tls: Tls
    sender: str
    # Every address the server is given (the envelope): To, Cc and Bcc.
    recipients: tuple[str, ...]
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    # The message's To and Cc headers (empty To: every recipient is a To). Bcc addresses
    # are only in ``recipients``: never in a header the others read.
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """host:port for logs and errors: never a user name or password."""
        return f"{self.host}:{self.port}"

    @property
    def key(self) -> str:
        """Stable id of this server and recipient list, recorded once it took the digest."""
        text = f"{self.host}:{self.port}:{self.user or ''}:{','.join(sorted(self.recipients))}"
        return hashlib.sha256(text.encode()).hexdigest()[:32]


class SendStopped(Exception):  # noqa: N818 - an intent, like Scrapy's CloseSpider
    """Shutdown stopped a digest before a mail server took it: nothing was delivered by this
    attempt, and the run is sent again at the next start. Not a NotifyError: no failure to
    report, no retry delay."""


class SendGuard:
    """The one moment a digest is handed over, shared by the sending thread and shutdown.

    A mail server takes a message when it reads the line ``.`` that ends SMTP DATA; before
    that, a connection that closes cancels the transaction (RFC 5321 3.8). The sending
    thread ``commit()``s just before writing that line, shutdown ``stop()``s at the end of
    its grace period, and the lock makes them exclusive: either the line is never written
    (the run can safely go out again) or shutdown knows it was (delivery unknown: the run
    stays ``sending`` and becomes ``interrupted``, never sent twice)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.closed = False  # no new runs (the daemon is stopping)
        self.stopped = False  # and none in flight may hand a message over any more
        self.committed = False  # the end of DATA was (being) written, no answer recorded
        self.run_id: int | None = None  # the digest_run row this process holds

    def hold(self, run_id: int) -> None:
        with self._lock:
            self.run_id = run_id
            if self.closed or self.stopped:
                raise SendStopped("the daemon is stopping")

    def check(self) -> None:
        with self._lock:
            if self.stopped:
                raise SendStopped("the daemon is stopping")

    def commit(self) -> None:
        with self._lock:
            if self.stopped:
                raise SendStopped("stopped before the mail server took the digest")
            self.committed = True

    def settle(self) -> None:
        """The server's answer to the end of DATA is in (and recorded), or never came."""
        with self._lock:
            self.committed = False

    def release(self) -> None:
        with self._lock:
            self.run_id = None
            self.committed = False

    def close(self) -> None:
        with self._lock:
            self.closed = True

    def stop(self) -> tuple[int | None, bool]:
        """(the row held, whether a message may be with a server); no commit after this."""
        with self._lock:
            self.closed = self.stopped = True
            return self.run_id, self.committed


class _CommitPoint(smtplib.SMTP):
    """smtplib's DATA, with ``commit`` called between the message and its final ``.``."""

    commit: Callable[[], None] | None = None
    _in_data = False

    def data(self, msg: ReadableBuffer | str) -> tuple[int, bytes]:
        self._in_data = True
        try:
            return super().data(msg)
        finally:
            self._in_data = False

    def send(self, s: ReadableBuffer | str) -> None:
        end = b".\r\n"
        if self._in_data and self.commit is not None and isinstance(s, bytes) \
                and s.endswith(b"\r\n" + end):
            super().send(s[:-len(end)])  # the message: the server cannot deliver it yet
            try:
                self.commit()
            except SendStopped:
                self.close()  # the connection ends mid-DATA: the server drops the message
                raise
            super().send(end)
            return
        super().send(s)


class _Smtp(_CommitPoint):
    pass


class _SmtpSsl(_CommitPoint, smtplib.SMTP_SSL):
    pass


def smtp_targets(digest: DigestConfig, smtp: SmtpConfig | None, where: str = "digests") \
        -> list[SmtpTarget]:
    """The servers to send to; ConfigError lists every recipient that cannot be used."""
    problems: list[str] = []
    targets: list[SmtpTarget] = []
    plain: list[str] = []
    for index, entry in enumerate(digest.recipients):
        location = f"{where}.recipients[{index}]"
        value = entry.strip()
        if value.lower().startswith(("mailto://", "mailtos://")):
            try:
                targets.append(_from_apprise(value))
            except ValueError as error:
                problems.append(f"{location}: {error}")
        elif "://" not in value and _is_address(value):
            plain.append(value)
        else:
            problems.append(f"{location}: use a mailto:// or mailtos:// URL or an e-mail address")
    if plain:
        if smtp is None:
            problems.append(f"{where}.recipients: plain addresses need an [smtp] section "
                            "(or write them as mailto:// URLs)")
        else:
            targets.append(SmtpTarget(
                smtp.host, smtp.port, smtp.tls, smtp.sender, _unique(plain),
                smtp.user or None, smtp.password or None, smtp.timeout.total_seconds()))
    if not digest.recipients:
        problems.append(f"{where}.recipients: add at least one mailto:// URL or e-mail address")
    if problems:
        raise ConfigError(problems)
    return targets


def validate_digests(config: Config, path: str) -> None:
    """Every digest's recipients can be used: one line per problem, all at once."""
    problems: list[str] = []
    for index, digest in enumerate(config.digests):
        try:
            smtp_targets(digest, config.smtp, f"digests[{index}]")
        except ConfigError as error:
            problems.extend(f"{path}: {problem}" for problem in error.problems)
    if problems:
        raise ConfigError(problems)


def _unique(addresses: Iterable[str]) -> tuple[str, ...]:
    """Each address once (compared without case), in the order given: an address listed
    twice must not get the digest twice."""
    seen: dict[str, str] = {}
    for address in addresses:
        seen.setdefault(address.strip().casefold(), address.strip())
    return tuple(seen.values())


def _is_address(value: str) -> bool:
    _name, address = parseaddr(value)
    local, _, domain = address.partition("@")
    return bool(local and domain and "." in domain)


def _from_apprise(url: str) -> SmtpTarget:
    from apprise.plugins.email import NotifyEmail

    try:
        parsed = NotifyEmail.parse_url(url)
        if not parsed:
            raise ValueError("not a valid mailto URL")
        plugin = NotifyEmail(**parsed)
    except Exception as error:  # apprise raises its own types (and TypeError) here
        reason = str(error).strip().splitlines()[0] if str(error).strip() else "unreadable"
        raise ValueError(f"not a usable mailto URL: {reason}") from None
    to = _unique(address for _name, address in plugin.targets)
    cc = tuple(address for address in _unique(sorted(plugin.cc))
               if address.casefold() not in {known.casefold() for known in to})
    recipients = _unique([*to, *cc, *sorted(plugin.bcc)])
    if not recipients:
        raise ValueError("no recipient: add ?to=someone@example.com")
    if not 0 < (plugin.port or 25) < 65536:
        raise ValueError(f"port {plugin.port} is out of range (1 to 65535)")
    mode = str(getattr(plugin, "secure_mode", "insecure"))
    tls: Tls = "ssl" if mode == "ssl" else "starttls" if plugin.secure else "none"
    name, address = plugin.from_addr[0], plugin.from_addr[1]
    sender = formataddr((str(name), str(address))) if name else str(address)
    port = int(plugin.port or (465 if tls == "ssl" else 587 if tls == "starttls" else 25))
    return SmtpTarget(str(plugin.smtp_host), port, tls, sender, recipients,
                      plugin.user or None, plugin.password or None,
                      float(getattr(plugin, "socket_read_timeout", 30) or 30), to=to, cc=cc)


def build_message(rendered: Rendered, target: SmtpTarget, message_id: str, now: datetime) \
        -> EmailMessage:
    """multipart/alternative: text/plain, then multipart/related (text/html + PNGs)."""
    message = EmailMessage()
    message["Subject"] = rendered.subject
    message["From"] = target.sender
    message["To"] = ", ".join(target.to or target.recipients)
    if target.cc:
        message["Cc"] = ", ".join(target.cc)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id
    # Keeps out-of-office replies away and tells filters what this is.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    html_part = next(part for part in message.iter_parts()
                     if part.get_content_type() == "text/html")
    for name, png in rendered.images.items():
        html_part.add_related(png, maintype="image", subtype="png", cid=f"<{CHART_IDS[name]}>",
                              filename=f"{name}.png", disposition="inline")
    return message


def message_id(scope: str, week: str, sender: str) -> str:
    """The same for every send of one digest, so a mail client shows a repeat once."""
    _name, address = parseaddr(sender)
    domain = address.partition("@")[2] or "review-monitor.invalid"
    safe_scope = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in scope)
    return f"<digest.{safe_scope}.{week}@{domain}>"


def send_message(message: EmailMessage, target: SmtpTarget,
                 commit: Callable[[], None] | None = None) -> int:
    """Deliver to one server; the number of recipients it accepted. NotifyError (one line,
    no secrets) when it took none. ``commit`` is called just before the end of DATA (the
    moment the server takes the message); SendStopped from it ends the connection first."""
    context = ssl.create_default_context()
    try:
        client: _CommitPoint
        if target.tls == "ssl":
            client = _SmtpSsl(target.host, target.port, timeout=target.timeout,
                              context=context)
        else:
            client = _Smtp(target.host, target.port, timeout=target.timeout)
        client.commit = commit
        with client:
            if target.tls == "starttls":
                client.starttls(context=context)
            if target.user:
                client.login(target.user, target.password or "")
            sender = Address(addr_spec=parseaddr(target.sender)[1]).addr_spec
            refused = client.send_message(message, from_addr=sender,
                                          to_addrs=list(target.recipients))
    except smtplib.SMTPAuthenticationError as error:
        raise NotifyError(f"SMTP {target.label}: login refused ({error.smtp_code})") from None
    except smtplib.SMTPRecipientsRefused:
        raise NotifyError(f"SMTP {target.label}: every recipient was refused") from None
    except smtplib.SMTPResponseException as error:
        raise NotifyError(f"SMTP {target.label}: {error.smtp_code} "
                          f"{_text(error.smtp_error)}") from None
    except (smtplib.SMTPException, OSError, ValueError) as error:
        raise NotifyError(f"SMTP {target.label}: {_text(error) or type(error).__name__}") \
            from None
    for address, (code, reply) in refused.items():
        log.warning("digest_recipient_refused server=%s recipient=%s code=%s reply=%s",
                    target.label, address, code, _text(reply))
    return len(target.recipients) - len(refused)


def _text(value: object) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return " ".join(text.split())[:300]
