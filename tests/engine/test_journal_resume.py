"""The journal survives a kill mid-step; --resume carries on; the report is rebuilt from it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from runbook_project import events

from runbooklib.engine import rebuild

CRASHY = """
import os, time
from pathlib import Path

@step("u01", at="08:00", owner="Prabhu")
def test_u01_backup(inventory):
    '''Backing up (CLONE) production database.'''
    transcript.command("caje", "mariadb-dump sakai > /var/backups/sakai/clone.sql", rc=0)
    transcript.artifact("backup", "caje:/var/backups/sakai/clone.sql", sha256="abc")

@step("u02", at="09:00", owner="Prabhu")
def test_u02_scripts(inventory):
    '''Run database upgrade scripts.'''
    transcript.command("caje", "mariadb sakai < SAK-869.sql", rc=0)
    if os.environ.get("HANG"):
        Path("u02-started").write_text("")
        time.sleep(120)

@step("u03", at="09:15", owner="Thomas")
def test_u03_config(inventory):
    '''Backup all configuration files.'''
"""


def _kill_mid_step(project) -> None:
    """Run the procedure in its own process and SIGKILL it while u02 runs."""
    env = {**os.environ, "HANG": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "runbook", "-p", "no:cacheprovider"],
        cwd=project.path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(600):  # bounded: at most 60 s for pytest to start and reach u02
            if (project.path / "u02-started").exists() or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert (project.path / "u02-started").exists(), "the run never reached u02"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)


def test_journal_keeps_everything_done_before_a_kill(project):
    project.procedure("upgrade", CRASHY)

    _kill_mid_step(project)

    journal = project.journal()
    assert journal[0]["event"] == "run_start"
    assert [s["step"] for s in journal[0]["steps"]] == ["u01", "u02", "u03"]
    assert [e["outcome"] for e in events(journal, "step_end")] == ["passed"]
    assert [e["step"] for e in events(journal, "step_start")] == ["u01", "u02"]
    (artifact,) = events(journal, "artifact")
    assert artifact["step"] == "u01" and artifact["where"] == "caje:/var/backups/sakai/clone.sql"
    assert [e["command"] for e in events(journal, "command", step="u02")] == [
        "mariadb sakai < SAK-869.sql"
    ]
    assert not events(journal, "run_end")
    assert not project.reports(".html")  # pytest-html writes at the end: only the journal is left

    # The record is rebuilt from the journal with one command.
    out = subprocess.run(
        [sys.executable, "-m", "runbooklib.engine.rebuild", str(project.reports(".jsonl")[-1])],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    page = Path(out.stdout.strip()).read_text()
    assert "INTERRUPTED: the run stopped without an end" in page
    assert '<tr class="interrupted"><td><a href="#step-u02">u02</a>' in page
    assert '<tr class="passed"><td><a href="#step-u01">u01</a>' in page
    assert "caje:/var/backups/sakai/clone.sql" in page
    # ...and never over an existing file.
    with pytest.raises(FileExistsError):
        rebuild.rebuild(project.reports(".jsonl")[-1])

    # The killed run's lock freed itself with it: the resume needs no --break-lock.
    resumed = project.run("--resume", "-rs", subprocess=True)

    assert resumed.ret == 0
    resumed.assert_outcomes(passed=2, skipped=1)
    resumed.stdout.fnmatch_lines(["SKIPPED * done earlier at ??:??:??"])
    journal = project.journal()
    assert journal[0]["resumed_from"].endswith(".jsonl")
    ends = {e["step"]: e for e in events(journal, "step_end")}
    assert ends["u01"]["outcome"] == "skipped" and ends["u01"]["done_earlier"]
    assert ends["u02"]["outcome"] == "passed"  # the interrupted step ran again


def test_resume_skips_passed_steps_and_reruns_the_failed_one(project):
    project.procedure(
        "upgrade",
        """
        from pathlib import Path

        @step("u01", at="08:00", owner="Jon")
        def test_u01(inventory):
            '''One.'''

        @step("u02", at="08:10", owner="Jon")
        def test_u02(inventory):
            '''Two: fails until fixed.'''
            assert Path("fixed").exists(), "not fixed yet"

        @step("u03", at="08:20", owner="Jon")
        def test_u03(inventory):
            '''Three.'''
        """,
    )
    first = project.run()
    first.assert_outcomes(passed=1, failed=1, skipped=1)
    (project.path / "fixed").write_text("")

    second = project.run("--resume", "-rs")

    second.assert_outcomes(passed=2, skipped=1)
    second.stdout.fnmatch_lines(["SKIPPED * done earlier at ??:??:??"])
    done_at = {e["step"]: e["done_earlier"] for e in events(project.journal(), "step_end")}

    # A resume of the resumed run still knows u01 was done, and when.
    third = project.run("--resume")

    third.assert_outcomes(skipped=3)
    again = {e["step"]: e["done_earlier"] for e in events(project.journal(), "step_end")}
    assert again["u01"] == done_at["u01"]
    assert again["u02"] and again["u03"]


def test_resume_ignores_dry_runs_and_needs_a_journal(project):
    project.procedure(
        "upgrade",
        """
        @step("u01", at="08:00", owner="Jon")
        def test_u01(inventory):
            '''One.'''
        """,
    )
    project.run("--dry-run").assert_outcomes(passed=1)

    result = project.run("--resume")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --resume: no journal of upgrade on lab in *reports: run without --resume"]
    )
    # The refused run wrote nothing: one journal, the dry run's.
    assert len(project.reports(".jsonl")) == 1
    assert json.loads(project.reports(".jsonl")[0].read_text().splitlines()[0])["dry_run"]


def test_a_resumed_run_keeps_the_windows_start(project):
    project.procedure(
        "upgrade",
        """
        from pathlib import Path

        @step("u01", at="08:00", owner="Jon")
        def test_u01(inventory):
            '''Fails once.'''
            assert Path("fixed").exists()
        """,
    )
    project.run("--window-start", "07:00").assert_outcomes(failed=1)
    first = project.journal()[0]
    (project.path / "fixed").write_text("")

    project.run("--resume").assert_outcomes(passed=1)

    assert project.journal()[0]["window_start"] == first["window_start"]
