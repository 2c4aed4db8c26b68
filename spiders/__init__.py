"""Scrapy spiders that turn public pages and feeds into ``MentionItem``s.

Spiders never import ``monitor``: they parse responses and nothing else.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spiders.base import MonitorSpider

# spider name (as written in a source's config) -> "module:Class"
SPIDERS: dict[str, str] = {
    "feed": "spiders.feeds:FeedSpider",
    "trustpilot": "spiders.trustpilot:TrustpilotSpider",
    "appstore": "spiders.appstore:AppStoreSpider",
    "googleplay": "spiders.googleplay:GooglePlaySpider",
    "yelp": "spiders.yelp:YelpSpider",
    "jsonld": "spiders.jsonld:JsonLdSpider",
    "reddit": "spiders.reddit:RedditSpider",
    "hackernews": "spiders.hackernews:HackerNewsSpider",
    "mastodon": "spiders.mastodon:MastodonSpider",
}


def available_spiders() -> list[str]:
    """Names of the spiders whose module is installed."""
    names = []
    for name, target in SPIDERS.items():
        module_name = target.split(":", 1)[0]
        if importlib.util.find_spec(module_name) is not None:
            names.append(name)
    return names


def spider_class(name: str) -> type[MonitorSpider]:
    """The spider class registered under ``name``; KeyError if there is none."""
    target = SPIDERS[name]
    module_name, _, class_name = target.partition(":")
    module = importlib.import_module(module_name)
    cls: type[MonitorSpider] = getattr(module, class_name)
    return cls
