"""The record as a reader opens it: headless Chromium (Debian's package), JavaScript on and off.

One dry run of the upgrade against the lab (it changes nothing, seconds long) makes a real
record with all 18 steps; Chromium's own command line dumps the page's DOM and takes a
screenshot, with scripts enabled and disabled. The screenshots stay beside the record under
reports/ (CI keeps that folder).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
REPORTS = REPO / "reports"
UPGRADE = ["runbook/", "-k", "upgrade", "--operator", "e2e", "--approve", "all", "--dry-run"]
NO_SCRIPT = "--blink-settings=scriptEnabled=false"
# Chromium with --enable-logging=stderr writes each console message as `CONSOLE(line)] "text"`,
# and an uncaught exception as `Uncaught ...`.
CONSOLE_ERROR = re.compile(r"CONSOLE\(\d+\)\].*|Uncaught \w+")


def chromium(url: str, *flags: str) -> subprocess.CompletedProcess:
    binary = shutil.which("chromium")
    if binary is None:
        pytest.fail("chromium is missing: `make setup` installs lab/debian-packages.txt")
    return subprocess.run(
        [
            binary,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1280,2200",
            *flags,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def console_errors(stderr: str) -> list[str]:
    return CONSOLE_ERROR.findall(stderr)


@pytest.fixture(scope="module")
def record(lab) -> Path:
    before = set(REPORTS.glob("*-upgrade-lab.html"))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *UPGRADE],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    made = sorted(set(REPORTS.glob("*-upgrade-lab.html")) - before)
    assert made, proc.stdout[-3000:] + proc.stderr[-1500:]
    return made[-1]


def test_the_console_error_detector_sees_an_error(tmp_path):
    page = tmp_path / "bad.html"
    page.write_text("<html><body><script>console.error('boom'); nosuch();</script></body></html>")

    out = chromium(page.as_uri(), "--dump-dom")

    assert console_errors(out.stderr), out.stderr[-2000:]


@pytest.mark.parametrize("scripts", ["js-on", "js-off"])
def test_verdict_and_timeline_read_with_and_without_javascript(record, scripts):
    flags = [NO_SCRIPT] if scripts == "js-off" else []
    shot = record.with_name(f"{record.stem}.{scripts}.png")

    dom = chromium(record.as_uri(), *flags, "--dump-dom")
    picture = chromium(record.as_uri(), *flags, f"--screenshot={shot}")

    page = dom.stdout
    assert re.search(r'id="verdict"><b>DRY RUN: [A-Z]', page), page[:3000]
    svg = page[page.index('id="timeline"') : page.index("</svg>")]
    assert len(re.findall(r'<rect class="planned"', svg)) == 18
    assert len(re.findall(r'<rect class="actual"', svg)) == 18
    assert 'class="window-end"' in svg and "window end " in svg
    assert page.count('<tr class="') >= 18 and "u18" in page
    if scripts == "js-on":
        # pytest-html's script ran: its table is filled in.
        assert 'class="collapsible"' in page
    assert console_errors(dom.stderr + picture.stderr) == []
    assert shot.stat().st_size > 10_000
