"""The TOML config file, validated by pydantic.

Secrets stay out of the file: any string may say ``${NAME}`` and gets the
environment variable's value. Every problem is reported as one line
``FILE: key.path: what is wrong``, all at once, so a user fixes them in one go.
"""

from __future__ import annotations

import os
import re
import tomllib
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy.engine import make_url

from monitor.core.classify import Kind, Severity
from monitor.core.durations import parse_duration
from monitor.core.hours import SupportHours
from monitor.core.language import normalise_code, supported
from monitor.errors import ConfigError
from spiders import SPIDERS

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be longer than 0s")
    return value


# Waits and windows that 0s would break: a send given no time fails every attempt, a
# retry without a wait hammers a site or burns every attempt at once, an empty window
# stops the daemon at start.
PositiveDuration = Annotated[timedelta, BeforeValidator(parse_duration),
                             AfterValidator(_positive)]

def _time_zone(value: str) -> str:
    SupportHours.parse(value)
    return value


def _time_zone_or_unset(value: str) -> str:
    return _time_zone(value) if value else value


# An IANA time zone name ("Europe/Oslo"); check-config names the key when it is unknown.
TimeZoneName = Annotated[str, AfterValidator(_time_zone)]

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _identifier(value: str) -> str:
    if not _ID.match(value):
        raise ValueError("use letters, digits, '-', '_' and '.' only")
    return value


# Source ids and digest names: they appear in URLs, logs and the store.
Identifier = Annotated[str, AfterValidator(_identifier)]

CONSOLE_CHANNEL = "console"


# Booleans and numbers are declared StrictBool, StrictInt and StrictFloat: TOML has real
# ones, so enabled = "yes", port = "8080", max_pages = 2.5 or workers = true is a mistake
# check-config reports ("Input should be a valid boolean") instead of guessing; a float
# key still takes an integer (jitter = 0). A ${ENV} reference is text, so it belongs in
# string keys (URLs, secrets) only.
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StoreConfig(_Strict):
    url: str = "sqlite:///review-monitor.db"

    @field_validator("url")
    @classmethod
    def _known_backend(cls, url: str) -> str:
        try:
            backend = make_url(url).get_backend_name()
        except Exception as error:
            raise ValueError(f"not a database URL: {error}") from error
        if backend not in ("sqlite", "postgresql"):
            raise ValueError("use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB")
        return url


class VocabularyConfig(_Strict):
    """The brand's own words for the classifier (see docs/classification.md)."""

    product_names: list[str] = Field(default_factory=list)
    # Extra complaint words per language code, "*" for every language.
    complaint_words: dict[str, list[str]] = Field(default_factory=dict)
    # A mention containing one of these is not a complaint (job adverts, own announcements).
    ignore_words: list[str] = Field(default_factory=list)
    staff_authors: list[str] = Field(default_factory=list)
    competitor_names: list[str] = Field(default_factory=list)


class ClassifierConfig(_Strict):
    # "module:attr" or an entry point in group review_monitor.classifiers; empty = built-in.
    plugin: str = ""
    # Languages the built-in detector chooses among (ISO 639-1).
    languages: list[str] = Field(
        default_factory=lambda: ["en", "ru", "ro", "nb", "et", "de", "fr", "es"])
    # Options passed to the plugin's constructor.
    options: dict[str, Any] = Field(default_factory=dict)
    # Extra processes that classify part of each batch (0: only the ingest thread). On a
    # machine with two or more cores, 1 takes classification off the crawl's core.
    workers: StrictInt = Field(default=0, ge=0, le=64)

    @field_validator("languages")
    @classmethod
    def _detectable(cls, value: list[str]) -> list[str]:
        unknown = [code for code in value if not supported(normalise_code(code) or "")]
        if unknown:
            raise ValueError(f"{', '.join(map(repr, unknown))}: not a language the detector "
                             "knows (ISO 639-1 codes such as en, nb, ru; see "
                             "docs/classification.md)")
        if not value:
            raise ValueError("at least one language")
        return value


class BrandConfig(_Strict):
    name: str = ""
    keywords: list[str] = Field(default_factory=list)
    # The brand's own public accounts per site, e.g. {reddit = ["acme_support"]}:
    # their posts are company replies, never complaints.
    accounts: dict[str, list[str]] = Field(default_factory=dict)
    vocabulary: VocabularyConfig = Field(default_factory=VocabularyConfig)


class SourceConfig(_Strict):
    id: Identifier
    spider: str
    url: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    brand: str | None = None
    interval: Duration = timedelta(minutes=15)
    enabled: StrictBool = True
    max_pages: StrictInt = Field(default=5, ge=1, le=1000)
    obey_robots: StrictBool = True
    # Extra Scrapy settings for this source only (e.g. DOWNLOAD_DELAY).
    scrapy_settings: dict[str, Any] = Field(default_factory=dict)
    # Render pages in a headless Chromium (scrapy-playwright) before the spider reads
    # them, for sites whose reviews only appear after JavaScript runs. Much slower;
    # needs the "render" extra and daemon.chromium_path. Off by default.
    render: StrictBool = False
    # Mark stored mentions removed when this source's complete listings (a feed, the
    # newest reviews) stop showing them; off for a listing that drops posts for other
    # reasons (a search whose matches change). See docs/lifecycle.md.
    detect_removals: StrictBool = True

    @field_validator("spider")
    @classmethod
    def _known_spider(cls, value: str) -> str:
        if value not in SPIDERS:
            raise ValueError(f"unknown spider '{value}'; known: {', '.join(sorted(SPIDERS))}")
        return value

    @field_validator("interval")
    @classmethod
    def _sane_interval(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=1):
            raise ValueError("must be at least 1s")
        return value

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value


class ChannelConfig(_Strict):
    # apprise URLs; write secrets as ${ENV_NAME}.
    urls: list[str] = Field(min_length=1)


class RouteConfig(_Strict):
    name: str = ""
    brands: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    kinds: list[Kind] = Field(default_factory=lambda: [Kind.COMPLAINT, Kind.QUESTION])
    min_severity: Severity = Severity.NORMAL
    # Exactly these severities (empty = min_severity decides).
    severities: list[Severity] = Field(default_factory=list)
    # Language codes (ISO 639-1) of the mention; empty = any.
    languages: list[str] = Field(default_factory=list)
    # true: only incident alerts; false: only single mentions; unset: both.
    incident: StrictBool | None = None
    # Channel names from [channels]. Also allowed (in channels or targets): "oncall:NAME"
    # (whoever is on call in [oncall.NAME]), "member:NAME", "tag:TAG" (entries of
    # notify.apprise_config with that tag) and apprise URLs. See docs/alerting.md.
    channels: list[str] = Field(default_factory=list)
    targets: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _has_targets(self) -> RouteConfig:
        if not self.channels and not self.targets:
            raise ValueError("a route needs channels or targets")
        return self

    def all_targets(self) -> list[str]:
        return [*self.channels, *(t for t in self.targets if t not in self.channels)]


class NotifyConfig(_Strict):
    max_attempts: StrictInt = Field(default=8, ge=1, le=100)
    backoff_initial: PositiveDuration = timedelta(seconds=30)
    backoff_max: PositiveDuration = timedelta(hours=1)
    # Where an alert goes when it could not be delivered after max_attempts.
    fallback: str | None = CONSOLE_CHANNEL
    send_timeout: PositiveDuration = timedelta(seconds=20)
    # Quick in-process retries of one send before it is rescheduled.
    quick_retries: StrictInt = Field(default=2, ge=1, le=10)
    # Every matching route gets the alert ("all") or just the first one ("first").
    route_mode: str = Field(default="all", pattern="^(all|first)$")
    # -- alert path (docs/alerting.md) --
    # Outside [hours]: "send" everything at once, or "batch": critical alerts go at once
    # (and page the on-call member of page_oncall), the rest wait for business hours
    # and arrive as one message per channel. Unset: "batch" when the file states its
    # support hours ([hours]), "send" when it does not (we do not know them).
    after_hours: Literal["send", "batch"] | None = None
    # The [oncall.NAME] schedule paged for critical mentions after hours ("" = none).
    page_oncall: str = ""
    # Storm protection: more than rate_limit alerts to one channel within rate_window
    # become one summary message (0 = no limit).
    rate_limit: StrictInt = Field(default=0, ge=0, le=10_000)
    rate_window: Duration = timedelta(minutes=10)
    # An apprise YAML/TEXT config file whose entries routes reach as "tag:TAG".
    apprise_config: str = ""


class LifecycleConfig(_Strict):
    # A customer's messages on one site within this window form one thread.
    follow_up_window: Duration = timedelta(days=7)
    # Incidents (see docs/lifecycle.md): near-duplicate complaints within the window...
    incident_window: PositiveDuration = timedelta(hours=2)
    incident_min_cluster: StrictInt = Field(default=3, ge=2, le=1000)
    incident_similarity: StrictFloat = Field(default=0.6, gt=0, le=1)
    # ... or a spike: complaints in one bucket far above the brand's trailing baseline.
    spike_bucket: PositiveDuration = timedelta(minutes=30)
    spike_baseline: PositiveDuration = timedelta(days=7)
    spike_k: StrictFloat = Field(default=3.0, gt=0)
    spike_min_count: StrictInt = Field(default=5, ge=1)
    # An incident alerts once, then at most this often, and closes after this quiet time.
    incident_update_every: PositiveDuration = timedelta(minutes=30)
    incident_quiet: PositiveDuration = timedelta(hours=2)
    # A mention its source's complete listing has stopped showing for this long (and
    # for at least 1.5 poll intervals) is marked removed: docs/lifecycle.md.
    removal_grace: Duration = timedelta(hours=1)

    @model_validator(mode="after")
    def _baseline_holds_a_bucket(self) -> LifecycleConfig:
        if self.spike_baseline < self.spike_bucket:
            raise ValueError("spike_baseline must be at least one spike_bucket long")
        return self


class RepliesConfig(_Strict):
    """The company's public replies (docs/response.md): template detection."""

    # A reply near-identical to this many other replies of the brand is a template
    # (2: the third copy of one text makes all three templates).
    template_min_matches: StrictInt = Field(default=2, ge=1, le=1000)
    # Jaccard similarity of normalised word 3-grams that counts as near-identical.
    template_similarity: StrictFloat = Field(default=0.6, gt=0, le=1)
    # Compared with the brand's replies of this long back, at most template_candidates.
    template_window: Duration = timedelta(days=90)
    template_candidates: StrictInt = Field(default=2000, ge=10, le=100_000)
    # Tell this channel (the lead) when a reply is flagged as a template; empty = only
    # counted for the digest. A channel of [channels], member:NAME or oncall:SCHEDULE.
    template_channel: str | None = None


class SlaConfig(_Strict):
    """The public-reply clock (docs/response.md). Targets count business hours."""

    critical: Duration = timedelta(hours=1)
    high: Duration = timedelta(hours=4)
    normal: Duration = timedelta(hours=24)
    low: Duration = timedelta(hours=72)
    # Reminders at these percentages of the target (to the mention's alert channels).
    reminders: list[StrictInt] = Field(default_factory=lambda: [50, 80])
    # Breaches go to the lead (a channel, member:NAME or oncall:SCHEDULE); empty = to the
    # mention's alert channels.
    lead_channel: str | None = None
    # "Tell the customer about the delay" for complaints unresolved this long (calendar
    # time: the customer's clock, not ours); 0s = off.
    delay_notice_after: Duration = timedelta(days=3)
    # How often the daemon sweeps for due reminders.
    sweep_every: Duration = timedelta(minutes=1)

    @field_validator("reminders")
    @classmethod
    def _percentages(cls, value: list[int]) -> list[int]:
        if any(not 0 < percent < 100 for percent in value):
            raise ValueError("each reminder is a percentage of the target between 1 and 99")
        return sorted(set(value))


class HealthConfig(_Strict):
    """Source health alerts (docs/response.md): one alert when a source goes bad, one when
    it recovers."""

    # Where they go (a channel, member:NAME or oncall:SCHEDULE); empty = nowhere (the
    # transitions are still recorded for the digest).
    ops_channel: str | None = None
    # Failed runs in a row before a source counts as failing.
    failures: StrictInt = Field(default=3, ge=1, le=1000)
    # Blocked runs (HTTP 403/429, captcha) in a row before it counts as blocked.
    blocked_after: StrictInt = Field(default=1, ge=1, le=1000)
    # Silent: no new mention for silent_factor × the source's median gap between
    # mentions, and never less than silent_floor; learned from its last silent_history
    # mentions, and only once it has silent_min_history of them.
    silent_factor: StrictFloat = Field(default=6.0, gt=1)
    silent_floor: Duration = timedelta(hours=24)
    silent_history: StrictInt = Field(default=50, ge=3, le=10_000)
    silent_min_history: StrictInt = Field(default=10, ge=2, le=10_000)


class DaemonConfig(_Strict):
    # Each run is moved by up to this fraction of the interval so sources spread out.
    jitter: StrictFloat = Field(default=0.1, ge=0, le=0.5)
    backoff_max: PositiveDuration = timedelta(hours=6)
    grace_period: Duration = timedelta(seconds=10)
    # Due sources are crawled together, one Scrapy crawler per spider: at most this many.
    max_sources_per_crawl: StrictInt = Field(default=200, ge=1, le=10_000)
    # Requests in flight at once in one crawl (per site: concurrent_requests_per_domain).
    concurrent_requests: StrictInt = Field(default=16, ge=1, le=256)
    user_agent: str = "review-monitor/0.1 (+https://github.com/review-monitor/review-monitor)"
    concurrent_requests_per_domain: StrictInt = Field(default=2, ge=1, le=16)
    autothrottle: StrictBool = True
    download_timeout: Duration = timedelta(seconds=30)
    # The Chromium binary that sources with render = true use (Debian's package).
    chromium_path: str = "/usr/bin/chromium"


WebRole = Literal["viewer", "responder", "admin"]


class WebUserConfig(_Strict):
    """One person who logs in to the web inbox (see docs/web.md)."""

    # argon2id hash from ``review-monitor web hash-password``; never the password itself.
    password_hash: str = Field(default="", repr=False)
    role: WebRole = "responder"

    @field_validator("password_hash")
    @classmethod
    def _argon2(cls, value: str) -> str:
        if value and not value.startswith("$argon2"):
            raise ValueError("must be an argon2 hash: run 'review-monitor web hash-password'")
        return value


class WebTokenConfig(_Strict):
    """One API client: ``Authorization: Bearer <token>``."""

    # The token from ${ENV} (at least 24 characters), or "sha256:<hex>" of it.
    token: str = Field(repr=False)
    role: WebRole = "responder"

    @field_validator("token")
    @classmethod
    def _long_enough(cls, value: str) -> str:
        if value.startswith("sha256:"):
            if not re.fullmatch(r"sha256:[0-9a-f]{64}", value):
                raise ValueError("sha256: must be followed by 64 lower-case hex digits")
        elif len(value) < 24:
            raise ValueError("use at least 24 random characters (or sha256:<hex> of them)")
        return value


class WebConfig(_Strict):
    """The daemon's HTTP side: acknowledgement links, the triage inbox and the API.
    Present in the file means served by ``review-monitor run``."""

    host: str = "127.0.0.1"
    port: StrictInt = Field(default=8080, ge=0, le=65535)
    # How people reach it (behind a reverse proxy, the public https:// address): the
    # base of every acknowledgement link in alerts.
    base_url: str = "http://127.0.0.1:8080"
    # Signs acknowledgement links and session cookies; from ${ENV}, never in the file.
    secret: str = Field(default="", repr=False)
    # -- triage inbox and API (docs/web.md) --
    users: dict[str, WebUserConfig] = Field(default_factory=dict)
    tokens: dict[str, WebTokenConfig] = Field(default_factory=dict)
    # A reverse proxy that authenticates people may name them in this header (e.g.
    # "X-Forwarded-User"); empty = off. Only believed from proxy_addresses.
    proxy_header: str = ""
    proxy_addresses: list[str] = Field(default_factory=lambda: ["127.0.0.1", "::1"])
    # Role of a proxy-authenticated person who is not in [web.users].
    proxy_role: WebRole = "viewer"
    session_lifetime: Duration = timedelta(hours=12)
    # Failed logins allowed per address and per user name within login_window.
    login_attempts: StrictInt = Field(default=5, ge=1, le=1000)
    login_window: Duration = timedelta(minutes=15)
    # /healthz is unhealthy when no source was crawled for this long (0s = never).
    health_crawl_age: Duration = timedelta(hours=1)


# -- weekly digest (issue 7, docs/digest.md) --


class SmtpConfig(_Strict):
    """The mail server for digest recipients given as plain addresses."""

    host: str
    port: StrictInt = Field(default=587, ge=1, le=65535)
    user: str = ""
    # From ${ENV}, never in the file.
    password: str = Field(default="", repr=False)
    # starttls (port 587) | ssl (implicit TLS, port 465) | none (a local relay only)
    tls: Literal["starttls", "ssl", "none"] = "starttls"
    sender: str = Field(default="review-monitor <review-monitor@localhost>", alias="from")
    timeout: Duration = timedelta(seconds=30)


class DigestConfig(_Strict):
    """One weekly digest e-mail: who gets it, when, and which brands it covers."""

    # The scope: runs are recorded per name and ISO week (never sent twice).
    name: Identifier
    # "DAY HH:MM ZONE": the digest of the previous ISO week (Monday to Sunday in ZONE).
    schedule: str = "mon 08:00 UTC"
    # Brand keys from [brands]; empty = every brand (and mentions of no brand).
    brands: list[str] = Field(default_factory=list)
    # mailto:// or mailtos:// apprise URLs (their own server), or plain addresses sent
    # through [smtp].
    recipients: list[str] = Field(default_factory=list)
    subject_prefix: str = "[review-monitor]"
    # Rows in each top-N list (sources, open complaints, themes ...).
    top: StrictInt = Field(default=10, ge=1, le=100)
    # A failed send is retried this long after the failure.
    retry_after: Duration = timedelta(minutes=15)

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        from monitor.core.digest import parse_schedule

        parse_schedule(value)
        return value


# -- alert path: support hours, on-call, escalation (issue 6, docs/alerting.md) --


class SupportHoursConfig(_Strict):
    """The team's real support hours (monitor.core.hours): nothing pretends to be 24/7."""

    # IANA zone name, e.g. "Europe/Oslo".
    timezone: TimeZoneName = "UTC"
    # "mon-fri 09:00-17:00; sat 10:00-14:00" or a table { mon = "09:00-17:00", ... };
    # several ranges a day: "08:00-12:00,13:00-17:00"; "22:00-06:00" runs over midnight.
    weekly: str | list[str] | dict[str, str | list[str]] = "mon-fri 09:00-17:00"
    # Local dates on which the team does not work.
    holidays: list[date] = Field(default_factory=list)

    # Field by field first, so check-config names the key ("hours.weekly: ...").
    @field_validator("weekly")
    @classmethod
    def _weekly(cls, value: str | list[str] | dict[str, str | list[str]]
                ) -> str | list[str] | dict[str, str | list[str]]:
        from monitor.core.hours import parse_weekly

        parse_weekly(value)
        return value

    @model_validator(mode="after")
    def _valid(self) -> SupportHoursConfig:
        self.hours()
        return self

    def hours(self) -> SupportHours:
        return SupportHours.parse(self.timezone, self.weekly, self.holidays)


class MemberConfig(_Strict):
    """A person of the rapid-response group: their own channels and time zone."""

    name: str = ""
    # apprise URLs (secrets as ${ENV}); mailto:// gets HTML, SMS services short text.
    urls: list[str] = Field(min_length=1)
    # Deadlines in their alerts are shown in this zone (unset: the team's [hours] zone).
    timezone: Annotated[str, AfterValidator(_time_zone_or_unset)] = ""


class OverrideConfig(_Strict):
    member: str
    # Local date-times in the schedule's zone (or with an offset).
    start: datetime
    end: datetime


class OnCallConfig(_Strict):
    """One on-call schedule: a rotation among members, overrides, or an .ics calendar."""

    timezone: TimeZoneName = "UTC"
    # The hours this schedule covers; unset = around the clock (a real night rota).
    hours: SupportHoursConfig | None = None
    members: list[str] = Field(default_factory=list)
    rotation: Literal["daily", "weekly"] = "weekly"
    # Hand-off time (schedule's zone) and, for weekly rotations, the weekday.
    handoff: str = "09:00"
    handoff_day: str = "mon"
    # The first member starts at the first hand-off on or after this date.
    start: date = date(2026, 1, 5)
    overrides: list[OverrideConfig] = Field(default_factory=list)
    # An iCalendar file of shifts: each event's summary names a member.
    calendar: str = ""

    @field_validator("handoff")
    @classmethod
    def _handoff(cls, value: str) -> str:
        from monitor.core.hours import parse_clock

        parse_clock(value)
        return value

    @field_validator("handoff_day")
    @classmethod
    def _handoff_day(cls, value: str) -> str:
        from monitor.core.oncall import handoff_day

        handoff_day(value)
        return value

    @model_validator(mode="after")
    def _valid(self) -> OnCallConfig:
        SupportHours.parse(self.timezone)
        if not self.members and not self.calendar and not self.overrides:
            raise ValueError("name members (a rotation), a calendar or overrides")
        from monitor.core.hours import parse_clock
        from monitor.core.oncall import handoff_day

        handoff_day(self.handoff_day)
        parse_clock(self.handoff)
        return self


class EscalationTierConfig(_Strict):
    # Sent this long after the previous tier's alert if nobody acknowledged it.
    after: Duration = timedelta(minutes=15)
    targets: list[str] = Field(min_length=1)


class EscalationConfig(_Strict):
    """Unacknowledged alerts go to the next tier (backup, then lead), until acked."""

    # Alerts about mentions at least this severe escalate (incident alerts always do).
    min_severity: Severity = Severity.HIGH
    tiers: list[EscalationTierConfig] = Field(default_factory=list)
    # The signed acknowledgement link in every alert is valid this long.
    ack_link_lifetime: Duration = timedelta(days=7)


class Config(_Strict):
    store: StoreConfig = Field(default_factory=StoreConfig)
    daemon: DaemonConfig = Field(default_factory=DaemonConfig)
    notify: NotifyConfig = Field(default_factory=NotifyConfig)
    classifier: ClassifierConfig = Field(default_factory=ClassifierConfig)
    lifecycle: LifecycleConfig = Field(default_factory=LifecycleConfig)
    brands: dict[str, BrandConfig] = Field(default_factory=dict)
    sources: list[SourceConfig] = Field(default_factory=list)
    channels: dict[str, ChannelConfig] = Field(default_factory=dict)
    routes: list[RouteConfig] = Field(default_factory=list)
    web: WebConfig | None = None
    # The team's support hours (after-hours batching, SLA clock); on-call may name its own.
    hours: SupportHoursConfig = Field(default_factory=SupportHoursConfig)
    members: dict[str, MemberConfig] = Field(default_factory=dict)
    oncall: dict[str, OnCallConfig] = Field(default_factory=dict)
    escalation: EscalationConfig = Field(default_factory=EscalationConfig)
    replies: RepliesConfig = Field(default_factory=RepliesConfig)
    sla: SlaConfig = Field(default_factory=SlaConfig)
    health: HealthConfig = Field(default_factory=HealthConfig)
    smtp: SmtpConfig | None = None
    digests: list[DigestConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _cross_references(self) -> Config:
        problems: list[str] = []
        if self.notify.after_hours is None:
            self.notify.after_hours = "batch" if "hours" in self.model_fields_set else "send"
        for brand_key, brand in self.brands.items():
            if not brand.name:
                brand.name = brand_key
        seen: set[str] = set()
        for index, source in enumerate(self.sources):
            if source.id in seen:
                problems.append(f"sources[{index}].id: duplicate source id '{source.id}'")
            seen.add(source.id)
            if source.brand is not None and source.brand not in self.brands:
                problems.append(f"sources[{index}].brand: no brand '{source.brand}' in [brands]")
        channel_names = set(self.channels) | {CONSOLE_CHANNEL}
        for index, route in enumerate(self.routes):
            for field_name, names in (("channels", route.channels), ("targets", route.targets)):
                for name in names:
                    problem = self._target_problem(name, channel_names)
                    if problem:
                        problems.append(f"routes[{index}].{field_name}: {problem}")
            for brand_key in route.brands:
                if brand_key not in self.brands:
                    problems.append(f"routes[{index}].brands: no brand '{brand_key}' in [brands]")
            for source_id in route.sources:
                if source_id not in seen:
                    problems.append(f"routes[{index}].sources: no source '{source_id}'")
        digest_names: set[str] = set()
        for index, digest in enumerate(self.digests):
            if digest.name in digest_names:
                problems.append(f"digests[{index}].name: duplicate digest name '{digest.name}'")
            digest_names.add(digest.name)
            for brand_key in digest.brands:
                if brand_key not in self.brands:
                    problems.append(f"digests[{index}].brands: no brand '{brand_key}' in [brands]")
        if self.notify.fallback is not None and self.notify.fallback not in channel_names:
            problems.append(f"notify.fallback: no channel '{self.notify.fallback}' in [channels]")
        if self.web is not None and len(self.web.secret) < 16:
            problems.append("web.secret: set at least 16 random characters (from ${ENV}); "
                            "it signs session cookies and acknowledgement links")
        for key, wanted in (("replies.template_channel", self.replies.template_channel),
                            ("sla.lead_channel", self.sla.lead_channel),
                            ("health.ops_channel", self.health.ops_channel)):
            if wanted is None:
                continue
            if "://" in wanted or wanted.startswith("tag:"):
                problems.append(f"{key}: name a channel of [channels], member:NAME or "
                                "oncall:SCHEDULE (put URLs and tags in a channel)")
                continue
            problem = self._target_problem(wanted, channel_names)
            if problem:
                problems.append(f"{key}: {problem}")
        problems.extend(self._alerting_problems(channel_names))
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def _target_problem(self, target: str, channel_names: set[str]) -> str | None:
        """What is wrong with a route/escalation target, or None (docs/alerting.md)."""
        kind, _, name = target.partition(":")
        if kind == "oncall" and name:
            return None if name in self.oncall else f"no schedule '{name}' in [oncall]"
        if kind == "member" and name:
            return None if name in self.members else f"no member '{name}' in [members]"
        if kind == "tag" and name:
            return None if self.notify.apprise_config else \
                f"'{target}' needs notify.apprise_config"
        if "://" in target:
            return None
        return None if target in channel_names else f"no channel '{target}' in [channels]"

    def _alerting_problems(self, channel_names: set[str]) -> list[str]:
        problems = []
        for name, schedule in self.oncall.items():
            for member in [*schedule.members, *(o.member for o in schedule.overrides)]:
                if member not in self.members:
                    problems.append(f"oncall.{name}: no member '{member}' in [members]")
        for index, tier in enumerate(self.escalation.tiers):
            for target in tier.targets:
                problem = self._target_problem(target, channel_names)
                if problem:
                    problems.append(f"escalation.tiers[{index}].targets: {problem}")
        if self.notify.page_oncall and self.notify.page_oncall not in self.oncall:
            problems.append(f"notify.page_oncall: no schedule '{self.notify.page_oncall}' "
                            "in [oncall]")
        return problems

    def source(self, source_id: str) -> SourceConfig:
        for source in self.sources:
            if source.id == source_id:
                return source
        raise KeyError(source_id)

    def summary(self) -> str:
        enabled = sum(1 for source in self.sources if source.enabled)
        return (
            f"{len(self.brands)} brands, {len(self.sources)} sources ({enabled} enabled), "
            f"{len(self.channels)} channels, {len(self.routes)} routes; "
            f"store {redact_url(self.store.url)}"
        )


def redact_url(url: str) -> str:
    """A database URL with its password hidden, fit for logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unreadable url>"


def load_config(path: str | Path, environ: dict[str, str] | None = None) -> Config:
    """Read, interpolate and validate a config file; ConfigError lists every problem."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([f"{path}: file not found"]) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([f"{path}: not valid TOML: {error}"]) from error
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError([f"{path}: cannot read: {error}"]) from error
    return parse_config(raw, path, environ)


def parse_config(raw: dict[str, Any], path: Path, environ: dict[str, str] | None = None) -> Config:
    problems: list[str] = []
    interpolated = _interpolate(raw, os.environ if environ is None else environ, "", problems)
    config: Config | None = None
    try:
        config = Config.model_validate(interpolated)
    except ValidationError as error:
        for detail in error.errors():
            location = _format_location(detail["loc"])
            message = str(detail["msg"]).removeprefix("Value error, ")
            if not location and "\n" in message:
                problems.extend(message.splitlines())
            else:
                for line in message.splitlines():
                    problems.append(f"{location}: {line}" if location else line)
    problems = [f"{path}: {problem}" for problem in problems]
    if problems or config is None:
        raise ConfigError(problems)
    _resolve_sqlite_path(config, path)
    _resolve_alerting_paths(config, path)
    return config


def _resolve_alerting_paths(config: Config, path: Path) -> None:
    """On-call calendars and the apprise config file are relative to the config file."""
    base = path.resolve().parent
    for schedule in config.oncall.values():
        if schedule.calendar and not Path(schedule.calendar).is_absolute():
            schedule.calendar = str(base / schedule.calendar)
    if config.notify.apprise_config and not Path(config.notify.apprise_config).is_absolute():
        config.notify.apprise_config = str(base / config.notify.apprise_config)


def _interpolate(value: Any, environ: Any, location: str, problems: list[str]) -> Any:
    if isinstance(value, str):
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in environ:
                problems.append(f"{location}: environment variable {name} is not set")
                return ""
            return str(environ[name])

        return _ENV_REFERENCE.sub(replace, value)
    if isinstance(value, dict):
        return {
            key: _interpolate(inner, environ, f"{location}.{key}" if location else key, problems)
            for key, inner in value.items()
        }
    if isinstance(value, list):
        return [
            _interpolate(inner, environ, f"{location}[{index}]", problems)
            for index, inner in enumerate(value)
        ]
    return value


def _format_location(location: tuple[Any, ...]) -> str:
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _resolve_sqlite_path(config: Config, path: Path) -> None:
    """A relative SQLite path is relative to the config file, not to wherever we started."""
    url = make_url(config.store.url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        database = Path(url.database)
        if not database.is_absolute():
            config.store.url = url.set(database=str((path.parent / database).resolve())) \
                .render_as_string(hide_password=False)
