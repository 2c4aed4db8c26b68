"""Logging: one line per event, ``event key=value``; third-party chatter turned down."""

from __future__ import annotations

import logging
import sys


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record is emitted, not when the
    handler was made: the CLI may be run several times in one process (tests, embedding)
    with stderr replaced in between."""

    @property
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


def setup_logging(level: str = "INFO") -> None:
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Scrapy logs a traceback for every spider error; the adapter logs one readable line.
    for name, quiet in (("scrapy", logging.WARNING), ("scrapy.core.scraper", logging.CRITICAL),
                        ("scrapy.core.engine", logging.ERROR), ("twisted", logging.ERROR),
                        ("scrapy.downloadermiddlewares", logging.CRITICAL),
                        # "larger than download max size": the source's error says it.
                        ("scrapy.core.downloader.handlers.http11", logging.ERROR),
                        ("py.warnings", logging.ERROR),
                        # apprise may echo URLs in debug output: keep it to warnings.
                        ("apprise", logging.ERROR), ("alembic", logging.WARNING)):
        logging.getLogger(name).setLevel(quiet)
