"""--until: stop on purpose after a named step; recorded as a stop, not a failure; resumable."""

from __future__ import annotations

from runbook_project import events

THREE = """
@step("u01", at="08:00", owner="Jon")
def test_u01_first(inventory):
    '''First.'''

@step("u02", at="08:10", owner="Jon")
def test_u02_second(inventory):
    '''Second.'''

@step("u03", at="08:20", owner="Jon")
def test_u03_third(inventory):
    '''Third.'''
"""


def test_until_stops_after_the_named_step_and_exits_zero(project):
    project.procedure("upgrade", THREE)

    result = project.run("--until", "u02", "-rs")

    assert result.ret == 0
    result.assert_outcomes(passed=2, skipped=1)
    result.stdout.fnmatch_lines(["*stopped after u02 (--until)*", "*Carry on: *--resume*"])
    end = events(project.journal(), "run_end")[0]
    assert end["verdict"].startswith("STOPPED as asked (--until): upgrade after u02")


def test_resume_after_until_runs_only_the_rest(project):
    project.procedure("upgrade", THREE)
    assert project.run("--until", "u01").ret == 0

    result = project.run("--resume", "-rs")

    assert result.ret == 0
    started = [e["step"] for e in events(project.journal(), "step_end", outcome="passed")]
    assert started == ["u02", "u03"]


def test_until_an_unknown_step_is_refused_before_any_step(project):
    project.procedure("upgrade", THREE)

    result = project.run("--until", "u09")

    assert result.ret == 4
    result.stderr.fnmatch_lines(["*--until u09: no such step in this run (steps here: u01, u02*"])
    assert not project.reports(".jsonl")
