"""The outbox dispatcher: sends pending alerts, retries, dead-letters.

Each alert goes to every URL of its channel; a URL that already took it is
never sent it again (one ``Delivery`` row per URL and attempt), so a retry
after a partial failure does not repeat itself to the URLs that worked.
Quick retries happen in-process with tenacity; after that the next attempt
is persisted with exponential backoff, so a restart picks up where we were.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from monitor.config import Config
from monitor.core.schedule import alert_retry_delay
from monitor.errors import NotifyError, StoreError
from monitor.notify.channels import Channels, Target
from monitor.notify.render import dead_letter_body
from monitor.store import Alert, PendingAlert, Store

log = logging.getLogger(__name__)


@dataclass
class DispatchResult:
    sent: int = 0
    retrying: int = 0
    dead: int = 0

    def __iadd__(self, other: DispatchResult) -> DispatchResult:
        self.sent += other.sent
        self.retrying += other.retrying
        self.dead += other.dead
        return self


class Dispatcher:
    def __init__(self, store: Store, config: Config, channels: Channels,
                 clock: Callable[[], datetime], quick_wait: float = 0.5) -> None:
        self.store = store
        self.config = config.notify
        self.channels = channels
        self.clock = clock
        self.quick_wait = quick_wait
        self.last_dispatch_at: datetime | None = None

    async def dispatch_due(self, limit: int = 100) -> DispatchResult:
        """Send every alert due now (up to ``limit``), concurrently per alert."""
        now = self.clock()
        due = await asyncio.to_thread(self.store.due_alerts, now, limit)
        total = DispatchResult()
        if not due:
            self.last_dispatch_at = now
            return total
        outcomes = await asyncio.gather(*(self._send_alert(alert) for alert in due))
        for outcome in outcomes:
            total += outcome
        self.last_dispatch_at = self.clock()
        return total

    async def drain(self, max_rounds: int = 50) -> DispatchResult:
        """Send until nothing is due now (new dead-letter notices included)."""
        total = DispatchResult()
        for _ in range(max_rounds):
            result = await self.dispatch_due()
            total += result
            if result.sent + result.dead == 0:
                break
        return total

    async def _send_alert(self, alert: PendingAlert) -> DispatchResult:
        attempt = alert.attempts + 1
        try:
            targets = self.channels.targets(alert.channel)
        except NotifyError as error:
            return await self._failed(alert, attempt, str(error))
        done = await asyncio.to_thread(self.store.delivered_targets, alert.id)
        results: list[tuple[str, bool, str | None]] = []
        errors: list[str] = []
        for target in targets:
            if target.key in done:
                continue
            try:
                await self._send_with_quick_retries(target, alert)
            except NotifyError as error:
                results.append((target.key, False, str(error)))
                errors.append(f"{target.label}: {error}")
            else:
                results.append((target.key, True, None))
        now = self.clock()
        try:
            await asyncio.to_thread(self.store.record_deliveries, alert.id, attempt, now, results)
            if not errors:
                await asyncio.to_thread(self.store.mark_sent, alert.id, attempt, now)
                log.info("alert_sent id=%s key=%s channel=%s attempt=%s", alert.id,
                         alert.idempotency_key, alert.channel, attempt)
                return DispatchResult(sent=1)
        except StoreError as error:
            # The message went out but we could not record it: the key lets receivers drop
            # the repeat that the next attempt will make.
            log.error("alert_record_failed id=%s error=%s", alert.id, error)
            return DispatchResult(retrying=1)
        return await self._failed(alert, attempt, "; ".join(errors))

    async def _send_with_quick_retries(self, target: Target, alert: PendingAlert) -> None:
        timeout = self.config.send_timeout.total_seconds()
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(self.config.quick_retries),
            wait=wait_exponential(multiplier=self.quick_wait, max=5),
            retry=retry_if_exception_type(NotifyError),
            reraise=True,
        ):
            with attempt:
                try:
                    await asyncio.wait_for(target.send(alert.title, alert.body, timeout),
                                           timeout + 5)
                except TimeoutError as error:
                    raise NotifyError(f"no answer within {timeout:g}s") from error
                except NotifyError:
                    raise
                except Exception as error:  # apprise plugins raise anything
                    raise NotifyError(f"{type(error).__name__}: {error}") from error

    async def _failed(self, alert: PendingAlert, attempt: int, error: str) -> DispatchResult:
        now = self.clock()
        if attempt >= self.config.max_attempts:
            fallback = self._fallback_alert(alert, attempt, error, now)
            await asyncio.to_thread(self.store.mark_dead, alert.id, attempt, error, fallback)
            log.error("alert_dead id=%s key=%s channel=%s attempts=%s error=%s", alert.id,
                      alert.idempotency_key, alert.channel, attempt, error)
            return DispatchResult(dead=1)
        delay = alert_retry_delay(attempt, self.config.backoff_initial, self.config.backoff_max)
        await asyncio.to_thread(self.store.reschedule, alert.id, attempt, now + delay, error)
        log.warning("alert_retry id=%s key=%s channel=%s attempt=%s next_in=%ss error=%s",
                    alert.id, alert.idempotency_key, alert.channel, attempt,
                    int(delay.total_seconds()), error)
        return DispatchResult(retrying=1)

    def _fallback_alert(self, alert: PendingAlert, attempts: int, error: str,
                        now: datetime) -> Alert | None:
        fallback = self.config.fallback
        if fallback is None or fallback == alert.channel:
            return None
        key = f"{alert.idempotency_key}-dead"
        return Alert(
            mention_id=alert.mention_id, channel=fallback, idempotency_key=key,
            status="pending", purpose="dead_letter",
            title=f"Undeliverable alert: {alert.title}",
            body=dead_letter_body(alert.channel, alert.idempotency_key, attempts, error,
                                  alert.title) + f"\nref: {key}",
            attempts=0, next_attempt_at=now, created_at=now,
        )
