"""Loading a classifier by configuration: a built-in one, an import path, or an entry point.

Built in: ``"default"`` (or nothing, or ``"learned"``), the rules blended with the small
learned model (``monitor.core.learned.LearnedClassifier``: more complaints found, the
same speed class), and ``"rules"``, the rule classifier alone.

A heavier model plugs in without touching the pipeline: a package exposes a
class (or factory) whose instances have ``classify(document) -> Verdict``,
either registered as an entry point in the group ``review_monitor.classifiers``
or named by import path ``"package.module:ClassName"`` in the config.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

from .core.classify import Classifier, RuleClassifier
from .core.learned import LearnedClassifier
from .errors import ConfigError

ENTRY_POINT_GROUP = "review_monitor.classifiers"
#: Names of the default classifier: the rules and the learned model.
DEFAULT_NAMES = frozenset({"", "default", "learned"})
#: Names of the rule classifier alone.
RULE_NAMES = frozenset({"rules", "rule"})
#: Names of a built-in classifier: they take the languages and brand vocabulary.
BUILT_IN_NAMES = DEFAULT_NAMES | RULE_NAMES


def _resolve(spec: str) -> Any:
    if ":" in spec:
        module_name, _, attr = spec.partition(":")
        try:
            obj: Any = importlib.import_module(module_name)
        except ImportError as e:
            raise ConfigError(
                [f"classifier {spec!r}: cannot import module {module_name!r} ({e})"]
            ) from e
        for part in attr.split("."):
            try:
                obj = getattr(obj, part)
            except AttributeError as e:
                raise ConfigError(
                    [f"classifier {spec!r}: module {module_name!r} has no {attr!r}"]
                ) from e
        return obj
    found = entry_points(group=ENTRY_POINT_GROUP, name=spec)
    if not found:
        raise ConfigError([
            f"classifier {spec!r}: no entry point of that name in group {ENTRY_POINT_GROUP!r} "
            "and not a 'module:attribute' import path"
        ])
    ep = next(iter(found))
    try:
        return ep.load()
    except Exception as e:
        raise ConfigError([f"classifier {spec!r}: loading entry point {ep.value!r} failed: {e}"]
                          ) from e


def load_classifier(spec: str | None, **options: Any) -> Classifier:
    """The classifier ``spec`` names, built with ``options``.

    ``spec`` is None or "default" (the rules and the learned model), "rules" (the
    rule classifier alone), ``"module:attr"``, or an entry-point name. ``attr`` may be a class or a factory (called with
    ``options``) or a ready instance (then ``options`` must be empty).
    """
    name = (spec or "").strip().lower()
    if name in DEFAULT_NAMES:
        return LearnedClassifier(**options)
    if name in RULE_NAMES:
        return RuleClassifier(**options)
    spec = (spec or "").strip()
    obj = _resolve(spec)
    if callable(getattr(obj, "classify", None)) and not isinstance(obj, type):
        if options:
            raise ConfigError([f"classifier {spec!r} is an instance and takes no options "
                               f"(got {', '.join(sorted(options))})"])
        return obj
    if not callable(obj):
        raise ConfigError([f"classifier {spec!r} is neither a class, a factory nor a classifier"])
    try:
        instance = obj(**options)
    except TypeError as e:
        raise ConfigError([f"classifier {spec!r} does not accept these options: {e}"]) from e
    if not callable(getattr(instance, "classify", None)):
        raise ConfigError([f"classifier {spec!r} built {type(instance).__name__}, "
                           "which has no classify(document) method"])
    return instance
