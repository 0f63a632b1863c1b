"""The run lock lives on the cluster (caje), held by the run's own ssh session; and -n is refused.

A second checkout is a second `--reports` folder: the lock is in neither. The first run is a tiny
procedure against the lab inventory whose one step waits for a file, so it holds the lock for as
long as the test needs, without changing the lab; the second is the real upgrade, refused before
its first step.
"""

from __future__ import annotations

import configparser
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INI = configparser.ConfigParser(interpolation=None)
INI.read(REPO / "pytest.ini")
LOCK = INI["pytest"]["runbook_lock_file"]

HOLD = '''
import os
import time
from pathlib import Path

from runbooklib.engine import step


@step("h01", at="08:00", owner="e2e")
def test_h01_hold(inventory):
    """Hold the run, and so its lock, until told to go on (at most two minutes)."""
    Path("started").write_text("")
    deadline = time.monotonic() + 120
    while os.environ.get("HOLD") and not Path("go-on").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
'''

pytestmark = pytest.mark.lab


@pytest.fixture
def holder_project(tmp_path, lab) -> Path:
    """A checkout-like folder with one step, against the lab's inventory and the real lock."""
    folder = tmp_path / "hold"
    (folder / "runbook").mkdir(parents=True)
    (folder / "runbook" / "test_hold.py").write_text(HOLD)
    (folder / "pytest.ini").write_text(
        "[pytest]\n"
        "runbook_steps = runbook\n"
        f"runbook_inventory = {lab.inventory}\n"
        f"runbook_lock_host = {INI['pytest']['runbook_lock_host']}\n"
        f"runbook_lock_file = {LOCK}\n"
    )
    return folder


def _run(cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_a_second_run_is_refused_naming_the_holder_and_takes_over_once_it_is_killed(
    lab, holder_project, tmp_path
):
    first_reports, second_reports = tmp_path / "first", tmp_path / "second"
    first = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "runbook"]
        + ["--operator", "thomas", "--reports", str(first_reports)],
        cwd=holder_project,
        env={**os.environ, "HOLD": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(600):
            if (holder_project / "started").exists() or first.poll() is not None:
                break
            time.sleep(0.1)
        assert (holder_project / "started").exists(), "the first run never reached its step"

        # The note is on caje, for anyone to read; the flock is held there.
        note = json.loads(lab.ssh("caje", f"cat {LOCK}").stdout)
        assert note["pid"] == first.pid and note["operator"] == "thomas"
        assert lab.ssh("caje", f"flock -n {LOCK} true").returncode == 1

        # The real upgrade, from another checkout: refused before its first step, in one line.
        refused = _run(
            REPO,
            *("runbook/", "-k", "upgrade", "--operator", "sandra", "--approve", "all"),
            *("--reports", str(second_reports)),
        )
        assert refused.returncode == pytest.ExitCode.USAGE_ERROR, refused.stdout[-2000:]
        errors = [line for line in refused.stderr.splitlines() if line.strip()]
        assert len(errors) == 1, errors
        assert errors[0].startswith("ERROR: the cluster of inventory lab is in use by thomas ")
        assert f"pid {first.pid}, reports {first_reports}" in errors[0]
        assert f"lock caje:{LOCK}" in errors[0]
        assert not second_reports.exists()
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)

    # Killed: its session ends, the kernel on caje drops the flock; the next run takes it at once.
    killed = time.monotonic()
    taken = _run(
        holder_project, "runbook", "--operator", "sandra", "--reports", str(second_reports)
    )
    assert taken.returncode == 0, taken.stdout[-2000:] + taken.stderr[-2000:]
    assert time.monotonic() - killed < 30
    assert lab.ssh("caje", f"cat {LOCK}").stdout == ""  # released with its note at the end
    assert lab.ssh("caje", f"flock -n {LOCK} true").returncode == 0


def test_xdist_on_the_upgrade_is_refused_and_the_cluster_is_unchanged(lab, tmp_path):
    def rules() -> dict[str, str]:
        return {
            h: lab.exec(h, "iptables -S; iptables -t nat -S").stdout for h in ("stubing", "walton")
        }

    before = rules()

    result = _run(REPO, "runbook/", "-k", "upgrade", "-n", "1", "--reports", str(tmp_path / "r"))

    assert result.returncode == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.strip().splitlines() == [
        "ERROR: -n 1: the procedures and the go/no-go checks never run under pytest-xdist (its "
        "workers would skip the lock, journal, approvals and record): run without -n 1"
    ]
    assert rules() == before
    assert not (tmp_path / "r").exists()
    assert lab.ssh("caje", f"flock -n {LOCK} true").returncode == 0
