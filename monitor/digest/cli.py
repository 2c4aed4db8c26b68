"""``review-monitor digest``: write a digest preview, or send it now.

    review-monitor digest --config F [--week 2026-W47] [--scope NAME] --out digest.html
                          [--text digest.txt] [--send [--resend]]
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from monitor.errors import ConfigError

if TYPE_CHECKING:
    from monitor.config import Config, DigestConfig


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "digest", help="write the weekly digest to a file, or send it now",
        description="Build the weekly digest of one [[digests]] entry for an ISO week (default: "
                    "the last full week) and write it as HTML (charts embedded) and text, "
                    "and/or send it to its recipients.")
    parser.add_argument("--config", "-c", required=True, type=Path)
    parser.add_argument("--week", help="ISO week, e.g. 2026-W47 (default: last full week)")
    parser.add_argument("--scope", help="the digest's name in [[digests]] (default: the only "
                                        "one; all brands when none is configured)")
    parser.add_argument("--out", type=Path, help="write the HTML preview here")
    parser.add_argument("--text", type=Path, help="write the plain-text part here")
    parser.add_argument("--send", action="store_true",
                        help="send it to the digest's recipients now (recorded: a week already "
                             "sent is not sent again)")
    parser.add_argument("--resend", action="store_true",
                        help="with --send: send even if this week's digest already went out")


def run(args: argparse.Namespace, now: datetime | None = None) -> int:
    from monitor.cli import _load
    from monitor.core.digest import IsoWeek, due_digest, parse_schedule, week_bounds
    from monitor.digest.build import build_digest
    from monitor.digest.render import render
    from monitor.digest.runner import DigestRunner, write_preview
    from monitor.store import Store

    if not (args.out or args.text or args.send):
        raise ConfigError(["digest: say where it goes: --out FILE.html, --text FILE.txt or --send"])
    if args.resend and not args.send:
        raise ConfigError(["digest: --resend only goes with --send"])
    config = _load(args.config)
    digest = _choose(config, args.scope, str(args.config))
    if args.send and digest is None:
        raise ConfigError([f"{args.config}: no [[digests]] entry to send; add one with "
                           "recipients (see docs/digest.md)"])
    moment = now or datetime.now(UTC)
    if args.week:
        try:
            week = IsoWeek.parse(args.week)
        except ValueError as error:
            raise ConfigError([f"--week: {error}"]) from None
    else:
        schedule = parse_schedule(digest.schedule if digest else "mon 00:00 UTC")
        week = due_digest(schedule, moment).week
    if args.send and digest is not None:
        zone = parse_schedule(digest.schedule).zone
        _start, end = week_bounds(week, zone)
        if moment < end:
            # Recorded as sent, the full week's digest would never go out.
            over = end.astimezone(ZoneInfo(zone))
            raise ConfigError([
                f"--send: week {week} is not over until {over:%a %d %b %Y %H:%M} {zone}; only "
                "a finished week is sent (preview it with --out)"])
    store = Store(config.store.url)
    store.upgrade()
    try:
        if args.out or args.text:
            built = build_digest(store, config, digest, week, moment)
            rendered = render(built, digest.subject_prefix if digest else "")
            write_preview(rendered, args.out, args.text)
            written = " and ".join(str(path) for path in (args.out, args.text) if path)
            print(f"digest {built.scope.name} {week}: {built.mentions.current} mentions, "
                  f"{built.complaints.current} complaints, {built.open_total} open; "
                  f"wrote {written}")
        if args.send and digest is not None:
            runner = DigestRunner(config, store, lambda: now or datetime.now(UTC))
            result = runner.run(digest, week, resend=args.resend, manual=True)
            if result.status == "sent":
                print(f"digest {result.scope} {result.week}: sent to {result.recipients} "
                      f"recipient{'' if result.recipients == 1 else 's'}")
            elif result.status == "skipped":
                print(f"digest {result.scope} {result.week}: {result.error}", file=sys.stderr)
                return 1
            else:
                print(f"error: digest {result.scope} {result.week}: {result.error}",
                      file=sys.stderr)
                return 1
    finally:
        store.close()
    return 0


def _choose(config: Config, scope: str | None, path: str) -> DigestConfig | None:
    digests = config.digests
    if scope is not None:
        for digest in digests:
            if digest.name == scope:
                return digest
        known = ", ".join(d.name for d in digests) or "none configured"
        raise ConfigError([f"{path}: no digest named '{scope}' in [[digests]] ({known})"])
    if len(digests) > 1:
        raise ConfigError([f"{path}: several digests; choose one with --scope: "
                           + ", ".join(d.name for d in digests)])
    return digests[0] if digests else None
