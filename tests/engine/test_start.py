"""One start sequence: a refused run exits 4 with one line, asks nothing, and writes nothing.

Each kind of refusal is run against a reports folder that holds an earlier run's files: it must be
exactly as it was after (no journal, no record, no lock note), and the step must not have run.
"""

from __future__ import annotations

import json

import pytest
from runbook_project import INVENTORY, NOTE, lock_file, production
from test_terminal import _converse

STEP = """
from pathlib import Path

@step("u01", at="08:00", owner="Jon", kind="manual")
def test_u01(inventory):
    '''One: leaves a mark when it runs.'''
    Path("u01-ran").write_text("")
"""
NO_LOCK_HOST = INVENTORY[: INVENTORY.index("    db:")]

# name -> (arguments, the ERROR line, pattern)
REFUSALS = {
    "inventory missing": (["--inventory", "nope.yml"], "ERROR: inventory *nope.yml not found*"),
    "production not confirmed": (
        ["--inventory", "prod.yml"],
        "ERROR: inventory prod is production and was not confirmed: give --confirm-target prod",
    ),
    "production wrongly confirmed": (
        ["--inventory", "prod.yml", "--confirm-target", "lab"],
        "ERROR: --confirm-target lab does not match inventory prod*",
    ),
    "approval of an unknown step": (
        ["--operator", "thomas", "--approve", "u99"],
        "ERROR: --approve u99: no such step in this run*",
    ),
    "approval without a name": (["--approve", "u01"], "ERROR: --approve needs --operator NAME*"),
    "window start not a time": (["--window-start", "25:99"], "ERROR: --window-start 25:99: *"),
    "nothing to resume": (["--resume"], "ERROR: --resume: no journal of upgrade on lab in *"),
    "no lock host": (["--inventory", "nolock.yml"], "ERROR: *no group or host `db`*run lock*"),
    "reports not a folder": (
        ["--reports", "afile"],
        "ERROR: --reports afile: *afile is not a folder: give --reports a writable folder",
    ),
    "lock held": ([], "ERROR: the cluster of inventory lab is in use by thomas*"),
    "-n": (["-n", "1"], "ERROR: -n 1: the procedures and the go/no-go checks never run under*"),
    "--dist": (["--dist", "load"], "ERROR: --dist: *"),
}


def _snapshot(folder) -> dict:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


@pytest.fixture
def earlier(project):
    """A reports folder with an earlier run's record, and the inputs the refusals need."""
    project.procedure("upgrade", STEP)
    production(project)
    project.inventory(NO_LOCK_HOST, "nolock.yml")
    (project.path / "afile").write_text("")
    reports = project.path / "reports"
    reports.mkdir()
    (reports / "20070818T150000Z-fallback-lab.jsonl").write_text('{"event": "run_start"}\n')
    (reports / "20070818T150000Z-fallback-lab.html").write_text("<html></html>")
    return reports


@pytest.mark.parametrize("kind", REFUSALS)
def test_a_refused_run_writes_nothing_and_says_why_in_one_line(project, earlier, kind, request):
    args, line = REFUSALS[kind]
    if kind == "lock held":
        request.getfixturevalue("held")
    before = _snapshot(earlier)

    result = project.run(*args, subprocess=True)

    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    errors = [text for text in result.stderr.lines if text.strip()]
    assert len(errors) == 1, errors
    result.stderr.fnmatch_lines([line])
    assert _snapshot(earlier) == before
    assert not (project.path / "u01-ran").exists()
    if kind == "lock held":
        assert json.loads(lock_file(project).read_text()) == NOTE
    else:
        assert not lock_file(project).exists()


def test_a_refused_run_asks_nothing_at_a_terminal(project, earlier):
    before = _snapshot(earlier)

    status, screen = _converse(
        project,
        ["--inventory", "prod.yml", "--operator", "thomas", "--approve", "u99"],
        "Type its name",
        "prod",
    )

    assert status == pytest.ExitCode.USAGE_ERROR, screen
    assert "Type its name" not in screen
    assert "ERROR: --approve u99: no such step in this run" in screen
    assert _snapshot(earlier) == before


def test_xdist_is_refused_for_the_checks_and_allowed_elsewhere(project):
    project.procedure("upgrade", STEP)
    checks = project.path / "checks"
    checks.mkdir()
    (checks / "test_a.py").write_text("def test_a():\n    pass\n")
    other = project.path / "other"
    other.mkdir()
    (other / "test_b.py").write_text("def test_b():\n    pass\n")

    refused = project.pytester.runpytest_subprocess("checks", "-n", "1", "-p", "no:cacheprovider")
    whole = project.pytester.runpytest_subprocess(".", "-n", "1", "-p", "no:cacheprovider")
    allowed = project.pytester.runpytest_subprocess("other", "-n", "1", "-p", "no:cacheprovider")

    assert refused.ret == whole.ret == pytest.ExitCode.USAGE_ERROR
    refused.stderr.fnmatch_lines(["ERROR: -n 1: *never run under pytest-xdist*"])
    assert not (project.path / "u01-ran").exists() and not (project.path / "reports").exists()
    allowed.assert_outcomes(passed=1)
