"""Render a built digest: subject, HTML (Jinja2, autoescaped) with charts referenced by
``cid:`` (e-mail) or embedded as ``data:`` URIs (preview file), and the plain text."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined

from monitor.core.digest import display_text, format_hours
from monitor.digest.build import Digest

# Content-IDs of the inline images (the part after "cid:").
CHART_IDS = {"volume": "volume@review-monitor.digest", "replies": "replies@review-monitor.digest"}


@dataclass
class Rendered:
    subject: str
    html: str
    text: str
    # name -> PNG bytes, referenced in ``html`` as cid:CHART_IDS[name]
    images: dict[str, bytes] = field(default_factory=dict)

    def preview_html(self) -> str:
        """The HTML with its images inlined as data: URIs, to open in a browser."""
        html = self.html
        for name, png in self.images.items():
            data = base64.b64encode(png).decode("ascii")
            html = html.replace(f'src="cid:{CHART_IDS[name]}"', f'src="data:image/png;base64,{data}"')
        return html


def _environment(autoescape: bool, zone: str) -> Environment:
    environment = Environment(
        loader=PackageLoader("monitor.digest", "templates"),
        autoescape=autoescape, undefined=StrictUndefined, trim_blocks=False,
        keep_trailing_newline=True,
    )
    tz = ZoneInfo(zone)
    environment.filters["hours"] = format_hours
    environment.filters["percent"] = _percent
    environment.filters["num"] = _number
    environment.filters["local"] = lambda value: _local(value, tz)
    environment.filters["safe_url"] = _safe_url
    return environment


def _number(value: int) -> str:
    """10,000 rather than 10000."""
    return f"{value:,}"


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


def _local(value: datetime | None, tz: ZoneInfo) -> str:
    if value is None:
        return "–"
    local = value.astimezone(tz)
    return f"{local:%a} {local.day} {local:%b %H:%M}"


def _safe_url(value: str | None) -> str | None:
    """Only http(s) links from review data go into an href or the text part; one with a
    space or a control character in it (a line break would start a fake line of the
    text part) is left out."""
    if value and value.lower().startswith(("https://", "http://")) \
            and not any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return value
    return None


def period(digest: Digest) -> str:
    first = digest.week.monday
    last = first.fromordinal(first.toordinal() + 6)
    if first.month == last.month:
        return f"Mon {first.day} – Sun {last.day} {last:%b %Y}"
    return f"Mon {first.day} {first:%b} – Sun {last.day} {last:%b %Y}"


def subject(digest: Digest, prefix: str) -> str:
    """One line: a line break in a brand name or prefix must not end the header."""
    head = f"{display_text(prefix)} " if prefix else ""
    head += f"{display_text(digest.scope.title)}, week {digest.week.week}: "
    if not digest.scope.source_ids:
        return head + "no source watches it, so no complaint can be seen"
    if digest.quiet:
        return head + "a quiet week" + (f", {digest.open_total} still open"
                                        if digest.open_total else "")
    complaints = digest.complaints
    parts = [f"{_number(complaints.current)} complaint{'s' if complaints.current != 1 else ''}"
             + (f" ({complaints.delta:+d})" if complaints.previous and complaints.delta else "")]
    if digest.response.median_hours is not None:
        parts.append(f"median reply {format_hours(digest.response.median_hours)}")
    parts.append(f"{_number(digest.open_total)} still open")
    blind = sorted({gap.source_id for gap in digest.coverage})
    if blind:
        parts.append(f"coverage gaps: {', '.join(blind[:3])}{'…' if len(blind) > 3 else ''}")
    return head + ", ".join(parts)


def _tiles(digest: Digest) -> list[dict[str, str]]:
    response = digest.response
    return [
        {"label": "Complaints", "value": _number(digest.complaints.current),
         "detail": f"of {_number(digest.mentions.current)} mentions; week before "
                   f"{_number(digest.complaints.previous)}"},
        {"label": "Median first reply", "value": format_hours(response.median_hours),
         "detail": f"90th percentile {format_hours(response.p90_hours)}"},
        {"label": "Within reply target", "value": _percent(response.sla.share_within),
         "detail": f"{_number(response.sla.breached)} late; week before "
                   f"{_percent(response.previous_sla.share_within)}"},
        {"label": "Still open", "value": _number(digest.open_total),
         "detail": "complaints without a public reply"},
    ]


def render(digest: Digest, subject_prefix: str = "", charts: bool = True) -> Rendered:
    images: dict[str, bytes] = {}
    if charts and not digest.quiet:
        from monitor.digest.charts import reply_chart, volume_chart

        images["volume"] = volume_chart(digest)
        if digest.response.replied or any(count for _label, count
                                          in digest.response.previous_buckets):
            images["replies"] = reply_chart(digest)
    title = subject(digest, subject_prefix)
    context = {
        "digest": digest,
        "subject": title,
        "period": period(digest),
        "tiles": _tiles(digest),
        "images": {name: f"cid:{CHART_IDS[name]}" if name in images else ""
                   for name in CHART_IDS},
        "per_day_alt": ", ".join(f"{day[0]}: {day[1]}" for day in digest.per_day),
        "buckets_alt": ", ".join(f"{label}: {count}" for label, count
                                 in digest.response.buckets),
        "preheader": title,
    }
    html = _environment(True, digest.scope.zone).get_template("digest.html.j2").render(context)
    text = _environment(False, digest.scope.zone).get_template("digest.txt.j2").render(context)
    return Rendered(title, html, _tidy(text), images)


def _tidy(text: str) -> str:
    """At most one blank line in a row in the plain-text part."""
    lines: list[str] = []
    for line in text.splitlines():
        if not line.strip() and lines and not lines[-1].strip():
            continue
        lines.append(line.rstrip())
    return "\n".join(lines).strip() + "\n"
