"""Channels: a name in the config → apprise URLs, plus the built-in console channel."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import TextIO

import apprise

from monitor.config import CONSOLE_CHANNEL, Config
from monitor.errors import ConfigError, NotifyError
from monitor.store import target_hash


def _understood(url: str) -> bool:
    """Whether apprise can build a service from ``url``. Quietly: apprise logs the URL
    it cannot parse as it was written ("Could not load Slack URL: slack://T0KEN"), and
    a URL is exactly where the secret is; our own line names the key instead."""
    logger = logging.getLogger("apprise")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        return apprise.Apprise.instantiate(url) is not None
    finally:
        logger.setLevel(level)


def validate_channel_urls(config: Config, path: str) -> None:
    """Every channel URL must be one apprise understands (checked without sending)."""
    problems = []
    for name, channel in config.channels.items():
        for index, url in enumerate(channel.urls):
            if not _understood(url):
                scheme = url.split("://", 1)[0] if "://" in url else "(no scheme)"
                problems.append(
                    f"{path}: channels.{name}.urls[{index}]: apprise does not understand a "
                    f"'{scheme}://' URL"
                )
    # The alert path's own URLs: members' channels and URLs written in routes/escalation.
    for name, member in config.members.items():
        for index, url in enumerate(member.urls):
            if not _understood(url):
                problems.append(f"{path}: members.{name}.urls[{index}]: apprise does not "
                                "understand this URL")
    written = [(f"routes[{i}].targets", t) for i, route in enumerate(config.routes)
               for t in route.all_targets()]
    written += [(f"escalation.tiers[{i}].targets", t)
                for i, tier in enumerate(config.escalation.tiers) for t in tier.targets]
    for key, target in written:
        if "://" in target and not _understood(target):
            problems.append(f"{path}: {key}: apprise does not understand a URL there")
    if config.notify.apprise_config:
        apprise_config = apprise.AppriseConfig()
        if not apprise_config.add(config.notify.apprise_config) or \
                not apprise_config.services():
            problems.append(f"{path}: notify.apprise_config: no readable apprise "
                            f"configuration at {config.notify.apprise_config}")
    for name, schedule in config.oncall.items():
        if schedule.calendar:
            from datetime import UTC, datetime
            from pathlib import Path
            from zoneinfo import ZoneInfo

            from monitor.notify.targets import load_calendar

            try:
                load_calendar(Path(schedule.calendar), {m: m for m in config.members},
                              ZoneInfo(schedule.timezone), datetime.now(UTC))
            except ConfigError as error:
                problems.append(f"{path}: oncall.{name}.calendar: {error}")
    if problems:
        raise ConfigError(problems)


# apprise schemes that are SMS (or pager-like) services: they get the short text form.
SMS_SCHEMES = frozenset({
    "sns", "twilio", "nexmo", "vonage", "sinch", "clicksend", "msg91", "d7sms", "plivo",
    "bulksms", "bulkvs", "kavenegar", "msgbird", "smseagle", "smsmgr", "seven", "burstsms",
    "africastalking", "brevo", "httpsms", "freemobile", "voipms", "signal", "dapnet",
})
HTML_SCHEMES = frozenset({"mailto", "mailtos", "ses", "sendgrid", "mailgun", "sparkpost",
                          "resend", "smtp2go", "office365", "email"})


def body_format_for(url: str | None) -> str:
    """"html" for e-mail, "text" for SMS and the console, else "markdown" (chat)."""
    if url is None:
        return "text"
    scheme = url.split("://", 1)[0].lower()
    if scheme in HTML_SCHEMES:
        return "html"
    if scheme in SMS_SCHEMES:
        return "text"
    return "markdown"


class Target:
    """One destination: an apprise URL, the entries of an apprise config with a tag, or
    the console. ``format`` is the message form it gets (html, markdown or text)."""

    def __init__(self, url: str | None, stream: Callable[[], TextIO] | None = None,
                 tag: str | None = None, apprise_config: str | None = None) -> None:
        self.url = url
        self.tag = tag
        self.key = target_hash(url) if url else (f"tag:{tag}" if tag else "console")
        self.format = "markdown" if tag else body_format_for(url)
        self._stream = stream or (lambda: sys.stdout)
        self._apprise: apprise.Apprise | None = None
        if tag is not None:
            config = apprise.AppriseConfig()
            if not config.add(apprise_config or ""):
                raise NotifyError("apprise could not read notify.apprise_config")
            self._apprise = apprise.Apprise()
            self._apprise.add(config)
        elif url is not None:
            self._apprise = apprise.Apprise()
            if not self._apprise.add(url):
                raise NotifyError("apprise rejected a channel URL (check the config)")
            if self.format == "markdown" and "overflow=" not in url.lower():
                # A chat service refuses a message over its limit (Discord 2,000
                # characters, Telegram 4,096) and apprise passes it on as it is: a night's
                # batch would fail every retry and die. Split it instead, unless the URL
                # says otherwise (?overflow=truncate).
                self._apprise[0].overflow_mode = apprise.OverflowMode.SPLIT

    @property
    def label(self) -> str:
        """How logs name this target: the scheme and host, never credentials."""
        if self._apprise is None:
            return "console"
        if self.tag is not None:
            return f"tag:{self.tag}"
        # Only the scheme and host: a webhook's path often is its secret
        # (json://hooks.example.com/T0KEN), and privacy mode masks passwords, not paths.
        service = self._apprise[0]
        masked = str(service.url(privacy=True)).split("?", 1)[0]
        scheme, _, rest = masked.partition("://")
        host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
        return f"{scheme}://{host}" if host else f"{scheme}://"

    async def send(self, title: str, body: str, timeout: float,
                   body_format: str | None = None) -> None:
        """Deliver once; NotifyError with a one-line reason if it did not arrive."""
        if self._apprise is None:
            stream = self._stream()
            stream.write(f"\n=== ALERT {title}\n{body}\n")
            stream.flush()
            return
        options: dict[str, object] = {}
        if body_format:
            options["body_format"] = body_format
        if self.tag is not None:
            options["tag"] = self.tag
        result = await self._apprise.async_notify(body=body, title=title, timeout=timeout,
                                                  **options)
        if not result:
            raise NotifyError(_reason(result))


def _reason(result: object) -> str:
    messages = [
        entry.message
        for entry in getattr(result, "logs", lambda: [])()
        if getattr(entry, "level", "") in ("ERROR", "WARNING")
    ]
    status = getattr(getattr(result, "status", None), "name", "FAILURE")
    reason = messages[-1] if messages else f"apprise reported {status}"
    return reason.splitlines()[0][:300]


class Channels:
    """Targets for each configured channel name."""

    def __init__(self, config: Config, stream: Callable[[], TextIO] | None = None) -> None:
        self._targets: dict[str, list[Target]] = {
            name: [Target(url, stream) for url in channel.urls]
            for name, channel in config.channels.items()
        }
        self._targets.setdefault(CONSOLE_CHANNEL, [Target(None, stream)])
        # The alert path's targets (monitor/notify/targets.py): members, URLs, tags.
        self.timezones: dict[str, str] = {}
        for name, member in config.members.items():
            self._targets[f"member:{name}"] = [Target(url, stream) for url in member.urls]
            if member.timezone:  # else the team's [hours] zone
                self.timezones[f"member:{name}"] = member.timezone
        written = [target for route in config.routes for target in route.all_targets()]
        written += [target for tier in config.escalation.tiers for target in tier.targets]
        for target in written:
            if "://" in target:
                from monitor.notify.targets import url_channel

                self._targets.setdefault(url_channel(target), [Target(target, stream)])
            elif target.startswith("tag:"):
                self._targets.setdefault(target, [Target(
                    None, stream, tag=target[4:], apprise_config=config.notify.apprise_config)])

    def targets(self, channel: str) -> list[Target]:
        try:
            return self._targets[channel]
        except KeyError:
            raise NotifyError(f"no channel '{channel}' in the config") from None

    def timezone(self, channel: str) -> str | None:
        """A member's own time zone (deadlines in their alerts are shown in it)."""
        return self.timezones.get(channel)
