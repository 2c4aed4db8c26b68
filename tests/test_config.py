"""Config validation: every problem as 'FILE: key.path: what is wrong', exit 2."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
from pydantic import BaseModel
from pydantic.types import Strict

import monitor.config as config_module
from monitor.cli import main
from monitor.config import load_config, parse_config
from monitor.errors import ConfigError

GOOD = """
[store]
url = "sqlite:///state/monitor.db"

[brands.acme]
name = "Acme"
keywords = ["acme", "acme cloud"]
accounts = { reddit = ["acme_support"] }

[[sources]]
id = "acme-alerts"
spider = "feed"
url = "https://www.google.com/alerts/feeds/1/2"
brand = "acme"
interval = "10m"

[channels.oncall]
urls = ["json://localhost/hook?token=${HOOK_TOKEN}"]

[[routes]]
kinds = ["complaint"]
min_severity = "high"
channels = ["oncall"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "monitor.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_config_loads_with_env_interpolation_and_relative_sqlite(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD), environ={"HOOK_TOKEN": "s3cret"})
    assert config.channels["oncall"].urls == ["json://localhost/hook?token=s3cret"]
    assert config.sources[0].interval.total_seconds() == 600
    assert config.brands["acme"].accounts == {"reddit": ["acme_support"]}
    assert config.store.url == f"sqlite:///{tmp_path / 'state' / 'monitor.db'}"


@pytest.mark.parametrize(("change", "expected"), [
    (("interval = \"10m\"", "interval = \"ten minutes\""),
     "sources[0].interval: 'ten minutes' is not a duration"),
    (("spider = \"feed\"", "spider = \"myspace\""), "sources[0].spider: unknown spider 'myspace'"),
    (("brand = \"acme\"", "brand = \"globex\""), "sources[0].brand: no brand 'globex' in [brands]"),
    (("channels = [\"oncall\"]", "channels = [\"pager\"]"),
     "routes[0].channels: no channel 'pager' in [channels]"),
    (("min_severity = \"high\"", "min_severity = \"urgent\""), "routes[0].min_severity: Input should be"),
    (("url = \"sqlite:///state/monitor.db\"", "url = \"mysql://x/y\""), "store.url: use sqlite"),
    (("interval = \"10m\"", "intervall = \"10m\""), "sources[0].intervall: Extra inputs are not permitted"),
    (("https://www.google.com", "ftp://www.google.com"), "sources[0].url: must start with http"),
])
def test_each_problem_names_the_key(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={"HOOK_TOKEN": "x"})
    assert any(problem.startswith(f"{path}: {expected}") for problem in caught.value.problems), \
        caught.value.problems


def test_missing_environment_variable_is_reported_without_secret(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert caught.value.problems == [
        f"{path}: channels.oncall.urls[0]: environment variable HOOK_TOKEN is not set"
    ]


def test_several_problems_are_all_reported(tmp_path: Path) -> None:
    text = GOOD.replace('interval = "10m"', 'interval = "x"').replace('"feed"', '"nope"')
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), environ={"HOOK_TOKEN": "x"})
    assert len(caught.value.problems) == 2


def test_toml_syntax_error_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[store\n"))
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "absent.toml")


def test_check_config_command(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_TOKEN", "x")
    good = write(tmp_path, GOOD)
    assert main(["check-config", str(good)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{good}: OK: 1 brands, 1 sources (1 enabled), 1 channels, 1 routes")
    bad = write(tmp_path, GOOD.replace('"10m"', '"soon"').replace('"high"', '"meh"'))
    assert main(["check-config", str(bad)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2
    assert all(line.startswith(f"{bad}: ") for line in lines)


def test_check_config_rejects_unknown_apprise_scheme(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, GOOD.replace("json://localhost/hook?token=${HOOK_TOKEN}",
                                        "nosuchservice://x"))
    assert main(["check-config", str(path)]) == 2
    assert "channels.oncall.urls[0]: apprise does not understand a 'nosuchservice://' URL" in \
        capsys.readouterr().err


def test_example_config_in_deploy_is_valid(monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    example = Path(__file__).resolve().parents[1] / "deploy" / "review-monitor.example.toml"
    monkeypatch.setenv("SLACK_WEBHOOK", "T000/B000/XXXX")
    monkeypatch.setenv("SMTP_PASSWORD", "x")
    monkeypatch.setenv("REVIEW_MONITOR_WEB_SECRET", "s" * 32)
    for name in ("MARIA_PASSWORD_HASH", "LEAD_PASSWORD_HASH"):
        monkeypatch.setenv(name, "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA")
    monkeypatch.setenv("HELPDESK_API_TOKEN", "t" * 32)
    assert main(["check-config", str(example)]) == 0, capsys.readouterr().err


def test_one_source_of_each_kind_passes_check_config(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from spiders import SPIDERS

    examples = {
        "feed": 'url = "https://www.google.com/alerts/feeds/1/2"',
        "trustpilot": 'url = "https://www.trustpilot.com/review/acme.example"',
        "appstore": 'params = { app_id = "1234567890", countries = ["us", "no"] }',
        "googleplay": 'params = { package = "com.acme.app", lang = "en", country = "us" }',
        "yelp": 'url = "https://www.yelp.com/biz/acme-oslo"',
        "jsonld": 'url = "https://shop.example/product/1"',
        "reddit": 'params = { query = "acme" }',
        "hackernews": 'params = { query = "acme" }',
        "mastodon": 'params = { instance = "mastodon.social", hashtag = "acme" }',
    }
    assert set(examples) == set(SPIDERS)
    blocks = "".join(f'[[sources]]\nid = "{name}"\nspider = "{name}"\nbrand = "acme"\n{line}\n\n'
                     for name, line in examples.items())
    path = write(tmp_path, f'[brands.acme]\nkeywords = ["acme"]\n\n{blocks}')
    assert main(["check-config", str(path)]) == 0, capsys.readouterr().err
    assert "9 sources (9 enabled)" in capsys.readouterr().out


@pytest.mark.parametrize(("text", "expected"), [
    ("", "send"),                                               # hours unknown: at once
    ('[hours]\ntimezone = "Europe/Oslo"\n', "batch"),          # stated hours: batched
    ('[notify]\nafter_hours = "send"\n[hours]\ntimezone = "Europe/Oslo"\n', "send"),
    ('[notify]\nafter_hours = "batch"\n', "batch"),
])
def test_after_hours_batching_follows_stated_support_hours(tmp_path: Path, text: str,
                                                           expected: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    assert load_config(path).notify.after_hours == expected


@pytest.mark.parametrize(("argv", "level"), [
    (["run", "-c", "x.toml"], "INFO"),
    (["--log-level", "debug", "run", "-c", "x.toml"], "DEBUG"),
    (["run", "-c", "x.toml", "--log-level", "warning"], "WARNING"),
    (["--log-level", "debug", "digest", "-c", "x.toml", "--log-level", "error"], "ERROR"),
    (["db", "upgrade", "-c", "x.toml", "--log-level", "DEBUG"], "DEBUG"),
])
def test_log_level_goes_before_or_after_the_command(argv: list[str], level: str) -> None:
    from monitor.cli import build_parser

    assert build_parser().parse_args(argv).log_level == level


def test_an_unknown_log_level_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["check-config", "x.toml", "--log-level", "loud"])
    assert stop.value.code == 2
    assert "invalid choice: 'LOUD'" in capsys.readouterr().err


@pytest.mark.parametrize(("raw", "problem"), [
    ({"hours": {"timezone": "Mars/Base"}}, "hours.timezone: unknown time zone 'Mars/Base'"),
    ({"hours": {"timezone": ""}}, "hours.timezone: unknown time zone ''"),
    ({"members": {"a": {"urls": ["json://x"], "timezone": "Nope/X"}}},
     "members.a.timezone: unknown time zone 'Nope/X'"),
    ({"members": {"a": {"urls": ["json://x"], "timezone": ""}}}, None),  # [hours]' zone
    ({"members": {"a": {"urls": ["json://x"]}},
      "oncall": {"p": {"members": ["a"], "timezone": "Bad/Z"}}},
     "oncall.p.timezone: unknown time zone 'Bad/Z'"),
])
def test_every_time_zone_key_is_checked_by_name(raw: dict[str, object],
                                                problem: str | None) -> None:
    from monitor.errors import ConfigError

    whole = {"store": {"url": "sqlite:///x.db"}, **raw}
    if problem is None:
        parse_config(whole, Path("c.toml"))
        return
    with pytest.raises(ConfigError) as error:
        parse_config(whole, Path("c.toml"))
    assert any(line.startswith(f"c.toml: {problem}") for line in error.value.problems)


# TOML has real booleans and numbers: a quoted one, a fraction for a count or a boolean
# for a number is the user's mistake, reported as one line naming the key, never guessed.
@pytest.mark.parametrize(("change", "expected"), [
    (('interval = "10m"', 'interval = "10m"\nenabled = "yes"'),
     "sources[0].enabled: Input should be a valid boolean"),
    (('interval = "10m"', 'interval = "10m"\nobey_robots = 1'),
     "sources[0].obey_robots: Input should be a valid boolean"),
    (('min_severity = "high"', 'min_severity = "high"\nincident = "true"'),
     "routes[0].incident: Input should be a valid boolean"),
    (("[store]", '[daemon]\nconcurrent_requests = "16"\n\n[store]'),
     "daemon.concurrent_requests: Input should be a valid integer"),
    (('interval = "10m"', 'interval = "10m"\nmax_pages = 16.5'),
     "sources[0].max_pages: Input should be a valid integer"),
    (("[store]", "[daemon]\nconcurrent_requests = 16.0\n\n[store]"),
     "daemon.concurrent_requests: Input should be a valid integer"),
    (("[store]", "[daemon]\nconcurrent_requests = true\n\n[store]"),
     "daemon.concurrent_requests: Input should be a valid integer"),
    (("[store]", '[sla]\nreminders = [50, "80"]\n\n[store]'),
     "sla.reminders[1]: Input should be a valid integer"),
    (("[store]", '[daemon]\njitter = "0.1"\n\n[store]'),
     "daemon.jitter: Input should be a valid number"),
    (("[store]", "[daemon]\njitter = false\n\n[store]"),
     "daemon.jitter: Input should be a valid number"),
])
def test_a_value_of_the_wrong_toml_type_is_one_line_naming_the_key(
        tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    text = GOOD.replace(*change)
    assert text != GOOD
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={"HOOK_TOKEN": "x"})
    assert caught.value.problems == [f"{path}: {expected}"]


def test_strict_types_leave_integers_for_floats_durations_and_env_strings(
        tmp_path: Path) -> None:
    text = GOOD.replace("[store]", """[daemon]
jitter = 0
concurrent_requests = 8
autothrottle = false
download_timeout = 45

[lifecycle]
spike_k = 4

[store]""").replace('interval = "10m"', 'interval = "10m"\nenabled = false\n'
                    'params = { limit = "5", strict = true, ratio = 0.5 }')
    config = load_config(write(tmp_path, text), environ={"HOOK_TOKEN": "s3cret"})
    assert config.daemon.jitter == 0.0
    assert isinstance(config.daemon.jitter, float)
    assert config.daemon.concurrent_requests == 8
    assert config.daemon.autothrottle is False
    assert config.daemon.download_timeout.total_seconds() == 45
    assert config.lifecycle.spike_k == 4.0
    assert config.sources[0].enabled is False
    assert config.sources[0].interval.total_seconds() == 600
    assert config.sources[0].params == {"limit": "5", "strict": True, "ratio": 0.5}
    assert config.channels["oncall"].urls == ["json://localhost/hook?token=s3cret"]


def _lax_scalar(annotation: object) -> bool:
    """Whether a bool, int or float in this type would be coerced from a string."""
    if annotation in (bool, int, float):
        return True
    if typing.get_origin(annotation) is typing.Annotated:
        if any(isinstance(meta, Strict) and meta.strict
               for meta in getattr(annotation, "__metadata__", ())):
            return False
        return _lax_scalar(typing.get_args(annotation)[0])
    return any(_lax_scalar(arg) for arg in typing.get_args(annotation))


def test_every_boolean_and_number_key_is_strict() -> None:
    # A new key declared plain bool/int/float would take "yes" or "16" again.
    lax = []
    for name, model in vars(config_module).items():
        if not (isinstance(model, type) and issubclass(model, BaseModel)
                and model.__module__ == config_module.__name__):
            continue
        for field_name, field in model.model_fields.items():
            if any(isinstance(meta, Strict) and meta.strict for meta in field.metadata):
                continue
            if _lax_scalar(field.annotation):
                lax.append(f"{name}.{field_name}")
    assert lax == []


@pytest.mark.parametrize(("languages", "expected"), [
    (["en", "xx"], "classifier.languages: 'xx': not a language the detector knows"),
    (["en", "klingon", "qq"], "classifier.languages: 'klingon', 'qq': not a language"),
    ([], "classifier.languages: at least one language"),
])
def test_classifier_languages_the_detector_cannot_tell_are_reported(
        tmp_path: Path, languages: list[str], expected: str) -> None:
    # Found by check-config, not by the first mention a running daemon detects.
    path = write(tmp_path, GOOD + f"\n[classifier]\nlanguages = {languages!r}\n".replace("'", '"'))
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={"HOOK_TOKEN": "x"})
    assert any(problem.startswith(f"{path}: {expected}") for problem in caught.value.problems), \
        caught.value.problems


def test_classifier_languages_in_any_spelling_of_a_known_code_load(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + '\n[classifier]\nlanguages = ["en-GB", "no", "nb", "JA", "pt"]\n')
    assert load_config(path, environ={"HOOK_TOKEN": "x"}).classifier.languages[0] == "en-GB"
