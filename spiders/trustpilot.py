"""Trustpilot: the reviews on a company's public Trustpilot page.

Configure ``url`` as the company page, ``https://www.trustpilot.com/review/<domain>``
(any country site works, e.g. ``https://de.trustpilot.com/review/<domain>``), or give
``params.domain`` (and optionally ``params.host``, default ``www.trustpilot.com``).
Query parameters already on the URL (``languages=all``, ``stars=1``...) are kept.

The page is a Next.js app: everything it renders is in the
``<script id="__NEXT_DATA__">`` JSON, so the spider reads that instead of the markup.
Each entry of ``props.pageProps.reviews`` becomes one mention: review id, title, text,
star rating (of 5), published/updated time, the consumer's display name, the review
language, likes, and in ``extra`` the consumer's country, the experience date, the
verification labels (verified, invited, source) and facts about the company from
``props.pageProps.businessUnit`` (name, domain, TrustScore, review count). The
company's public reply (``reply.message``) is attached as a ``CompanyReply``. The
review URL is ``https://<same host>/reviews/<id>``.

Paging: the first request asks for ``sort=recency`` (newest first); the next page
(``?page=N&sort=recency``) is fetched only while the current page held reviews not yet
stored, up to ``max_pages`` and the page count Trustpilot reports. Trustpilot serves 20
reviews a page.

Limits: only what the public page shows; reviews Trustpilot has removed are not in the
page data (the flags it does include, filtered/pending/reported, go to ``extra``). Trustpilot rate-limits and may show a Cloudflare
challenge to crawlers (reported as blocked); keep the crawl interval long. Trustpilot
also offers an official API for business users. You are responsible for complying
with Trustpilot's terms of use.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from parsel import Selector
from scrapy.http import Response, TextResponse
from w3lib.url import add_or_replace_parameter, url_query_cleaner

from spiders.base import MonitorSpider
from spiders.items import CompanyReply, LayoutError, MentionItem
from spiders.text import normalise_space, parse_iso_datetime

DEFAULT_HOST = "www.trustpilot.com"


class TrustpilotSpider(MonitorSpider):
    name = "trustpilot"

    def start_urls_for_source(self) -> list[str]:
        url = self.url
        if not url:
            domain = self.params.get("domain")
            if not domain:
                raise LayoutError("trustpilot source needs a url or params.domain")
            host = self.params.get("host") or DEFAULT_HOST
            url = f"https://{host}/review/{quote(str(domain).strip())}"
        return [first_page_url(url)]

    def parse_response(self, response: Response) -> Iterator[Any]:
        page = int(response.meta.get("page", 1))
        page_props = next_data_page_props(response)
        items = list(parse_page_props(page_props, self.source_id, response.url))
        yield from items
        total_pages = _total_pages(page_props)
        if total_pages is not None and page >= total_pages:
            return
        if self.should_follow(items, page):
            yield self.page_request(page_url(response.url, page + 1), page=page + 1)


def first_page_url(url: str) -> str:
    """The company page, newest reviews first, without a page number."""
    url = url_query_cleaner(url, ["page"], remove=True)
    return add_or_replace_parameter(url, "sort", "recency")


def page_url(url: str, page: int) -> str:
    """Page ``page`` of the company page, newest first."""
    return add_or_replace_parameter(first_page_url(url), "page", str(page))


def response_text(response: Response) -> str:
    if isinstance(response, TextResponse):
        return response.text
    return response.body.decode("utf-8", "replace")


def next_data_page_props(response: Response) -> Mapping[str, Any]:
    """``props.pageProps`` of the page's ``__NEXT_DATA__``; LayoutError when it is not there."""
    url = response.url
    raw = Selector(text=response_text(response)).css("script#__NEXT_DATA__::text").get()
    if raw is None:
        raise LayoutError(
            f"trustpilot layout changed: no __NEXT_DATA__ script at {url}", url)
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as error:
        raise LayoutError(
            f"trustpilot layout changed: __NEXT_DATA__ is not JSON at {url} ({error})", url
        ) from error
    page_props = data.get("props", {}).get("pageProps") if isinstance(data, dict) else None
    if not isinstance(page_props, dict):
        raise LayoutError(
            f"trustpilot layout changed: __NEXT_DATA__ has no props.pageProps at {url}", url)
    if not isinstance(page_props.get("reviews"), list):
        raise LayoutError(
            f"trustpilot layout changed: no props.pageProps.reviews list at {url}", url)
    return page_props


def parse_page_props(
    page_props: Mapping[str, Any], source_id: str, url: str
) -> Iterator[MentionItem]:
    """One MentionItem per review in ``pageProps`` (reviews + businessUnit)."""
    host = urlsplit(url).netloc or DEFAULT_HOST
    business_facts = _business_facts(_mapping(page_props.get("businessUnit")))
    company_name = business_facts.get("business_name")
    for review in page_props["reviews"]:
        yield _review_to_item(review, source_id, host, business_facts, company_name, url)


def _review_to_item(
    review: Any,
    source_id: str,
    host: str,
    business_facts: Mapping[str, Any],
    company_name: str | None,
    url: str,
) -> MentionItem:
    if not isinstance(review, dict) or not review.get("id"):
        raise LayoutError(
            f"trustpilot layout changed: a review without an id at {url}", url)
    review_id = str(review["id"])
    try:
        rating = float(review["rating"])
    except (KeyError, TypeError, ValueError) as error:
        raise LayoutError(
            f"trustpilot layout changed: review {review_id} has no numeric rating at {url}",
            url,
        ) from error
    dates = _mapping(review.get("dates"))
    consumer = _mapping(review.get("consumer"))
    extra: dict[str, Any] = {}
    if consumer.get("countryCode"):
        extra["consumer_country"] = consumer["countryCode"]
    if consumer.get("id"):
        extra["consumer_id"] = consumer["id"]
    if isinstance(consumer.get("numberOfReviews"), int):
        extra["consumer_review_count"] = consumer["numberOfReviews"]
    experienced = parse_iso_datetime(dates.get("experiencedDate"))
    if experienced is not None:
        extra["experienced"] = experienced.date().isoformat()
    extra.update(_verification(review))
    for flag in ("filtered", "pending"):
        if review.get(flag):
            extra[flag] = True
    if review.get("report") or review.get("hasUnhandledReports"):
        extra["reported"] = True
    extra.update(business_facts)
    engagement: dict[str, int] = {}
    if isinstance(review.get("likes"), int):
        engagement["likes"] = review["likes"]
    replies: list[CompanyReply] = []
    reply = review.get("reply")
    if isinstance(reply, dict) and str(reply.get("message") or "").strip():
        replies.append(CompanyReply(
            text=normalise_space(str(reply["message"])),
            author=company_name,
            published=parse_iso_datetime(reply.get("publishedDate")),
        ))
    return MentionItem(
        source_id=source_id,
        external_id=review_id,
        url=f"https://{host}/reviews/{review_id}",
        author=(str(consumer.get("displayName") or "").strip() or None),
        title=normalise_space(str(review.get("title") or "")) or None,
        body=normalise_space(str(review.get("text") or "")),
        rating=rating,
        rating_max=5.0,
        published=parse_iso_datetime(dates.get("publishedDate")),
        updated=parse_iso_datetime(dates.get("updatedDate")),
        language=review.get("language") or None,
        engagement=engagement,
        company_replies=replies,
        extra=extra,
    )


def _verification(review: Mapping[str, Any]) -> dict[str, Any]:
    verification = _mapping(review.get("labels")).get("verification")
    if not isinstance(verification, dict):
        return {}
    facts: dict[str, Any] = {"verified": bool(verification.get("isVerified"))}
    for key, name in (("verificationLevel", "verification_level"),
                      ("verificationSource", "verification_source"),
                      ("reviewSourceName", "review_source")):
        if verification.get(key):
            facts[name] = verification[key]
    return facts


def _business_facts(business: Mapping[str, Any]) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    for key, name in (("id", "business_id"),
                      ("displayName", "business_name"),
                      ("identifyingName", "business_domain"),
                      ("trustScore", "business_trust_score"),
                      ("stars", "business_stars"),
                      ("numberOfReviews", "business_review_count")):
        value = business.get(key)
        if value is not None and value != "":
            facts[name] = value
    return facts


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _total_pages(page_props: Mapping[str, Any]) -> int | None:
    filters = page_props.get("filters")
    pagination = filters.get("pagination") if isinstance(filters, dict) else None
    if isinstance(pagination, dict) and isinstance(pagination.get("totalPages"), int):
        return int(pagination["totalPages"])
    return None
