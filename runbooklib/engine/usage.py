"""Usage errors: the run's options and the hosts its steps act on, checked before anything runs.

    >>> check(config, run)   # pytest.UsageError("--reports lab.yml/reports: ...: give ...")

Called by the start sequence right after the inventory is loaded, before the target is confirmed
or the lock taken: a typo in an option costs one line, never a half-started run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runbooklib import values
from runbooklib.engine import approvals, window
from runbooklib.engine.hosts import resolve_hosts
from runbooklib.engine.run import Run
from runbooklib.inventory import InventoryError


def check(config: pytest.Config, run: Run) -> None:
    approvals.check_options(config, run)
    for note in config.getoption("todo") or []:
        # A note goes into the record as a line of its own: one printable line, bounded.
        why = values.text(note, "--todo", values.TODO_LIMIT)
        if why:
            raise pytest.UsageError(f"{why} (it goes into the record)")
    # The window's own parser, now rather than after the lock is taken.
    window._window_start(config.getoption("window_start"), None)
    if config.getoption("plan"):
        return  # the plan writes nothing, and may show an inventory that is not complete yet
    _step_hosts(run)
    _writable(run.reports_dir, config.getoption("reports") or str(run.reports_dir))


def _step_hosts(run: Run) -> None:
    """Every selected step's `hosts` names a group or host of the inventory."""
    for state in run.steps():
        if state.step:
            try:
                resolve_hosts(run.inventory, state.step.hosts)
            except InventoryError as exc:
                raise pytest.UsageError(
                    f"step {state.id} acts on `{state.step.hosts}`: {exc}: add it"
                ) from None


def _writable(folder: Path, shown: str) -> None:
    """The reports folder, or the nearest folder above it that exists, takes new files.

    Nothing is created here: a refused run leaves the disk as it was.
    """
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise pytest.UsageError(
            f"--reports {shown}: {existing} is not a folder: give --reports a writable folder"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise pytest.UsageError(
            f"--reports {shown}: {existing} is not writable: give --reports a writable folder"
        )
