"""Failures in the window, for real: the step halts with the reason, the channel hears of it,
and the operator's two ways on (fix and --resume, or the fallback) both work.

Faults come from the lab (`python -m lab fault NAME`); each test starts from `lab reset`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from runbooklib.inventory import Inventory

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
V = Inventory.load(REPO / "inventories/lab.yml").vars
IRC_LOG = Path("/var/lib/smartsite-lab/irc/ucdsakai.log")
UPGRADE = ["runbook/", "-k", "upgrade", "--operator", "e2e", "--approve", "all"]


def run(args: list[str], reports: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            *args,
            "--reports",
            str(reports),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    print(proc.stdout[-5000:], proc.stderr[-2000:])
    return proc


def outcomes(reports: Path) -> dict[str, str]:
    journal = sorted(reports.glob("*.jsonl"), key=lambda p: p.stat().st_mtime)[-1]
    events = [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]
    return {e["step"]: e.get("outcome") for e in events if e.get("event") == "step_end"}


@pytest.fixture
def fresh(lab):
    lab.cli("reset", timeout=900)
    yield lab
    lab.cli("fault", "clear")


def test_an_unexpected_error_at_the_first_start_halts_and_the_fallback_recovers(fresh, tmp_path):
    fresh.cli("fault", "startup-error", "stubing")
    said = IRC_LOG.read_text(errors="replace") if IRC_LOG.exists() else ""
    up = run(UPGRADE, tmp_path / "up")
    assert up.returncode != 0
    steps = outcomes(tmp_path / "up")
    assert steps["u10"] == "passed" and steps["u11"] == "failed"
    assert steps.get("u12") in (None, "skipped")  # halted: never run
    assert "error line(s) in catalina.out since this start" in up.stdout
    assert "SmartSite upgrade HALTED after u11" in IRC_LOG.read_text(errors="replace")[len(said) :]
    fresh.cli("fault", "clear")
    back = run(
        ["runbook/", "-k", "fallback", "--operator", "e2e", "--approve", "all"], tmp_path / "fb"
    )
    assert back.returncode == 0
    checks = run(["checks/", "--expect", "fallback"], tmp_path / "c")
    assert checks.returncode == 0 and "GO (after)" in checks.stdout


def test_a_full_backup_disk_halts_before_any_script_and_resume_finishes(fresh, tmp_path):
    fresh.cli("fault", "backup-disk-full")
    up = run(UPGRADE, tmp_path / "up")
    assert up.returncode != 0
    assert outcomes(tmp_path / "up").get("u04") == "failed"
    log = fresh.exec(
        "caje",
        'mariadb -N -B -e "SELECT COUNT(*) FROM information_schema.tables '
        "WHERE table_schema='sakai' AND table_name='RUNBOOK_SCRIPT_LOG'\"",
    )
    assert log.stdout.strip() == "0"  # no script ran without a verified backup
    fresh.cli("fault", "clear")
    again = run([*UPGRADE, "--resume"], tmp_path / "up")
    assert again.returncode == 0
    steps = outcomes(tmp_path / "up")
    assert all(steps.get(f"u{i:02d}") == "passed" for i in range(4, 19)), steps


def test_a_database_refusing_writes_stops_at_the_first_script(fresh, tmp_path):
    fresh.cli("fault", "db-read-only")
    up = run(UPGRADE, tmp_path / "up")
    assert up.returncode != 0
    steps = outcomes(tmp_path / "up")
    assert steps.get("u04") == "passed" and steps.get("u05") == "failed"
    assert steps.get("u06") in (None, "skipped")
    cols = fresh.exec(
        "caje",
        'mariadb -N -B -e "SELECT COUNT(*) FROM information_schema.columns '
        "WHERE table_schema='sakai' AND column_name='DELETED'\"",
    )
    assert cols.stdout.strip() == "0"


def test_preflight_is_go_on_a_fresh_lab_and_names_a_full_backup_disk(fresh, tmp_path):
    ok = run(["checks/", "--phase", "preflight"], tmp_path / "ok")
    assert ok.returncode == 0 and "GO (preflight)" in ok.stdout
    fresh.cli("fault", "backup-disk-full")
    full = run(["checks/", "--phase", "preflight"], tmp_path / "full")
    verdict = [line for line in full.stdout.splitlines() if line.startswith("NO-GO")]
    assert full.returncode != 0 and verdict and "test_backup_disk_room" in verdict[0], verdict


def test_a_tomcat_that_ignores_shutdown_is_killed_after_the_bound(fresh):
    from runbooklib.actions import http, tomcat

    node = Inventory.load(REPO / "inventories/lab.yml").host("walton")
    pid = tomcat.pid(node)
    assert pid
    node.run(f"kill -STOP {pid}")  # a hung JVM: its shutdown hook never runs
    outcome = tomcat.stop(node, grace=5)
    assert outcome.changed and "forced" in outcome.detail
    assert tomcat.pid(node) is None
    state = fresh.exec("walton", f"ps -o stat= -p {pid} || true").stdout.strip()
    assert state in ("", "Z"), f"the JVM is still there: {state}"  # gone, or dead and unreaped
    tomcat.start(node)
    http.wait_healthy(node, V["fallback_version"])
