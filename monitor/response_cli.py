"""``review-monitor health`` and ``review-monitor sla``: the reply side at a glance.

    review-monitor health --config F      every source's health status and since when
    review-monitor sla --config F [--limit N]  open complaints' reply clocks, soonest due first
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlmodel import col


def add_parser(subparsers: Any) -> None:
    health = subparsers.add_parser(
        "health", help="show every source's health (ok, failing, blocked, silent)",
        description="Each source's last recorded health status (see docs/response.md), "
                    "since when, its last crawl and why; exit 1 when one is not ok.")
    health.add_argument("--config", "-c", required=True, type=Path)
    sla = subparsers.add_parser(
        "sla", help="show the reply clocks of unanswered complaints",
        description="Complaints without a public reply yet, soonest due first: deadline (in "
                    "the [hours] time zone), business time left, reminders sent.")
    sla.add_argument("--config", "-c", required=True, type=Path)
    sla.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")


def run(args: argparse.Namespace, now: datetime | None = None) -> int:
    from monitor.config import load_config
    from monitor.store import Store

    config = load_config(args.config)
    store = Store(config.store.url)
    store.upgrade()
    moment = now or datetime.now(UTC)
    if args.command == "health":
        return _health(store, config, moment)
    return _sla(store, config, moment, args.limit)


def _health(store: Any, config: Any, now: datetime) -> int:
    from monitor.core.sla import describe
    from monitor.health import SourceHealth

    statuses = {status.source_id: status for status in SourceHealth(store, config).statuses()}
    states = store.source_states()
    bad = 0
    print(f"{'source':<24} {'health':<8} {'since':<17} {'last run':<13} reason")
    for source in config.sources:
        status = statuses.get(source.id)
        state = states.get(source.id)
        health = status.status if status else "ok"
        since = f"{status.since:%Y-%m-%d %H:%M}" if status and status.since else "-"
        last = f"{state.last_status} {describe(now - state.last_fetch_at)} ago" \
            if state and state.last_fetch_at else "never"
        reason = (status.reason or "") if status and health != "ok" else ""
        if state and state.backlog_pages:  # a cut-off poll: the next one reads on past it
            reason = f"{reason}; " if reason else ""
            reason += f"catching up: resumes past page {state.backlog_pages}"
        if not source.enabled:
            reason = "(disabled) " + reason
        bad += health != "ok"
        print(f"{source.id:<24} {health:<8} {since:<17} {last:<13} {reason}".rstrip())
    return 1 if bad else 0


def _sla(store: Any, config: Any, now: datetime, limit: int) -> int:
    from monitor.core.sla import business_time_left, describe
    from monitor.sla import RUNNING, support_hours
    from monitor.store import Mention

    hours = support_hours(config)
    with store.session() as session:
        rows = session.scalars(select(Mention).where(
            col(Mention.status).in_(RUNNING), col(Mention.sla_due_at).is_not(None),
            col(Mention.first_reply_at).is_(None), col(Mention.kind) == "complaint",
        ).order_by(col(Mention.sla_due_at)).limit(limit)).all()
    print(f"{'id':>7} {'severity':<9} {'due (' + hours.timezone + ')':<22} {'left':<10} "
          f"{'stage':<6} {'source':<16} title")
    for mention in rows:
        due = mention.sla_due_at
        left = describe(business_time_left(hours, now, due)) if due > now else "overdue"
        title = (mention.title or mention.body or "").replace("\n", " ")[:50]
        print(f"{mention.id:>7} {mention.severity:<9} "
              f"{due.astimezone(hours.zone):%a %Y-%m-%d %H:%M}   {left:<10} "
              f"{mention.sla_stage:<6} {mention.source_id:<16} {title}")
    if not rows:
        print("no complaint is waiting for a public reply")
    return 0
