"""A test-only plugin: stop a procedure inside a chosen step, as a crash or a failure would.

    RUNBOOK_STOP=u05:kill:1   pytest runbook/ -k upgrade -p tests.e2e.stopper ...

`STEP:HOW:WHEN`: HOW is `kill` (SIGKILL of the run itself, nothing written after), `fail` (the
step fails there) or `partition=HOST` (`python -m lab fault partition HOST` cuts the host's link
there, the journal notes when, and the step carries on: what it does next decides its fate);
WHEN is the number of changing commands the step has finished first (0: before its first), or
`match=REGEX`: right after the first changing command that matches. A step that runs fewer
changing commands is stopped at its end, before it is recorded as passed.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest

from runbooklib.engine.steps import step_of
from runbooklib.transcript import transcript

# The journal's note of the cut (its time is the cut's): "test partition of HOST in STEP ...".
PARTITION_NOTE = "test partition of"


class Stopped(Exception):
    pass


class Stopper:
    def __init__(self, spec: str):
        self.step, self.how, when = spec.split(":", 2)
        self.match = re.compile(when.removeprefix("match=")) if when.startswith("match=") else None
        self.after = None if self.match else int(when)
        self.count, self.armed = 0, False

    def stop(self, where: str) -> None:
        self.armed = False
        if self.how.startswith("partition=") and where != "at its end":
            host = self.how.removeprefix("partition=")
            subprocess.run(
                [sys.executable, "-m", "lab", "fault", "partition", host], check=True, timeout=30
            )
            transcript.note(f"{PARTITION_NOTE} {host} in {self.step} {where}")
            return
        if self.how == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        raise Stopped(f"stopped on purpose in {self.step} {where}")

    def listen(self, event: str, data: dict) -> None:
        if not (self.armed and event == "command" and data.get("changes")):
            return
        self.count += 1
        if self.match and self.match.search(data.get("command", "")):
            self.stop(f"after `{data['command'][:80]}`")
        elif self.after is not None and self.count >= self.after:
            self.stop(f"after {self.count} changing commands")

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item):
        meta = step_of(item)
        if meta is None or meta.id != self.step:
            return (yield)
        if self.after == 0:
            self.stop("before its first command")
        # Listening from here on: the engine's journal hears each command before we stop.
        self.armed = True
        transcript.listeners.append(self.listen)
        try:
            result = yield
        finally:
            transcript.listeners.remove(self.listen)
        if self.armed:
            self.stop("at its end")
        return result


def pytest_configure(config: pytest.Config) -> None:
    spec = os.environ.get("RUNBOOK_STOP")
    if spec:
        config.pluginmanager.register(Stopper(spec), "test-stopper")
