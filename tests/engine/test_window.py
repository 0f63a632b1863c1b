"""The window: planned against actual; a warning only when the procedure would end after the
window, or the latest time to start the fallback is near or past, saying that time."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

from runbook_project import events

from runbooklib.engine.window import early_once

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

    # 50 min into a 60 min window: 30 min of upgrade end 20 min too late, and the fallback
    # (20 min) had to start 10 min ago.
    result = project.run("-k", "upgrade", "--window-start", opened)

    result.assert_outcomes(passed=2)
    result.stdout.re_match_lines(
        [
            r"WARNING window: at u01: the rest of upgrade would end at \d\d:\d\d, (19|20|21) min "
            r"after the window closes at \d\d:\d\d; latest time to start the fallback \(20 min "
            r"long\): \d\d:\d\d, (9|10|11) min ago"
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
            "WARNING window: upgrade as planned ends at 08:30, 10 min after the latest time to "
            "start the fallback (20 min long) at 08:20"
        ]
    )


def test_the_seeds_plan_on_time_is_not_warned(project):
    # The seed's shape: the fallback is planned from the window's end (12:00) and runs past it;
    # the upgrade's last check is planned a minute after the end. On time, nothing to say.
    project.inventory(WINDOW.replace('end: "09:00"', 'end: "12:00"'))
    project.procedure("upgrade", UPGRADE.replace('"08:30"', '"12:01"'))
    project.procedure(
        "fallback", FALLBACK.replace('"08:00"', '"12:00"').replace('"08:20"', '"14:01"')
    )

    result = project.run("-k", "upgrade", "--window-start", "now")

    result.assert_outcomes(passed=2)
    assert "WARNING window" not in result.stdout.str()
    assert not events(project.journal(), "window_warning")


def test_the_fallbacks_latest_start_near_is_told_with_its_time(project):
    # Seed's shape again, 3h50 into the window, on time: u01 at 11:50, u02 at 12:01. The fallback
    # must start by 12:00 (its plan's start, the window's end): in 10 min, and the upgrade would
    # still be running then.
    project.inventory(WINDOW.replace('end: "09:00"', 'end: "12:00"'))
    project.procedure(
        "upgrade", UPGRADE.replace('"08:30"', '"12:01"').replace('"08:00"', '"11:50"')
    )
    project.procedure(
        "fallback", FALLBACK.replace('"08:00"', '"12:00"').replace('"08:20"', '"14:01"')
    )
    opened = (dt.datetime.now() - dt.timedelta(hours=3, minutes=50)).strftime("%H:%M")

    result = project.run("-k", "upgrade", "--window-start", opened)

    result.assert_outcomes(passed=2)
    (warning,) = events(project.journal(), "window_warning")  # u02, 11 min early, ends before
    assert warning["step"] == "u01"
    due = f"latest time to start the fallback (2h01 long): {opened_at(opened, 4, 0)}, in "
    assert warning["text"].endswith((due + "10 min", due + "9 min")), warning["text"]
    result.stdout.fnmatch_lines([f"*WARNING window: at u01: *{due}*"])


def opened_at(opened: str, hours: int, minutes: int) -> str:
    """HH:MM, `hours:minutes` after the window opened at `opened` (HH:MM)."""
    start = dt.datetime.strptime(opened, "%H:%M")
    return f"{start + dt.timedelta(hours=hours, minutes=minutes):%H:%M}"


def test_bad_window_start_is_a_usage_error(project):
    _setup(project)

    result = project.run("--window-start", "8 o'clock")

    assert result.ret == 4
    result.stderr.fnmatch_lines(["ERROR: --window-start 8 o'clock: give HH:MM or now"])


REHEARSAL = """
@step("u01", at="08:10", owner="Jon")
def test_u01(inventory):
    '''Block.'''

@step("u02", at="08:20", owner="Jon")
def test_u02(inventory):
    '''Back up.'''

@step("u03", at="08:30", owner="Jon")
def test_u03(inventory):
    '''Upgrade.'''
"""


def test_the_planned_vs_actual_table_says_a_rehearsals_earliness_once(project):
    project.inventory(WINDOW)
    project.procedure("upgrade", REHEARSAL)

    # Opened now: every step starts 10, 20, 30 minutes ahead of its plan.
    result = project.run("-k", "upgrade", "--window-start", "now")

    result.assert_outcomes(passed=3)
    out = result.stdout.str()
    table = out[out.index("planned vs actual") :].splitlines()[1:4]
    assert re.fullmatch(
        r"u01   planned \d\d:\d\d  actual \d\d:\d\d:\d\d  (9|10) min early, ahead of the plan "
        r"\(said once\)",
        table[0],
    ), table
    assert re.fullmatch(r"u02   planned \d\d:\d\d  actual \d\d:\d\d:\d\d", table[1]), table
    assert re.fullmatch(r"u03   planned \d\d:\d\d  actual \d\d:\d\d:\d\d", table[2]), table


def test_earliness_is_said_again_after_a_step_on_time_or_late():
    said, shown, was_early = ["30 min early", "29 min early", "on time", "2 min early"], [], False
    for text in said:
        shown.append(early_once(text, was_early))
        was_early = text.endswith("early")

    assert shown == [
        "30 min early, ahead of the plan (said once)",
        "",
        "on time",
        "2 min early, ahead of the plan (said once)",
    ]
