"""``review-monitor routes test``, ``review-monitor oncall``, ``review-monitor ack`` and
``review-monitor alerts [retry]``: the alert path from the command line
(docs/alerting.md)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from monitor.core.classify import Kind, Severity


def add_parser(sub: Any) -> None:
    routes = sub.add_parser("routes", help="which channels and on-call member a sample "
                                           "mention would reach")
    routes_sub = routes.add_subparsers(dest="routes_command", required=True)
    test = routes_sub.add_parser("test", help="route a sample mention")
    test.add_argument("--config", "-c", type=Path, required=True)
    test.add_argument("--brand", help="brand key from [brands] (default: the first)")
    test.add_argument("--source", default="", help="source id")
    test.add_argument("--kind", choices=[k.value for k in Kind], default="complaint")
    test.add_argument("--severity", choices=[s.value for s in Severity], default="normal")
    test.add_argument("--lang", default=None, help="language code, e.g. en")
    test.add_argument("--incident", action="store_true", help="an incident alert")
    test.add_argument("--text", default=None,
                      help="classify this text (brand, kind, severity, language) instead")
    test.add_argument("--at", default=None, help="when (ISO 8601; default now)")

    oncall = sub.add_parser("oncall", help="who is on call now and next")
    oncall.add_argument("--config", "-c", type=Path, required=True)
    oncall.add_argument("--schedule", default=None, help="one [oncall.NAME] schedule")
    oncall.add_argument("--at", default=None, help="when (ISO 8601; default now)")

    ack = sub.add_parser("ack", help="acknowledge an alert (stops its escalation)")
    ack.add_argument("alert_id", type=int,
                     help="the alert id (the number after /ack/ in its link)")
    ack.add_argument("--config", "-c", type=Path, required=True)
    ack.add_argument("--by", default=None, help="who acknowledges (default: $USER)")

    alerts = sub.add_parser("alerts", help="list outbox alerts (default: the dead ones); "
                                           "'alerts retry' sends dead ones again")
    # Not required here: 'alerts retry --config F' may give it to the subcommand instead.
    alerts.add_argument("--config", "-c", type=Path, default=None)
    alerts.add_argument("--status", choices=["dead", "pending", "sent", "cancelled", "all"],
                        default="dead", help="which alerts (default: dead)")
    alerts.add_argument("--limit", type=int, default=50, help="at most N (default 50)")
    alerts.add_argument("--json", action="store_true", help="JSON Lines, one alert a line")
    alerts_sub = alerts.add_subparsers(dest="alerts_command")
    retry = alerts_sub.add_parser("retry", help="put dead alerts back in the outbox, due now, "
                                                "with the same idempotency key")
    # Either place: 'alerts --config F retry 7' or 'alerts retry --config F 7' (SUPPRESS
    # keeps the subcommand from overwriting a --config given before it with None).
    retry.add_argument("--config", "-c", type=Path, default=argparse.SUPPRESS)
    retry.add_argument("alert_ids", type=int, nargs="*", metavar="ID", help="dead alert ids")
    retry.add_argument("--dead", action="store_true", help="every dead alert")


def run(args: argparse.Namespace) -> int:
    from monitor.cli import _load

    if args.command == "alerts":
        return _alerts(args, _load)
    config = _load(args.config)
    if args.command == "ack":
        return _ack(config, args)
    at = _when(getattr(args, "at", None))
    from monitor.notify.targets import Targets

    targets = Targets(config, args.config.parent, at)
    if args.command == "oncall":
        return _oncall(targets, args.schedule, at)
    return _routes_test(config, targets, args, at)


def _when(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        # A usage problem: exit 2 like every other bad argument (SystemExit(str) is 1).
        print(f"error: --at '{text}' is not an ISO 8601 date-time", file=sys.stderr)
        raise SystemExit(2) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _local(at: datetime, zone: str) -> str:
    local = at.astimezone(ZoneInfo(zone))
    return f"{local:%a %Y-%m-%d %H:%M} {local.tzname()}"


def _oncall(targets: Any, only: str | None, at: datetime) -> int:
    names = [only] if only else list(targets.schedules)
    if not names:
        print("no [oncall] schedules in the config")
        return 1
    for name in names:
        if name not in targets.schedules:
            print(f"error: no schedule '{name}' in [oncall]", file=sys.stderr)
            return 2
        schedule = targets.schedules[name]
        zone = schedule.timezone
        now = targets.who(name, at)
        nxt = targets.next(name, at)
        print(f"{name} ({zone}):")
        if now is None:
            print("  now:  nobody on call" + (" (outside the schedule's hours)"
                                             if schedule.hours is not None else ""))
        else:
            print(f"  now:  {now.member} ({now.why}) until {_local(now.end, zone)}")
        if nxt is None:
            print("  next: nobody within a year")
        else:
            print(f"  next: {nxt.member} from {_local(nxt.start, zone)} "
                  f"until {_local(nxt.end, zone)}")
    return 0


def _routes_test(config: Any, targets: Any, args: argparse.Namespace, at: datetime) -> int:
    from monitor.core.routing import Sample, match_brand
    from monitor.notify.targets import AlertPlanner

    brand = args.brand or next(iter(config.brands), None)
    kind, severity, language = Kind(args.kind), Severity(args.severity), args.lang
    if args.text is not None:
        from monitor.app import make_classifiers
        from monitor.core.classify import Document

        keywords = [(key, tuple(b.keywords)) for key, b in config.brands.items()]
        source_brand = next((s.brand for s in config.sources if s.id == args.source), None)
        brand = args.brand or match_brand(args.text, source_brand, keywords)
        classifiers = make_classifiers(config)
        verdict = (classifiers.get(brand) or classifiers[None]).classify(
            Document(text=args.text, language=args.lang))
        kind, severity = verdict.kind, verdict.severity
        language = verdict.language or args.lang
        print(f"classified: brand={brand} kind={kind.value} severity={severity.value} "
              f"language={language} ({'; '.join(verdict.reasons) or 'no reasons'})")
    if brand is not None and brand not in config.brands:
        print(f"error: no brand '{brand}' in [brands]", file=sys.stderr)
        return 2
    sample = Sample(brand, args.source, kind, severity, language, args.incident)
    planned = AlertPlanner(config, targets).plan(sample, at)
    open_now = targets.hours.is_open(at)
    print(f"at {_local(at, config.hours.timezone)}: support hours "
          f"{'open' if open_now else 'closed'} ({targets.hours.describe()})")
    if not planned:
        print("no route matches: stored, nobody alerted")
        return 0
    for plan in planned:
        who = f" -> {plan.recipient} (on call)" if plan.target.startswith("oncall:") else \
            (f" -> {plan.recipient}" if plan.recipient else "")
        when = "now" if plan.send_at is None or plan.send_at <= at else \
            f"held until {_local(plan.send_at, config.hours.timezone)}"
        escalate = f", escalates at {_local(plan.escalate_at, config.hours.timezone)} " \
                   "unless acknowledged" if plan.escalate_at else ""
        shown = plan.channel if "://" not in plan.target else f"{plan.channel} (URL)"
        print(f"  {shown}{who} [{plan.rule}]: {when}{escalate}")
    return 0


def _ack(config: Any, args: argparse.Namespace) -> int:
    import getpass

    from monitor.notify.escalation import UnknownAlertError, acknowledge_alert
    from monitor.store import Store

    by = args.by
    if not by:
        try:
            by = getpass.getuser()
        except (KeyError, OSError):  # a container user without a passwd entry or $USER
            by = "cli"
    store = Store(config.store.url)
    try:
        result = acknowledge_alert(store, args.alert_id, by, datetime.now(UTC))
    except UnknownAlertError as error:  # a wrong id on the command line: exit 2
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        store.close()
    if result.already:
        print(f"alert {args.alert_id} was already acknowledged by {result.acked_by}")
    else:
        print(f"acknowledged alert {args.alert_id} as {by}: {result.alerts_acked} alert(s), "
              f"{result.escalations_cancelled} queued escalation(s) cancelled"
              + (f"; mention status {result.status}" if result.status else ""))
    return 0


def _alerts(args: argparse.Namespace, load: Any) -> int:
    from monitor.store import Store

    retrying = args.alerts_command == "retry"
    if retrying and bool(args.alert_ids) == bool(args.dead):
        print("error: alerts retry: give alert ids or --dead (not both)", file=sys.stderr)
        return 2
    if args.config is None:
        print("error: alerts: --config is required", file=sys.stderr)
        return 2
    if not retrying and args.limit < 1:
        print("error: --limit must be at least 1", file=sys.stderr)
        return 2
    config = load(args.config)
    store = Store(config.store.url)
    try:
        if retrying:
            return _retry(store, args.alert_ids or None)
        return _list(store, args.status, args.limit, args.json)
    finally:
        store.close()


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite hands back naive UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _list(store: Any, status: str, limit: int, as_json: bool) -> int:
    import json

    from monitor.core.outbox import error_line, statuses

    rows = store.list_alerts(statuses(status), limit)
    for row in rows:
        # The stored channel is a name ([channels] key, member:M, tag:T, url:HASH), never a
        # URL; the error is shown redacted (a URL's path may be a webhook's secret).
        error = error_line(row.last_error)
        if as_json:
            print(json.dumps({
                "id": row.id, "status": row.status, "channel": row.channel,
                "attempts": row.attempts, "created_at": _iso(row.created_at),
                "last_attempt_at": _iso(row.last_attempt_at), "purpose": row.purpose,
                "mention_id": row.mention_id, "idempotency_key": row.idempotency_key,
                "last_error": error or None,
            }, ensure_ascii=False))
            continue
        about = f"mention {row.mention_id}" if row.mention_id is not None else row.purpose
        print(f"{row.id}  {row.status}  {row.channel}  attempts={row.attempts}  "
              f"created={_iso(row.created_at)}  last_attempt={_iso(row.last_attempt_at) or '-'}"
              f"  {about}" + (f"  error: {error}" if error else ""))
    if not rows and not as_json:
        print(f"no {'' if status == 'all' else status + ' '}alerts")
    return 0


def _retry(store: Any, alert_ids: list[int] | None) -> int:
    from monitor.core.outbox import retry_refusal

    wanted = list(dict.fromkeys(alert_ids)) if alert_ids is not None else None
    requeued = store.requeue_dead(wanted, datetime.now(UTC))
    failed = 0
    if wanted is not None:
        left = [alert_id for alert_id in wanted if alert_id not in set(requeued)]
        found = store.alert_statuses(left) if left else {}
        for alert_id in left:
            reason = retry_refusal(alert_id, found.get(alert_id))
            if reason is not None:
                failed += 1
                print(f"error: {reason}", file=sys.stderr)
    shown = f" ({', '.join(map(str, requeued))})" if requeued else ""
    print(f"requeued {len(requeued)} dead alert{'' if len(requeued) == 1 else 's'}{shown}: "
          "the next dispatch (the running daemon or run --once) sends "
          f"{'it' if len(requeued) == 1 else 'them'} with the same idempotency key")
    return 1 if failed else 0
