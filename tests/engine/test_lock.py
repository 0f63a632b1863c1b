"""One run per cluster: a flock held on the lock host for as long as the run's session lives.

The project's lock host has Ansible's `local` connection, so the lock's shell runs on this
machine exactly as it runs on caje over ssh (tests/e2e/test_lock_cluster.py does that).
A second `--reports` folder stands for a second checkout: the lock is not in either.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time

import pytest
from runbook_project import NOTE, events, free, lock_file, wait_until

from runbooklib.engine import lock

ONE = """
@step("u01", at="08:00", owner="Jon")
def test_u01(inventory):
    '''One.'''
"""

LONG_STEP = """
import time
from pathlib import Path

@step("u01", at="08:00", owner="Jon")
def test_u01(inventory):
    '''A long step.'''
    Path("u01-started").write_text("")
    time.sleep(120)
"""


def test_the_lock_is_held_while_the_run_goes_on_and_freed_after(project):
    project.procedure(
        "upgrade",
        """
        import json, os, subprocess, time
        from pathlib import Path

        @step("u01", at="08:00", owner="Jon")
        def test_u01(inventory):
            '''Look at the lock and its heartbeat.'''
            lock = Path("cluster/runbook.lock")
            assert subprocess.run(["flock", "-n", str(lock), "true"]).returncode == 1
            note = json.loads(lock.read_text())
            assert note["pid"] == os.getpid() and note["procedure"] == "upgrade"
            assert note["operator"] == "sandra" and note["reports"].endswith("reports")
            beat = Path("cluster/runbook.lock.beat")
            assert abs(int(beat.read_text()) - time.time()) < 3
        """,
    )

    project.run("--operator", "sandra").assert_outcomes(passed=1)

    assert free(lock_file(project))
    assert lock_file(project).read_text() == ""  # the note goes with the lock
    folder = lock_file(project).parent
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700 and folder.stat().st_uid == os.getuid()
    assert stat.S_IMODE(lock_file(project).stat().st_mode) == 0o600
    assert not folder.joinpath("runbook.lock.beat").exists()


def test_a_held_lock_refuses_a_run_from_anywhere_naming_its_holder_and_heartbeat(project, held):
    project.procedure("upgrade", ONE)
    held.beat(3)

    for reports in ("reports", "../other-checkout/reports"):
        result = project.run("--reports", reports)

        assert result.ret == pytest.ExitCode.USAGE_ERROR
        errors = [line for line in result.stderr.lines if line.strip()]
        assert len(errors) == 1
        assert re.fullmatch(
            re.escape(
                "ERROR: the cluster of inventory lab is in use by thomas (thomas@laptop-7 pid "
                "4242, reports /home/thomas/runbook/reports) since 2007-08-18T08:00:00-07:00, "
                "running upgrade; last heartbeat "
            )
            + r"\d\d:\d\d:\d\d \((\d+) s ago\): wait for that run to end \(lock "
            + re.escape(
                f"caje:{lock_file(project)}; if that run died or lost its link, it frees by "
            )
            + r"\d\d:\d\d:\d\d\)",
            errors[0],
        ), errors[0]
        assert 3 <= int(re.search(r"\((\d+) s ago\)", errors[0])[1]) < lock.DEADLINE
        last, frees = re.findall(r"\d\d:\d\d:\d\d", errors[0].split("running upgrade")[1])
        gap = dt.datetime.strptime(frees, "%H:%M:%S") - dt.datetime.strptime(last, "%H:%M:%S")
        assert gap.seconds == lock.DEADLINE  # the truth: when the holder's shell gives up
    assert not (project.path / "reports").exists()
    assert json.loads(lock_file(project).read_text()) == NOTE  # untouched


def test_break_lock_is_refused_while_the_holder_is_alive(project, held):
    project.procedure("upgrade", ONE)

    result = project.run("--break-lock", "--operator", "sandra")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: *in use by thomas*; --break-lock is refused while its heartbeat is fresh"]
    )
    assert held.poll() is None and json.loads(lock_file(project).read_text()) == NOTE


def test_a_stale_heartbeat_is_named_and_break_lock_takes_the_lock_over(project, held):
    project.procedure("upgrade", ONE)
    held.beat(lock.DEADLINE + 40)

    refused = project.run("--operator", "sandra")
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    refused.stderr.fnmatch_lines(
        [
            "ERROR: *in use by thomas*; last heartbeat *:*:* (6? s ago), past its "
            f"{lock.DEADLINE} s deadline, yet its shell still holds the lock caje:*: if its run "
            "is gone, take it over with --break-lock"
        ]
    )

    project.run("--break-lock", "--operator", "sandra").assert_outcomes(passed=1)

    (broken,) = events(project.journal(), "lock_broken")
    assert broken["operator"] == "sandra" and json.loads(broken["holder"]) == NOTE
    assert lock_file(project).read_text() == ""  # our own note, cleared as our run ended
    assert free(lock_file(project))  # a new file: the stuck holder keeps only the old one


def test_a_lock_left_by_a_dead_holder_is_taken_at_once(project):
    project.procedure("upgrade", ONE)
    path = lock_file(project)
    path.parent.mkdir(mode=0o700)
    path.write_text(json.dumps(NOTE) + "\n")  # its note is there, its flock went with it

    project.run().assert_outcomes(passed=1)


def test_a_killed_runs_lock_frees_itself_and_the_next_run_takes_it(project):
    project.procedure("upgrade", LONG_STEP)
    first = subprocess.Popen(
        [sys.executable, "-m", "pytest", "runbook", "-p", "no:cacheprovider"],
        cwd=project.path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_until(lambda: (project.path / "u01-started").exists(), 60)
        refused = project.run("--reports", "second")
        assert refused.ret == pytest.ExitCode.USAGE_ERROR
        refused.stderr.fnmatch_lines([f"ERROR: *in use by * pid {first.pid}, reports *"])
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)

    assert wait_until(lambda: free(lock_file(project)), 5), "the dead run's lock stayed"
    project.procedure("upgrade", ONE)  # the same procedure, without the long step

    project.run("--reports", "second").assert_outcomes(passed=1)


def test_a_holder_that_stops_beating_loses_the_lock_within_the_deadline(project):
    """The host side's deadline: a frozen holder (a machine gone, a link cut) frees the lock,
    and once it is back it halts at once, naming the lost lock."""
    project.procedure("upgrade", LONG_STEP)
    first = subprocess.Popen(
        [sys.executable, "-m", "pytest", "runbook", "-p", "no:cacheprovider"],
        cwd=project.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert wait_until(lambda: (project.path / "u01-started").exists(), 60)
        first.send_signal(signal.SIGSTOP)  # no more heartbeats; its pipe to the shell stays open
        stopped = time.monotonic()
        assert wait_until(lambda: free(lock_file(project)), 30), "the frozen run kept the lock"
        assert lock.DEADLINE - 1 <= time.monotonic() - stopped < 30
        first.send_signal(signal.SIGCONT)
        out, _ = first.communicate(timeout=30)
    finally:
        first.kill()
        first.wait()
    assert "lost the cluster lock caje:" in out and "HALTED after u01" in out, out[-3000:]


def test_a_lock_lost_mid_step_fails_that_step_at_once_and_halts(project):
    project.procedure(
        "upgrade",
        """
        import threading, time

        @step("u01", at="08:00", owner="Jon")
        def test_u01(request):
            '''A long step whose lock's session dies under it.'''
            lock = request.config.pluginmanager.get_plugin("runbook-lock")
            threading.Timer(0.5, lock.proc.kill).start()
            time.sleep(60)

        @step("u02", at="08:10", owner="Jon")
        def test_u02(inventory):
            '''Must not run without the lock.'''
        """,
    )

    started = time.monotonic()
    result = project.run()

    assert time.monotonic() - started < lock.HEARTBEAT + 5  # not the step's 60 s
    result.assert_outcomes(passed=0, failed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "*lost the cluster lock caje:* (its session on caje ended, exit -9): another run may "
            "take it; check who holds it before you resume"
        ]
    )
    result.stdout.fnmatch_lines(["*upgrade HALTED after u01*"])
    (lost,) = events(project.journal(), "lock_lost")
    assert lost["step"] == "u01"


def test_a_lock_lost_between_steps_fails_the_next_steps_setup(project):
    project.procedure(
        "upgrade",
        """
        @step("u01", at="08:00", owner="Jon")
        def test_u01(request):
            '''The lock's session dies as the step ends.'''
            lock = request.config.pluginmanager.get_plugin("runbook-lock")
            lock._in_step = False  # as if it died just after the step's call
            lock.proc.kill()
            lock.proc.wait()

        @step("u02", at="08:10", owner="Jon")
        def test_u02(inventory):
            '''Must not run without the lock.'''

        @step("u03", at="08:20", owner="Jon")
        def test_u03(inventory):
            '''Nor this.'''
        """,
    )

    result = project.run()

    result.assert_outcomes(passed=1, errors=1, skipped=1)
    result.stdout.fnmatch_lines(["*lost the cluster lock caje:*"])


def test_plan_takes_no_lock(project, held):
    project.procedure("upgrade", ONE)

    result = project.run("--plan")

    assert result.ret == 0
    result.stdout.fnmatch_lines(["*plan: upgrade on lab*"])


@pytest.mark.parametrize("made", ["open to all", "someone else's", "a symlink", "a file"])
def test_a_lock_folder_made_by_someone_else_is_refused_naming_it_and_the_fix(project, made):
    project.procedure("upgrade", ONE)
    folder = lock_file(project).parent
    if made == "a symlink":
        (project.path / "elsewhere").mkdir(mode=0o700)
        folder.symlink_to(project.path / "elsewhere")
    elif made == "a file":
        folder.write_text("")
    else:
        folder.mkdir()
        folder.chmod(0o777 if made == "open to all" else 0o700)
        if made == "someone else's":
            os.chown(folder, 65534, 65534)  # nobody

    result = project.run()

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert len([line for line in result.stderr.lines if line.strip()]) == 1
    result.stderr.fnmatch_lines(
        [
            f"ERROR: the run lock's folder caje:{folder} is not root's own private folder (*): "
            f"someone else may have made it; remove it as root on caje (rm -rf {folder}) and run "
            "again"
        ]
    )
    assert not (project.path / "reports").exists()
    assert not (project.path / "elsewhere" / "runbook.lock").exists()


def test_a_lock_that_cannot_be_taken_refuses_the_run_in_one_line(project, tmp_path):
    project.procedure("upgrade", ONE)
    lock_file(project).parent.mkdir(mode=0o700)
    lock_file(project).mkdir()  # not a file: flock cannot open it

    result = project.run()

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert len([line for line in result.stderr.lines if line.strip()]) == 1
    result.stderr.fnmatch_lines(["ERROR: the run lock's file caje:*/cluster/runbook.lock is not *"])
    assert not (project.path / "reports").exists()
