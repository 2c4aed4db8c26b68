"""Yelp: the reviews on a business's public Yelp page.

Configure ``url`` as the business page, ``https://www.yelp.com/biz/<business-alias>``
(country sites such as ``yelp.de`` or ``yelp.co.uk`` work the same way). The spider asks
for newest first (``sort_by=date_desc``) unless the URL already sets ``sort_by``; other
query parameters on the URL are kept.

The page is rendered from JSON embedded for React (``<script type="application/json"
data-hypernova-key="...BizDetailsApp...">``, wrapped in ``<!-- -->`` with ``&`` and ``>``
escaped); the spider reads the review feed from it. The JSON the page loads for later
pages (``/biz/<id>/review_feed?...``) is read too. When a page has no such JSON, the
``schema.org`` reviews in its JSON-LD are used instead (they have no review id, so the
mention id is a hash of author, date and text).

Each review becomes one mention: review id, author display name, star rating (of 5),
text, date, language, the useful/funny/cool counts (``engagement``), and in ``extra``
the reviewer's location, review count and Elite year, photo count, whether the review
was updated (with the number of earlier versions) and the business id and name. The
business owner's public replies are ``CompanyReply``s. A review Yelp marks as removed
or hidden is yielded with ``removed=True``. The mention URL is the business page with
``?hrid=<review id>``, which opens that review.

Yelp shows only a date, in the page's locale (``12/9/2020`` on en_US pages, day first
on most others), so times are midnight UTC of that day.

Paging: the next page (``start=<offset>``) is fetched only while the current page held
reviews not yet stored and the feed says more results exist, up to ``max_pages``.

Limits: Yelp's "not recommended" reviews are not in the page; Yelp blocks automated
traffic aggressively (HTTP 403 or a captcha, reported as blocked) and offers the Yelp
Fusion API as the sanctioned way to read reviews (three review excerpts per business).
You are responsible for complying with Yelp's terms of service.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from parsel import Selector
from scrapy.http import Response, TextResponse
from w3lib.url import add_or_replace_parameter, url_query_cleaner

from spiders.base import MonitorSpider
from spiders.items import BlockedError, CompanyReply, LayoutError, MentionItem
from spiders.text import html_to_text, parse_iso_datetime

# Locales whose numeric dates put the month first (12/9/2020 = 9 December 2020).
_MONTH_FIRST_LOCALES = ("en_US", "es_US", "en_PH", "fil_PH")
_REMOVED_KEY = re.compile(r"remov|hidden|delet", re.IGNORECASE)
_REMOVED_TEXT = re.compile(
    r"this review (?:has been|was) (?:removed|hidden)|removed for violating|"
    r"review (?:has been|was) removed",
    re.IGNORECASE,
)
_BLOCKED = re.compile(rb"px-captcha|captcha-delivery|verify you are a human|"
                      rb"unusual activity from your", re.IGNORECASE)
_NUMERIC_DATE = re.compile(r"^\s*(\d{1,4})[./-](\d{1,2})[./-](\d{1,4})\s*$")


class YelpSpider(MonitorSpider):
    name = "yelp"

    def start_urls_for_source(self) -> list[str]:
        if not self.url:
            raise LayoutError("yelp source needs the business page url")
        return [first_page_url(self.url)]

    def parse_response(self, response: Response) -> Iterator[Any]:
        page = int(response.meta.get("page", 1))
        feed = parse_yelp_response(response.body, self.source_id, response.url,
                                   _response_text(response))
        yield from feed.items
        if feed.next_start is not None and self.should_follow(feed.items, page):
            next_url = add_or_replace_parameter(response.url, "start", str(feed.next_start))
            yield self.page_request(next_url, page=page + 1)


def first_page_url(url: str) -> str:
    """The business page, newest first unless the URL picks a sort, without an offset."""
    url = url_query_cleaner(url, ["start"], remove=True)
    if "sort_by=" not in urlsplit(url).query:
        url = add_or_replace_parameter(url, "sort_by", "date_desc")
    return url


class ReviewPage:
    """The reviews of one page and the offset of the next page (None = last page)."""

    def __init__(self, items: list[MentionItem], next_start: int | None) -> None:
        self.items = items
        self.next_start = next_start


def _response_text(response: Response) -> str:
    if isinstance(response, TextResponse):
        return response.text
    return response.body.decode("utf-8", "replace")


def parse_yelp_response(body: bytes, source_id: str, url: str, text: str | None = None
                        ) -> ReviewPage:
    """Reviews from a business page (hypernova JSON, else JSON-LD) or a review_feed JSON."""
    text = text if text is not None else body.decode("utf-8", "replace")
    context = _Context(source_id, url)
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith("{"):
        try:
            feed = json.loads(stripped)
        except json.JSONDecodeError as error:
            raise LayoutError(f"yelp layout changed: invalid review feed JSON at {url}",
                              url) from error
        if not isinstance(feed, dict) or not isinstance(feed.get("reviews"), list):
            raise LayoutError(f"yelp layout changed: review feed JSON without reviews at {url}",
                              url)
        return context.feed_page(feed)
    selector = Selector(text=text)
    documents = list(_hypernova_documents(selector))
    for document in documents:
        if isinstance(document.get("locale"), str):
            context.locale = document["locale"]
    for document in documents:
        feed = _find_review_feed(document)
        if feed is not None:
            context.business = _business(document)
            return context.feed_page(feed)
    json_ld_reviews = _json_ld_reviews(selector)
    if json_ld_reviews is not None:
        return ReviewPage([context.json_ld_item(review) for review in json_ld_reviews], None)
    if _BLOCKED.search(body):
        raise BlockedError(f"captcha or block page at {url}", url)
    where = ("hypernova JSON without a review feed" if documents
             else "no hypernova JSON and no JSON-LD reviews")
    raise LayoutError(f"yelp layout changed: {where} at {url}", url)


def _hypernova_documents(selector: Selector) -> Iterator[dict[str, Any]]:
    for raw in selector.css('script[type="application/json"][data-hypernova-key]::text').getall():
        content = raw.strip()
        if content.startswith("<!--"):
            content = content[4:]
        if content.endswith("-->"):
            content = content[:-3]
        # Hypernova escapes '&' and '>' so the JSON cannot close the comment or the script.
        content = content.replace("&gt;", ">").replace("&amp;", "&")
        try:
            document = json.loads(content)
        except json.JSONDecodeError:
            continue
        if isinstance(document, dict):
            yield document


def _is_review(value: Any) -> bool:
    return isinstance(value, dict) and "rating" in value and (
        "comment" in value or "text" in value) and ("id" in value or "encid" in value)


def _find_review_feed(document: Mapping[str, Any], depth: int = 0) -> dict[str, Any] | None:
    """The object holding the page's ``reviews`` list (``reviewFeedQueryProps`` today)."""
    props = document.get("bizDetailsPageProps")
    if isinstance(props, dict):
        feed = props.get("reviewFeedQueryProps")
        if isinstance(feed, dict) and isinstance(feed.get("reviews"), list):
            return feed
    if depth > 6:
        return None
    reviews = document.get("reviews")
    if isinstance(reviews, list) and reviews and all(_is_review(entry) for entry in reviews):
        return dict(document)
    for value in document.values():
        children = value if isinstance(value, list) else [value]
        for child in children:
            if isinstance(child, dict):
                found = _find_review_feed(child, depth + 1)
                if found is not None:
                    return found
    return None


def _business(document: Mapping[str, Any]) -> dict[str, Any]:
    props = document.get("bizDetailsPageProps")
    if not isinstance(props, dict):
        return {}
    facts = {}
    if props.get("businessId"):
        facts["business_id"] = props["businessId"]
    if props.get("businessName"):
        facts["business_name"] = html_to_text(str(props["businessName"]))
    return facts


def _json_ld_reviews(selector: Selector) -> list[dict[str, Any]] | None:
    """schema.org Review objects from the page's JSON-LD; None when no JSON-LD has reviews."""
    found: list[dict[str, Any]] | None = None
    for raw in selector.css('script[type="application/ld+json"]::text').getall():
        try:
            document = json.loads(raw)
        except json.JSONDecodeError:
            continue
        for node in _json_ld_nodes(document):
            reviews = node.get("review", node.get("reviews"))
            if reviews is None:
                continue
            found = found if found is not None else []
            for review in reviews if isinstance(reviews, list) else [reviews]:
                if isinstance(review, dict):
                    found.append(review)
    return found


def _json_ld_nodes(document: Any) -> Iterator[dict[str, Any]]:
    if isinstance(document, list):
        for entry in document:
            yield from _json_ld_nodes(entry)
    elif isinstance(document, dict):
        yield document
        if isinstance(document.get("@graph"), list):
            yield from _json_ld_nodes(document["@graph"])


class _Context:
    def __init__(self, source_id: str, url: str) -> None:
        self.source_id = source_id
        self.url = url
        self.locale: str | None = None
        self.business: dict[str, Any] = {}
        parts = urlsplit(url)
        self.origin = f"{parts.scheme or 'https'}://{parts.netloc or 'www.yelp.com'}"
        self.page_path = parts.path

    def fail(self, what: str) -> LayoutError:
        return LayoutError(f"yelp layout changed: {what} at {self.url}", self.url)

    def feed_page(self, feed: Mapping[str, Any]) -> ReviewPage:
        items = [self.item(review) for review in feed["reviews"]]
        return ReviewPage(items, _next_start(feed.get("pagination"), len(items)))

    # -- hypernova / review_feed reviews ------------------------------------------

    def item(self, review: Any) -> MentionItem:
        if not isinstance(review, dict):
            raise self.fail("a review that is not an object")
        review_id = review.get("id") or review.get("encid")
        if not review_id:
            raise self.fail("a review without an id")
        review_id = str(review_id)
        comment = review.get("comment")
        if isinstance(comment, dict):
            raw_text, language = comment.get("text"), comment.get("language")
        else:
            text_field = review.get("text")
            if isinstance(text_field, dict):
                raw_text = text_field.get("full") or text_field.get("text")
                language = text_field.get("language")
            else:
                raw_text, language = (comment if isinstance(comment, str) else text_field), None
        body = html_to_text(str(raw_text or ""))
        removed = _is_removed(review, body)
        rating = _float(review.get("rating"))
        if rating is None and not removed:
            raise self.fail(f"review {review_id} has no numeric rating")
        user = review.get("user")
        if not isinstance(user, dict):
            user = {}
        extra = self._review_extra(review, user)
        engagement = {}
        feedback = review.get("feedback")
        counts = feedback.get("counts") if isinstance(feedback, dict) else None
        if isinstance(counts, dict):
            engagement = {str(key): value for key, value in counts.items()
                          if isinstance(value, int) and not isinstance(value, bool)}
        return MentionItem(
            source_id=self.source_id,
            external_id=review_id,
            url=self._review_url(review, review_id),
            author=_author_name(user) or _author_name(review.get("author")),
            title=None,
            body=body,
            rating=rating,
            rating_max=5.0,
            published=self._when(review),
            language=language or None,
            engagement=engagement,
            company_replies=[reply for entry in _list(review.get("businessOwnerReplies"))
                             if (reply := self._reply(entry)) is not None],
            removed=removed,
            extra=extra,
        )

    def _review_extra(self, review: Mapping[str, Any], user: Mapping[str, Any]
                      ) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if review.get("userId"):
            extra["user_id"] = review["userId"]
        for key, name in (("displayLocation", "user_location"),
                          ("reviewCount", "user_review_count"),
                          ("eliteYear", "elite_year")):
            if user.get(key) not in (None, ""):
                extra[name] = user[key]
        if isinstance(review.get("totalPhotos"), int) and review["totalPhotos"]:
            extra["photos"] = review["totalPhotos"]
        if review.get("isUpdated"):
            extra["updated_review"] = True
        previous = _list(review.get("previousReviews"))
        if previous:
            extra["previous_versions"] = len(previous)
        if review.get("localizedDate"):
            extra["localized_date"] = review["localizedDate"]
        business = review.get("business")
        if isinstance(business, dict):
            if business.get("id"):
                extra["business_id"] = business["id"]
            if business.get("name"):
                extra["business_name"] = html_to_text(str(business["name"]))
        for key, value in self.business.items():
            extra.setdefault(key, value)
        return extra

    def _review_url(self, review: Mapping[str, Any], review_id: str) -> str:
        business = review.get("business")
        alias = business.get("alias") if isinstance(business, dict) else None
        path = f"/biz/{quote(str(alias))}" if alias else self.page_path
        if not path.startswith("/biz/"):
            path = self.page_path
        return f"{self.origin}{path}?hrid={quote(review_id)}"

    def _when(self, entry: Mapping[str, Any]) -> datetime | None:
        for key in ("time", "timeCreated", "createdAt", "date"):
            value = entry.get(key)
            if isinstance(value, dict):
                value = value.get("utcDateTime") or value.get("iso")
            moment = parse_iso_datetime(value) if value else None
            if moment is not None:
                return moment
        localized = entry.get("localizedDate")
        return self.localized_date(str(localized)) if localized else None

    def localized_date(self, text: str) -> datetime | None:
        """A numeric Yelp date in the page's locale, as midnight UTC of that day."""
        match = _NUMERIC_DATE.match(text)
        if match is None:
            return None
        first, second, third = (int(part) for part in match.groups())
        if len(match.group(1)) == 4:
            year, month, day = first, second, third
        elif "." in text or (self.locale or "en_US") not in _MONTH_FIRST_LOCALES:
            day, month, year = first, second, third
        else:
            month, day, year = first, second, third
        try:
            return datetime.combine(date(year, month, day), datetime.min.time(), UTC)
        except ValueError:
            return None

    def _reply(self, entry: Any) -> CompanyReply | None:
        if not isinstance(entry, dict):
            return None
        comment = entry.get("comment", entry.get("text"))
        if isinstance(comment, dict):
            comment = comment.get("text") or comment.get("full")
        text = html_to_text(str(comment or ""))
        if not text:
            return None
        author = None
        for key in ("owner", "businessOwner", "user"):
            author = _author_name(entry.get(key))
            if author:
                break
        author = author or _author_name(entry)
        return CompanyReply(text=text, author=author, published=self._when(entry))

    # -- JSON-LD reviews ------------------------------------------------------------

    def json_ld_item(self, review: Mapping[str, Any]) -> MentionItem:
        author = review.get("author")
        author_name = _author_name(author) if isinstance(author, dict) else (
            html_to_text(str(author)) if author else None)
        body = html_to_text(str(review.get("reviewBody") or review.get("description") or ""))
        rating_node = review.get("reviewRating")
        rating = _float(rating_node.get("ratingValue") if isinstance(rating_node, dict)
                        else rating_node)
        best = _float(rating_node.get("bestRating")) if isinstance(rating_node, dict) else None
        removed = _is_removed(review, body)
        if rating is None and not removed:
            raise self.fail("a JSON-LD review without reviewRating.ratingValue")
        published = parse_iso_datetime(review.get("datePublished"))
        seed = "\n".join([author_name or "", str(review.get("datePublished") or ""), body])
        return MentionItem(
            source_id=self.source_id,
            external_id="sha1:" + hashlib.sha1(seed.encode()).hexdigest(),
            url=self.url.split("?", 1)[0],
            author=author_name or None,
            body=body,
            rating=rating,
            rating_max=best or 5.0,
            published=published,
            language=review.get("inLanguage") if isinstance(review.get("inLanguage"), str)
            else None,
            removed=removed,
            extra={"from": "json-ld"},
        )


def _next_start(pagination: Any, count: int) -> int | None:
    if not isinstance(pagination, dict) or not count:
        return None
    try:
        start = int(pagination.get("startResult") or 0)
        per_page = int(pagination.get("resultsPerPage") or count)
        total = int(pagination["totalResults"])
    except (KeyError, TypeError, ValueError):
        return None
    next_start = start + per_page
    return next_start if next_start < total else None


def _is_removed(review: Mapping[str, Any], body: str) -> bool:
    """Yelp's own marks of a removed or hidden review: a flag in the JSON or the notice text."""
    for key, value in review.items():
        if _REMOVED_KEY.search(str(key)) and value not in (None, False, "", 0, [], {}):
            return True
        if key in ("status", "state", "reviewStatus") and str(value).lower() in (
                "removed", "hidden", "deleted"):
            return True
    return bool(_REMOVED_TEXT.search(body))


def _author_name(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    for key in ("markupDisplayName", "displayName", "name", "altText"):
        if value.get(key):
            return html_to_text(str(value[key])) or None
    return None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
