"""/healthz and /metrics: computed from the store on each request, so the figures are
right however many daemon processes share it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from monitor.config import Config
from monitor.errors import MonitorError
from monitor.store import Store
from monitor.web import queries

# The outbox is stalled when a due alert waited this long (the dispatcher claims due
# alerts every tick and retries push next_attempt_at ahead).
OUTBOX_STALL = timedelta(minutes=10)
# The daemon's loop is alive when its heartbeat is at most this old.
LOOP_STALE_S = 30.0


@dataclass
class LoopStatus:
    """Filled by the daemon when the web app runs inside it; empty when it runs alone."""

    in_process: bool = False
    heartbeat: float | None = None  # time.monotonic() of the last beat
    started_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def beat(self) -> None:
        self.heartbeat = time.monotonic()


def health(config: Config, store: Store, loop: LoopStatus, now: datetime) -> tuple[bool, dict[str, Any]]:
    problems: list[str] = []
    body: dict[str, Any] = {"time": now.isoformat()}
    try:
        store.ping()
        body["store"] = {"ok": True}
    except MonitorError as error:
        body["store"] = {"ok": False, "error": str(error)}
        problems.append("store unreachable")
        body.update(ok=False, problems=problems)
        return False, body
    if loop.in_process:
        age = None if loop.heartbeat is None else round(time.monotonic() - loop.heartbeat, 1)
        alive = age is not None and age <= LOOP_STALE_S
        body["loop"] = {"in_process": True, "alive": alive, "heartbeat_age_s": age}
        if not alive:
            problems.append("daemon loop not alive")
    else:
        body["loop"] = {"in_process": False}
    figures = queries.figures(store, now, counts=False)
    crawl_age = _age(figures.last_crawl_at, now)
    limit = config.web.health_crawl_age if config.web else timedelta(hours=1)
    # Never crawled counts from the daemon's start (when it runs in this process): a
    # scheduler that never ran a source was "healthy" forever.
    since = crawl_age
    if since is None and loop.in_process and loop.started_at is not None:
        since = _age(loop.started_at, now)
    crawl_ok = (since is None or not limit or since <= limit.total_seconds()
                or not any(source.enabled for source in config.sources))
    body["last_crawl"] = {"at": _iso(figures.last_crawl_at), "age_s": crawl_age,
                          "ok": crawl_ok}
    if not crawl_ok:
        problems.append(f"no crawl for {int(since or 0)}s" if crawl_age is not None
                        else f"no crawl since the start {int(since or 0)}s ago")
    stalled_s = _age(figures.oldest_due_alert_at, now)
    outbox_ok = stalled_s is None or stalled_s <= OUTBOX_STALL.total_seconds()
    body["last_dispatch"] = {"at": _iso(figures.last_dispatch_at),
                             "age_s": _age(figures.last_dispatch_at, now)}
    body["outbox"] = {"pending": figures.alerts.get("pending", 0),
                      "dead": figures.alerts.get("dead", 0),
                      "oldest_due_age_s": stalled_s if stalled_s and stalled_s > 0 else 0,
                      "ok": outbox_ok}
    if not outbox_ok:
        problems.append(f"outbox stalled: an alert due {int(stalled_s or 0)}s ago")
    # Sources whose last poll was cut off with new mentions unread (pages the next poll
    # reads past): not a problem, the next polls catch up, but worth seeing.
    configured = {source.id for source in config.sources}
    body["backlog"] = {source_id: state.backlog_pages
                       for source_id, state in sorted(store.source_states().items())
                       if state.backlog_pages and source_id in configured}
    body.update(ok=not problems, problems=problems)
    return not problems, body


def _age(at: datetime | None, now: datetime) -> float | None:
    return None if at is None else round((now - at).total_seconds(), 1)


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


class StoreCollector(Collector):
    def __init__(self, config: Config, store: Store, clock: Callable[[], datetime]) -> None:
        self.config = config
        self.store = store
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        now = self.clock()
        figures = queries.figures(self.store, now)
        # A mention's kind can change when its review is edited, so a count by kind
        # can go down: a gauge. The count by brand only ever grows: the counter.
        mentions = CounterMetricFamily("review_monitor_mentions",
                                       "Mentions stored (ingested), by brand",
                                       labels=["brand"])
        by_brand: dict[str, int] = {}
        by_kind = GaugeMetricFamily("review_monitor_mentions_by_kind",
                                    "Stored mentions by brand and their current kind",
                                    labels=["brand", "kind"])
        for brand, kind, count in figures.mentions:
            by_brand[brand] = by_brand.get(brand, 0) + count
            by_kind.add_metric([brand, kind], count)
        for brand, count in sorted(by_brand.items()):
            mentions.add_metric([brand], count)
        yield mentions
        yield by_kind
        yield GaugeMetricFamily("review_monitor_complaints_waiting",
                                "Complaints open, acknowledged or due from a snooze",
                                value=figures.waiting)
        # A counter only ever goes up: alerts that reached a final status (sent, dead,
        # cancelled). Pending ones come and go: review_monitor_outbox_depth (a gauge).
        alerts = CounterMetricFamily("review_monitor_alerts",
                                     "Alerts that reached a final status (sent, dead, "
                                     "cancelled)", labels=["status"])
        for status in sorted({"sent", "dead", "cancelled", *figures.alerts} - {"pending"}):
            alerts.add_metric([status], figures.alerts.get(status, 0))
        yield alerts
        yield CounterMetricFamily("review_monitor_alert_delivery_failures",
                                  "Failed attempts to deliver an alert to a channel URL",
                                  value=figures.delivery_failures)
        yield GaugeMetricFamily("review_monitor_outbox_depth", "Alerts waiting to be sent",
                                value=figures.alerts.get("pending", 0))
        yield CounterMetricFamily("review_monitor_sla_breaches",
                                  "Mentions whose public-reply deadline passed unanswered",
                                  value=figures.sla_breaches)
        yield GaugeMetricFamily("review_monitor_sla_overdue",
                                "Waiting mentions past their reply deadline now",
                                value=figures.sla_overdue)
        yield GaugeMetricFamily("review_monitor_incidents_open", "Open incidents",
                                value=figures.incidents_open)
        health = GaugeMetricFamily("review_monitor_source_health",
                                   "1 for the source's current health status",
                                   labels=["source", "status"])
        failures = GaugeMetricFamily("review_monitor_source_consecutive_failures",
                                     "Failed runs in a row", labels=["source"])
        success = GaugeMetricFamily("review_monitor_source_last_success_timestamp_seconds",
                                    "Unix time of the last successful run", labels=["source"])
        duration = GaugeMetricFamily("review_monitor_source_crawl_duration_seconds",
                                     "Duration of the last run", labels=["source"])
        found = CounterMetricFamily("review_monitor_source_mentions",
                                    "New mentions found by the source", labels=["source"])
        backlog = GaugeMetricFamily("review_monitor_source_backlog_pages",
                                    "Pages the next poll reads past, after a poll cut off "
                                    "with new mentions unread (0: caught up)",
                                    labels=["source"])
        for source in queries.sources(self.store, self.config):
            for status in ("ok", "failing", "blocked", "silent", "never", "disabled"):
                health.add_metric([source.id, status], 1.0 if source.health == status else 0.0)
            state = source.state
            failures.add_metric([source.id], state.consecutive_failures)
            if state.last_success_at is not None:
                success.add_metric([source.id], state.last_success_at.timestamp())
            if state.last_duration_s is not None:
                duration.add_metric([source.id], state.last_duration_s)
            found.add_metric([source.id], state.mentions_total)
            backlog.add_metric([source.id], state.backlog_pages or 0)
        yield from (health, failures, success, duration, found, backlog)
        if figures.last_crawl_at is not None:
            yield GaugeMetricFamily("review_monitor_last_crawl_timestamp_seconds",
                                    "Unix time of the last crawl of any source",
                                    value=figures.last_crawl_at.timestamp())


def metrics_text(config: Config, store: Store, clock: Callable[[], datetime]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(config, store, clock))
    return generate_latest(registry)
