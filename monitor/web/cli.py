"""``review-monitor web``: the inbox and API on their own, and ``web hash-password``.
Kept apart from the server so building the command line imports nothing heavy."""

from __future__ import annotations

import argparse
import getpass
import logging
import signal
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def add_parser(sub: Any) -> None:
    web = sub.add_parser("web", help="serve the triage inbox and API on their own; "
                                     "'web hash-password' makes a password hash")
    web.add_argument("--config", "-c", type=Path, help="the config file (with [web])")
    web_sub = web.add_subparsers(dest="web_command")
    hashing = web_sub.add_parser("hash-password",
                                 help="read a password (twice, or once from stdin) and "
                                      "print its argon2 hash for [web.users.NAME]")
    hashing.add_argument("--stdin", action="store_true", help="read the password from stdin")


def run(args: argparse.Namespace) -> int:
    if getattr(args, "web_command", None) == "hash-password":
        return _hash_password(args.stdin)
    if args.config is None:
        print("error: review-monitor web needs --config FILE", file=sys.stderr)
        return 2
    import asyncio

    from monitor.cli import _load
    from monitor.store import Store
    from monitor.web.server import WebServer

    config = _load(args.config)
    if config.web is None:
        print(f"error: {args.config}: no [web] section; add one (see docs/web.md)",
              file=sys.stderr)
        return 2
    store = Store(config.store.url)
    store.upgrade()
    try:
        server = WebServer(config, store)

        async def main() -> None:
            await server.start()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, server.request_stop)
            assert server.task is not None
            await server.task
            log.info("web_stopped")

        asyncio.run(main())
    finally:
        store.close()
    return 0


def _hash_password(from_stdin: bool) -> int:
    from monitor.web.security import hash_password

    if from_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("error: the passwords differ", file=sys.stderr)
            return 2
    if len(password) < 8:
        print("error: use at least 8 characters", file=sys.stderr)
        return 2
    print(hash_password(password))
    return 0
