"""--dry-run records what action steps would run; manual steps need a person's approval."""

from __future__ import annotations

from html import unescape

import pytest
from runbook_project import events

DRY = """
from pathlib import Path

@step("u01", at="08:00", owner="Thomas", kind="action", hosts="app")
def test_u01_stop(inventory):
    '''Shutdown all application servers.'''
    for host in inventory.group("app"):
        host.run("CATALINA_BASE=/ucd/opt/sakai/tomcat /usr/share/tomcat10/bin/shutdown.sh")

@step("u02", at="08:10", owner="all", kind="check", hosts="app")
def test_u02_check(inventory):
    '''A read-only check still runs.'''
    Path("check-ran").write_text("yes")
"""


def test_dry_run_shows_commands_per_host_and_runs_none(project):
    project.procedure("upgrade", DRY)

    # 192.0.2.250 answers no ssh: a command that really ran would fail the step.
    result = project.run("--dry-run")

    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "*dry run: commands not run*",
            "u01:",
            "    $ stubing: CATALINA_BASE=/ucd/opt/sakai/tomcat "
            "/usr/share/tomcat10/bin/shutdown.sh",
        ]
    )
    assert (project.path / "check-ran").read_text() == "yes"
    journal = project.journal()
    assert journal[0]["dry_run"] is True
    (command,) = events(journal, "command")
    assert command["step"] == "u01" and command["host"] == "stubing" and command["dry_run"]
    report = unescape(project.reports(".html")[-1].read_text())
    assert "DRY RUN: 1 steps would change, 1 unchanged; 0 verification steps" in report
    assert "shutdown.sh (dry run: not run)" in report


MANUAL = """
@step("u01", at="08:00", owner="Thomas")
def test_u01_deploy(inventory):
    '''Deploy.'''

@step("u02", at="10:00", owner="Kirk, Sandra, Lisa", kind="manual")
def test_u02_release_for_testing(inventory):
    '''Release SmartSite for initial testing.'''

@step("u03", at="12:00", owner="Joncarlo")
def test_u03_open(inventory):
    '''Allow public access.'''
"""


def test_approval_given_on_the_command_line_is_recorded(project):
    project.procedure("upgrade", MANUAL)

    result = project.run("--operator", "kirk", "--approve", "u02")

    result.assert_outcomes(passed=3)
    (approval,) = events(project.journal(), "approval")
    assert approval["step"] == "u02"
    assert approval["operator"] == "kirk"
    assert approval["how"] == "--approve"
    assert "Approved u02 by kirk (--approve)" in unescape(project.reports(".html")[-1].read_text())


def test_approve_all(project):
    project.procedure("upgrade", MANUAL)

    result = project.run("--operator", "kirk", "--approve", "all")

    result.assert_outcomes(passed=3)


def test_missing_approval_fails_the_step_naming_the_option(project):
    project.procedure("upgrade", MANUAL)

    result = project.run("-rs")  # pytester's stdin is no terminal: nobody can be asked

    assert result.ret == 1
    result.assert_outcomes(passed=1, failed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "*manual step u02 needs a person's confirmation: confirm it at a terminal, "
            "or give --operator NAME --approve u02*"
        ]
    )
    result.stdout.fnmatch_lines(["SKIPPED * halted after u02"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--operator", "kirk", "--approve", "u02,u09"], "ERROR: --approve u09: no such step*"),
        (["--approve", "u02"], "ERROR: --approve needs --operator NAME*"),
    ],
)
def test_bad_approvals_are_usage_errors_before_anything_runs(project, args, message):
    project.procedure("upgrade", MANUAL + "\nassert True\n")

    result = project.run(*args)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert not (project.path / "reports").exists()  # no step started, nothing recorded
