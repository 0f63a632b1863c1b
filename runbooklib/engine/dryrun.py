"""--dry-run: action steps record the commands they would run, on which host, and run none.

The mode is handed to the actions through their hosts: the inventory is loaded in check mode
(`Inventory.use_check_mode`), so `host.run(..., changes=True)` records and runs nothing while
read-only probes and check steps still run (and so still need the hosts to answer). Each action
looks first and reports what it would change (`Outcome`: "would change").
"""

from __future__ import annotations

import pytest

from runbooklib.engine.run import RUN


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("runbook").addoption(
        "--dry-run",
        action="store_true",
        help="show the commands each action step would run on which host; change nothing",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("dry_run"):
        config.pluginmanager.register(DryRun(), "runbook-dryrun")


class DryRun:
    def pytest_terminal_summary(self, terminalreporter, config: pytest.Config) -> None:
        run = config.stash.get(RUN, None)
        if run is None:
            return
        tr = terminalreporter
        tr.write_sep("-", "dry run: commands not run")
        for line in would_run(run):
            tr.write_line(line)


def would_run(run) -> list[str]:
    """Per step: each action's verdict on each host (what it would change, from real reads),
    then the commands it would run."""
    lines = []
    for state in run.steps():
        verdicts = [e["text"] for e in state.entries if e["event"] == "note" and "changed" in e]
        commands = [e for e in state.entries if e["event"] == "command" and e.get("dry_run")]
        if verdicts or commands:
            lines.append(f"{state.id}:")
            lines += [f"  {text}" for text in verdicts]
            lines += [f"    $ {e['host']}: {e['command']}" for e in commands]
    return lines or ["(no action step recorded a change)"]
