"""Observations started ahead (engine/ahead.py): a go/no-go check's slow look starts with the
first check, side by side with the others; its commands are journaled under the check that reads
it, and what it raised fails that check alone. In a procedure nothing starts ahead: an earlier
step may still change what the look would see."""

from __future__ import annotations

import textwrap

from runbook_project import ROOT, events

CHECKS = """
import pytest

pytestmark = [pytest.mark.after, pytest.mark.hosts("db")]


def slow_look(inventory, hosts):
    return [h.probe("sleep 0.8; echo slow").stdout.strip() for h in hosts]


def quick_look(inventory, hosts):
    return [h.probe("echo quick").stdout.strip() for h in hosts]


def failing_look(inventory, hosts):
    hosts[0].probe("echo failing")
    raise AssertionError("caje:9000 open to the public")


@pytest.mark.ahead(observe=slow_look)
def test_slow(hosts, ahead):
    assert ahead.result() == ["slow"]


@pytest.mark.ahead(observe=quick_look)
def test_quick(hosts, ahead):
    assert ahead.result() == ["quick"]


@pytest.mark.ahead(observe=failing_look)
def test_failing(hosts, ahead):
    ahead.result()
"""

STEP = """
import pytest

def quick_look(inventory, hosts):
    return [h.probe("echo quick").stdout.strip() for h in hosts]

@step("u01", at="08:00", owner="Jon", kind="check", hosts="db")
def test_u01(hosts):
    '''Look first.'''

@step("u02", at="08:10", owner="Jon", kind="check", hosts="db")
@pytest.mark.ahead(observe=quick_look)
def test_u02(hosts, ahead):
    '''Then look.'''
    assert ahead.result() == ["quick"]
"""


def _checks(project) -> None:
    folder = project.path / "checks"
    folder.mkdir()
    (folder / "conftest.py").write_text((ROOT / "checks" / "conftest.py").read_text())
    (folder / "test_after.py").write_text(textwrap.dedent(CHECKS))


def _at(journal: list[dict], event: str, **match) -> str:
    (found,) = events(journal, event, **match)
    return found["t"]


def test_a_look_runs_ahead_and_is_journaled_under_its_own_check(project):
    _checks(project)

    result = project.pytester.runpytest_subprocess("checks", "-p", "no:cacheprovider")

    result.assert_outcomes(passed=2, failed=1)
    journal = project.journal()
    quick = events(journal, "command", command="echo quick")
    slow = events(journal, "command", command="sleep 0.8; echo slow")
    assert [c["step"] for c in quick] == ["test_quick"]
    assert [c["step"] for c in slow] == ["test_slow"]
    # The quick look was done while the slow check still waited: it started ahead.
    assert quick[0]["t"] < _at(journal, "step_end", step="test_slow")
    assert quick[0]["t"] < _at(journal, "step_start", step="test_quick")
    # What a look raised fails its own check, named there.
    assert [c["step"] for c in events(journal, "command", command="echo failing")] == [
        "test_failing"
    ]
    (failed,) = events(journal, "step_end", outcome="failed")
    assert failed["step"] == "test_failing"
    result.stdout.fnmatch_lines(["*test_failing*caje:9000 open to the public*"])


def test_in_a_procedure_the_look_is_made_when_its_step_asks(project):
    project.procedure("upgrade", STEP)

    project.run("-p", "no:randomly").assert_outcomes(passed=2)

    journal = project.journal()
    (look,) = events(journal, "command", command="echo quick")
    assert look["step"] == "u02"
    assert look["t"] > _at(journal, "step_start", step="u02")
