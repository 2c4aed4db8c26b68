"""reddit spider: golden files, comment trees, company replies, paging, and the real
Reddit listing and feeds in ../shared/corpus.

Golden cases: tests/data/spiders/reddit/<case>.<ext> beside <case>.jsonl (see
golden.py; ``UPDATE_GOLDEN=1`` rewrites them).
"""

from __future__ import annotations

import pytest
from conftest import require_corpus
from golden import Case, Golden, mentions, requests, run_spider

from spiders.reddit import RedditSpider, account_key
from spiders.text import parse_iso_datetime

SEARCH = "https://www.reddit.com/search.json?q=acme&sort=new&raw_json=1"
NEW = "https://www.reddit.com/r/AcmeCorp/new.json?raw_json=1"
BRANDS = {"brand_accounts": ["u/ACME_support"]}

CASES = {
    "normal.json": Case(SEARCH),
    "empty.json": Case(SEARCH),
    "paginated.json": Case(NEW),
    "reply.json": Case("https://www.reddit.com/r/AcmeCorp/comments/1r0001.json?raw_json=1",
                       params=BRANDS),
    # Without raw_json=1 Reddit escapes &, < and > in every string.
    "unicode.json": Case("https://www.reddit.com/search.json?q=acme&sort=new"),
    "missing_optional.json": Case(SEARCH),
    "layout_changed.json": Case(NEW),
    "not_a_listing.json": Case("https://www.reddit.com/subreddits/search.json?q=acme"),
    "feed_subreddit.xml": Case("https://www.reddit.com/r/AcmeCorp/new/.rss", params=BRANDS),
    "feed_comments.xml": Case("https://www.reddit.com/r/AcmeCorp/comments/1f0001/.rss",
                              params=BRANDS),
    "feed_empty.xml": Case("https://www.reddit.com/search.rss?q=acme%20kettle&sort=new"),
    "feed_html.html": Case("https://www.reddit.com/r/AcmeCorp/new/.rss",
                           headers={"Content-Type": "text/html"}),
}

GOLDEN = Golden(RedditSpider, "reddit", CASES)
DATA, run = GOLDEN.data, GOLDEN.run
test_golden, test_every_fixture_has_a_case = GOLDEN.tests()
test_layout_errors_are_one_line = GOLDEN.layout_error_test({
    "layout_changed.json": "has no children list",
    "not_a_listing.json": "holds no posts or comments",
    "feed_html.html": "got an HTML page",
})


@pytest.mark.parametrize(("params", "url"), [
    ({"query": "acme router"},
     "https://www.reddit.com/search.json?q=acme%20router&sort=new&raw_json=1"),
    ({"subreddit": "r/AcmeCorp"}, "https://www.reddit.com/r/AcmeCorp/new.json?raw_json=1"),
    ({"query": "refund", "subreddit": "AcmeCorp"},
     "https://www.reddit.com/r/AcmeCorp/search.json?q=refund&restrict_sr=1&sort=new&raw_json=1"),
    ({"subreddit": "AcmeCorp", "feed": True}, "https://www.reddit.com/r/AcmeCorp/new/.rss"),
    ({"query": "acme", "feed": True}, "https://www.reddit.com/search.rss?q=acme&sort=new"),
])
def test_start_urls(params: dict[str, object], url: str) -> None:
    assert RedditSpider(params=params).start_urls_for_source() == [url]


def test_start_url_from_url() -> None:
    spider = RedditSpider(url="https://www.reddit.com/r/x/comments/abc.json")
    assert spider.start_urls_for_source() == ["https://www.reddit.com/r/x/comments/abc.json"]


def test_listing_fields() -> None:
    post, link, comment = mentions(run("normal.json"))
    assert post.external_id == "t3_1abcd1"
    assert post.url == ("https://www.reddit.com/r/techsupport/comments/1abcd1/"
                        "acme_router_keeps_dropping_5ghz_every_evening/")
    assert post.title == "Acme router keeps dropping <5GHz> every evening"  # raw_json: as is
    assert post.engagement == {"score": 42, "comments": 17}
    assert post.published == parse_iso_datetime("2024-06-01T10:00:00Z")
    assert post.updated is None
    assert link.extra["link_url"] == "https://news.example.test/acme-price-rise?utm_source=reddit"
    assert link.updated is not None and link.body == ""
    assert comment.reply_to == "t3_1aaaa0"
    assert comment.extra["post_title"] == "Which ISP router do you trust?"
    assert comment.engagement == {"score": 8}


def test_empty_listing_is_no_error() -> None:
    assert run("empty.json") == []


def test_next_page_uses_after_and_stops_at_known_items() -> None:
    (request,) = requests(run("paginated.json"))
    assert request.url == NEW + "&after=t3_1p0002"
    assert request.meta["page"] == 2
    spider = RedditSpider(known_ids=lambda ids: set(ids))
    assert requests(run_spider(spider, (DATA / "paginated.json").read_bytes(),
                               CASES["paginated.json"])) == []
    last_page = RedditSpider(max_pages=2)
    assert requests(run_spider(last_page, (DATA / "paginated.json").read_bytes(),
                               Case(NEW, page=2))) == []


def test_comment_tree_with_company_replies() -> None:
    items = mentions(run("reply.json"))
    assert [item.external_id for item in items] == ["t3_1r0001", "t1_r0c002", "t1_r0c004",
                                                    "t1_r0c005"]
    post, follow_up, other, orphan = items
    # The company's answer to the post is folded into it, not a mention of its own.
    assert [reply.text for reply in post.company_replies] == [
        "Hi! Sorry about that. We've refunded the second charge; it shows in 3-5 days."]
    assert post.company_replies[0].author == "Acme_Support"
    # The customer's follow-up is a mention (never ignore follow-ups) and got its own answer.
    assert follow_up.reply_to == "t1_r0c001"
    assert follow_up.author == "billpayer"
    assert [reply.text for reply in follow_up.company_replies] == [
        "Escalated to billing, they will e-mail you today."]
    assert other.company_replies == [] and other.reply_to == "t3_1r0001"
    assert other.extra["post_title"] == "Double charge"
    # A company comment whose parent is not in the response stays, marked.
    assert orphan.extra["company_account"] is True


def test_without_brand_accounts_every_comment_is_a_mention() -> None:
    items = mentions(run("reply.json", brand_accounts=[]))
    assert len(items) == 6
    assert all(item.company_replies == [] for item in items)


def test_unescapes_without_raw_json() -> None:
    first, second = mentions(run("unicode.json"))
    assert first.body == "Seit Tagen kein Internet & die Hotline ist <immer> besetzt. 😤"
    assert first.author == "münchner_kindl"
    assert first.title == "Acme Störung in München – seit Montag"
    assert second.url == "https://www.reddit.com/r/japan/comments/1u0002/アクメ_回線_不具合/"


def test_missing_and_removed() -> None:
    removed, bare, deleted = mentions(run("missing_optional.json"))
    assert removed.removed and removed.author is None and removed.body == ""
    assert bare.external_id == "t3_1m0002" and bare.url == "https://www.reddit.com/comments/1m0002/"
    assert bare.engagement == {} and bare.published is None
    assert bare.extra == {"link_url": "https://status.example.test/"}
    assert deleted.removed and deleted.external_id == "t1_m0c001"
    assert deleted.url == "https://www.reddit.com/r/AcmeCorp/comments/1m0002/_/m0c001/"


def test_feed_forms() -> None:
    post, company_post = mentions(run("feed_subreddit.xml"))
    assert post.author == "wifi_woes"
    assert post.body == "Router drops every evening & support closes the ticket.\nAnyone else?"
    assert "submitted by" not in post.body
    assert post.extra == {"subreddit": "AcmeCorp"}
    assert company_post.body == ""
    assert company_post.extra["link_url"] == "https://status.example.test/incidents/42"
    assert company_post.extra["company_account"] is True
    first, second = mentions(run("feed_comments.xml"))
    assert first.external_id == "t1_f0c001" and first.title is None
    assert first.extra["post_title"] == "Router drops every evening"
    assert first.extra["post_id"] == "t3_1f0001"
    assert second.extra["company_account"] is True  # feeds carry no parent: not attached
    assert run("feed_empty.xml") == []


def test_account_key() -> None:
    assert account_key("/u/Acme_Support") == account_key("u/acme_support") == "acme_support"
    assert account_key(None) == ""


# -- the real corpus ----------------------------------------------------------------


@pytest.mark.corpus
def test_corpus_search_listing() -> None:
    path = require_corpus("reddit", "r_all_search_praw_oauth_search.json")
    spider = RedditSpider(source_id="corpus", params={"brand_accounts": ["nmtake"]})
    produced = run_spider(spider, path.read_bytes(),
                          Case("https://oauth.reddit.com/r/all/search.json?q=praw&raw_json=1"))
    items = mentions(produced)
    assert requests(produced) == []  # after: null
    assert len(items) == 6
    first = items[0]
    assert first.external_id == "t3_3gpbiu"
    assert first.author == "dClauzel"
    assert first.title == "[PRAW][OAuth2Util] Problem using get_banned() : raise Forbidden(_raw=response)"
    assert first.engagement == {"score": 0, "comments": 21}
    assert first.url == ("https://www.reddit.com/r/redditdev/comments/3gpbiu/"
                         "prawoauth2util_problem_using_get_banned_raise/")
    assert first.body.startswith("# solved")
    assert first.extra["subreddit"] == "redditdev"
    assert [item.engagement["score"] for item in items] == [0, 2, 2, 2, 2, 15]
    japanese = items[-1]
    assert japanese.title == "たびたび話題になるサイドバーの閲覧中ユーザ数について（また）調べた"
    assert japanese.url and "?ref=" not in japanese.url
    assert japanese.updated is not None  # edited
    assert japanese.extra["company_account"] is True  # a brand post stays a mention
    assert all(item.published is not None for item in items)


@pytest.mark.corpus
@pytest.mark.parametrize(("filename", "url", "first_author", "first_title", "bodies"), [
    ("r_thinkpad_top.rss.xml", "https://www.reddit.com/r/thinkpad/top/.rss",
     "KasaneTeto_", ".", 2),
    ("reddit_subreddit.atom.xml", "https://www.reddit.com/r/kubernetes.rss",
     "gctaylor", "Monthly: Who is hiring?", 5),
])
def test_corpus_feeds(filename: str, url: str, first_author: str, first_title: str,
                      bodies: int) -> None:
    path = require_corpus("reddit", filename)
    items = mentions(run_spider(RedditSpider(source_id="corpus"), path.read_bytes(), Case(url)))
    assert len(items) == 5
    assert items[0].author == first_author and items[0].title == first_title
    assert all(item.external_id and item.external_id.startswith("t3_") for item in items)
    assert all("submitted by" not in item.body and "[comments]" not in item.body
               for item in items)
    assert sum(1 for item in items if item.body) == bodies
    assert all(item.published is not None and item.extra.get("subreddit") for item in items)


@pytest.mark.corpus
def test_corpus_thinkpad_link_posts_keep_their_link() -> None:
    path = require_corpus("reddit", "r_thinkpad_top.rss.xml")
    items = mentions(run_spider(RedditSpider(), path.read_bytes(),
                                Case("https://www.reddit.com/r/thinkpad/top/.rss")))
    assert items[0].external_id == "t3_shueto"
    assert items[0].extra["link_url"] == "https://v.redd.it/cqjfu406z7f81"
    assert items[0].published == parse_iso_datetime("2022-02-01T13:00:44Z")
