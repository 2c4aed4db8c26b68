"""Channels: a name in the config → apprise URLs, plus the built-in console channel."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

import apprise

from monitor.config import CONSOLE_CHANNEL, Config
from monitor.errors import ConfigError, NotifyError
from monitor.store import target_hash


def validate_channel_urls(config: Config, path: str) -> None:
    """Every channel URL must be one apprise understands (checked without sending)."""
    problems = []
    for name, channel in config.channels.items():
        for index, url in enumerate(channel.urls):
            if apprise.Apprise.instantiate(url) is None:
                scheme = url.split("://", 1)[0] if "://" in url else "(no scheme)"
                problems.append(
                    f"{path}: channels.{name}.urls[{index}]: apprise does not understand a "
                    f"'{scheme}://' URL"
                )
    if problems:
        raise ConfigError(problems)


class Target:
    """One destination: an apprise URL, or the console."""

    def __init__(self, url: str | None, stream: Callable[[], TextIO] | None = None) -> None:
        self.url = url
        self.key = target_hash(url) if url else "console"
        self._stream = stream or (lambda: sys.stdout)
        self._apprise: apprise.Apprise | None = None
        if url is not None:
            self._apprise = apprise.Apprise()
            if not self._apprise.add(url):
                raise NotifyError("apprise rejected a channel URL (check the config)")

    @property
    def label(self) -> str:
        """How logs name this target: the scheme and host, never credentials."""
        if self._apprise is None:
            return "console"
        service = self._apprise[0]
        return str(service.url(privacy=True)).split("?", 1)[0]

    async def send(self, title: str, body: str, timeout: float) -> None:
        """Deliver once; NotifyError with a one-line reason if it did not arrive."""
        if self._apprise is None:
            stream = self._stream()
            stream.write(f"\n=== ALERT {title}\n{body}\n")
            stream.flush()
            return
        result = await self._apprise.async_notify(body=body, title=title, timeout=timeout)
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

    def targets(self, channel: str) -> list[Target]:
        try:
            return self._targets[channel]
        except KeyError:
            raise NotifyError(f"no channel '{channel}' in the config") from None
