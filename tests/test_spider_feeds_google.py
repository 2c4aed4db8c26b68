"""feed spider on Google Alerts and Google News: redirect links, highlighting, publishers;
golden files and the real Google feeds in ../shared/corpus.

Golden cases: tests/data/spiders/feed/<case>.<ext> beside <case>.jsonl (see
golden.py; ``UPDATE_GOLDEN=1`` rewrites them).
"""

from __future__ import annotations

import pytest
from conftest import require_corpus
from golden import Case, Golden, mentions, run_spider

from spiders.feeds import FeedSpider
from spiders.text import parse_iso_datetime

ALERTS = "https://www.google.com/alerts/feeds/00000000000000000001/1000000000000000001"
NEWS = "https://news.google.com/rss/search?q=%22Acme+Kettle%22&hl=en-GB&gl=GB&ceid=GB:en"
XML = {"Content-Type": "application/xml; charset=UTF-8"}

CASES = {
    "google_alerts.xml": Case(ALERTS, headers={"Content-Type": "text/xml; charset=UTF-8"}),
    "google_news.rss": Case(NEWS, headers=XML),
    "google_news_unicode.rss": Case("https://news.google.com/rss/search?q=Acme&hl=de",
                                    headers=XML),
    "google_news_empty.rss": Case(NEWS, headers=XML),
    "google_news_missing.rss": Case(NEWS, headers=XML),
    "google_sorry.html": Case(NEWS, headers={"Content-Type": "text/html"}),
}

GOLDEN = Golden(FeedSpider, "feed", CASES)
DATA, run = GOLDEN.data, GOLDEN.run
test_golden, test_every_fixture_has_a_case = GOLDEN.tests()


def test_google_alerts() -> None:
    recall, forum = mentions(run("google_alerts.xml"))
    assert recall.url == "https://news.example.test/2024/06/acme-kettle-recall"
    assert forum.url == "https://forum.example.test/t/acme-kettle?page=2"
    assert recall.title == "Acme Kettle recall: lids may detach"
    assert recall.body == ("The Acme Kettle 2000 is being recalled after reports of lids "
                           "detaching & scalding users ...")
    assert recall.author is None
    assert forum.title == "Forum: is the Acme Kettle worth it? – Küchenfreunde"


def test_google_news_publisher_and_cluster() -> None:
    single, cluster = mentions(run("google_news.rss"))
    assert single.title == "Acme Kettle 2000 recalled over lid fault"
    assert single.body == single.title
    assert single.url == "https://news.google.com/rss/articles/CBMiTestArticleOne?oc=5"
    assert single.external_id == "CBMiTestArticleOne"
    assert single.extra == {"publisher": "Example Times",
                            "publisher_url": "https://times.example.test"}
    assert single.language == "en-GB"
    assert cluster.title == "Acme apologises for kettle recall chaos"
    assert cluster.extra["related"] == [{
        "title": "Customers queue for Acme refunds", "publisher": "Example Gazette",
        "url": "https://news.google.com/rss/articles/CBMiTestArticleThree?oc=5"}]


def test_google_news_unicode_and_missing() -> None:
    (item,) = mentions(run("google_news_unicode.rss"))
    assert item.title == "Acme-Wasserkocher: Rückruf wegen Deckel – „gefährlich“"
    assert item.extra["publisher"] == "Süddeutsche Beispiel"
    (bare,) = mentions(run("google_news_missing.rss"))
    assert bare.title == "Acme opens new store" and bare.body == "" and bare.extra == {}
    assert bare.published is None
    assert run("google_news_empty.rss") == []


def test_html_instead_of_a_feed() -> None:
    GOLDEN.layout_error("google_sorry.html", "got an HTML page")


# -- the real corpus ----------------------------------------------------------------


@pytest.mark.corpus
def test_corpus_google_alerts() -> None:
    path = require_corpus("google-alerts", "google_alerts_atom.xml")
    items = mentions(run_spider(FeedSpider(source_id="corpus"), path.read_bytes(),
                                Case(ALERTS, headers={"Content-Type": "text/xml"})))
    assert len(items) == 20
    first = items[0]
    assert first.url == ("https://www.aglobalmarketresearch.com/report-offers-prediction-of-"
                         "automotive-slack-market-by-top-key-players-like-haldex-meritor-bendix-"
                         "mei-wabco-accuride-stemco-tbk-febi-aydinsan/")
    assert first.title == ("Report offers Prediction of Automotive Slack Market by Top key "
                           "players like Haldex, Meritor, Bendix ...")
    assert first.external_id == "tag:google.com,2013:googlealerts/feed:8974135267215335962"
    assert first.published == parse_iso_datetime("2019-07-10T11:53:37Z")
    assert items[1].url == "https://investorplace.com/2019/07/slack-stock-truly-compelling/"
    assert items[1].body.startswith("In the run up to the IPO for Slack Technologies Inc")
    assert "Company's decision" in items[1].body  # &#39; decoded
    for item in items:
        assert item.url and "google.com/url" not in item.url
        assert "<b>" not in (item.title or "") and "<b>" not in item.body
        assert "&nbsp;" not in item.body and "\xa0" not in item.body
        assert item.author is None
    assert sum("Slack" in (item.title or "") for item in items) == 17
    # The alert's word is in every entry's title or snippet, its <b> highlighting gone.
    assert all("slack" in f"{item.title} {item.body}".lower() for item in items)


@pytest.mark.corpus
def test_corpus_google_news_search() -> None:
    path = require_corpus("google-news", "googlenews_search.rss.xml")
    items = mentions(run_spider(FeedSpider(source_id="corpus"), path.read_bytes(),
                                Case("https://news.google.com/rss/search?q=Chemnitz&hl=de")))
    assert len(items) == 2
    first, second = items
    assert first.title == 'Chemnitz: Preisschock bei "eins energie"! Fernwärme wird 75 Prozent teurer'
    assert first.extra == {"publisher": "TAG24", "publisher_url": "https://www.tag24.de"}
    assert first.url and first.url.startswith("https://news.google.com/rss/articles/CBMibGh0")
    assert first.language == "de"
    assert first.published == parse_iso_datetime("2023-12-06T04:30:00Z")
    assert second.extra["publisher"] == "MDR"
    assert second.title == "Ehemaliges Chemnitzer Straßenbahndepot wird zu Garagencampus"
    assert all("related" not in item.extra for item in items)


@pytest.mark.corpus
def test_corpus_google_news_topic_clusters() -> None:
    path = require_corpus("google-news", "googlenews_url.rss.xml")
    items = mentions(run_spider(FeedSpider(source_id="corpus"), path.read_bytes(),
                                Case("https://news.google.com/rss/topics/CAAqJggKIiBDQkFT?hl=de")))
    assert len(items) == 2
    first = items[0]
    assert first.title == "GDL ruft von Donnerstagabend an zu eintägigem Streik auf"
    assert first.body == first.title
    assert first.extra["publisher"] == "tagesschau.de"
    related = first.extra["related"]
    assert len(related) == 4
    assert related[0]["publisher"] == "BILD"
    assert related[0]["title"] == "Deutsche Bahn: Morgen nächster Lokführer-Streik! | Politik"
    assert all(entry["url"].startswith("https://news.google.com/rss/articles/")
               for entry in related)
    assert items[1].extra["publisher"] == "Tagesspiegel"
    assert len(items[1].extra["related"]) == 4
