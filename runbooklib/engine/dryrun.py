"""--dry-run: action steps record the commands they would run, on which host, and run none.

The mode is handed to the actions through their hosts: the inventory is loaded in check mode
(`Inventory.use_check_mode`), so `host.run(..., changes=True)` records and runs nothing while
read-only probes and check steps still run (and so still need the hosts to answer). Each action
looks first and reports what it would change (`Outcome`: "would change").

A verification step (kind `check`) of a procedure that fails its assertion in a dry run checks
what the earlier steps would have done and did not: it cannot pass before the changes. It is
counted as such (reported as an expected failure, pytest's xfail), not as a failure: it neither
halts the run nor fails it. Anything else that fails (an unreachable host, a probe's error, a
refused input) fails the dry run as it would the real one. The verdict:

    DRY RUN: 12 steps would change, 5 unchanged; 1 verification steps cannot pass before the changes
"""

from __future__ import annotations

import pytest

# The reason a verification step gives in a dry run when its assertion fails.
CANNOT_PASS = "cannot pass before the changes (dry run)"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("runbook").addoption(
        "--dry-run",
        action="store_true",
        help="show the commands each action step would run on which host; change nothing",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("dry_run"):
        config.pluginmanager.register(DryRun(config), "runbook-dryrun")


class DryRun:
    def __init__(self, config: pytest.Config):
        self.config = config

    def _run(self):
        from runbooklib.engine.run import RUN

        return self.config.stash.get(RUN, None)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        report = yield
        run = self._run()
        state = run.states.get(item.nodeid) if run else None
        if state is not None and waits_for_changes(state.step, call):
            # pytest's own "expected to fail": not a failure, so no halt and exit status 0.
            state.waits_for_changes = True
            report.outcome = "skipped"
            report.wasxfail = f"{CANNOT_PASS}: {call.excinfo.exconly().splitlines()[0]}"
        return report

    def pytest_terminal_summary(self, terminalreporter) -> None:
        run = self._run()
        if run is None:
            return
        tr = terminalreporter
        tr.write_sep("-", "dry run: commands not run")
        for line in would_run(run):
            tr.write_line(line)


def waits_for_changes(step, call: pytest.CallInfo) -> bool:
    """A verification step's assertion failed: what it verifies was not done (a dry run)."""
    return (
        step is not None
        and step.kind == "check"
        and call.when == "call"
        and call.excinfo is not None
        and call.excinfo.errisinstance(AssertionError)
    )


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
