"""The hooks the engine calls, for what a runbook adds to a run (pytest's own way to extend)."""

from __future__ import annotations

import pytest


@pytest.hookspec
def pytest_runbook_finish(session: pytest.Session, run, exitstatus: int) -> None:
    """The run's last words, said before its journal ends and its record is written: a verdict
    to emit, an announcement to send. What is written here is in the journal and the record,
    under the head that `journal verify` reports. `run.verdict` is the run's own verdict by
    then; an implementation may fail the session (`session.exitstatus`)."""
