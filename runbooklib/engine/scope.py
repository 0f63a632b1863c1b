"""Which sessions are runs: a command-line path that is, holds or lies in a procedures or checks
folder (ini `runbook_steps`, `runbook_checks`). Read by the start (to refuse pytest-xdist) and by
the record (to prepare its files) before collection, so neither imports the other for it."""

from __future__ import annotations

from pathlib import Path

import pytest


def touches_procedures(config: pytest.Config, arg: str) -> bool:
    """Whether a command-line path is, holds or lies inside a procedures or checks folder."""
    path = (config.invocation_params.dir / arg.split("::")[0]).resolve()
    folders = [*config.getini("runbook_steps"), *config.getini("runbook_checks")]
    for folder in (Path(f).resolve() for f in folders):
        if path == folder or folder in path.parents or path in folder.parents:
            return True
    return False


def may_run_steps(config: pytest.Config) -> bool:
    return any(touches_procedures(config, arg) for arg in config.args)
