"""--resume: carry on from the latest journal of the same procedure and inventory.

Steps that passed there (or were already done before it) are skipped and reported as
`done earlier at HH:MM:SS`; the failed or interrupted step runs again (actions are idempotent).
Journals of dry runs do not count: nothing was done in them. The resumed run keeps the window's
start of the run it resumes, unless --window-start says otherwise. A journal whose hash chain is
broken is refused: a changed line could mark a step done that never ran, and the run would skip it.
"""

from __future__ import annotations

import datetime as dt

import pytest

from runbooklib.engine.journal import read, verify
from runbooklib.engine.run import Run, register


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("runbook").addoption(
        "--resume",
        action="store_true",
        help="skip the steps done in the latest run of this procedure on this inventory",
    )


def latest_journal(run: Run) -> tuple[object, list[dict]] | None:
    pattern = f"*-{run.procedure}-{run.inventory.name}.jsonl"
    for path in sorted(run.reports_dir.glob(pattern), reverse=True):  # names start with UTC time
        events = read(path)
        if events and events[0].get("event") == "run_start" and not events[0].get("dry_run"):
            return path, events
    return None


def done_steps(events: list[dict]) -> dict[str, str]:
    """step id -> local "HH:MM:SS" when it was done, from one journal."""
    done = {}
    for event in events:
        if event.get("event") != "step_end":
            continue
        if event.get("outcome") == "passed":
            at = dt.datetime.fromisoformat(event["t"]).astimezone()
            done[event["step"]] = f"{at:%H:%M:%S}"
        elif event.get("done_earlier"):
            done[event["step"]] = event["done_earlier"]
    return done


def load(config: pytest.Config, run: Run) -> dt.datetime | None:
    """Read the journal to resume from; returns the window's start of that run."""
    if not config.getoption("resume"):
        return None
    found = latest_journal(run)
    if found is None:
        raise pytest.UsageError(
            f"--resume: no journal of {run.procedure} on {run.inventory.name} in "
            f"{run.reports_dir}: run without --resume"
        )
    path, events = found
    ok, chain = verify(path)
    if not ok and not chain.startswith("NO CHAIN"):  # a journal from before the chain still resumes
        raise pytest.UsageError(
            f"--resume: {path} {chain}: its steps cannot be trusted to skip; see "
            f"`python -m runbooklib.engine.journal verify {path}`, then run without --resume "
            "(the steps are idempotent)"
        )
    run.resumed_from = path
    run.done_earlier = done_steps(events)
    for state in run.steps():
        state.earlier = run.done_earlier.get(state.id)
    register(config, "resume", Resume(run))
    start = events[0].get("window_start")
    return dt.datetime.fromisoformat(start) if start else None


class Resume:
    def __init__(self, run: Run):
        self.run = run

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        state = self.run.states.get(item.nodeid)
        if state and state.earlier:
            pytest.skip(f"done earlier at {state.earlier}")
