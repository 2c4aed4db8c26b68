"""Bad input from a demanding user: every problem is one readable line (config:
'FILE: key.path: what is wrong', exit 2), no traceback, and the rest of the work goes on."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.cli import main


def check(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    path = tmp_path / "monitor.toml"
    path.write_text(text, encoding="utf-8")
    code = main(["check-config", str(path)])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    return code, captured.err


SOURCE = '[[sources]]\nid = "a"\nspider = "feed"\nurl = "https://example.com/feed"\n'


@pytest.mark.parametrize(("written", "expected"), [
    ("[1]", "sources[0].interval: expected a duration such as '15m', got list"),
    ("{ m = 5 }", "sources[0].interval: expected a duration such as '15m', got dict"),
    ("1e30", "sources[0].interval: '1e+30' is too long a duration; at most 100 years"),
    ('"99999999999d"', "sources[0].interval: '99999999999d' is too long a duration"),
    ("nan", "sources[0].interval: 'nan' is not a duration"),
])
def test_a_duration_of_the_wrong_type_or_size_is_a_config_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], written: str, expected: str) -> None:
    # An array, a table or a huge number used to escape as AttributeError/OverflowError.
    code, err = check(tmp_path, SOURCE + f"interval = {written}\n", capsys)
    assert code == 2
    assert f"monitor.toml: {expected}" in err
    assert len(err.strip().splitlines()) == 1


def test_an_apprise_url_that_does_not_parse_is_reported_without_its_secret(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # apprise logged "Could not load Slack URL: slack://T0KEN" (the whole URL) at ERROR.
    code, err = check(tmp_path, """
[channels.chat]
urls = ["slak://xoxb-SECRET1/care", "slack://SECRET2", "json://user:SECRET3@"]
[members.ada]
urls = ["slack://SECRET4"]
[[routes]]
targets = ["slack://SECRET5"]
""", capsys)
    assert code == 2
    assert "SECRET" not in err
    assert err.strip().splitlines() == [
        f"{tmp_path / 'monitor.toml'}: channels.chat.urls[0]: apprise does not understand a "
        "'slak://' URL",
        f"{tmp_path / 'monitor.toml'}: channels.chat.urls[1]: apprise does not understand a "
        "'slack://' URL",
        f"{tmp_path / 'monitor.toml'}: channels.chat.urls[2]: apprise does not understand a "
        "'json://' URL",
        f"{tmp_path / 'monitor.toml'}: members.ada.urls[0]: apprise does not understand this URL",
        f"{tmp_path / 'monitor.toml'}: routes[0].targets: apprise does not understand a URL "
        "there",
    ]
