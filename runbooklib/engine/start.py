"""Starting a run: every check that can refuse it happens here, after collection and before the
first step touches a host, in this order: inventory, approvals named, production confirmation,
lock, journal to resume from; then the window, the journal and the report are opened.
"""

from __future__ import annotations

import pytest

from runbooklib.engine import halt, journal, lock, record, resume, usage, window
from runbooklib.engine.follow import follow
from runbooklib.engine.run import RUN, new_run, procedure_of
from runbooklib.engine.steps import step_of
from runbooklib.engine.target import confirm_target, load_inventory

_all_steps_key = pytest.StashKey[dict]()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Before -k deselects anything: the window needs the fallback's planned length even when
    # only the upgrade runs.
    steps: dict[str, list] = {}
    for item in items:
        meta = step_of(item)
        if meta:
            steps.setdefault(item.path.stem.removeprefix("test_"), []).append(meta)
    config.stash[_all_steps_key] = steps


def pytest_collection_finish(session: pytest.Session) -> None:
    config = session.config
    if config.option.collectonly or hasattr(config, "workerinput"):
        # Collecting only, or a pytest-xdist worker: the lock, journal and record are not theirs.
        return
    if not any(procedure_of(config, item) for item in session.items):
        return
    inv = load_inventory(config)
    run = new_run(config, session.items, config.stash.get(_all_steps_key, {}), inv)
    config.stash[RUN] = run
    usage.check(config, run)
    if config.getoption("plan"):
        window.begin(config, run)
        return  # the plan touches nothing: no confirmation, lock, journal or report
    run.target_confirmed = confirm_target(config, inv)
    lock.acquire(config, run)
    earlier_start = resume.load(config, run)
    window.begin(config, run, earlier_start)
    follow(config, run)
    halt.watch(config, run)
    journal.open_journal(config, run)
    record.open_record(session, run)
    tr = config.pluginmanager.get_plugin("terminalreporter")
    if tr is not None:
        tr.write_line(
            f"run: {run.procedure} on {inv.name} by {run.operator}, window {run.window.describe()}"
            f"; journal {run.base}.jsonl"
        )
        if run.resumed_from:
            tr.write_line(f"resuming from {run.resumed_from}: {len(run.done_earlier)} steps done")
