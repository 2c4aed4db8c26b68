"""JavaScript rendering (render = true): a page whose reviews only exist after its
script runs is read through scrapy-playwright and Debian's Chromium; without the
browser or the package the source fails in one line and the others go on."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
from conftest import IN_CI
from feedgen import rss, sample_entries
from httpserver import FixtureServer, Reply
from sqlalchemy import select

from monitor.app import make_app
from monitor.config import parse_config
from monitor.crawl import PLAYWRIGHT_HANDLER, _settings_key, render_problem, scrapy_settings
from monitor.daemon import Daemon, run_in_reactor
from monitor.store.models import Mention
from spiders.jsonld import JsonLdSpider

CHROMIUM = "/usr/bin/chromium"
REVIEW = {
    "@context": "https://schema.org", "@type": "Product", "name": "Kettle 2000",
    "review": {
        "@type": "Review", "author": {"@type": "Person", "name": "Kim"},
        "datePublished": "2026-11-20", "inLanguage": "en",
        "reviewBody": "The Acme kettle leaks after two days and support never answered.",
        "reviewRating": {"@type": "Rating", "ratingValue": 1, "bestRating": 5},
    },
}
# The review is in no markup the server sends: the script writes the JSON-LD block.
PAGE = f"""<!doctype html>
<html lang="en"><head><title>Kettle 2000</title></head>
<body><h1>Kettle 2000</h1><div id="reviews">Loading reviews...</div>
<script>
  const data = {json.dumps(REVIEW)};
  const block = document.createElement("script");
  block.type = "application/ld+json";
  block.textContent = JSON.stringify(data);
  document.head.appendChild(block);
  document.getElementById("reviews").textContent = data.review.reviewBody;
</script>
</body></html>""".encode()


def require_rendering() -> None:
    """Skip without Chromium or scrapy-playwright (fail in CI, where they must be there)."""
    missing = []
    if shutil.which(CHROMIUM) is None:
        missing.append(f"Chromium at {CHROMIUM} (apt-get install chromium)")
    if importlib.util.find_spec("scrapy_playwright") is None:
        missing.append("scrapy-playwright (pip install -e '.[render]')")
    if missing:
        message = "rendering needs " + " and ".join(missing)
        if IN_CI:
            pytest.fail(message + " (CI=true: rendering tests must run)")
        pytest.skip(message)


def make_daemon(tmp_path: Path, sources: list[dict[str, object]],
                daemon: dict[str, object] | None = None) -> Daemon:
    config = parse_config({
        "store": {"url": f"sqlite:///{tmp_path / 'render.db'}"},
        "daemon": {"autothrottle": False, **(daemon or {})},
        "brands": {"acme": {"keywords": ["acme"]}},
        "sources": sources,
    }, tmp_path / "c.toml")
    return Daemon(make_app(config))


def test_render_settings_keep_rendered_sources_in_their_own_crawler(tmp_path: Path) -> None:
    daemon = make_daemon(tmp_path, [
        {"id": "plain", "spider": "jsonld", "url": "http://127.0.0.1:9/p"},
        {"id": "rendered", "spider": "jsonld", "url": "http://127.0.0.1:9/p", "render": True},
    ], {"chromium_path": "/opt/chromium/chrome"})
    config = daemon.config
    plain, rendered = config.source("plain"), config.source("rendered")
    assert not plain.render
    handlers = scrapy_settings(config, plain).getdict("DOWNLOAD_HANDLERS")
    assert PLAYWRIGHT_HANDLER not in handlers.values()
    settings = scrapy_settings(config, rendered)
    assert settings.getdict("DOWNLOAD_HANDLERS") == {"http": PLAYWRIGHT_HANDLER,
                                                     "https": PLAYWRIGHT_HANDLER}
    assert settings["PLAYWRIGHT_BROWSER_TYPE"] == "chromium"
    launch = settings.getdict("PLAYWRIGHT_LAUNCH_OPTIONS")
    assert launch["executable_path"] == "/opt/chromium/chrome" and launch["headless"] is True
    assert "--no-sandbox" in launch["args"]
    assert _settings_key(plain) != _settings_key(rendered)

    url = "http://127.0.0.1:9/p"
    assert "playwright" not in JsonLdSpider(url=url).page_request(url).meta
    request = JsonLdSpider(url=url, render=True, etag='"v1"').page_request(url, conditional=True)
    assert request.meta["playwright"] is True
    assert b"If-None-Match" not in request.headers  # a browser cannot show a 304


def test_render_runs_javascript_before_the_spider_reads_the_page(
        tmp_path: Path, server: FixtureServer) -> None:
    require_rendering()
    server.set("/kettle", Reply(200, PAGE, {"Content-Type": "text/html; charset=utf-8"}))
    daemon = make_daemon(tmp_path, [
        {"id": "plain", "spider": "jsonld", "url": server.url("/kettle"), "brand": "acme"},
        {"id": "rendered", "spider": "jsonld", "url": server.url("/kettle"), "brand": "acme",
         "render": True},
    ])
    runs = {run.source_id: run for run in run_in_reactor(lambda: daemon.crawl_due(force=True))}
    plain, rendered = runs["plain"], runs["rendered"]
    assert plain.status == "parse", plain.error
    assert "no schema.org Review data" in str(plain.error)
    assert rendered.status == "ok", rendered.error
    assert rendered.items == 1 and rendered.ingest.new == 1
    with daemon.app.store.session() as session:
        stored = session.scalars(select(Mention).where(Mention.source_id == "rendered")).one()
    assert "leaks after two days" in (stored.body or "")
    assert server.hits["/kettle"] == 2  # once plain, once by the browser


def test_render_without_chromium_fails_that_source_in_one_line(
        tmp_path: Path, server: FixtureServer) -> None:
    server.set("/kettle", Reply(200, PAGE, {"Content-Type": "text/html"}))
    server.set("/feed.xml", Reply(200, rss(sample_entries("f", 2))))
    daemon = make_daemon(tmp_path, [
        {"id": "rendered", "spider": "jsonld", "url": server.url("/kettle"), "render": True},
        {"id": "feed", "spider": "feed", "url": server.url("/feed.xml"), "brand": "acme",
         "obey_robots": False},
    ], {"chromium_path": str(tmp_path / "no-such-chromium")})
    runs = {run.source_id: run for run in run_in_reactor(lambda: daemon.crawl_due(force=True))}
    error = runs["rendered"].error
    assert runs["rendered"].status == "fetch" and error is not None
    message = str(error)
    assert "\n" not in message and message.startswith("source rendered: render = true needs")
    # Whichever piece is missing here, the line says how to install it.
    assert "pip install 'review-monitor[render]'" in message or (
        "no-such-chromium" in message and "apt-get install chromium" in message)
    assert server.hits["/kettle"] == 0
    assert runs["feed"].status == "ok" and runs["feed"].ingest.new == 2
    state = daemon.app.store.source_states()["rendered"]
    assert state.consecutive_failures == 1 and "render = true needs" in (state.last_error or "")


def test_render_problem_names_the_missing_package(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util as util

    real_find_spec = util.find_spec
    monkeypatch.setattr(util, "find_spec", lambda name, *args: None
                        if name == "scrapy_playwright" else real_find_spec(name, *args))
    config = make_daemon(tmp_path, []).config
    assert render_problem(config) == (
        "render = true needs scrapy_playwright, which is not installed: "
        "pip install 'review-monitor[render]'")
