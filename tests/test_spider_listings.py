"""Which responses list every live mention in date order (so that what they stop showing
has left the site), and that the spiders say so on the batch they hand to the crawl."""

from __future__ import annotations

from pathlib import Path

import pytest
from feedgen import rss, sample_entries

from spiders.appstore import AppStoreSpider
from spiders.base import MonitorSpider, response_from_bytes
from spiders.feeds import FeedSpider
from spiders.googleplay import SORTS, GooglePlaySpider
from spiders.hackernews import HackerNewsSpider
from spiders.items import LayoutError, MentionBatch
from spiders.mastodon import MastodonSpider
from spiders.reddit import RedditSpider
from spiders.trustpilot import TrustpilotSpider

DATA = Path(__file__).parent / "data" / "spiders"
BATCHEXECUTE = (DATA / "googleplay" / "batchexecute_page.txt").read_bytes()


@pytest.mark.parametrize(("spider", "url", "body", "meta", "complete"), [
    (FeedSpider, "https://blog.example/feed.xml", b"", {}, True),
    (FeedSpider, "https://www.google.com/alerts/feeds/1/2", b"", {}, True),
    # a news search ranks what matches today
    (FeedSpider, "https://news.google.com/rss/search?q=acme", b"", {}, False),
    (AppStoreSpider, "https://itunes.apple.com/us/rss/customerreviews/page=1/id=1/"
                     "sortby=mostrecent/json", b"", {}, True),
    (AppStoreSpider, "https://itunes.apple.com/us/rss/customerreviews/page=1/id=1/"
                     "sortby=mosthelpful/json", b"", {}, False),
    (RedditSpider, "https://www.reddit.com/r/AcmeCorp/new.json?raw_json=1", b"", {}, True),
    (RedditSpider, "https://www.reddit.com/r/AcmeCorp/new.json?raw_json=1&after=t3_x", b"",
     {}, True),
    (RedditSpider, "https://www.reddit.com/r/AcmeCorp/new/.rss", b"", {}, True),
    (RedditSpider, "https://www.reddit.com/search.json?q=acme&sort=new", b"", {}, False),
    (RedditSpider, "https://www.reddit.com/r/AcmeCorp/comments/1r0001.json", b"", {}, False),
    (MastodonSpider, "https://mastodon.example/tags/acme.rss", b"", {}, True),
    (MastodonSpider, "https://mastodon.example/@acme.rss", b"", {}, True),
    (MastodonSpider, "https://mastodon.example/api/v1/timelines/tag/acme?limit=40", b"", {},
     True),
    (MastodonSpider, "https://mastodon.example/api/v2/search?q=acme", b"", {}, False),
    (GooglePlaySpider, "https://play.google.com/_/PlayStoreUi/data/batchexecute",
     BATCHEXECUTE, {"sort": SORTS["newest"]}, True),
    (GooglePlaySpider, "https://play.google.com/_/PlayStoreUi/data/batchexecute",
     BATCHEXECUTE, {"sort": SORTS["relevant"]}, False),
    (GooglePlaySpider, "https://play.google.com/store/apps/details?id=x", b"<html></html>",
     {}, False),
    # search results, and pages in the site's own order
    (HackerNewsSpider, "https://hn.algolia.com/api/v1/search_by_date?query=acme", b"", {},
     False),
    (TrustpilotSpider, "https://www.trustpilot.com/review/acme.com", b"", {}, False),
])
def test_which_responses_list_everything(spider: type[MonitorSpider], url: str, body: bytes,
                                         meta: dict[str, object], complete: bool) -> None:
    response = response_from_bytes(body or b"{}", url)
    response.meta.update(meta)
    assert spider(source_id="s").lists_everything(response) is complete


def _batches(spider: MonitorSpider, body: bytes, url: str) -> list[MentionBatch]:
    response = response_from_bytes(body, url, {"Content-Type": "application/rss+xml"})
    response.meta["page"] = 1
    produced: list[object] = []
    try:
        for output in spider.parse(response):
            produced.append(output)
    except LayoutError:
        pass
    return [thing for thing in produced if isinstance(thing, MentionBatch)]


def test_a_feed_batch_is_complete_and_a_cut_short_one_is_not() -> None:
    spider = FeedSpider(source_id="blog")
    (batch,) = _batches(spider, rss(sample_entries("p", 3)), "https://blog.example/feed.xml")
    assert batch.complete and len(batch.items) == 3

    class Breaks(FeedSpider):
        def parse_response(self, response):  # type: ignore[no-untyped-def]
            yield from list(super().parse_response(response))[:2]
            raise LayoutError("cut short", response.url)

    (partial,) = _batches(Breaks(source_id="blog"), rss(sample_entries("p", 3)),
                          "https://blog.example/feed.xml")
    assert not partial.complete and len(partial.items) == 2


def test_app_store_reviews_of_several_countries_are_no_complete_listing() -> None:
    # One source reads each country's newest reviews: the US page's span covers the
    # British reviews it never shows, which would all be marked removed.
    url = ("https://itunes.apple.com/us/rss/customerreviews/page=1/id=1/sortby=mostrecent/"
           "json")
    response = response_from_bytes(b"{}", url)
    several = AppStoreSpider(source_id="s", params={"app_id": "1", "countries": ["us", "gb"]})
    assert not several.lists_everything(response)
    one = AppStoreSpider(source_id="s", params={"app_id": "1", "countries": "us"})
    assert one.lists_everything(response)


@pytest.mark.parametrize("url", [
    "https://www.reddit.com/search.rss?q=acme&sort=new",
    "https://hnrss.org/newest?q=acme",
    "https://www.bing.com/news/search?q=acme&format=rss",
    "https://mastodon.example/api/v2/search?query=acme",
    "https://blog.example/?s=acme&feed=rss2",
])
def test_a_search_read_as_a_feed_is_no_complete_listing(url: str) -> None:
    # Its matches change for other reasons (an index that lags or ranks): what it stops
    # showing has not left the site.
    assert not FeedSpider(source_id="s").lists_everything(response_from_bytes(b"{}", url))
