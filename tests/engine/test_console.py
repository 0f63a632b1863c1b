"""The live console: a line as each step starts and ends, sub-steps, and a warning the moment it
is raised (before the step it concerns runs), with -q too."""

from __future__ import annotations

import datetime as dt
import re

from test_window import FALLBACK, WINDOW

STEPS = """
@step("u01", at="08:00", owner="Jon")
def test_u01(inventory):
    '''Block client access.'''
    transcript.emit("substep_start", name="Close 8443", hosts=["stubing"])
    transcript.emit("substep_end", name="Close 8443", outcome="passed", duration=0.25)

@step("u02", at="08:30", owner="Prabhu")
def test_u02(inventory):
    '''Run the scripts.'''
    assert False, "SAK-869 failed"

@step("u03", at="08:40", owner="Prabhu")
def test_u03(inventory):
    '''Check.'''
"""


def test_each_step_has_a_start_and_an_end_line_and_substeps_show(project):
    project.inventory(WINDOW)
    project.procedure("upgrade", STEPS)
    project.procedure("fallback", FALLBACK)

    result = project.run("-q", "-k", "upgrade", "--window-start", "now")

    result.assert_outcomes(passed=1, failed=1, skipped=1)
    result.stdout.re_match_lines(
        [
            r"u01 planned \d\d:\d\d, on time  Jon: Block client access\.$",
            r"  u01 \. Close 8443 \(stubing\)$",
            r"  u01 \. Close 8443: passed in 0\.2 s$",
            r"u01 passed in \d+\.\d s$",
            r"u02 planned \d\d:\d\d, (29|30) min early, ahead of the plan \(said once\)  "
            r"Prabhu: Run the scripts\.$",
            r"u02 failed in \d+\.\d s: AssertionError: SAK-869 failed$",
            r"u03 skipped: halted after u02$",
        ]
    )
    assert not [line for line in result.stdout.lines if line.startswith("u03 planned")]
    assert "WARNING" not in result.stdout.str()


def test_a_window_warning_shows_when_raised_not_at_the_end(project):
    project.inventory(WINDOW)
    project.procedure("upgrade", STEPS)
    project.procedure("fallback", FALLBACK)
    opened = (dt.datetime.now() - dt.timedelta(minutes=50)).strftime("%H:%M")

    result = project.run("-q", "-k", "upgrade", "--window-start", opened)

    lines = result.stdout.lines
    warned = next(i for i, line in enumerate(lines) if line.startswith("WARNING window: at u01"))
    started = next(i for i, line in enumerate(lines) if line.startswith("u01 planned"))
    ended = next(i for i, line in enumerate(lines) if line.startswith("u01 passed"))
    assert started < warned < ended  # raised in u01's setup, printed then


EARLY = """
@step("u01", at="08:00", owner="Jon")
def test_u01(inventory):
    '''Block client access.'''

@step("u02", at="08:30", owner="Jon")
def test_u02(inventory):
    '''Back up.'''
    transcript.emit("substep_start", name="Install on walton", hosts=["walton", "stubing"])
    transcript.emit("substep_end", name="Install on walton", outcome="passed", duration=61)

@step("u03", at="08:40", owner="Jon")
def test_u03(inventory):
    '''Check.'''
"""


def test_a_run_ahead_of_its_plan_says_so_once_and_names_each_host_once(project):
    project.inventory(WINDOW)
    project.procedure("upgrade", EARLY)
    project.procedure("fallback", FALLBACK)

    result = project.run("-q", "-k", "upgrade", "--window-start", "now")

    result.assert_outcomes(passed=3)
    result.stdout.re_match_lines(
        [
            r"latest time to start the fallback: \d\d:\d\d$",
            r"u01 planned \d\d:\d\d, on time  Jon: Block client access\.$",
            r"u02 planned \d\d:\d\d, (29|30) min early, ahead of the plan \(said once\)  Jon",
            r"  u02 \. Install on walton \(stubing\)$",
            r"  u02 \. Install on walton: passed in 1m01s$",
            r"u03 planned \d\d:\d\d  Jon: Check\.$",
        ]
    )
    live = [line for line in result.stdout.lines if re.match(r"u\d+ planned \d\d:\d\d[, ]", line)]
    assert len(live) == 3 and sum("early" in line for line in live) == 1
