"""--until ID: stop on purpose after a named step, as a rehearsal or a test does.

The steps after it are reported skipped `stopped after <id> (--until)`; the run ends PASSED
and says so, not FAILED; `--resume` carries on from the next step.
"""

from __future__ import annotations

import pytest

from runbooklib.engine.run import RUN
from runbooklib.engine.steps import step_of


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("runbook").addoption(
        "--until",
        metavar="ID",
        help="stop cleanly after this step (resumable with --resume)",
    )


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    until = config.getoption("until")
    if until is None:
        return
    ids = [meta.id for meta in map(step_of, items) if meta]
    if until not in ids:
        raise pytest.UsageError(
            f"--until {until}: no such step in this run (steps here: {', '.join(ids) or 'none'})"
        )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    run = item.config.stash.get(RUN, None)
    state = run.states.get(item.nodeid) if run else None
    if state is None or state.step is None:
        return
    stopped = run.stopped_after.get(state.procedure)
    if stopped:
        pytest.skip(f"stopped after {stopped} (--until)")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    # After the named step's last phase, whatever became of it: a failed step halts anyway.
    run = item.config.stash.get(RUN, None)
    state = run.states.get(item.nodeid) if run else None
    until = item.config.getoption("until")
    if (
        call.when == "teardown"
        and state
        and state.id == until
        and (state.outcome == "passed" or state.earlier)
    ):
        run.stopped_after.setdefault(state.procedure, until)
    return report


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    from runbooklib.engine.halt import command

    run = config.stash.get(RUN, None)
    for procedure, step_id in (run.stopped_after if run else {}).items():
        terminalreporter.write_sep("=", f"{procedure} STOPPED after {step_id} as asked (--until)")
        terminalreporter.write_line(f"Carry on: {command(config, procedure, '--resume')}")
