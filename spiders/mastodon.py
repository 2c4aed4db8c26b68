"""Mastodon statuses from an instance's public RSS feeds and JSON API.

Configure with ``spider = "mastodon"``, ``params.instance`` (``mastodon.social``)
and one of:

- ``params.hashtag``: the tag's public feed ``https://INSTANCE/tags/TAG.rss``;
  with ``params.api = true`` the JSON timeline
  ``https://INSTANCE/api/v1/timelines/tag/TAG`` instead (richer: counts,
  language, reply links), where the instance allows unauthenticated access;
- ``params.account``: a user's public posts ``https://INSTANCE/@USER.rss``;
- ``params.search``: full-text search
  ``https://INSTANCE/api/v2/search?q=QUERY&type=statuses``. Most instances
  return no statuses (or HTTP 401) to anonymous searches and many only index
  posts that opted in: set ``params.access_token`` (a read-only token from
  the instance's Development settings, best from ``${ENV}``) to send it as
  ``Authorization: Bearer``; it is used for every request of the source.

Or a ``url``: any of those feeds or endpoints.
``params.brand_accounts``: the company's accounts (``name`` on the
configured instance or ``name@other.instance``; case-insensitive).

Extracted from the API: the status ``url`` as external id and url (the RSS
guid is that URL too, so both forms agree), ``content`` HTML as text, the
content warning (``spoiler_text``) as title, ``account.acct`` as author
(always ``user@host``), ``created_at``/``edited_at``, ``language``,
``reblogs_count``/``favourites_count``/``replies_count`` as engagement
``boosts``/``favourites``/``replies``; ``in_reply_to_id`` as ``reply_to``: the
parent's URL when the parent is in the same response, else the parent's API
URL ``https://INSTANCE/api/v1/statuses/ID``. Boosts are read as the boosted
status. A brand account's status answering a status in the same response is
a ``CompanyReply`` of it. From RSS (items have no title): link, description
HTML as text, publication time, the author from the link's ``@user``, the
hashtags in ``extra["tags"]``; RSS has no counts and no reply links.

Paging (API only): the ``Link: rel=next`` header (else, when the page was full,
``max_id`` of the oldest status), followed while new statuses keep coming.
RSS holds the newest 20 and has no paging.

Limits: only public statuses the instance knows about; instances rate-limit
the API (300 requests per 5 minutes by default) and may disable public
timelines. The user is responsible for each instance's rules and terms.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from scrapy.http import Request, Response

from spiders.base import MonitorSpider
from spiders.feeds import read_feed
from spiders.items import LayoutError, MentionItem
from spiders.text import (
    attach_company_replies,
    html_to_text,
    parse_iso_datetime,
    struct_time_to_datetime,
    with_query_param,
)

_PROFILE_LINK = re.compile(r"^https?://(?P<host>[^/]+)/@(?P<user>[^/@]+)(?:@(?P<domain>[^/]+))?/")
_NEXT_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


def instance_host(value: str) -> str:
    """``https://Mastodon.Social/`` → ``mastodon.social``."""
    text = value.strip()
    if "://" in text:
        text = urlsplit(text).netloc
    return text.strip("/").lower()


def full_acct(acct: str, host: str) -> str:
    """``user`` or ``@user`` or ``user@host`` → ``user@host`` (compare it case-folded)."""
    name = acct.strip().lstrip("@")
    if not name:
        return ""
    return name if "@" in name else f"{name}@{host.lower()}"


class MastodonSpider(MonitorSpider):
    name = "mastodon"

    @property
    def host(self) -> str:
        instance = str(self.params.get("instance") or "")
        if not instance and self.url:
            instance = self.url
        return instance_host(instance)

    def start_urls_for_source(self) -> list[str]:
        host = self.host
        hashtag = str(self.params.get("hashtag") or "").strip().lstrip("#")
        account = str(self.params.get("account") or "").strip().lstrip("@")
        search = str(self.params.get("search") or "").strip()
        if host and hashtag:
            if self.params.get("api"):
                return [f"https://{host}/api/v1/timelines/tag/{quote(hashtag)}?limit=40"]
            return [f"https://{host}/tags/{quote(hashtag)}.rss"]
        if host and account:
            return [f"https://{host}/@{quote(account.split('@')[0])}.rss"]
        if host and search:
            return [f"https://{host}/api/v2/search?q={quote(search)}&type=statuses&limit=40"]
        if not self.url and not host:
            raise LayoutError("mastodon source needs params.instance (or a url)")
        if not self.url:
            raise LayoutError("mastodon source needs params.hashtag, account or search")
        return super().start_urls_for_source()

    def page_request(self, url: str, page: int = 1, conditional: bool = False,
                     **meta: Any) -> Request:
        request = super().page_request(url, page=page, conditional=conditional, **meta)
        token = self.params.get("access_token")
        if token:
            request.headers["Authorization"] = f"Bearer {token}"
        return request

    def lists_everything(self, response: Response) -> bool:
        # A hashtag or account timeline lists the newest posts; a search does not.
        path = urlsplit(response.url).path
        return path.endswith(".rss") or "/timelines/tag/" in path

    def parse_response(self, response: Response) -> Iterable[Any]:
        page = int(response.meta.get("page", 1))
        host = instance_host(response.url)
        brands = {full_acct(str(name), self.host or host).lower()
                  for name in self.params.get("brand_accounts") or ()}
        brands.discard("")
        body = response.body.lstrip(b"\xef\xbb\xbf \t\r\n")
        next_url: str | None = None
        if body[:1] in (b"{", b"["):
            items, statuses = parse_statuses(body, self.source_id, response.url, brands)
            next_url = _next_url(response, statuses)
        elif body[:1] == b"<":
            items = parse_rss(response.body, self.source_id, response.url, brands)
        else:
            raise LayoutError(f"not Mastodon JSON or RSS at {response.url}", response.url)
        yield from items
        if next_url and self.should_follow(items, page):
            yield self.page_request(next_url, page=page + 1)


def _next_url(response: Response, statuses: list[Mapping[str, Any]]) -> str | None:
    link = response.headers.get(b"Link")
    if link:
        match = _NEXT_LINK.search(link.decode("latin-1"))
        if match:
            return match.group(1)
    # No Link header (a saved response, a proxy that drops it): ask for older statuses
    # only when this page was full, as a short page is the last one.
    limit = parse_qs(urlsplit(response.url).query).get("limit", ["20"])[0]
    if not statuses or not limit.isdigit() or len(statuses) < int(limit):
        return None
    oldest = statuses[-1].get("id")
    return with_query_param(response.url, "max_id", str(oldest)) if oldest else None


def _is_company(brands: Iterable[str]) -> Callable[[MentionItem], bool]:
    keys = {brand.lower() for brand in brands}

    def check(item: MentionItem) -> bool:
        return bool(keys) and (item.author or "").lower() in keys
    return check


# -- JSON API ------------------------------------------------------------------------


def parse_statuses(
    body: bytes, source_id: str, url: str, brands: Iterable[str] = ()
) -> tuple[list[MentionItem], list[Mapping[str, Any]]]:
    """Mentions from a status list (timelines) or a v2 search result, and the raw statuses."""
    try:
        document = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise LayoutError(f"invalid JSON from {url}: {error}", url) from error
    if isinstance(document, dict) and "statuses" in document:
        document = document["statuses"]
    if isinstance(document, dict) and document.get("error"):
        raise LayoutError(f"Mastodon API error at {url}: {document['error']}", url)
    if not isinstance(document, list):
        raise LayoutError(f"Mastodon JSON at {url} is not a list of statuses", url)
    host = instance_host(url)
    statuses: list[Mapping[str, Any]] = []
    for raw in document:
        if not isinstance(raw, dict) or "id" not in raw or not (
                "content" in raw or isinstance(raw.get("reblog"), dict)):
            raise LayoutError(f"Mastodon status without id or content at {url}", url)
        statuses.append(raw)
    shown: list[Mapping[str, Any]] = [
        status["reblog"] if isinstance(status.get("reblog"), dict) else status
        for status in statuses]
    url_by_id = {str(status["id"]): _status_url(status, host) for status in shown}
    items = [_status_to_item(status, source_id, host, url_by_id) for status in shown]
    return attach_company_replies(items, _is_company(brands)), statuses


def _status_url(status: Mapping[str, Any], host: str) -> str:
    return str(status.get("url") or status.get("uri") or
               f"https://{host}/api/v1/statuses/{status['id']}")


def _status_to_item(status: Mapping[str, Any], source_id: str, host: str,
                    url_by_id: Mapping[str, str]) -> MentionItem:
    account: Mapping[str, Any] = (
        status["account"] if isinstance(status.get("account"), dict) else {})
    acct = str(account.get("acct") or account.get("username") or "")
    engagement: dict[str, int] = {}
    for key, name in (("reblogs_count", "boosts"), ("favourites_count", "favourites"),
                      ("replies_count", "replies")):
        value = status.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            engagement[name] = value
    parent = status.get("in_reply_to_id")
    reply_to = None
    if parent is not None:
        reply_to = url_by_id.get(str(parent)) or f"https://{host}/api/v1/statuses/{parent}"
    extra: dict[str, Any] = {"id": str(status["id"])}
    tags = [str(tag.get("name")) for tag in status.get("tags") or []
            if isinstance(tag, dict) and tag.get("name")]
    if tags:
        extra["tags"] = tags
    if status.get("sensitive"):
        extra["sensitive"] = True
    if account.get("display_name"):
        extra["display_name"] = str(account["display_name"])
    url = _status_url(status, host)
    return MentionItem(
        source_id=source_id,
        external_id=url,
        url=url,
        author=full_acct(acct, host) or None,
        title=html_to_text(status.get("spoiler_text")) or None,
        body=html_to_text(status.get("content")),
        published=parse_iso_datetime(status.get("created_at")),
        updated=parse_iso_datetime(status.get("edited_at")),
        language=str(status["language"]) if status.get("language") else None,
        reply_to=reply_to,
        engagement=engagement,
        extra=extra,
    )


# -- RSS ------------------------------------------------------------------------------


def parse_rss(body: bytes, source_id: str, url: str,
              brands: Iterable[str] = ()) -> list[MentionItem]:
    """Mentions from a Mastodon tag or account RSS feed."""
    parsed = read_feed(body, url, "a Mastodon feed")
    entries = parsed.get("entries", [])
    keys = {brand.lower() for brand in brands}
    feed_language = parsed.get("feed", {}).get("language")
    items = []
    for entry in entries:
        item = _entry_to_item(entry, source_id, feed_language)
        if keys and (item.author or "").lower() in keys:
            item.extra["company_account"] = True
        items.append(item)
    return items


def _entry_to_item(entry: Mapping[str, Any], source_id: str,
                   feed_language: str | None) -> MentionItem:
    link = entry.get("link") or entry.get("id")
    author = None
    match = _PROFILE_LINK.match(str(link or ""))
    if match:
        domain = match.group("domain") or match.group("host")
        author = f"{match.group('user')}@{domain.lower()}"
    extra: dict[str, Any] = {}
    tags = [str(tag.get("term")) for tag in entry.get("tags") or [] if tag.get("term")]
    if tags:
        extra["tags"] = tags
    media = [str(medium.get("url")) for medium in entry.get("media_content") or []
             if medium.get("url")]
    if media:
        extra["media"] = media
    return MentionItem(
        source_id=source_id,
        external_id=str(entry.get("id") or link) if (entry.get("id") or link) else None,
        url=str(link) if link else None,
        author=author,
        title=html_to_text(entry.get("title")) or None,
        body=html_to_text(entry.get("summary") or entry.get("description")),
        published=struct_time_to_datetime(entry.get("published_parsed")),
        language=entry.get("language") or feed_language or None,
        extra=extra,
    )
