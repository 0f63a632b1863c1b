"""The window: planned against actual, and a warning when the fallback would no longer fit."""

from __future__ import annotations

import datetime as dt
from html import unescape

from runbook_project import events

WINDOW = """
all:
  vars:
    window: {start: "08:00", end: "09:00"}
  children:
    app: {hosts: {stubing: {ansible_host: 192.0.2.250}}}
    db: {hosts: {caje: {ansible_host: 127.0.0.1, ansible_connection: local}}}
"""
UPGRADE = """
@step("u01", at="08:00", owner="Jon")
def test_u01(inventory):
    '''Block.'''

@step("u02", at="08:30", owner="Jon")
def test_u02(inventory):
    '''Upgrade.'''
"""
FALLBACK = """
@step("f01", at="08:00", owner="Jon")
def test_f01(inventory):
    '''Restore.'''

@step("f02", at="08:20", owner="Jon")
def test_f02(inventory):
    '''Open.'''
"""


def _setup(project):
    project.inventory(WINDOW)
    project.procedure("upgrade", UPGRADE)
    project.procedure("fallback", FALLBACK)


def test_on_time_no_warning_and_planned_vs_actual(project):
    _setup(project)

    # The rest (30 min) plus the fallback (20 min) fits the 60 min window.
    result = project.run("-k", "upgrade", "--window-start", "now")

    result.assert_outcomes(passed=2)
    assert "WARNING window" not in result.stdout.str()
    result.stdout.re_match_lines([r"u01   planned \d\d:\d\d  actual \d\d:\d\d:\d\d  on time"])
    result.stdout.re_match_lines([r"u02   planned \d\d:\d\d  actual \d\d:\d\d:\d\d  \d+ min early"])
    assert not events(project.journal(), "window_warning")


def test_late_start_warns_that_the_fallback_no_longer_fits(project):
    _setup(project)
    opened = (dt.datetime.now() - dt.timedelta(minutes=50)).strftime("%H:%M")

    # 50 min into a 60 min window: 30 min of upgrade plus 20 of fallback end 40 min too late.
    result = project.run("-k", "upgrade", "--window-start", opened)

    result.assert_outcomes(passed=2)
    result.stdout.re_match_lines(
        [
            r"WARNING window: at u01: the rest of upgrade plus the fallback would end "
            r"(39|40|41) min after the window closes at \d\d:\d\d"
        ]
    )
    result.stdout.re_match_lines(
        [r"u01   planned \d\d:\d\d  actual \d\d:\d\d:\d\d  (49|50|51) min late"]
    )
    (warning,) = events(project.journal(), "window_warning")  # given once, not at every step
    assert warning["step"] == "u01"
    assert "Window warning: at u01" in unescape(project.reports(".html")[-1].read_text())


def test_plan_warns_too(project):
    _setup(project)
    project.inventory(WINDOW.replace('end: "09:00"', 'end: "08:40"'))

    result = project.run("-k", "upgrade", "--plan", "--window-start", "08:00")

    result.stdout.fnmatch_lines(
        [
            "WARNING window: upgrade with the fallback as planned ends 10 min after the window "
            "closes at 08:40"
        ]
    )


def test_bad_window_start_is_a_usage_error(project):
    _setup(project)

    result = project.run("--window-start", "8 o'clock")

    assert result.ret == 4
    result.stderr.fnmatch_lines(["ERROR: --window-start 8 o'clock: give HH:MM or now"])
