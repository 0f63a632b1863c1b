"""Following each step as it runs: its times, its outcome and what it did.

Registered for a live run only. Emits `step_start` and `step_end` on the transcript (the journal
writes them), keeps the step's commands, artifacts, notes and approvals on its state (the report
shows them), and sets `transcript.step_kind` so that actions know whether a dry run lets them
verify.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from runbooklib.engine.run import Run, now, register
from runbooklib.transcript import transcript

# Transcript events kept on the step that made them (shown as its extra in the report).
_KEPT = ("command", "artifact", "note", "approval", "substep_start", "substep_end")


class StepFollower:
    """Registered for a live run: times each step, keeps its outcome and what it did."""

    def __init__(self, run: Run):
        self.run = run
        transcript.listeners.append(self.listen)

    def listen(self, event: str, data: dict) -> None:
        if self.run.current is not None and event in _KEPT:
            self.run.current.entries.append({"event": event, **data})

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None):
        state = self.run.states.get(item.nodeid)
        if state is None:
            return (yield)
        self.run.current = state
        meta = state.step
        transcript.step_kind = meta.kind if meta else "check"
        state.started = now()
        transcript.emit(
            "step_start",
            step=state.id,
            procedure=state.procedure,
            title=meta.title if meta else item.name,
            owner=meta.owner if meta else "",
            kind=transcript.step_kind,
            at=meta.at if meta else None,
            planned=state.planned.isoformat(timespec="seconds") if state.planned else None,
        )
        try:
            return (yield)
        finally:
            state.ended = now()
            if state.outcome == "not run":  # started, never finished: Ctrl-C, a crash
                state.outcome = "interrupted"
            transcript.emit(
                "step_end",
                step=state.id,
                outcome=state.outcome,
                reason=state.reason,
                done_earlier=state.earlier,
                duration=round((state.ended - state.started).total_seconds(), 3),
            )
            self.run.current = None
            transcript.step_kind = None

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        report = yield
        # A step the engine skipped (halted, done earlier) is reported at the step's own line,
        # not at the engine's hook that skipped it.
        if report.skipped and isinstance(report.longrepr, tuple) and item.nodeid in self.run.states:
            path, _, reason = report.longrepr
            if Path(path).resolve().is_relative_to(Path(__file__).parent):
                where, line, _ = item.reportinfo()
                report.longrepr = (str(where), (line or 0) + 1, reason)
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        state = self.run.states.get(report.nodeid)
        if state is None:
            return
        if report.failed:
            if state.outcome != "failed":
                state.outcome, state.reason = "failed", why(report)
        elif report.skipped and state.outcome != "failed":
            state.outcome, state.reason = "skipped", why(report)
        elif report.when == "call" and state.outcome == "not run":
            state.outcome = "passed"

    def close(self) -> None:
        if self.listen in transcript.listeners:
            transcript.listeners.remove(self.listen)
        transcript.step_kind = None


def why(report: pytest.TestReport) -> str:
    """Why a step or check failed or was skipped, in one line (record, verdict, channel)."""
    if getattr(report, "wasxfail", ""):  # expected to fail (a dry run's verification step)
        return report.wasxfail
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):  # a skip: (path, line, "Skipped: why")
        return str(longrepr[2]).removeprefix("Skipped: ")
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None:
        lines = [line for line in crash.message.splitlines() if line.strip()]
        if len(lines) > 1 and lines[0].endswith(":"):
            # "...errors in the log since this start, first:" says nothing without what follows.
            return f"{lines[0]} {lines[1].strip()}"
        return lines[0] if lines else "failed"
    # A plain text (redacted) report: pytest's "E   " lines say what failed.
    lines = str(longrepr or "").strip().splitlines()
    errors = [line[1:].strip() for line in lines if line.startswith("E ")]
    return errors[0] if errors else (lines[-1] if lines else "failed")


def follow(config: pytest.Config, run: Run) -> None:
    register(config, "steps", StepFollower(run))
