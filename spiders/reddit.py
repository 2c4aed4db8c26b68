"""Reddit posts and comments from the public JSON listings and RSS/Atom feeds.

Configure with ``spider = "reddit"`` and one of:

- ``params.query``: site-wide search, newest first
  (``https://www.reddit.com/search.json?q=QUERY&sort=new&raw_json=1``);
  with ``params.subreddit`` too, the search is limited to that subreddit;
- ``params.subreddit``: the subreddit's newest posts (``/r/NAME/new.json``);
- a ``url``: any listing (``.json``), a post's comment tree
  (``/comments/ID.json``) or a feed (``.rss``: subreddit, search, user and
  comment feeds, which Reddit serves as Atom).

``params.feed = true`` makes the query/subreddit forms use the ``.rss`` feed
instead of JSON (Reddit refuses anonymous JSON more often than feeds, but
feeds carry no scores). ``params.brand_accounts``: the company's usernames
(case-insensitive, with or without ``u/``).

Extracted per post (``t3``) and comment (``t1``): the fullname (``t3_abc``) as
external id, ``https://www.reddit.com`` + permalink as url, author (``None``
for ``[deleted]``), title (posts), body (``selftext``/``body`` markdown),
created/edited times, ``score`` and ``comments`` (``num_comments``) in
engagement, subreddit, the linked URL of link posts and the post of a
comment in extra, ``removed`` for ``[removed]``/``[deleted]`` texts. A
comment's ``reply_to`` is its parent's fullname. Comment trees are walked
through ``replies``. A brand account's comment whose parent is in the same
response becomes a ``CompanyReply`` of that parent, not a mention; other
brand-account posts stay mentions with ``extra["company_account"]``. A
customer's follow-up to a company answer stays a mention; its ``reply_to``
names the (folded) answer's fullname.
Listings page with ``after`` (``&after=t3_xxx``) while new items keep coming.

Limits: collapsed "load more comments" stubs are not fetched; feeds carry no
scores, no comment counts and no parent ids, so company replies cannot be
attached there. Reddit rate-limits anonymous clients hard (about 10 requests
a minute) and answers 429/403 when it is unhappy: keep intervals long and
set a descriptive User-Agent. Reddit's API terms apply to this use; the user
is responsible for complying with them. Private, quarantined and
login-only subreddits are not visible.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import lxml.html
from scrapy.http import Response

from spiders.base import MonitorSpider
from spiders.feeds import read_feed
from spiders.items import LayoutError, MentionItem
from spiders.text import (
    attach_company_replies,
    html_to_text,
    normalise_space,
    struct_time_to_datetime,
    with_query_param,
)

BASE = "https://www.reddit.com"
_REMOVED_TEXTS = ("[removed]", "[deleted]")
_COMMENT_TITLE = re.compile(r"^/?u/\S+ on (?P<post>.*)$", re.DOTALL)
_POST_IN_URL = re.compile(r"/comments/(?P<id>[a-z0-9]+)", re.IGNORECASE)


def account_key(name: str | None) -> str:
    """A Reddit username folded for comparison: no ``/u/`` prefix, lower case."""
    if not name:
        return ""
    key = name.strip().lower()
    for prefix in ("/u/", "u/", "@"):
        if key.startswith(prefix):
            key = key[len(prefix):]
    return key


class RedditSpider(MonitorSpider):
    name = "reddit"

    def start_urls_for_source(self) -> list[str]:
        query = str(self.params.get("query") or "").strip()
        subreddit = str(self.params.get("subreddit") or "").strip().strip("/")
        subreddit = subreddit.removeprefix("r/")
        feed = bool(self.params.get("feed"))
        suffix = ".rss" if feed else ".json"
        raw = "" if feed else "&raw_json=1"
        if query and subreddit:
            return [f"{BASE}/r/{quote(subreddit)}/search{suffix}?q={quote(query)}"
                    f"&restrict_sr=1&sort=new{raw}"]
        if query:
            return [f"{BASE}/search{suffix}?q={quote(query)}&sort=new{raw}"]
        if subreddit:
            if feed:
                return [f"{BASE}/r/{quote(subreddit)}/new/.rss"]
            return [f"{BASE}/r/{quote(subreddit)}/new.json?raw_json=1"]
        return super().start_urls_for_source()

    @property
    def brand_keys(self) -> set[str]:
        return {account_key(name) for name in self.params.get("brand_accounts") or ()} - {""}

    def lists_everything(self, response: Response) -> bool:
        # A subreddit's newest posts; a search drops posts whose matches change.
        return urlsplit(response.url).path.rstrip("/").endswith(("/new.json", "/new/.rss",
                                                                 "/new"))

    def parse_response(self, response: Response) -> Iterable[Any]:
        page = int(response.meta.get("page", 1))
        body = response.body.lstrip(b"\xef\xbb\xbf \t\r\n")
        brands = self.brand_keys
        if body[:1] in (b"{", b"["):
            items, after = parse_json(body, self.source_id, response.url, brands)
        elif body[:1] == b"<":
            items, after = parse_feed(response.body, self.source_id, response.url, brands), None
        else:
            raise LayoutError(f"not Reddit JSON or a feed at {response.url}", response.url)
        yield from items
        if after and self.should_follow(items, page):
            yield self.page_request(with_query_param(response.url, "after", after),
                                    page=page + 1)


def _is_company(brands: set[str]) -> Callable[[MentionItem], bool]:
    def check(item: MentionItem) -> bool:
        return bool(brands) and account_key(item.author) in brands
    return check


# -- JSON ---------------------------------------------------------------------------


def parse_json(body: bytes, source_id: str, url: str,
               brands: Iterable[str] = ()) -> tuple[list[MentionItem], str | None]:
    """Mentions and the ``after`` cursor from a Reddit JSON listing or comment tree."""
    try:
        document = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise LayoutError(f"invalid JSON from {url}: {error}", url) from error
    unescape = "raw_json=1" not in url
    after: str | None = None
    things: list[tuple[str, Mapping[str, Any]]] = []
    if isinstance(document, list):
        # /comments/ID.json: [listing with the post, listing with the comment tree]
        listings = [_listing_data(part, url) for part in document]
        if not listings:
            raise LayoutError(f"empty comment-tree array from {url}", url)
        for listing in listings:
            things.extend(_walk_children(listing, url))
    elif isinstance(document, dict):
        listing = _listing_data(document, url)
        things.extend(_walk_children(listing, url))
        cursor = listing.get("after")
        after = str(cursor) if cursor else None
    else:
        raise LayoutError(f"unexpected JSON from {url}: not a Listing", url)

    post_titles = {data.get("name"): data.get("title") for kind, data in things if kind == "t3"}
    items = [_thing_to_item(kind, data, source_id, unescape, post_titles)
             for kind, data in things]
    return attach_company_replies(items, _is_company(set(brands))), after


def _listing_data(document: Any, url: str) -> Mapping[str, Any]:
    if not isinstance(document, dict) or document.get("kind") != "Listing":
        keys = ", ".join(sorted(document)[:5]) if isinstance(document, dict) else type(
            document).__name__
        raise LayoutError(f"Reddit JSON at {url} is not a Listing (got {keys})", url)
    data = document.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("children"), list):
        raise LayoutError(f"Reddit Listing at {url} has no children list", url)
    return data


def _walk_children(listing: Mapping[str, Any], url: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(kind, data) of every post and comment, depth first through ``replies``."""
    children = listing["children"]
    kinds: set[str] = set()
    found = 0
    for child in children:
        if not isinstance(child, dict):
            continue
        kind = str(child.get("kind"))
        kinds.add(kind)
        data = child.get("data")
        if kind not in ("t1", "t3"):
            continue
        if not isinstance(data, dict) or not (data.get("name") or data.get("id")):
            raise LayoutError(f"Reddit {kind} at {url} has no id", url)
        found += 1
        yield kind, data
        replies = data.get("replies")
        if isinstance(replies, dict) and replies.get("kind") == "Listing":
            yield from _walk_children(_listing_data(replies, url), url)
    if children and not found and not kinds <= {"more"}:
        raise LayoutError(
            f"Reddit Listing at {url} holds no posts or comments (kinds: {', '.join(sorted(kinds))})",
            url,
        )


def _thing_to_item(kind: str, data: Mapping[str, Any], source_id: str, unescape: bool,
                   post_titles: Mapping[Any, Any]) -> MentionItem:
    def text(key: str) -> str:
        value = data.get(key)
        if not isinstance(value, str):
            return ""
        return html.unescape(value) if unescape else value

    fullname = str(data.get("name") or f"{kind}_{data.get('id')}")
    author = data.get("author")
    author = None if not author or author == "[deleted]" else str(author)
    body = normalise_space(text("selftext" if kind == "t3" else "body"))
    removed = body in _REMOVED_TEXTS or bool(data.get("removed_by_category"))
    engagement: dict[str, int] = {}
    if isinstance(data.get("score"), int):
        engagement["score"] = int(data["score"])
    extra: dict[str, Any] = {}
    if data.get("subreddit"):
        extra["subreddit"] = str(data["subreddit"])
    title: str | None = None
    reply_to: str | None = None
    if kind == "t3":
        title = normalise_space(text("title")) or None
        if isinstance(data.get("num_comments"), int):
            engagement["comments"] = int(data["num_comments"])
        link = data.get("url_overridden_by_dest") or data.get("url")
        if not data.get("is_self") and isinstance(link, str) and link:
            extra["link_url"] = html.unescape(link) if unescape else link
    else:
        reply_to = str(data["parent_id"]) if data.get("parent_id") else None
        if data.get("link_id"):
            extra["post_id"] = str(data["link_id"])
        post_title = data.get("link_title") or post_titles.get(data.get("link_id"))
        if isinstance(post_title, str) and post_title:
            extra["post_title"] = html.unescape(post_title) if unescape else post_title
    return MentionItem(
        source_id=source_id,
        external_id=fullname,
        url=_permalink(data, kind),
        author=author,
        title=title,
        body="" if removed and body in _REMOVED_TEXTS else body,
        published=_epoch(data.get("created_utc")),
        updated=_epoch(data.get("edited")),
        reply_to=reply_to,
        engagement=engagement,
        removed=removed,
        extra=extra,
    )


def _permalink(data: Mapping[str, Any], kind: str) -> str | None:
    permalink = data.get("permalink")
    if isinstance(permalink, str) and permalink:
        parts = urlsplit(permalink if permalink.startswith("http") else BASE + permalink)
        return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    link_id = str(data.get("link_id") or "").removeprefix("t3_")
    if kind == "t1" and link_id and data.get("subreddit") and data.get("id"):
        return f"{BASE}/r/{data['subreddit']}/comments/{link_id}/_/{data['id']}/"
    if kind == "t3" and data.get("id"):
        return f"{BASE}/comments/{data['id']}/"
    return None


def _epoch(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (OverflowError, OSError, ValueError):
        return None


# -- feeds --------------------------------------------------------------------------


def parse_feed(body: bytes, source_id: str, url: str,
               brands: Iterable[str] = ()) -> list[MentionItem]:
    """Mentions from a Reddit Atom feed (``.rss`` URLs answer Atom)."""
    parsed = read_feed(body, url, "a Reddit feed")
    entries = parsed.get("entries", [])
    items = [_entry_to_item(entry, source_id) for entry in entries]
    keys = set(brands)
    for item in items:
        if keys and account_key(item.author) in keys:
            item.extra["company_account"] = True
    return items


def _entry_to_item(entry: Mapping[str, Any], source_id: str) -> MentionItem:
    link = entry.get("link") or None
    entry_id = str(entry.get("id") or "")
    external_id = entry_id if re.fullmatch(r"t[13]_[a-z0-9]+", entry_id) else (link or entry_id)
    raw_author = str(entry.get("author") or "").strip()
    author = raw_author.removeprefix("/u/").removeprefix("u/") or None
    title = html_to_text(entry.get("title")) or None
    extra: dict[str, Any] = {}
    for tag in entry.get("tags") or []:
        label = str(tag.get("label") or "")
        if label.startswith("r/"):
            extra["subreddit"] = label[2:]
            break
    is_comment = external_id.startswith("t1_")
    if is_comment and title:
        match = _COMMENT_TITLE.match(title)
        if match:
            extra["post_title"] = match.group("post")
        title = None
    if is_comment and link:
        post = _POST_IN_URL.search(link)
        if post:
            extra["post_id"] = "t3_" + post.group("id").lower()
    markup = ""
    for content in entry.get("content") or []:
        markup = content.get("value") or ""
        if markup:
            break
    markup = markup or entry.get("summary") or ""
    body, link_url = _feed_body(markup, link)
    if link_url:
        extra["link_url"] = link_url
    updated = struct_time_to_datetime(entry.get("updated_parsed"))
    published = struct_time_to_datetime(entry.get("published_parsed")) or updated
    return MentionItem(
        source_id=source_id,
        external_id=external_id or None,
        url=link,
        author=author,
        title=title,
        body=body,
        published=published,
        updated=updated if updated != published else None,
        removed=body in _REMOVED_TEXTS,
        extra=extra,
    )


def _feed_body(markup: str, link: str | None) -> tuple[str, str | None]:
    """The author's text of a feed entry without Reddit's "submitted by … [link] [comments]"."""
    if not markup.strip():
        return "", None
    try:
        root = lxml.html.fragment_fromstring(markup, create_parent="div")
    except (ValueError, lxml.etree.ParserError):
        return html_to_text(markup), None
    link_url = None
    for anchor in root.iter("a"):
        if anchor.text_content().strip() == "[link]":
            href = anchor.get("href")
            if href and href != link:
                link_url = href
    texts = [lxml.html.tostring(div, encoding="unicode")
             for div in root.xpath(".//div[contains(concat(' ', @class, ' '), ' md ')]")]
    if texts:
        return html_to_text("".join(texts)), link_url
    if "submitted by" in root.text_content():
        return "", link_url
    return html_to_text(markup), link_url
