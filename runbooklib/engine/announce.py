"""Announcements: the team's channel hears the run's own events, from the engine.

The window opening (a procedure starts), each halt (its reason redacted like the record), the
go/no-go verdict of a checks run, and the end of a procedure (the window's close when it passed).
The engine says what; the runbook says how and where: its `pytest_runbook_announce` hook
(hookspecs.py) sends each message, and ini `runbook_name` names what is maintained in them. An
unreachable channel never fails the run: it becomes a warning (console and journal). Nothing is
sent in a dry run (the record says what would have been).
"""

from __future__ import annotations

import pytest

from runbooklib.engine.run import Run, register
from runbooklib.transcript import transcript


class Announcer:
    def __init__(self, session: pytest.Session, run: Run):
        self.session, self.config, self.run = session, session.config, run
        # Leads every message: the name of what is maintained, from the runbook's own settings.
        name = session.config.getini("runbook_name").strip()
        self.name = f"{name} " if name else ""
        # Procedures whose halt was said.
        self.told: set[str] = set()

    def say(self, text: str, headline: str) -> None:
        text = transcript.redact(self.name + text)
        headline = transcript.redact(self.name + headline)
        try:
            self.config.hook.pytest_runbook_announce(
                config=self.config, inventory=self.run.inventory, text=text, headline=headline
            )
        except Exception as exc:  # noqa: BLE001 - telling people must never stop the work
            transcript.emit("warning", text=f"not announced ({exc}): {text}")

    def opened(self) -> None:
        run = self.run
        if run.procedure == "checks":
            return
        how = "resumed" if run.resumed_from else "started"
        window = f"maintenance window {run.window.describe()}: {run.procedure} {how}"
        self.say(f"{window} on {run.inventory.name} by {run.operator}", window)

    @pytest.hookimpl(trylast=True)  # after the halt and the step's reason are taken
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        state = self.run.states.get(report.nodeid)
        if state is None or state.procedure in self.told:
            return
        if self.run.halted_after.get(state.procedure) == state.id:
            self.told.add(state.procedure)
            reason = (state.reason or "failed")[:1200]
            halted = f"{state.procedure} HALTED after {state.id}"
            self.say(f"{halted}: {reason}{self._record()}", f"{halted}, see the record")

    # Last of the run's last words: after the checks' verdict, before the journal's end.
    @pytest.hookimpl(trylast=True)
    def pytest_runbook_finish(self, session: pytest.Session, run: Run, exitstatus: int) -> None:
        if run.procedure == "checks":  # the go/no-go's verdict (checks/conftest.py)
            self.say(
                f"go/no-go: {run.verdict}{self._record()}",
                f"go/no-go: {run.verdict.kind}, see the record",
            )
        elif run.verdict.kind == "PASSED":
            closed = f"maintenance window closed: {run.procedure}"
            self.say(f"{closed} {run.verdict}", f"{closed} {run.verdict.kind}")
        elif not run.halted_after:  # a halt was said when it happened
            self.say(
                f"{run.procedure}: {run.verdict}",
                f"{run.procedure}: {run.verdict.kind}, see the record",
            )

    def _record(self) -> str:
        """Where the whole story is: the record's name (the channel gets the verdict in full,
        in as many messages as it takes)."""
        return f" (record {self.run.base.name}.html)" if self.run.base else ""


def start(session: pytest.Session, run: Run) -> None:
    """Register the announcer and say the window is open; nothing in a dry run."""
    if run.dry_run:
        return
    announcer = Announcer(session, run)
    register(session.config, "announce", announcer)
    announcer.opened()
