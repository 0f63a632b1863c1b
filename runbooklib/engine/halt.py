"""Halt: the first failing step stops its procedure, and the operator is told what comes next.

Later steps are reported skipped with `halted after <id>`, not silently dropped; the run exits
non-zero (the failure); the summary names the two ways on: fix and --resume, or fall back.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest

from runbooklib.engine.run import Run, register


class Halt:
    def __init__(self, run: Run, fallback: str):
        self.run, self.fallback = run, fallback

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        state = self.run.states.get(item.nodeid)
        if state and state.step and state.procedure in self.run.halted_after:
            pytest.skip(f"halted after {self.run.halted_after[state.procedure]}")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        state = self.run.states.get(report.nodeid)
        if report.failed and state and state.step:
            self.run.halted_after.setdefault(state.procedure, state.id)

    @pytest.hookimpl(trylast=True)  # the last words the operator reads
    def pytest_terminal_summary(self, terminalreporter, config: pytest.Config) -> None:
        tr = terminalreporter
        for state in self.run.steps():
            if state.outcome == "interrupted":
                tr.write_sep("=", f"{state.procedure} INTERRUPTED during {state.id}", red=True)
                tr.write_line(f"What next: {command(config, state.procedure, '--resume')}")
        for procedure, step_id in self.run.halted_after.items():
            state = self.run.find(step_id)
            tr.write_sep("=", f"{procedure} HALTED after {step_id}", red=True, bold=True)
            tr.write_line(f"{step_id} failed: {state.reason if state else ''}")
            tr.write_line("What next:")
            tr.write_line(f"  fix the cause, then resume: {command(config, procedure, '--resume')}")
            if procedure != self.fallback:
                tr.write_line(f"  or fall back:             {command(config, self.fallback)}")


def command(config: pytest.Config, procedure: str, *extra: str) -> str:
    """The command line that carries on with `procedure` against the same inventory."""
    words = ["pytest", procedures_folder(config, procedure), "-k", procedure, *extra]
    inventory = config.getoption("inventory")
    if inventory:
        words += ["--inventory", inventory]
    confirmed = config.getoption("confirm_target")
    if confirmed:
        words += ["--confirm-target", confirmed]
    return shlex.join(words)


def procedures_folder(config: pytest.Config, procedure: str) -> str:
    """The folder of `procedure` (ini `runbook_steps`), as the operator types it from where this
    run was started: the one holding `test_<procedure>.py`, else the first."""
    folders = config.getini("runbook_steps") or [config.rootpath]
    holding = [f for f in folders if (Path(f) / f"test_{procedure}.py").exists()]
    where = os.path.relpath((holding or folders)[0], config.invocation_params.dir)
    return where.rstrip("/") + "/"


def watch(config: pytest.Config, run: Run) -> None:
    register(config, "halt", Halt(run, config.getini("runbook_fallback")))
