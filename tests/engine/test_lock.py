"""One run per cluster: a flock held on the lock host for as long as the run's session lives.

The project's lock host has Ansible's `local` connection, so the lock's shell runs on this
machine exactly as it runs on caje over ssh (tests/e2e/test_lock_cluster.py does that).
A second `--reports` folder stands for a second checkout: the lock is not in either.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest
from runbook_project import NOTE, free, lock_file, wait_until

ONE = """
@step("u01", at="08:00", owner="Jon")
def test_u01(inventory):
    '''One.'''
"""


def test_the_lock_is_held_while_the_run_goes_on_and_freed_after(project):
    project.procedure(
        "upgrade",
        """
        import json, os, subprocess
        from pathlib import Path

        @step("u01", at="08:00", owner="Jon")
        def test_u01(inventory):
            '''Look at the lock.'''
            lock = Path("cluster/runbook.lock")
            assert subprocess.run(["flock", "-n", str(lock), "true"]).returncode == 1
            note = json.loads(lock.read_text())
            assert note["pid"] == os.getpid() and note["procedure"] == "upgrade"
            assert note["operator"] == "sandra" and note["reports"].endswith("reports")
        """,
    )

    project.run("--operator", "sandra").assert_outcomes(passed=1)

    assert free(lock_file(project))
    assert lock_file(project).read_text() == ""  # the note goes with the lock


def test_a_held_lock_refuses_a_run_from_anywhere_naming_its_holder(project, held):
    project.procedure("upgrade", ONE)

    for reports in ("reports", "../other-checkout/reports"):
        result = project.run("--reports", reports)

        assert result.ret == pytest.ExitCode.USAGE_ERROR
        assert [line for line in result.stderr.lines if line.strip()] == [
            "ERROR: the cluster of inventory lab is in use by thomas (thomas@laptop-7 pid 4242, "
            "reports /home/thomas/runbook/reports) since 2007-08-18T08:00:00-07:00, running "
            f"upgrade: wait for that run to end (lock caje:{lock_file(project)}; it frees "
            "itself when that run dies)"
        ]
    assert not (project.path / "reports").exists()
    assert json.loads(lock_file(project).read_text()) == NOTE  # untouched


def test_break_lock_never_takes_a_held_lock(project, held):
    project.procedure("upgrade", ONE)

    result = project.run("--break-lock")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: *in use by thomas*; --break-lock never takes it"])
    assert held.poll() is None and json.loads(lock_file(project).read_text()) == NOTE


def test_a_lock_left_by_a_dead_holder_is_taken_at_once(project):
    project.procedure("upgrade", ONE)
    path = lock_file(project)
    path.parent.mkdir()
    path.write_text(json.dumps(NOTE) + "\n")  # its note is there, its flock went with it

    project.run().assert_outcomes(passed=1)


def test_a_killed_runs_lock_frees_itself_and_the_next_run_takes_it(project):
    project.procedure(
        "upgrade",
        """
        import time
        from pathlib import Path

        @step("u01", at="08:00", owner="Jon")
        def test_u01(inventory):
            '''A long step.'''
            Path("u01-started").write_text("")
            time.sleep(120)
        """,
    )
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


def test_a_lost_lock_halts_the_run_before_the_next_step(project):
    project.procedure(
        "upgrade",
        """
        @step("u01", at="08:00", owner="Jon")
        def test_u01(request):
            '''The lock's session dies under the run.'''
            lock = request.config.pluginmanager.get_plugin("runbook-lock")
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
    result.stdout.fnmatch_lines(
        ["the run lock caje:* was lost (its session ended, exit -9): another run may have *"]
    )


def test_plan_takes_no_lock(project, held):
    project.procedure("upgrade", ONE)

    result = project.run("--plan")

    assert result.ret == 0
    result.stdout.fnmatch_lines(["*plan: upgrade on lab*"])


def test_a_lock_that_cannot_be_taken_refuses_the_run_in_one_line(project):
    project.procedure("upgrade", ONE)
    lock_file(project).parent.write_text("")  # its folder cannot be made: a file is in the way

    result = project.run()

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert len([line for line in result.stderr.lines if line.strip()]) == 1
    result.stderr.fnmatch_lines(
        [
            "ERROR: cannot take the run lock caje:*/cluster/runbook.lock (127.0.0.1): *: the run "
            "needs that host over ssh, with util-linux's flock and the lock file's folder writable"
        ]
    )
    assert not (project.path / "reports").exists()
