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
from monitor.notify.render import AlertView, Rendered, dead_letter_body, render_batch, render_view
from monitor.notify.storm import apply_rate_limit, settle_held, split_batches
from monitor.notify.targets import HELD_AFTER_HOURS, HELD_SNOOZED
from monitor.notify.views import load_views
from monitor.store import Alert, PendingAlert, Store

log = logging.getLogger(__name__)


@dataclass
class DispatchResult:
    sent: int = 0
    retrying: int = 0
    dead: int = 0
    # Held alerts not sent because their mention was handled while they waited.
    cancelled: int = 0
    # Held alerts that came due and wait on: for a snooze's end, or for business hours.
    deferred: int = 0

    def __iadd__(self, other: DispatchResult) -> DispatchResult:
        self.sent += other.sent
        self.retrying += other.retrying
        self.dead += other.dead
        self.cancelled += other.cancelled
        self.deferred += other.deferred
        return self


class Dispatcher:
    def __init__(self, store: Store, config: Config, channels: Channels,
                 clock: Callable[[], datetime], quick_wait: float = 0.5) -> None:
        self.store = store
        self.config = config.notify
        self.full_config = config
        self.channels = channels
        self.clock = clock
        self.quick_wait = quick_wait
        self.last_dispatch_at: datetime | None = None
        # What a held alert that comes due outside business hours waits for (the hours
        # AlertPlanner holds alerts made after hours for), and the first escalation delay
        # (a held alert moved on escalates that long after its new send time).
        self.hours = config.hours.hours() if config.notify.after_hours == "batch" else None
        tiers = config.escalation.tiers
        self.escalate_after = tiers[0].after if tiers else None

    async def dispatch_due(self, limit: int = 100) -> DispatchResult:
        """Send every alert due now (up to ``limit``), concurrently per alert."""
        now = self.clock()
        due = await asyncio.to_thread(self.store.due_alerts, now, limit)
        total = DispatchResult()
        if due:
            # Held alerts (business hours, rate limit) whose mention was handled while
            # they waited are not sent: nobody is woken for something already done. One
            # whose mention is snoozed waits for the snooze's end; one due while the
            # support hours are closed waits for their opening.
            settled = await asyncio.to_thread(settle_held, self.store, due, now,
                                              self.hours, self.escalate_after)
            total.cancelled, total.deferred = settled.cancelled, settled.deferred
            due = settled.send
        if not due:
            self.last_dispatch_at = now
            return total
        # Alert path (docs/alerting.md): per-channel rendering with ack links, held alerts
        # sent as one message per channel, storm protection.
        views = await asyncio.to_thread(load_views, self.store, self.full_config,
                                        [alert.id for alert in due], now,
                                        self.channels.timezones)
        singles, batches = split_batches(due)
        singles = await asyncio.to_thread(apply_rate_limit, self.store, self.config, singles,
                                          now)
        outcomes = await asyncio.gather(
            *(self._send_alert(alert, views.get(alert.id)) for alert in singles),
            *(self._send_batch(channel, alerts, views) for channel, alerts in batches.items()))
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
            if result.sent + result.dead + result.cancelled + result.deferred == 0:
                break
        return total

    async def _send_batch(self, channel: str, alerts: list[PendingAlert],
                          views: dict[int, AlertView]) -> DispatchResult:
        """Several held alerts of one channel as one message; each alert keeps its own
        Delivery rows, so a restart re-sends only to targets that did not take it."""
        why = "held for business hours" if any(a.held == HELD_AFTER_HOURS for a in alerts) \
            else "held while snoozed" if any(a.held == HELD_SNOOZED for a in alerts) \
            else "in a burst (rate limit)"
        try:
            targets = self.channels.targets(channel)
        except NotifyError as error:
            total = DispatchResult()
            for alert in alerts:
                total += await self._failed(alert, alert.attempts + 1, str(error))
            return total
        done_sets = [await asyncio.to_thread(self.store.delivered_targets, a.id)
                     for a in alerts]
        # Per alert: (target, ok, error) for each target it was sent to now; per alert, the
        # targets that failed.
        results: dict[int, list[tuple[str, bool, str | None]]] = {a.id: [] for a in alerts}
        errors: dict[int, list[str]] = {a.id: [] for a in alerts}
        for target in targets:
            # Only what this target has not taken yet: a retry after a partial failure, with
            # alerts that joined the batch since, must not repeat the ones it already has.
            todo = [a for a, done in zip(alerts, done_sets, strict=True)
                    if target.key not in done]
            if not todo:
                continue
            todo_views = [views[a.id] for a in todo if a.id in views]
            rendered = render_batch(channel, todo_views, why) if len(todo_views) > 1 else \
                render_view(todo_views[0]) if todo_views else None
            try:
                await self._send_with_quick_retries(target, todo[0], rendered)
            except NotifyError as error:
                for alert in todo:
                    results[alert.id].append((target.key, False, str(error)))
                    errors[alert.id].append(f"{target.label}: {error}")
            else:
                for alert in todo:
                    results[alert.id].append((target.key, True, None))
        now = self.clock()
        total = DispatchResult()
        for alert in alerts:
            attempt = alert.attempts + 1
            try:
                await asyncio.to_thread(self.store.record_deliveries, alert.id, attempt, now,
                                        results[alert.id])
                if not errors[alert.id]:
                    await asyncio.to_thread(self.store.mark_sent, alert.id, attempt, now)
                    total += DispatchResult(sent=1)
                    continue
            except StoreError as error:
                log.error("alert_record_failed id=%s error=%s", alert.id, error)
                total += DispatchResult(retrying=1)
                continue
            total += await self._failed(alert, attempt, "; ".join(errors[alert.id]))
        if not any(errors.values()):
            log.info("alert_batch_sent channel=%s alerts=%s why=%s", channel, len(alerts), why)
        return total

    async def _send_alert(self, alert: PendingAlert,
                          view: AlertView | None = None) -> DispatchResult:
        attempt = alert.attempts + 1
        try:
            targets = self.channels.targets(alert.channel)
        except NotifyError as error:
            return await self._failed(alert, attempt, str(error))
        rendered = render_view(view) if view is not None else None
        done = await asyncio.to_thread(self.store.delivered_targets, alert.id)
        results: list[tuple[str, bool, str | None]] = []
        errors: list[str] = []
        for target in targets:
            if target.key in done:
                continue
            try:
                await self._send_with_quick_retries(target, alert, rendered)
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

    async def _send_with_quick_retries(self, target: Target, alert: PendingAlert,
                                       rendered: Rendered | None = None) -> None:
        timeout = self.config.send_timeout.total_seconds()
        title, body, body_format = alert.title, alert.body, None
        if rendered is not None:
            if target.url is None and target.tag is None:  # the console
                title, body = rendered.title, rendered.plain or rendered.text
            else:
                title, body = rendered.title, rendered.body(target.format)
                body_format = target.format
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(self.config.quick_retries),
            wait=wait_exponential(multiplier=self.quick_wait, max=5),
            retry=retry_if_exception_type(NotifyError),
            reraise=True,
        ):
            with attempt:
                try:
                    await asyncio.wait_for(target.send(title, body, timeout, body_format),
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
            # An alert retried by hand (review-monitor alerts retry) may die again: the
            # fallback is told each time, under a key of its own.
            earlier = await asyncio.to_thread(self.store.dead_letter_count,
                                              alert.idempotency_key)
            fallback = self._fallback_alert(alert, attempt, error, now, earlier)
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
                        now: datetime, earlier: int = 0) -> Alert | None:
        fallback = self.config.fallback
        if fallback is None or fallback == alert.channel:
            return None
        key = f"{alert.idempotency_key}-dead{earlier + 1 if earlier else ''}"
        return Alert(
            mention_id=alert.mention_id, channel=fallback, idempotency_key=key,
            status="pending", purpose="dead_letter",
            title=f"Undeliverable alert: {alert.title}",
            body=dead_letter_body(alert.channel, alert.idempotency_key, attempts, error,
                                  alert.title) + f"\nref: {key}",
            attempts=0, next_attempt_at=now, created_at=now,
        )
