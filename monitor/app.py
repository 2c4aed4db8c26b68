"""make_app(config): the store, classifier, ingest, channels, dispatcher and crawler, wired."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

from monitor.config import Config
from monitor.core.classify import Classifier, RuleClassifier
from monitor.ingest import Ingestor
from monitor.notify.channels import Channels
from monitor.notify.dispatcher import Dispatcher
from monitor.store import Store


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class App:
    config: Config
    store: Store
    classifier: Classifier
    ingestor: Ingestor
    channels: Channels
    dispatcher: Dispatcher
    clock: Callable[[], datetime]


def make_app(config: Config, clock: Callable[[], datetime] = utc_now,
             console: Callable[[], TextIO] | None = None, migrate: bool = True) -> App:
    store = Store(config.store.url)
    if migrate:
        store.upgrade()
    classifier: Classifier = RuleClassifier()
    ingestor = Ingestor(store, config, classifier)
    channels = Channels(config, console or (lambda: sys.stdout))
    dispatcher = Dispatcher(store, config, channels, clock)
    return App(config, store, classifier, ingestor, channels, dispatcher, clock)
