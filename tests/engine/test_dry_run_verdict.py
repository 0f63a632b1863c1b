"""A dry run's verdict: what would change, what is unchanged, and which verification steps cannot
pass before the changes; it fails only when something real failed (issue 19, item 9)."""

from __future__ import annotations

from html import unescape

import pytest
from runbook_project import events

from runbooklib.engine.run import StepState, Verdict
from runbooklib.engine.run import dry_run_summary as summary

# u01 would change (a command recorded, not run), u02 changes nothing, u03 verifies u01's
# change and so cannot pass before it. 192.0.2.250 answers no ssh: nothing here reaches a host.
PROCEDURE = """
from pathlib import Path
from runbooklib.transcript import transcript

@step("u01", at="08:00", owner="Thomas", kind="action", hosts="app")
def test_u01_stop(inventory):
    '''Shutdown all application servers.'''
    for host in inventory.group("app"):
        host.run("systemctl stop tomcat10")

@step("u02", at="08:05", owner="Thomas", kind="action", hosts="app")
def test_u02_nothing_to_do(inventory):
    '''Already done.'''

@step("u03", at="08:10", owner="all", kind="check", hosts="app")
def test_u03_verify(inventory):
    '''Tomcat is stopped.'''
    assert Path("tomcat-stopped").exists(), "stubing: tomcat10 is running"

@step("u04", at="08:20", owner="Thomas", kind="action", hosts="app")
def test_u04_after(inventory):
    '''Runs after the verification: the dry run was not halted.'''
    Path("u04-ran").write_text("yes")
"""


def test_a_verification_that_waits_for_the_changes_neither_halts_nor_fails_the_dry_run(project):
    project.procedure("upgrade", PROCEDURE)

    result = project.run("--dry-run", "--operator", "x")

    assert result.ret == 0
    said = (
        "DRY RUN: 1 steps would change, 2 unchanged; "
        "1 verification steps cannot pass before the changes"
    )
    result.stdout.fnmatch_lines([f"*verdict: {said}*"])
    result.stdout.fnmatch_lines(
        ["u03 skipped*: cannot pass before the changes (dry run): AssertionError: stubing: *"]
    )
    result.assert_outcomes(passed=3, xfailed=1)
    assert (project.path / "u04-ran").read_text() == "yes"
    (end,) = events(project.journal(), "run_end")
    assert (end["kind"], end["verdict"], end["exitstatus"]) == ("DRY RUN", said, 0)
    page = unescape(project.reports(".html")[-1].read_text())
    assert f"<b>DRY RUN</b>{said}</div>" in page


def test_a_probe_error_in_a_verification_step_fails_the_dry_run(project):
    broken = PROCEDURE.replace(
        '    assert Path("tomcat-stopped").exists(), "stubing: tomcat10 is running"',
        '    raise ConnectionError("stubing: ssh: connect to host 192.0.2.250 port 22: timed out")',
    )
    project.procedure("upgrade", broken)

    result = project.run("--dry-run", "--operator", "x")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*verdict: DRY RUN, nothing changed: upgrade HALTED after u03*"])
    assert not (project.path / "u04-ran").exists()
    (end,) = events(project.journal(), "run_end")
    assert end["kind"] == "HALTED"
    assert end["reasons"] == [
        "u03: ConnectionError: stubing: ssh: connect to host 192.0.2.250 port 22: timed out"
    ]


def test_outside_a_dry_run_the_same_verification_failure_halts(project):
    project.procedure("upgrade", PROCEDURE.replace('host.run("systemctl stop tomcat10")', "pass"))

    result = project.run("--operator", "x")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*verdict: upgrade HALTED after u03*"])
    assert not (project.path / "u04-ran").exists()


def _state(step_id: str, *entries: dict, waits: bool = False) -> StepState:
    state = StepState(f"runbook/test_upgrade.py::{step_id}", "upgrade", None, outcome="passed")
    state.entries = list(entries)
    state.waits_for_changes = waits
    return state


def test_the_summary_counts_each_step_once():
    changed = {
        "event": "note",
        "text": "stubing: firewall maintenance: would change.",
        "changed": True,
    }
    unchanged = {"event": "note", "text": "caje: database backup: unchanged.", "changed": False}
    command = {"event": "command", "host": "stubing", "command": "true", "dry_run": True}
    probe = {"event": "command", "host": "stubing", "command": "cat x", "dry_run": False}
    states = [
        _state("u01", changed, unchanged),
        _state("u02", unchanged, probe),
        _state("u03", command),
        _state("u04"),
        # A verification step that would change nothing and cannot pass: counted once, as waiting.
        _state("u18", probe, waits=True),
    ]

    assert summary(states) == (
        "DRY RUN: 2 steps would change, 2 unchanged; "
        "1 verification steps cannot pass before the changes"
    )


@pytest.mark.parametrize(
    ("kind", "ok"),
    [
        ("GO", True),
        ("PASSED", True),
        ("STOPPED", True),
        ("DRY RUN", True),
        ("NO-GO", False),
        ("HALTED", False),
        ("FAILED", False),
        ("INTERRUPTED", False),
        ("RUNNING", False),
    ],
)
def test_the_exit_status_reads_the_verdicts_kind(kind, ok):
    verdict = Verdict(kind, f"{kind}: something", ("u05: why",))

    assert verdict.ok is ok
    assert str(verdict) == f"{kind}: something"
    assert verdict.fields() == {
        "verdict": f"{kind}: something",
        "kind": kind,
        "reasons": ["u05: why"],
    }
