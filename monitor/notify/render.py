"""Alert text. Plain text with a short title: what, where, who, how bad and why."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Environment, StrictUndefined

from monitor.core.classify import Verdict
from spiders.items import MentionItem

_EXCERPT = 600


def alert_title(brand: str, source_id: str, verdict: Verdict, item: MentionItem) -> str:
    headline = (item.title or item.body or "(no text)").replace("\n", " ")
    if len(headline) > 90:
        headline = headline[:89] + "…"
    return f"[{verdict.severity.value} {verdict.kind.value}] {brand} on {source_id}: {headline}"


def alert_body(brand: str, source_id: str, verdict: Verdict, item: MentionItem,
               idempotency_key: str, note: str | None = None) -> str:
    text = item.body if len(item.body) <= _EXCERPT else item.body[: _EXCERPT - 1] + "…"
    lines = [
        f"{verdict.kind.value.capitalize()} ({verdict.severity.value}) about {brand} "
        f"on {source_id}" + (f" by {item.author}" if item.author else ""),
    ]
    if note:
        lines.append(note)
    if item.rating is not None:
        lines.append(f"Rating: {item.rating:g}/{item.rating_max:g}")
    if item.title:
        lines.append(f"Title: {item.title}")
    if text:
        lines.append(text)
    if verdict.reasons:
        lines.append("Why: " + "; ".join(verdict.reasons))
    if item.url:
        lines.append(f"Reply publicly: {item.url}")
    lines.append(f"ref: {idempotency_key}")
    return "\n".join(lines)


def dead_letter_body(channel: str, idempotency_key: str, attempts: int, error: str,
                     title: str) -> str:
    return (
        f"An alert could not be delivered to channel '{channel}' after {attempts} attempts.\n"
        f"Last error: {error}\nAlert: {title}\nOriginal alert ref: {idempotency_key}"
    )


# -- per-channel messages, rendered when an alert is sent (issue 6, docs/alerting.md) --

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~>])")


# "@everyone", "@here", "@channel", "<@123>", Slack's "<!here>": a zero-width space after
# the "@" or "!" keeps chat services from reading the reviewer's text as a mention that
# pings the whole channel (backslash escapes do not stop that on Slack or Discord).
_MENTION = re.compile(r"([@!\uff20\uff01])(?=[\w&])")


def defuse_mentions(text: str) -> str:
    """Text that cannot ping anyone in chat; looks the same to a reader."""
    return _MENTION.sub("\\1\u200b", text)


def escape_markdown(text: str) -> str:
    """Review text shown literally in chat markdown (no links, mentions or formatting
    smuggled in by the reviewer)."""
    return defuse_mentions(_MARKDOWN_SPECIAL.sub(r"\\\1", text))


def _one_line(text: str) -> str:
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())


def safe_link(url: str | None) -> str | None:
    """A post's URL fit for a link target: http(s) only (a javascript: or data: URL from
    a hostile page is no link), no whitespace or control characters, and the characters
    that would end a markdown link or an HTML attribute early percent-encoded."""
    if not url:
        return None
    url = url.strip()
    if not re.match(r"(?i)^https?://[^/\s]", url) or any(
            ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return None
    return url.translate({ord("("): "%28", ord(")"): "%29", ord("<"): "%3C",
                          ord(">"): "%3E", ord('"'): "%22", ord("'"): "%27",
                          ord("["): "%5B", ord("]"): "%5D", ord("`"): "%60"})


@dataclass(frozen=True)
class AlertView:
    """Everything a message about a mention says, read from the store at send time."""

    key: str
    title: str
    kind: str
    severity: str
    brand: str
    source: str
    author: str | None = None
    rating: str | None = None
    heading: str | None = None
    text: str = ""
    reasons: tuple[str, ...] = ()
    url: str | None = None
    ack_url: str | None = None
    alert_id: int = 0
    sla_due: str | None = None
    notes: tuple[str, ...] = ()
    tier: int = 0
    # For alerts not about one mention (incidents, health, reminders): the stored body.
    plain: str | None = None


@dataclass(frozen=True)
class Rendered:
    title: str
    markdown: str
    html: str
    # Short, for SMS.
    text: str
    # The full message without markup (the console, logs).
    plain: str = ""

    def body(self, body_format: str) -> str:
        return {"html": self.html, "markdown": self.markdown}.get(body_format, self.text)


def format_deadline(due: datetime, timezone: str | None) -> str:
    """'Tue 24 Nov 14:00 CET (Europe/Oslo)': the SLA deadline in the reader's zone."""
    zone_name = timezone or "UTC"
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        zone, zone_name = ZoneInfo("UTC"), "UTC"
    local = due.astimezone(zone)
    return f"{local:%a %d %b %H:%M} {local.tzname()} ({zone_name})"


_ENV = Environment(autoescape=False, trim_blocks=True, lstrip_blocks=True,
                   undefined=StrictUndefined)
_ENV.filters["md"] = escape_markdown
_HTML_ENV = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True,
                        undefined=StrictUndefined)

_MARKDOWN = _ENV.from_string("""\
{% if v.tier %}**Escalated (tier {{ v.tier }}): nobody acknowledged yet.**
{% endif %}
{% if v.plain is not none %}
{{ v.plain | md }}
{% if v.sla_due %}
**Reply publicly by (your time):** {{ v.sla_due }}
{% endif %}
{% else %}
**{{ v.kind | capitalize }} ({{ v.severity }})** about {{ v.brand | md }} on {{ v.source | md }}\
{% if v.author %} by {{ v.author | md }}{% endif %}{% if v.rating %}, rating {{ v.rating }}{% endif %}

{% for note in v.notes %}_{{ note | md }}_
{% endfor %}
{% if v.heading %}**{{ v.heading | md }}**
{% endif %}
{% if v.text %}> {{ v.text | md | replace("\n", "\n> ") }}
{% endif %}
{% if v.reasons %}**Why:** {{ v.reasons | map("md") | join("; ") }}
{% endif %}
{% if v.sla_due %}**Reply publicly by:** {{ v.sla_due }}
{% endif %}
{% if link %}[Reply publicly]({{ link }})
{% endif %}
{% endif %}
{% if v.ack_url %}[Acknowledge]({{ v.ack_url }})
{% else %}Acknowledge: `review-monitor ack {{ v.alert_id }}`
{% endif %}
ref: {{ v.key }}""")

_HTML = _HTML_ENV.from_string("""\
{% if v.tier %}<p><strong>Escalated (tier {{ v.tier }}): nobody acknowledged yet.</strong></p>
{% endif %}
{% if v.plain is not none %}
<p>{{ v.plain | replace("\n", "<br>\n" | safe) }}</p>
{% if v.sla_due %}<p><strong>Reply publicly by (your time):</strong> {{ v.sla_due }}</p>
{% endif %}
{% else %}
<p><strong>{{ v.kind | capitalize }} ({{ v.severity }})</strong> about {{ v.brand }} on \
{{ v.source }}{% if v.author %} by {{ v.author }}{% endif %}\
{% if v.rating %}, rating {{ v.rating }}{% endif %}</p>
{% for note in v.notes %}<p><em>{{ note }}</em></p>
{% endfor %}
{% if v.heading %}<p><strong>{{ v.heading }}</strong></p>
{% endif %}
{% if v.text %}<blockquote>{{ v.text | replace("\n", "<br>\n" | safe) }}</blockquote>
{% endif %}
{% if v.reasons %}<p><strong>Why:</strong> {{ v.reasons | join("; ") }}</p>
{% endif %}
{% if v.sla_due %}<p><strong>Reply publicly by:</strong> {{ v.sla_due }}</p>
{% endif %}
{% if link %}<p><a href="{{ link }}">Reply publicly</a></p>
{% endif %}
{% endif %}
{% if v.ack_url %}<p><a href="{{ v.ack_url }}">Acknowledge</a></p>
{% else %}<p>Acknowledge: <code>review-monitor ack {{ v.alert_id }}</code></p>
{% endif %}
<p>ref: {{ v.key }}</p>""")

_PLAIN = _ENV.from_string("""\
{% if v.tier %}Escalated (tier {{ v.tier }}): nobody acknowledged yet.
{% endif %}
{% if v.plain is not none %}
{{ v.plain }}
{% if v.sla_due %}
Reply publicly by (your time): {{ v.sla_due }}
{% endif %}
{% else %}
{{ v.kind | capitalize }} ({{ v.severity }}) about {{ v.brand }} on {{ v.source }}\
{% if v.author %} by {{ v.author }}{% endif %}{% if v.rating %}, rating {{ v.rating }}{% endif %}

{% for note in v.notes %}{{ note }}
{% endfor %}
{% if v.heading %}Title: {{ v.heading }}
{% endif %}
{% if v.text %}{{ v.text }}
{% endif %}
{% if v.reasons %}Why: {{ v.reasons | join("; ") }}
{% endif %}
{% if v.sla_due %}Reply publicly by: {{ v.sla_due }}
{% endif %}
{% if v.url %}Reply publicly: {{ v.url }}
{% endif %}
{% endif %}
{% if v.ack_url %}Acknowledge: {{ v.ack_url }}
{% else %}Acknowledge: review-monitor ack {{ v.alert_id }}
{% endif %}
ref: {{ v.key }}""")

_SMS_LIMIT = 320


def render_view(view: AlertView) -> Rendered:
    """The alert in each form: markdown for chat, HTML for e-mail, short text for SMS."""
    title = view.title if not view.tier else f"[ESCALATED t{view.tier}] {view.title}"
    # One line: a line break from an author's name or a title in an e-mail Subject is
    # refused by the mail library (every retry fails) or forges a header.
    title = defuse_mentions(_one_line(title))
    link = safe_link(view.url)
    markdown = _MARKDOWN.render(v=view, link=link).strip()
    html = _HTML.render(v=view, link=link).strip()
    ack = view.ack_url or f"review-monitor ack {view.alert_id}"
    if view.plain is not None:
        gist = view.plain.replace("\n", " ")
    else:
        gist = (f"{view.severity.upper()} {view.kind} {view.brand}/{view.source}: "
                f"{(view.heading or view.text).replace(chr(10), ' ')}")
    tail = (f" Due {view.sla_due}." if view.sla_due else "") + f" Ack: {ack} ref: {view.key}"
    room = max(40, _SMS_LIMIT - len(tail))
    if len(gist) > room:
        gist = gist[: room - 1] + "…"
    text = (f"ESCALATED t{view.tier}: " if view.tier else "") + gist + tail
    return Rendered(title[:250], markdown, html, text, _PLAIN.render(v=view).strip())


def render_batch(channel_label: str, views: list[AlertView], why: str) -> Rendered:
    """One message for many alerts (after-hours batch, storm summary): counts and links."""
    counts: dict[str, int] = {}
    for view in views:
        counts[view.severity] = counts.get(view.severity, 0) + 1
    summary = ", ".join(f"{count} {severity}" for severity, count in
                        sorted(counts.items(), key=lambda item: -item[1]))
    title = f"{len(views)} alerts {why} ({summary})"
    md_lines, html_lines, text_lines = [f"**{title}**", ""], [f"<p><strong>{escape(title)}"
                                                              "</strong></p>", "<ul>"], [title]
    for view in views:
        headline = view.heading or view.text or view.plain or view.title
        headline = headline.replace("\n", " ")
        if len(headline) > 100:
            headline = headline[:99] + "…"
        ack = view.ack_url
        link = safe_link(view.url)
        md_lines.append(
            f"- **{view.severity}** {escape_markdown(view.brand)} on "
            f"{escape_markdown(view.source)}: {escape_markdown(headline)}"
            + (f" · [reply]({link})" if link else "")
            + (f" · [ack]({ack})" if ack else f" · ack: `review-monitor ack {view.alert_id}`"))
        html_lines.append(
            f"<li><strong>{escape(view.severity)}</strong> {escape(view.brand)} on "
            f"{escape(view.source)}: {escape(headline)}"
            + (f' · <a href="{escape(link)}">reply</a>' if link else "")
            + (f' · <a href="{escape(ack)}">ack</a>' if ack else
               f" · ack: <code>review-monitor ack {view.alert_id}</code>") + "</li>")
        text_lines.append(f"- {view.severity} {view.brand}/{view.source}: {headline[:60]}")
    html_lines.append("</ul>")
    refs = [f"ref: {view.key}" for view in views]
    return Rendered(title[:250], "\n".join([*md_lines, "", *refs]),
                    "\n".join([*html_lines, *(f"<p>{r}</p>" for r in refs)]),
                    "\n".join(text_lines[:6]) + (f"\n(+{len(views) - 5} more)"
                                                 if len(views) > 5 else ""),
                    "\n".join([*text_lines, "", *refs]))
