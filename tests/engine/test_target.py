"""The inventory: errors before anything runs; production only when confirmed."""

from __future__ import annotations

import pytest
from runbook_project import events, production

ONE = """
@step("u01", at="08:00", owner="Jon")
def test_u01(inventory):
    '''One.'''
    assert inventory.name == "prod"
"""


def test_missing_inventory_is_one_line(project):
    project.procedure("upgrade", ONE)

    result = project.run("--inventory", "nope.yml")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: inventory nope.yml not found: name an existing file with --inventory"]
    )
    assert not (project.path / "reports").exists()


def test_production_refused_without_confirmation(project):
    production(project)
    project.procedure("upgrade", ONE)

    result = project.run("--inventory", "prod.yml")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: inventory prod is production and was not confirmed: give --confirm-target prod"]
    )
    assert not (project.path / "reports").exists()


def test_production_refused_with_the_wrong_name(project):
    production(project)
    project.procedure("upgrade", ONE)

    result = project.run("--inventory", "prod.yml", "--confirm-target", "lab")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --confirm-target lab does not match inventory prod*"])


def test_production_runs_when_confirmed_and_says_so(project):
    production(project)
    project.procedure("upgrade", ONE)

    result = project.run("--inventory", "prod.yml", "--confirm-target", "prod")

    result.assert_outcomes(passed=1)
    assert events(project.journal(), "run_start")[0]["target_confirmed"] == "--confirm-target"


def test_production_plan_needs_no_confirmation(project):
    production(project)
    project.procedure("upgrade", ONE)

    result = project.run("--inventory", "prod.yml", "--plan")

    assert result.ret == 0
    result.stdout.fnmatch_lines(["*plan: upgrade on prod*"])
