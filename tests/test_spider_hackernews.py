"""hackernews spider: golden files (Algolia JSON and hnrss RSS), company replies, paging,
and the real Algolia response and hnrss feed in ../shared/corpus.

Golden cases: tests/data/spiders/hackernews/<case>.<ext> beside <case>.jsonl (see
golden.py; ``UPDATE_GOLDEN=1`` rewrites them).
"""

from __future__ import annotations

import pytest
from conftest import require_corpus
from golden import Case, Golden, mentions, requests, run_spider

from spiders.hackernews import HackerNewsSpider
from spiders.text import parse_iso_datetime

ALGOLIA = "https://hn.algolia.com/api/v1/search_by_date?query=acme&tags=(story,comment)"
BRANDS = {"brand_accounts": ["AcmeDevRel"]}

CASES = {
    "normal.json": Case(ALGOLIA),
    "empty.json": Case(ALGOLIA),
    "paginated.json": Case(ALGOLIA),
    "reply.json": Case(ALGOLIA, params=BRANDS),
    "unicode.json": Case(ALGOLIA),
    "missing_optional.json": Case(ALGOLIA),
    "layout_changed.json": Case(ALGOLIA),
    "missing_id.json": Case(ALGOLIA),
    "rss_newest.xml": Case("https://hnrss.org/newest?q=acme"),
    "rss_comments.xml": Case("https://hnrss.org/newcomments?q=acme", params=BRANDS),
    "rss_empty.xml": Case("https://hnrss.org/newest?q=acme+kettle+2000"),
}
GOLDEN = Golden(HackerNewsSpider, "hackernews", CASES)
DATA, run = GOLDEN.data, GOLDEN.run
test_golden, test_every_fixture_has_a_case = GOLDEN.tests()
test_layout_errors = GOLDEN.layout_error_test({
    "layout_changed.json": "has no 'hits' list",
    "missing_id.json": "hit without objectID",
})


def test_start_url() -> None:
    spider = HackerNewsSpider(params={"query": "acme cloud"})
    assert spider.start_urls_for_source() == [
        "https://hn.algolia.com/api/v1/search_by_date?query=acme%20cloud&tags=(story,comment)"]
    assert HackerNewsSpider(url="https://hnrss.org/newest?q=acme").start_urls_for_source() == [
        "https://hnrss.org/newest?q=acme"]


def test_algolia_fields() -> None:
    story, ask, comment = mentions(run("normal.json"))
    assert story.external_id == "40000001"
    assert story.url == "https://news.ycombinator.com/item?id=40000001"
    assert story.engagement == {"points": 312, "comments": 141}
    assert story.extra == {"kind": "story",
                           "link_url": "https://status.acme.example.test/postmortem-2024-06"}
    assert story.published == parse_iso_datetime("2024-06-01T12:00:00Z")
    assert ask.body == ("Since yesterday 2FA codes from Acme never arrive.\n"
                        'Support ticket #88121 has been "in progress" for 20 hours. Any workaround?')
    assert comment.title == "Cloud providers ranked by uptime"  # story_title for comments
    assert comment.reply_to == "39999991"
    assert comment.body == "Acme's status page said all green the whole time. https://example.test/x"
    assert comment.engagement == {}
    assert comment.extra["story_id"] == "39999990"


def test_empty_result_is_no_error() -> None:
    assert run("empty.json") == []


def test_algolia_pages_are_zero_based() -> None:
    (request,) = requests(run("paginated.json"))
    assert request.url == ALGOLIA + "&page=1"
    assert request.meta["page"] == 2
    # On Algolia page 1 (the spider's page 2) of 3, the next is Algolia page 2.
    second = HackerNewsSpider()
    body = (DATA / "paginated.json").read_bytes().replace(b'"page": 0', b'"page": 1')
    (request,) = requests(run_spider(second, body, Case(ALGOLIA + "&page=1", page=2)))
    assert request.url == ALGOLIA + "&page=2" and request.meta["page"] == 3
    last = body.replace(b'"page": 1', b'"page": 2')
    assert requests(run_spider(HackerNewsSpider(), last, Case(ALGOLIA + "&page=2", page=3))) == []
    known = HackerNewsSpider(known_ids=lambda ids: set(ids))
    assert requests(run_spider(known, (DATA / "paginated.json").read_bytes(),
                               CASES["paginated.json"])) == []


def test_company_replies_attach_to_their_parent() -> None:
    story, follow_up, orphan = mentions(run("reply.json"))
    assert [reply.text for reply in story.company_replies] == [
        "Hi, Acme engineer here. We found the bad deploy and are rolling back now.\nETA 20 minutes."]
    assert story.company_replies[0].author == "AcmeDevRel"
    assert follow_up.external_id == "40000202" and follow_up.reply_to == "40000201"
    assert [reply.author for reply in follow_up.company_replies] == ["acmedevrel"]
    assert orphan.external_id == "40000302" and orphan.extra["company_account"] is True


def test_unicode() -> None:
    story, comment = mentions(run("unicode.json"))
    assert story.title == "Acme’s “unlimited” plan isn’t – a thread 🧵"
    assert story.author == "zoë"
    assert comment.body == "アクメのサポートは最悪です。<本当に>"


def test_missing_optional() -> None:
    story, comment = mentions(run("missing_optional.json"))
    assert story.author is None and story.engagement == {} and story.body == ""
    assert story.published == parse_iso_datetime("2024-06-06T10:00:00Z")  # from created_at
    assert comment.extra == {"kind": "comment"} and comment.reply_to == "40000500"
    assert comment.published is None and comment.title is None


def test_hnrss_forms() -> None:
    link, ask = mentions(run("rss_newest.xml"))
    assert (link.external_id, link.author, link.body) == ("40000600", "pricewatch", "")
    assert link.engagement == {"points": 88, "comments": 61}
    assert link.extra == {"kind": "story", "link_url": "https://news.example.test/acme-prices"}
    assert ask.body == ("Opened a ticket a week ago, no answer.\n"
                        "Their Twitter account replies with the same template to everyone.")
    assert ask.engagement == {"points": 3, "comments": 0} and "link_url" not in ask.extra
    (comment,) = mentions(run("rss_comments.xml"))
    assert comment.title == "Ask HN: Is Acme support always this slow?"
    assert comment.reply_to == "40000601" and comment.extra["kind"] == "comment"
    assert [reply.author for reply in comment.company_replies] == ["acmedevrel"]
    assert run("rss_empty.xml") == []


# -- the real corpus ----------------------------------------------------------------


@pytest.mark.corpus
def test_corpus_algolia_search() -> None:
    path = require_corpus("hackernews", "algolia_search_stories_by_url.json")
    url = ("https://hn.algolia.com/api/v1/search?query=https%3A%2F%2Fmedium.com"
           "&restrictSearchableAttributes=url")
    produced = run_spider(HackerNewsSpider(source_id="corpus"), path.read_bytes(), Case(url))
    items = mentions(produced)
    assert requests(produced) == []  # nbPages 1
    assert [item.external_id for item in items] == ["8828543", "11516582", "13566801", "8830693"]
    first = items[0]
    assert first.author == "dkua"
    assert first.title == "Why aren’t we using SSH for everything?"
    assert first.engagement == {"points": 270, "comments": 103}
    assert first.published == parse_iso_datetime("2015-01-02T21:05:46Z")
    assert first.extra["link_url"] == "https://medium.com/@shazow/ssh-how-does-it-even-9e43586e4ffc"
    assert [item.engagement["points"] for item in items] == [270, 173, 58, 3]
    assert all(item.extra["kind"] == "story" and item.reply_to is None for item in items)


@pytest.mark.corpus
def test_corpus_hnrss_newest() -> None:
    path = require_corpus("hackernews", "hnrss_newest_2024-03-11.rss.xml")
    items = mentions(run_spider(HackerNewsSpider(source_id="corpus"), path.read_bytes(),
                                Case("https://hnrss.org/newest")))
    assert len(items) == 20
    first = items[0]
    assert first.external_id == "39672201" and first.author == "mooreds"
    assert first.title == "CISA forced to take two systems offline last month after Ivanti compromise"
    assert first.engagement == {"points": 1, "comments": 0}
    assert first.published == parse_iso_datetime("2024-03-11T19:15:29Z")
    assert first.body == ""
    assert sum(item.engagement["points"] for item in items) == 31
    assert items[14].engagement == {"points": 5, "comments": 1}  # the Cybertruck story
    texts = [item for item in items if item.body]
    assert [item.external_id for item in texts] == ["39672148", "39671990"]  # the two Ask HN
    assert texts[0].body.startswith("Amazon recently bought a data center in Pennsylvania")
    assert all("Comments URL" not in item.body and "Points:" not in item.body for item in items)
    assert all(item.url == f"https://news.ycombinator.com/item?id={item.external_id}"
               for item in items)
