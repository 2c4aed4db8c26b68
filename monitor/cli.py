"""The command line: parse arguments, call the app, print. Exit codes: 0 ok, 1 a run or
parse failed, 2 a usage or config problem."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor import __version__
from monitor.errors import ConfigError, MonitorError

if TYPE_CHECKING:
    from monitor.config import Config


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="review-monitor",
        description="Watch review sites and social sources for public complaints and get them "
                    "answered in time.",
    )
    parser.add_argument("--version", action="version", version=f"review-monitor {__version__}")
    parser.add_argument("--log-level", default="INFO", type=str.upper, choices=_LOG_LEVELS,
                        help="DEBUG, INFO, WARNING or ERROR")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the daemon")
    run.add_argument("--config", "-c", required=True, type=Path)
    run.add_argument("--once", action="store_true",
                     help="run every due source once, send pending alerts, exit "
                          "(exit 1 if a source failed or an alert went dead)")
    run.add_argument("--force", action="store_true",
                     help="with --once: run every enabled source, due or not")

    check = sub.add_parser("check-config", help="validate a config file")
    check.add_argument("file", type=Path, help="the config file (TOML)")

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_sub.add_parser("upgrade", help="apply migrations")
    upgrade.add_argument("--config", "-c", required=True, type=Path)

    extract = sub.add_parser("extract", help="run one spider's parsing on a saved response")
    extract.add_argument("spider", help="the spider name, e.g. feed or trustpilot")
    extract.add_argument("file", type=Path, help="the saved response body")
    extract.add_argument("--url", required=True, help="the URL the response came from")
    extract.add_argument("--header", action="append", default=[], metavar="'Name: value'",
                         help="an HTTP response header (repeatable)")
    extract.add_argument("--source-id", default="extract",
                         help="the source_id printed in each mention (default: extract)")

    backfill = sub.add_parser("backfill", help="fetch a source's history on purpose")
    backfill.add_argument("source", help="the source id")
    backfill.add_argument("--config", "-c", required=True, type=Path)
    backfill.add_argument("--pages", type=int, default=20, help="how many pages (default 20)")

    demo = sub.add_parser("demo", help="a self-contained demo: local feeds, console alerts")
    demo.add_argument("--dir", type=Path, default=None,
                      help="where to keep the demo's database (default: a temporary folder)")
    demo.add_argument("--duration", type=float, default=0,
                      help="stop after this many seconds (default: run until Ctrl-C)")
    demo.add_argument("--every", type=float, default=5.0,
                      help="seconds between new sample mentions")

    from monitor.digest import cli as digest_cli

    digest_cli.add_parser(sub)

    try:
        from monitor import classify_cmd
    except ImportError:  # pragma: no cover - the module ships with the package
        pass
    else:
        classify_cmd.add_parser(sub)
    from monitor.web import cli as web_cli

    web_cli.add_parser(sub)
    from monitor import response_cli

    response_cli.add_parser(sub)
    from monitor import alerting_cli

    alerting_cli.add_parser(sub)
    _log_level_everywhere(sub)
    return parser


_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _log_level_everywhere(sub: Any) -> None:
    """``--log-level`` after the command too (``review-monitor run --log-level DEBUG``):
    where it is given last wins."""
    for command in sub.choices.values():
        if not any("--log-level" in action.option_strings for action in command._actions):
            command.add_argument("--log-level", default=argparse.SUPPRESS, type=str.upper,
                                 choices=_LOG_LEVELS, help="DEBUG, INFO, WARNING or ERROR")
        for action in command._actions:
            if isinstance(action, argparse._SubParsersAction):
                _log_level_everywhere(action)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from monitor.logs import setup_logging

    setup_logging(args.log_level)
    try:
        return _dispatch(args)
    except ConfigError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return 2
    except MonitorError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    command = args.command
    if command == "check-config":
        return _check_config(args.file)
    if command == "run":
        return _run(args.config, args.once, args.force)
    if command == "db":
        from monitor.store import Store

        config = _load(args.config)
        store = Store(config.store.url)
        store.upgrade()
        print(f"store at revision {store.revision()}")
        return 0
    if command == "extract":
        return _extract(args)
    if command == "backfill":
        return _backfill(args.config, args.source, args.pages)
    if command == "demo":
        from monitor.demo import run_demo

        return run_demo(args.dir, args.duration, args.every)
    if command == "digest":
        from monitor.digest import cli as digest_cli

        return digest_cli.run(args)
    if command in ("health", "sla"):
        from monitor import response_cli

        return response_cli.run(args)
    if command == "classify":
        from monitor import classify_cmd

        return classify_cmd.run(args)
    if command == "web":
        from monitor.web import cli as web_cli

        return web_cli.run(args)
    if command in ("routes", "oncall", "ack", "alerts"):
        from monitor import alerting_cli

        return alerting_cli.run(args)
    raise AssertionError(command)


def _load(path: Path) -> Config:
    from monitor.config import load_config
    from monitor.digest.send import validate_digests
    from monitor.notify.channels import validate_channel_urls

    config = load_config(path)
    problems: list[str] = []  # every problem in one go, not the digests' after the URLs'
    for validate in (validate_channel_urls, validate_digests):
        try:
            validate(config, str(path))
        except ConfigError as error:
            problems.extend(error.problems)
    if problems:
        raise ConfigError(problems)
    return config


def _check_config(path: Path) -> int:
    config = _load(path)
    print(f"{path}: OK: {config.summary()}")
    return 0


def _run(path: Path, once: bool, force: bool) -> int:
    from monitor.app import make_app
    from monitor.daemon import Daemon, run_in_reactor, stop_reactor, tune_gc

    config = _load(path)
    app = make_app(config)
    try:
        app.start_workers()  # [classifier] workers load their model while the daemon starts
        app.store.start_checkpointer()
        app.warm_up()
        tune_gc()
        daemon = Daemon(app)

        async def main() -> int:
            if once:
                return await daemon.run_once(force=force)
            return await daemon.run_forever()

        code = run_in_reactor(main)
    finally:
        stop_reactor()
        app.close()
    if daemon.cut_off:
        # Shutdown gave up on a hung channel or crawl at the grace period; everything
        # is committed, and the worker thread still blocked in it would hold the exit
        # (the interpreter joins it) for as long as the channel keeps it waiting.
        import logging
        import os

        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _backfill(path: Path, source_id: str, pages: int) -> int:
    import asyncio

    from monitor.app import make_app
    from monitor.crawl import BackfillAdapter
    from monitor.daemon import run_in_reactor, stop_reactor

    config = _load(path)
    try:
        source = config.source(source_id)
    except KeyError:
        known = ", ".join(source.id for source in config.sources) or "none"
        print(f"error: {path}: no source '{source_id}' (known: {known})", file=sys.stderr)
        return 2
    if pages < 1:
        print("error: --pages must be at least 1", file=sys.stderr)
        return 2
    app = make_app(config)
    adapter = BackfillAdapter(config, app.store, app.ingestor, app.clock, pages)

    async def main() -> int:
        crawl = asyncio.ensure_future(
            adapter.run_source(source, app.store.source_state(source.id)))
        while not crawl.done():
            await asyncio.wait({crawl}, timeout=0.5)
            for run in adapter.progress() or []:
                _progress_line(source_id, run.pages, pages, run.items)
        run = crawl.result()
        _progress_line(source_id, run.pages, pages, run.items)
        print(file=sys.stderr)
        await app.dispatcher.drain()
        print(f"{source_id}: {run.pages} pages, {run.items} mentions, {run.ingest.new} new, "
              f"{run.ingest.alerts} alerts" + (f"; stopped: {run.error}" if run.error else ""))
        return 1 if run.error else 0

    try:
        return run_in_reactor(main)
    finally:
        stop_reactor()
        app.close()  # a backfill's big batches may have started classifier workers


def _progress_line(source_id: str, done: int, total: int, mentions: int) -> None:
    width = 30
    filled = min(width, width * done // max(total, 1))
    bar = "#" * filled + "." * (width - filled)
    print(f"\rbackfill {source_id} [{bar}] {done}/{total} pages, {mentions} mentions",
          end="", file=sys.stderr, flush=True)


def _extract(args: argparse.Namespace) -> int:
    from spiders import SPIDERS, spider_class
    from spiders.base import response_from_bytes
    from spiders.items import MentionItem, SpiderError

    if args.spider not in SPIDERS:
        print(f"error: unknown spider '{args.spider}'; known: {', '.join(sorted(SPIDERS))}",
              file=sys.stderr)
        return 2
    try:
        body = args.file.read_bytes()
    except OSError as error:
        print(f"error: cannot read {args.file}: {error.strerror}", file=sys.stderr)
        return 2
    headers: dict[str, str] = {}
    for header in args.header:
        name, sep, value = header.partition(":")
        if not sep:
            print(f"error: --header '{header}' is not 'Name: value'", file=sys.stderr)
            return 2
        headers[name.strip()] = value.strip()
    spider = spider_class(args.spider)(source_id=args.source_id, url=args.url)
    response = response_from_bytes(body, args.url, headers)
    try:
        spider.check_response(response)
        for item in spider.parse_response(response):
            if isinstance(item, MentionItem):
                print(json.dumps(item.to_json_dict(), ensure_ascii=False))
    except SpiderError as error:
        print(f"error: {args.file}: {error.reason}: {error.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
