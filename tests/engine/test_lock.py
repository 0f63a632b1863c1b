"""One run per inventory: a held lock refuses a second run; a stale one needs --break-lock."""

from __future__ import annotations

import json
import socket
import subprocess

import pytest

ONE = """
@step("u01", at="08:00", owner="Jon")
def test_u01(inventory):
    '''One.'''
"""


def _lock(project, pid: int) -> None:
    folder = project.path / "reports"
    folder.mkdir(exist_ok=True)
    holder = {
        "user": "thomas",
        "host": socket.gethostname(),
        "pid": pid,
        "since": "2007-08-18T08:00:00-07:00",
        "procedure": "upgrade",
    }
    (folder / ".lock-lab.json").write_text(json.dumps(holder))


def test_a_live_holder_refuses_a_second_run(project):
    project.procedure("upgrade", ONE)
    holder = subprocess.Popen(["sleep", "60"])
    try:
        _lock(project, holder.pid)

        result = project.run("--break-lock")  # not even --break-lock takes a live run's lock

        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines(
            [
                f"ERROR: inventory lab is in use by thomas@{socket.gethostname()} pid {holder.pid} "
                "since 2007-08-18T08:00:00-07:00 (upgrade): wait for that run to end*"
            ]
        )
        assert not project.reports(".jsonl")
        assert (project.path / "reports" / ".lock-lab.json").exists()
    finally:
        holder.kill()
        holder.wait()


def test_a_dead_holders_lock_is_taken_only_with_break_lock(project):
    project.procedure("upgrade", ONE)
    gone = subprocess.Popen(["true"])
    gone.wait()
    _lock(project, gone.pid)

    refused = project.run()

    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    refused.stderr.fnmatch_lines(
        [f"ERROR: inventory lab is locked by a run that is gone: thomas@* pid {gone.pid} *"]
    )

    taken = project.run("--break-lock")

    taken.assert_outcomes(passed=1)
    assert not (project.path / "reports" / ".lock-lab.json").exists()  # released at the end


def test_the_lock_is_held_while_the_run_goes_on(project):
    project.procedure(
        "upgrade",
        """
        import json, os
        from pathlib import Path

        @step("u01", at="08:00", owner="Jon")
        def test_u01(inventory):
            '''Look at the lock.'''
            holder = json.loads(Path("reports/.lock-lab.json").read_text())
            assert holder["pid"] == os.getpid() and holder["procedure"] == "upgrade"
        """,
    )

    project.run().assert_outcomes(passed=1)
