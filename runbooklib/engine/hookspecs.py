"""The hooks the engine calls, for what a runbook adds to a run (pytest's own way to extend)."""

from __future__ import annotations

import pytest


@pytest.hookspec
def pytest_runbook_finish(session: pytest.Session, run, exitstatus: int) -> None:
    """The run's last words, said before its journal ends and its record is written: a verdict
    to emit, an announcement to send. What is written here is in the journal and the record,
    under the head that `journal verify` reports. `run.verdict` is the run's own verdict by
    then; an implementation may fail the session (`session.exitstatus`)."""


@pytest.hookspec(firstresult=True)
def pytest_runbook_announce(
    config: pytest.Config, inventory, text: str, headline: str
) -> bool | None:
    """Tell the team `text` (redacted by then) on their channel: the window opening, a halt, the
    go/no-go verdict, the close. `headline` is the same without its detail (what happened and
    where to look): all that a channel without TLS may carry in clear. Return True once told;
    None when this implementation has no channel for `inventory` (the next one is asked). Raise
    when the channel cannot be reached: the engine makes that a warning, never a failed run.
    Not called in a dry run."""


@pytest.hookspec(firstresult=True)
def pytest_runbook_known_issues(config: pytest.Config) -> list[dict] | None:
    """The known issues that the record shows beside the lines they allow, each a dict with
    `id`, `justification`, `expires` and `hosts`; None (or []) when the runbook has none."""
