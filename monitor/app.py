"""make_app(config): the store, classifier, ingest, channels, dispatcher and crawler, wired."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

from monitor.classifier_plugin import BUILT_IN_NAMES, load_classifier
from monitor.classify_pool import ClassifierPool
from monitor.config import BrandConfig, ClassifierConfig, Config
from monitor.core.classify import BrandVocabulary, Classifier, Document
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
    # One per brand (each with the brand's vocabulary); key None: mentions of no brand.
    classifiers: dict[str | None, Classifier]
    ingestor: Ingestor
    channels: Channels
    dispatcher: Dispatcher
    clock: Callable[[], datetime]

    def start_workers(self) -> None:
        """Start the classifier workers now, if configured: what ingests (the daemon,
        the demo) calls this at start-up so their language model loads while it starts.
        Nothing else starts them, except a batch big enough to share (see ClassifierPool)."""
        if self.ingestor.pool is not None:
            self.ingestor.pool.start()

    def warm_up(self) -> None:
        """Load now what classifying loads on first use (the lexicons of every brand and
        configured language, the language model, the learned weights): the daemon does it
        at start-up, before ``tune_gc`` freezes what start-up loaded, instead of in its
        first ingest batch."""
        for classifier in self.classifiers.values():
            classifier.classify(Document(text="Nothing to report, just getting ready."))
            for language in self.config.classifier.languages:
                classifier.classify(Document(text="getting ready", language=language))

    def close(self) -> None:
        """Stop the classifier workers (if any started), then close the store."""
        try:
            if self.ingestor.pool is not None:
                self.ingestor.pool.close()
        finally:
            self.store.close()


def make_app(config: Config, clock: Callable[[], datetime] = utc_now,
             console: Callable[[], TextIO] | None = None, migrate: bool = True) -> App:
    store = Store(config.store.url)
    if migrate:
        store.upgrade()
    classifiers = make_classifiers(config)
    workers = config.classifier.workers
    # No process starts here: only what ingests starts them (App.start_workers, or the
    # first batch big enough to share).
    pool = ClassifierPool(config.classifier, config.brands, workers) if workers else None
    ingestor = Ingestor(store, config, classifiers, clock, pool)
    channels = Channels(config, console or (lambda: sys.stdout))
    dispatcher = Dispatcher(store, config, channels, clock)
    return App(config, store, classifiers, ingestor, channels, dispatcher, clock)


def make_classifiers(config: Config) -> dict[str | None, Classifier]:
    """The configured classifier for each brand. The built-in one gets the brand's
    vocabulary; a plug-in gets the configured options (and ``vocabulary`` if it asks)."""
    return build_classifiers(config.classifier, config.brands)


def build_classifiers(settings: ClassifierConfig,
                      brands: Mapping[str, BrandConfig]) -> dict[str | None, Classifier]:
    """make_classifiers from the two parts of the config it reads (what a classifier
    worker process is given: no secrets)."""
    built_in = settings.plugin.strip().lower() in BUILT_IN_NAMES

    def build(vocabulary: BrandVocabulary | None) -> Classifier:
        options = dict(settings.options)
        if built_in:
            options.setdefault("languages", settings.languages)
            if vocabulary is not None:
                options["vocabulary"] = vocabulary
        return load_classifier(settings.plugin or None, **options)

    classifiers: dict[str | None, Classifier] = {None: build(None)}
    for key, brand in brands.items():
        words = brand.vocabulary
        vocabulary = BrandVocabulary(
            product_names=tuple(words.product_names),
            complaint_words={lang: tuple(terms) for lang, terms in words.complaint_words.items()},
            ignore_words=tuple(words.ignore_words),
            staff_authors=tuple(words.staff_authors),
            competitor_names=tuple(words.competitor_names),
            brand_names=tuple(dict.fromkeys([brand.name, *brand.keywords])),
        )
        classifiers[key] = build(vocabulary) if built_in else classifiers[None]
    return classifiers
