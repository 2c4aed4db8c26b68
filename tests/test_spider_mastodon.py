"""mastodon spider: golden files (RSS and JSON API), company replies, paging, and the
real hachyderm.io tag feed in ../shared/corpus.

Golden cases: tests/data/spiders/mastodon/<case>.<ext> beside <case>.jsonl (see
golden.py; ``UPDATE_GOLDEN=1`` rewrites them).
"""

from __future__ import annotations

import pytest
from conftest import require_corpus
from golden import Case, Golden, mentions, requests, run_spider

from spiders.base import response_from_bytes
from spiders.items import BlockedError, LayoutError
from spiders.mastodon import MastodonSpider, full_acct, instance_host
from spiders.text import parse_iso_datetime

HOST = "social.example.test"
TIMELINE = f"https://{HOST}/api/v1/timelines/tag/acmecloud?limit=40"
TAG_RSS = f"https://{HOST}/tags/acmecloud.rss"
INSTANCE = {"instance": HOST}
BRANDS = {"instance": HOST, "brand_accounts": ["support@acme.example.test"]}
NEXT = (f'<https://{HOST}/api/v1/timelines/tag/acmecloud?limit=40&max_id=112540000000000200>; '
        f'rel="next", <https://{HOST}/api/v1/timelines/tag/acmecloud?limit=40'
        f'&min_id=112540000000000201>; rel="prev"')

CASES = {
    "tag_rss.xml": Case(TAG_RSS, params=INSTANCE),
    "account_rss.xml": Case("https://acme.example.test/@support.rss", params={
        "instance": "acme.example.test", "brand_accounts": ["support"]}),
    "empty_rss.xml": Case(f"https://{HOST}/tags/acmekettle.rss", params=INSTANCE),
    "unicode_rss.xml": Case(f"https://{HOST}/tags/%E3%82%A2%E3%82%AF%E3%83%A1.rss",
                            params=INSTANCE),
    "timeline.json": Case(TIMELINE, params=INSTANCE),
    "empty.json": Case(TIMELINE, params=INSTANCE),
    "paginated.json": Case(TIMELINE, params=INSTANCE, headers={"Link": NEXT}),
    "reply.json": Case(TIMELINE, params=BRANDS),
    "search.json": Case(f"https://{HOST}/api/v2/search?q=acme&type=statuses&limit=40",
                        params=INSTANCE),
    "boost.json": Case(f"https://{HOST}/api/v1/timelines/public?limit=40", params=INSTANCE),
    "missing_optional.json": Case(TIMELINE, params=INSTANCE),
    "layout_changed.json": Case(TIMELINE, params=INSTANCE),
    "api_error.json": Case(f"https://{HOST}/api/v2/search?q=acme&type=statuses",
                           params=INSTANCE),
}

GOLDEN = Golden(MastodonSpider, "mastodon", CASES)
DATA, run = GOLDEN.data, GOLDEN.run
test_golden, test_every_fixture_has_a_case = GOLDEN.tests()
test_layout_errors = GOLDEN.layout_error_test({
    "layout_changed.json": "is not a list of statuses",
    "api_error.json": "requires an authenticated user",
})


@pytest.mark.parametrize(("params", "url"), [
    ({"instance": "https://Mastodon.Social/", "hashtag": "#AcmeCloud"},
     "https://mastodon.social/tags/AcmeCloud.rss"),
    ({"instance": "mastodon.social", "hashtag": "acme", "api": True},
     "https://mastodon.social/api/v1/timelines/tag/acme?limit=40"),
    ({"instance": "mastodon.social", "account": "@acme"}, "https://mastodon.social/@acme.rss"),
    ({"instance": "mastodon.social", "search": "acme cloud"},
     "https://mastodon.social/api/v2/search?q=acme%20cloud&type=statuses&limit=40"),
])
def test_start_urls(params: dict[str, object], url: str) -> None:
    assert MastodonSpider(params=params).start_urls_for_source() == [url]


def test_start_urls_need_a_target() -> None:
    with pytest.raises(LayoutError, match="needs params.hashtag, account or search"):
        MastodonSpider(params={"instance": "mastodon.social"}).start_urls_for_source()
    with pytest.raises(LayoutError, match="needs params.instance"):
        MastodonSpider(params={"hashtag": "acme"}).start_urls_for_source()


def test_access_token_goes_into_every_request() -> None:
    spider = MastodonSpider(params={"instance": HOST, "search": "acme", "access_token": "s3cret"})
    request = spider.page_request(spider.start_urls_for_source()[0])
    assert request.headers[b"Authorization"] == b"Bearer s3cret"
    assert b"Authorization" not in MastodonSpider(params=INSTANCE).page_request(TAG_RSS).headers


def test_rss_items_have_no_title_and_an_author_from_the_link() -> None:
    first, second = mentions(run("tag_rss.xml"))
    assert first.title is None
    assert first.author == "dana@social.example.test"
    assert first.body == "#AcmeCloud has been down for an hour & the status page is green. @support any news?"
    assert second.author == "Ops_Person@other.example.test"
    assert second.body == "Migrated off #AcmeCloud today.\nhttps://blog.example.test/migration"
    assert second.extra == {"tags": ["acmecloud", "migration"],
                            "media": ["https://files.example.test/media/1.png"]}
    assert first.published == parse_iso_datetime("2024-06-05T11:58:00Z")


def test_account_feed_by_the_brand_is_marked() -> None:
    (post,) = mentions(run("account_rss.xml"))
    assert post.author == "support@acme.example.test"
    assert post.extra["company_account"] is True


def test_empty_feeds_and_lists_are_no_error() -> None:
    assert run("empty_rss.xml") == []
    assert run("empty.json") == []


def test_api_fields() -> None:
    first, second = mentions(run("timeline.json"))
    assert first.external_id == first.url == "https://social.example.test/@dana/112540000000000101"
    assert first.author == "dana@social.example.test"
    assert first.body == "#AcmeCloud down again & no word from support."
    assert first.engagement == {"boosts": 12, "favourites": 30, "replies": 4}
    assert first.language == "en" and first.title is None
    assert first.extra == {"id": "112540000000000101", "tags": ["acmecloud"],
                           "display_name": "Dana 🌻"}
    assert second.title == "rant, billing"  # the content warning
    assert second.author == "Ops_Person@other.example.test"
    assert second.updated == parse_iso_datetime("2024-06-05T11:55:00Z")


def test_paging_follows_the_link_header_or_max_id() -> None:
    (request,) = requests(run("paginated.json"))
    assert request.url == TIMELINE + "&max_id=112540000000000200"
    assert request.meta["page"] == 2
    # Without the header: a full page (limit=2, two statuses) asks for older ones...
    full = Case(f"https://{HOST}/api/v1/timelines/tag/acmecloud?limit=2&max_id=999",
                params=INSTANCE)
    produced = run_spider(MastodonSpider(params=INSTANCE), (DATA / "paginated.json").read_bytes(),
                          full)
    assert requests(produced)[0].url == (f"https://{HOST}/api/v1/timelines/tag/acmecloud"
                                         "?limit=2&max_id=112540000000000200")
    # ... a short page (limit=40) is the last one.
    short = Case(TIMELINE, params=INSTANCE)
    assert requests(run_spider(MastodonSpider(params=INSTANCE),
                               (DATA / "paginated.json").read_bytes(), short)) == []
    known = MastodonSpider(params=INSTANCE, known_ids=lambda ids: set(ids))
    assert requests(run_spider(known, (DATA / "paginated.json").read_bytes(),
                               CASES["paginated.json"])) == []


def test_company_replies_in_a_thread() -> None:
    orphan, follow_up, root = mentions(run("reply.json"))
    assert root.external_id == "https://social.example.test/@dana/112540000000000301"
    assert [reply.text for reply in root.company_replies] == ["We're on it, sorry Dana."]
    assert root.company_replies[0].author == "support@acme.example.test"
    assert follow_up.reply_to == "https://acme.example.test/@support/112540000000000302"
    assert [reply.author for reply in follow_up.company_replies] == ["Support@acme.example.test"]
    # The parent is not in the response: its API URL names it; the brand post stays, marked.
    assert orphan.reply_to == "https://social.example.test/api/v1/statuses/999999"
    assert orphan.extra["company_account"] is True


def test_search_and_boosts() -> None:
    (found,) = mentions(run("search.json"))
    assert found.language == "fr" and found.author == "claire@social.example.test"
    (boosted,) = mentions(run("boost.json"))
    assert boosted.external_id == "https://other.example.test/@kai/77"
    assert boosted.author == "kai@other.example.test"
    assert boosted.engagement == {"boosts": 9, "favourites": 14, "replies": 2}


def test_unicode_and_missing_fields() -> None:
    (post,) = mentions(run("unicode_rss.xml"))
    assert post.body == "#アクメ のアプリ、また落ちた 😭 Grüße aus Köln"
    assert post.language == "ja" and post.extra["tags"] == ["アクメ"]
    assert post.published == parse_iso_datetime("2024-06-05T04:00:00Z")
    uri_only, bare = mentions(run("missing_optional.json"))
    assert uri_only.url == "https://social.example.test/users/x/statuses/112540000000000601"
    assert uri_only.author is None and uri_only.engagement == {} and uri_only.published is None
    assert bare.url == "https://social.example.test/api/v1/statuses/112540000000000602"
    assert bare.author == "y@social.example.test" and bare.body == ""


def test_unauthenticated_search_is_reported_as_blocked() -> None:
    spider = MastodonSpider(params=INSTANCE)
    response = response_from_bytes((DATA / "api_error.json").read_bytes(),
                                   CASES["api_error.json"].url, status=401)
    with pytest.raises(BlockedError, match="HTTP 401"):
        list(spider.parse(response))


def test_account_helpers() -> None:
    assert instance_host("https://Mastodon.Social/") == "mastodon.social"
    assert full_acct("@Acme", "Mastodon.Social") == "Acme@mastodon.social"
    assert full_acct("acme@other.test", "mastodon.social") == "acme@other.test"


# -- the real corpus ----------------------------------------------------------------


@pytest.mark.corpus
def test_corpus_hachyderm_tag_feed() -> None:
    path = require_corpus("mastodon", "mastodon_tag.rss.xml")
    spider = MastodonSpider(source_id="corpus", params={"instance": "hachyderm.io",
                                                        "brand_accounts": ["k8s_releases@botsin.space"]})
    items = mentions(run_spider(spider, path.read_bytes(),
                                Case("https://hachyderm.io/tags/kubernetes.rss")))
    assert len(items) == 4
    assert all(item.title is None and item.body for item in items)
    first = items[0]
    assert first.external_id == "https://ioc.exchange/@jon404/111544891736153138"
    assert first.author == "jon404@ioc.exchange"
    assert first.published == parse_iso_datetime("2023-12-08T12:52:54Z")
    assert first.body.startswith("Shameless blog series plug\nIf you're in to #kubernetes and #homelab")
    # Mastodon hides parts of long links in invisible spans: the text keeps the whole URL.
    assert first.body.endswith("https://www.linuxquestions.org/questions/blog/"
                               "rocket357-328529/on-premise-kubernetes-part-1-5-39090/")
    assert first.extra["tags"][:2] == ["kubernetes", "homelab"]
    assert [item.author for item in items] == [
        "jon404@ioc.exchange", "k8s_releases@botsin.space", "ErikBussink@vmst.io",
        "imdciangot@fosstodon.org"]
    assert items[1].extra["company_account"] is True
    assert items[3].extra["media"][0].endswith("84994e14c0b7384e.png")
