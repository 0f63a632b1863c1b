"""--keep-time: in the real window, a step does not start before its planned time.

Before each step planned later than now, the console counts down on one line (updated once a
second); the operator starts the step early by pressing Enter, and the journal records it
(`early_start`: who, when, how early). A step that will not run (halted, done earlier, stopped
by --until) and a dry run do not wait. Without a terminal (stdin closed) the run simply waits.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
import select
import sys
import time

import pytest

from runbooklib.engine.console import terminal
from runbooklib.engine.run import Run, StepState, now, register
from runbooklib.transcript import transcript


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("runbook").addoption(
        "--keep-time",
        action="store_true",
        help="start no step before its planned time (Enter at the countdown starts it early)",
    )


class KeepTime:
    def __init__(self, config: pytest.Config, run: Run):
        self.config, self.run = config, run

    # Registered after the step follower: this wrapper is outside it, so the wait comes before
    # the step's start is taken and announced.
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None):
        state = self.run.states.get(item.nodeid)
        if state is not None and self._will_run(state) and state.planned > now():
            self._wait(state)
        return (yield)

    def _will_run(self, state: StepState) -> bool:
        run = self.run
        return bool(
            state.step
            and state.planned
            and not run.dry_run
            and not state.earlier
            and state.procedure not in run.halted_after
            and state.procedure not in run.stopped_after
        )

    def _wait(self, state: StepState) -> None:
        capman = self.config.pluginmanager.get_plugin("capturemanager")
        with terminal(self.config) as tr:
            if capman is not None:
                capman.suspend_global_capture(in_=True)  # stdin back, as console.ask does
            keys = _stdin_fd()
            early, shown = False, None
            while (left := (state.planned - now()).total_seconds()) > 0:
                # A terminal gets one line updated every second; a log, a line a minute.
                text = (
                    f"{state.id} starts at {state.planned:%H:%M:%S}, in {_clock(left)}: "
                    "press Enter to start it now"
                )
                if tr is not None and tr.isatty:
                    tr.rewrite(text, erase=True)
                    tr.flush()
                elif tr is not None and shown != int(left // 60):
                    shown = int(left // 60)
                    tr.write_line(text)
                if keys is None:
                    time.sleep(min(1.0, left))
                    continue
                ready, _, _ = select.select([keys], [], [], min(1.0, left))
                if not ready:
                    continue
                typed = os.read(keys, 1)  # one key at a time: a second Enter is the next step's
                if not typed:  # end of input: nobody can press Enter any more
                    keys = None
                elif typed in (b"\n", b"\r"):
                    early = True
                    break
            if tr is not None:
                done = f"{state.id}: started early by {self.run.operator}" if early else ""
                if tr.isatty:
                    tr.rewrite(done, erase=True)
                    tr.write("\n")
                elif done:
                    tr.write_line(done)
        if early:
            at = now()
            transcript.emit(
                "early_start",
                step=state.id,
                operator=self.run.operator,
                user=getpass.getuser(),
                at=at.isoformat(timespec="seconds"),
                planned=state.planned.isoformat(timespec="seconds"),
                early_by=round((state.planned - at).total_seconds(), 1),
            )


def _stdin_fd() -> int | None:
    try:
        return sys.stdin.fileno() if sys.stdin and not sys.stdin.closed else None
    except (OSError, ValueError):  # replaced by something with no file behind it
        return None


def _clock(seconds: float) -> str:
    return str(dt.timedelta(seconds=int(seconds) + 1))


def keep(config: pytest.Config, run: Run) -> None:
    if config.getoption("keep_time", False):
        register(config, "clock", KeepTime(config, run))
