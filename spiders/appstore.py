"""Apple App Store: customer reviews of one iOS app from Apple's public RSS feed.

Configure ``params.app_id`` (the number in the app's store URL, ``.../id<APP_ID>``)
and ``params.countries`` (a list of App Store country codes, default ``["us"]``; every
storefront has its own reviews), or give ``url`` as a feed URL. The spider fetches
``https://itunes.apple.com/<cc>/rss/customerreviews/page=N/id=<APP_ID>/sortby=mostrecent/json``
for each country. Both the JSON form and the XML (Atom) form (``.../xml``) are read.

Each review becomes one mention: review id, title, text, author, star rating (of 5),
time (the feed gives one time per review, its last update; it is used as published
and updated), the helpful-vote counts (``im:voteSum`` as ``vote_sum``, ``im:voteCount``
as ``vote_count`` in engagement), and in ``extra`` the app version reviewed, the
storefront country and the app id. The feed does not say which language a review is in,
so ``language`` stays empty. The feed's first entry on page 1 is the app itself, not a
review, and is skipped. A feed without entries means no reviews (not an error).

Paging: newest first; the next page is fetched only while the current page held
reviews not yet stored, up to ``max_pages`` and Apple's limit of 10 pages (about 500
reviews) per country. Older reviews are not reachable through the feed.

Limits: the feed carries no developer responses (App Store Connect shows those only
to the developer), and Apple may throttle or retire the feed without notice. You are
responsible for complying with Apple's terms of use.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from lxml import etree
from scrapy.http import Response

from spiders.base import MonitorSpider
from spiders.items import LayoutError, MentionItem
from spiders.text import html_to_text, normalise_space, parse_iso_datetime

FEED_URL = "https://itunes.apple.com/{country}/rss/customerreviews/page={page}/id={app_id}/sortby=mostrecent/{form}"
# Apple serves at most this many pages of the customer-reviews feed.
APPLE_MAX_PAGES = 10

_ATOM = "http://www.w3.org/2005/Atom"
_IM = "http://itunes.apple.com/rss"
_NS = {"a": _ATOM, "im": _IM}
_PAGE_IN_URL = re.compile(r"/page=(\d+)")
_COUNTRY_IN_URL = re.compile(r"^https?://[^/]+/([a-zA-Z]{2})/rss/")
_APP_IN_URL = re.compile(r"/id=(\d+)")


class AppStoreSpider(MonitorSpider):
    name = "appstore"

    def start_urls_for_source(self) -> list[str]:
        if self.url:
            return [self.url]
        app_id = str(self.params.get("app_id") or "").strip()
        if not app_id.isdigit():
            raise LayoutError("appstore source needs params.app_id (digits) or a url")
        countries = self.params.get("countries") or ["us"]
        if isinstance(countries, str):
            countries = [part for part in re.split(r"[\s,]+", countries) if part]
        return [
            FEED_URL.format(country=str(country).lower(), page=1, app_id=app_id, form="json")
            for country in countries
        ]

    def lists_everything(self, response: Response) -> bool:
        # The newest reviews, of the source's one country: each country's page lists
        # that storefront only, and its span would cover the other countries' reviews.
        if "sortby=mostrecent" not in response.url.lower():
            return False
        countries = self.params.get("countries") or ["us"]
        if isinstance(countries, str):
            countries = [part for part in re.split(r"[\s,]+", countries) if part]
        return bool(self.url) or len({str(country).lower() for country in countries}) <= 1

    def parse_response(self, response: Response) -> Iterator[Any]:
        page = int(response.meta.get("page", 1))
        feed = parse_reviews_feed(response.body, self.source_id, response.url)
        yield from feed.items
        last = feed.last_page
        if last is not None and page >= last:
            return
        if page < APPLE_MAX_PAGES and self.should_follow(feed.items, page):
            yield self.page_request(feed_page_url(response.url, page + 1), page=page + 1)


class ReviewsFeed:
    """The reviews of one feed page and the last page number the feed announces."""

    def __init__(self, items: list[MentionItem], last_page: int | None) -> None:
        self.items = items
        self.last_page = last_page


def feed_page_url(url: str, page: int) -> str:
    """The same feed URL for page ``page``."""
    if _PAGE_IN_URL.search(url):
        return _PAGE_IN_URL.sub(f"/page={page}", url, count=1)
    return url.replace("/customerreviews/", f"/customerreviews/page={page}/", 1)


def parse_reviews_feed(body: bytes, source_id: str, url: str) -> ReviewsFeed:
    """Reviews from the JSON or XML customer-reviews feed; LayoutError for anything else."""
    stripped = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    context = _FeedContext(source_id, url)
    if stripped[:1] == b"{":
        return _parse_json(stripped, context)
    head = stripped[:512].lower()
    if stripped[:1] == b"<" and b"<html" not in head and b"<!doctype html" not in head:
        return _parse_xml(stripped, context)
    what = "an HTML page" if stripped[:1] == b"<" else "neither JSON nor XML"
    raise LayoutError(
        f"appstore layout changed: expected the customer-reviews feed at {url}, got {what}", url)


class _FeedContext:
    def __init__(self, source_id: str, url: str) -> None:
        self.source_id = source_id
        self.url = url
        match = _COUNTRY_IN_URL.match(url)
        self.country = match.group(1).lower() if match else None
        app = _APP_IN_URL.search(url)
        self.app_id = app.group(1) if app else None

    def fail(self, what: str) -> LayoutError:
        return LayoutError(f"appstore layout changed: {what} at {self.url}", self.url)

    def item(self, review: Mapping[str, Any]) -> MentionItem:
        """A MentionItem from a review's fields, already pulled out of JSON or XML."""
        review_id = review.get("id")
        if not review_id:
            raise self.fail("a review without an id")
        try:
            rating = float(review["rating"])
        except (TypeError, ValueError) as error:
            raise self.fail(f"review {review_id} has no numeric im:rating") from error
        extra: dict[str, Any] = {}
        if review.get("version"):
            extra["app_version"] = review["version"]
        if self.country:
            extra["country"] = self.country
        if self.app_id:
            extra["app_id"] = self.app_id
        if review.get("author_uri"):
            extra["author_uri"] = review["author_uri"]
        engagement: dict[str, int] = {}
        for key in ("vote_sum", "vote_count"):
            value = _int(review.get(key))
            if value is not None:
                engagement[key] = value
        moment = parse_iso_datetime(review.get("updated"))
        return MentionItem(
            source_id=self.source_id,
            external_id=str(review_id),
            url=review.get("link") or self._app_reviews_url(),
            author=(str(review.get("author") or "").strip() or None),
            title=normalise_space(str(review.get("title") or "")) or None,
            body=str(review.get("body") or ""),
            rating=rating,
            rating_max=5.0,
            published=moment,
            updated=moment,
            language=None,
            engagement=engagement,
            extra=extra,
        )

    def _app_reviews_url(self) -> str | None:
        if not self.app_id:
            return None
        return f"https://apps.apple.com/{self.country or 'us'}/app/id{self.app_id}?see-all=reviews"


# -- JSON form ------------------------------------------------------------------


def _label(value: Any) -> str | None:
    if isinstance(value, dict):
        label = value.get("label")
        return None if label is None else str(label)
    return None


def _json_link(value: Any) -> str | None:
    links = value if isinstance(value, list) else [value]
    for link in links:
        attributes = link.get("attributes") if isinstance(link, dict) else None
        if isinstance(attributes, dict) and attributes.get("href"):
            return str(attributes["href"])
    return None


def _json_body(value: Any) -> str:
    contents = value if isinstance(value, list) else [value]
    html = ""
    for content in contents:
        if not isinstance(content, dict):
            continue
        kind = (content.get("attributes") or {}).get("type", "text")
        label = content.get("label") or ""
        if kind == "text" and label:
            return normalise_space(str(label))
        if kind == "html" and label and not html:
            html = str(label)
    return html_to_text(html)


def _parse_json(body: bytes, context: _FeedContext) -> ReviewsFeed:
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise context.fail(f"invalid JSON ({error})") from error
    feed = document.get("feed") if isinstance(document, dict) else None
    if not isinstance(feed, dict):
        raise context.fail("JSON without a 'feed' object")
    last_page = _last_page(
        _json_link_rel(feed.get("link"), "last"))
    entries = feed.get("entry")
    if entries is None:
        return ReviewsFeed([], last_page)
    if isinstance(entries, dict):  # Apple sends a lone entry as an object, not a list
        entries = [entries]
    if not isinstance(entries, list):
        raise context.fail("'feed.entry' is neither a list nor an object")
    items = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise context.fail("an entry that is not an object")
        if "im:rating" not in entry and _is_app_entry(entry.keys()):
            continue
        author = entry.get("author")
        if not isinstance(author, dict):
            author = {}
        items.append(context.item({
            "id": _label(entry.get("id")),
            "rating": _label(entry.get("im:rating")),
            "title": _label(entry.get("title")),
            "body": _json_body(entry.get("content")),
            "author": _label(author.get("name")),
            "author_uri": _label(author.get("uri")),
            "version": _label(entry.get("im:version")),
            "vote_sum": _label(entry.get("im:voteSum")),
            "vote_count": _label(entry.get("im:voteCount")),
            "updated": _label(entry.get("updated")),
            "link": _json_link(entry.get("link")),
        }))
    return ReviewsFeed(items, last_page)


def _json_link_rel(value: Any, rel: str) -> str | None:
    for link in value if isinstance(value, list) else [value]:
        attributes = link.get("attributes") if isinstance(link, dict) else None
        if isinstance(attributes, dict) and attributes.get("rel") == rel:
            return str(attributes.get("href") or "") or None
    return None


# -- XML (Atom) form ------------------------------------------------------------


def _parse_xml(body: bytes, context: _FeedContext) -> ReviewsFeed:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(body, parser=parser)
    except etree.XMLSyntaxError as error:
        raise context.fail(f"invalid XML ({error})") from error
    if root.tag != f"{{{_ATOM}}}feed":
        raise context.fail(f"XML root is {root.tag}, not an Atom feed")
    last_link = root.find("a:link[@rel='last']", _NS)
    last_page = _last_page(last_link.get("href") if last_link is not None else None)
    items = []
    for entry in root.findall("a:entry", _NS):
        if entry.find("im:rating", _NS) is None and _is_app_entry(
            etree.QName(child).localname for child in entry if isinstance(child.tag, str)
        ):
            continue
        items.append(context.item({
            "id": _text(entry, "a:id"),
            "rating": _text(entry, "im:rating"),
            "title": _text(entry, "a:title"),
            "body": _xml_body(entry),
            "author": _text(entry, "a:author/a:name"),
            "author_uri": _text(entry, "a:author/a:uri"),
            "version": _text(entry, "im:version"),
            "vote_sum": _text(entry, "im:voteSum"),
            "vote_count": _text(entry, "im:voteCount"),
            "updated": _text(entry, "a:updated"),
            "link": (entry.find("a:link", _NS).get("href")
                     if entry.find("a:link", _NS) is not None else None),
        }))
    return ReviewsFeed(items, last_page)


def _text(element: Any, path: str) -> str | None:
    found = element.find(path, _NS)
    if found is None or found.text is None:
        return None
    return str(found.text)


def _xml_body(entry: Any) -> str:
    html = ""
    for content in entry.findall("a:content", _NS):
        kind = content.get("type", "text")
        if kind == "text" and content.text:
            return normalise_space(str(content.text))
        if kind == "html" and content.text and not html:
            html = str(content.text)
    return html_to_text(html)


# -- shared ---------------------------------------------------------------------


def _is_app_entry(keys: Any) -> bool:
    """The entry describing the app itself (page 1 of the feed), not a review."""
    names = {str(key).removeprefix("im:") for key in keys}
    return bool(names & {"name", "artist", "price", "releaseDate", "image"})


def _last_page(href: str | None) -> int | None:
    if not href:
        return None
    match = _PAGE_IN_URL.search(href)
    return int(match.group(1)) if match else None


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None
