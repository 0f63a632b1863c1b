"""--keep-time: no step before its planned time; Enter at the countdown starts it early, and the
journal says who and when. Planned times in the near future, Enter typed on a pipe: fast."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

from runbook_project import events

STEPS = """
@step("u01", at="08:00", owner="Jon")
def test_u01(inventory):
    '''Block.'''

@step("u02", at="08:01", owner="Jon")
def test_u02(inventory):
    '''Upgrade.'''
"""


def _run(project, *args: str, typed: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "runbook", "-p", "no:cacheprovider", *args],
        cwd=project.path,
        input=typed,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_enter_starts_a_future_step_early_and_is_recorded(project):
    project.procedure("upgrade", STEPS)
    # The window opens in 2 to 3 minutes: both steps are planned in the future.
    opens = (dt.datetime.now() + dt.timedelta(minutes=3)).strftime("%H:%M")

    done = _run(
        project, "--keep-time", "--operator", "sandra", "--window-start", opens, typed="\n\n"
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "u01 starts at " in done.stdout and "press Enter to start it now" in done.stdout
    assert "u01: started early by sandra" in done.stdout
    journal = project.journal()
    early = events(journal, "early_start")
    assert [e["step"] for e in early] == ["u01", "u02"]
    assert all(e["operator"] == "sandra" and e["early_by"] > 60 for e in early)
    # Recorded before the step starts: the journal's order is the order things happened.
    kinds = [(e["event"], e.get("step")) for e in journal]
    assert kinds.index(("early_start", "u01")) < kinds.index(("step_start", "u01"))


def test_a_step_planned_in_the_past_starts_at_once(project):
    project.procedure("upgrade", STEPS.replace('"08:01"', '"08:00"'))

    done = _run(project, "--keep-time", "--window-start", "now", typed="")

    assert done.returncode == 0, done.stdout + done.stderr
    assert "press Enter" not in done.stdout
    assert not events(project.journal(), "early_start")


def test_without_keep_time_nothing_waits(project):
    project.procedure("upgrade", STEPS)
    opens = (dt.datetime.now() + dt.timedelta(minutes=3)).strftime("%H:%M")

    done = _run(project, "--window-start", opens, typed="")

    assert done.returncode == 0, done.stdout + done.stderr
    assert "press Enter" not in done.stdout
