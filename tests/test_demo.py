"""The README's first command: `review-monitor demo` shows mentions flowing in, alerts
firing and the triage inbox answering, with no config and no network but 127.0.0.1."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def test_demo_prints_alerts_and_serves_the_inbox(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor", "demo", "--dir", str(tmp_path), "--duration", "25",
         "--every", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    lines: list[str] = []
    inbox: str | None = None
    login_page = ""
    deadline = time.monotonic() + 60
    for line in process.stdout:
        lines.append(line)
        found = re.search(r"Triage inbox: (http://127\.0\.0\.1:\d+/)", line)
        if found:
            inbox = found.group(1)
        if inbox and not login_page and sum("=== ALERT" in x for x in lines) >= 2:
            with urllib.request.urlopen(f"{inbox}login", timeout=10) as response:
                login_page = response.read().decode()
        if time.monotonic() > deadline:
            process.kill()
            break
    assert process.wait(timeout=30) == 0, "".join(lines)
    output = "".join(lines)
    assert inbox is not None and "user demo, password demo" in output
    assert output.count("=== ALERT") >= 3, output
    assert "Log in" in login_page
    assert "Traceback" not in output
    assert (tmp_path / "demo.db").exists()
