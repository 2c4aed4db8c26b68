"""Real rated reviews from ../shared/corpus as a complaint-vs-rest evaluation set.

Sources: Trustpilot, the Japanese App Store feed, the Play Console export, and
(since the recall work) the reviews embedded in a saved Play Store app page and
a saved Yelp business page, read with the project's own spiders.

The star rating becomes the label and is then hidden, so the classifier sees
the text (and title) alone: 1-2 stars -> "complaint", 4-5 -> "not_complaint",
3 stars and reviews without text are skipped. The source's language field is
hidden too; it becomes ``expected_language`` for the language-accuracy figure.

The corpus is not copied into this repository (see shared/corpus/SOURCES.md);
this script reads it where it lies and writes JSON Lines to stdout:

    .venv/bin/python eval/classification/real_reviews.py > /tmp/real.jsonl
    .venv/bin/python -m monitor.classify_cmd --eval /tmp/real.jsonl
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DEFAULT_CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"


def _label(stars: float) -> str | None:
    if stars <= 2:
        return "complaint"
    if stars >= 4:
        return "not_complaint"
    return None


def trustpilot(corpus: Path) -> Iterator[dict[str, Any]]:
    companies = json.loads((corpus / "trustpilot" / "companies.json").read_text("utf-8"))
    for company in companies:
        for review in company.get("reviews", []):
            label = _label(float(review["rating"]))
            text = (review.get("text") or "").strip()
            if label is None or not text:
                continue
            yield {"id": f"trustpilot:{review['id']}", "title": review.get("title") or None,
                   "text": text, "label": label, "expected_language": review.get("language"),
                   "source": "trustpilot"}


def appstore(corpus: Path) -> Iterator[dict[str, Any]]:
    feed = json.loads((corpus / "appstore" / "ios_review.json").read_text("utf-8"))["feed"]
    for entry in feed.get("entry", []):
        rating = entry.get("im:rating", {}).get("label")
        if rating is None:
            continue  # the first entry describes the app itself
        label = _label(float(rating))
        text = (entry.get("content", {}).get("label") or "").strip()
        if label is None or not text:
            continue
        # The feed is the Japanese store's (itunes.apple.com/jp/...): expected Japanese.
        yield {"id": f"appstore:{entry['id']['label']}", "title": entry["title"]["label"] or None,
               "text": text, "label": label, "expected_language": "ja", "source": "appstore"}


def googleplay(corpus: Path) -> Iterator[dict[str, Any]]:
    raw = (corpus / "googleplay" / "google_play_reviews.csv").read_bytes()
    rows = csv.DictReader(io.StringIO(raw.decode("utf-16")))  # UTF-16LE with BOM
    for n, row in enumerate(rows, 1):
        label = _label(float(row["Star Rating"]))
        text = (row.get("Review Text") or "").strip()
        if label is None or not text:
            continue
        yield {"id": f"googleplay:{n}", "title": (row.get("Review Title") or "").strip() or None,
               "text": text, "label": label,
               "expected_language": row.get("Reviewer Language") or None, "source": "googleplay"}


def _spiders() -> None:
    """Make the repository's ``spiders`` package importable when run as a script."""
    root = str(Path(__file__).resolve().parents[2])
    if root not in sys.path:
        sys.path.insert(0, root)


def googleplay_page(corpus: Path) -> Iterator[dict[str, Any]]:
    """The reviews embedded in a saved Play Store app page, read by the project's spider."""
    _spiders()
    from spiders.googleplay import _Context, parse_app_page

    url = "https://play.google.com/store/apps/details?id=com.instagram.igtv"
    body = (corpus / "googleplay" / "com.instagram.igtv.html").read_bytes()
    reviews, _ = parse_app_page(body, url)
    context = _Context("googleplay-page", url, "com.instagram.igtv", "en", "us")
    for review in reviews:
        item = context.item(review)
        label = _label(item.rating) if item.rating is not None else None
        text = (item.body or "").strip()
        if label is None or not text:
            continue
        # The page does not say the reviews' language: no expected language.
        yield {"id": f"googleplay-page:{item.external_id}", "title": item.title or None,
               "text": text, "label": label, "expected_language": None,
               "source": "googleplay-page"}


def yelp(corpus: Path) -> Iterator[dict[str, Any]]:
    """The reviews of a saved Yelp business page, read by the project's spider."""
    _spiders()
    from spiders.yelp import parse_yelp_response

    body = (corpus / "yelp" / "business_page_alive.html").read_bytes()
    page = parse_yelp_response(body, "yelp", "https://www.yelp.com/biz/saved-page")
    for item in page.items:
        label = _label(item.rating) if item.rating is not None else None
        text = (item.body or "").strip()
        if label is None or not text:
            continue
        yield {"id": f"yelp:{item.external_id}", "title": item.title or None, "text": text,
               "label": label, "expected_language": item.language, "source": "yelp"}


def real_reviews(corpus: Path = DEFAULT_CORPUS) -> list[dict[str, Any]]:
    return [*trustpilot(corpus), *appstore(corpus), *googleplay(corpus),
            *googleplay_page(corpus), *yelp(corpus)]


def main() -> int:
    corpus = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_CORPUS
    if not corpus.is_dir():
        print(f"real_reviews: no corpus at {corpus}", file=sys.stderr)
        return 2
    for item in real_reviews(corpus):
        sys.stdout.write(json.dumps(item, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
