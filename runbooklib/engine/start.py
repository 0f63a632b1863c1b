"""Starting a run: one sequence, no way around it.

1. Every check that can refuse the run, touching nothing: the options (no pytest-xdist, the
   approvals), the inventory, the lock host, the reports folder, the journal to resume from, the
   window.
2. The operator's word for a production inventory: the only question asked, and only once every
   check above has passed.
3. The lock on the cluster (production is confirmed by then). Beside it, a connection opens to
   every host the run reaches; no command goes to any of them before the lock is held.
4. Only then the journal and the report.

A refused run exits with status 4 and one `ERROR:` line, and leaves no lock, journal or record.
A lock that is held refuses after the confirmation, since finding out needs a connection.

pytest-xdist (`-n`, `--dist`, `--tx`, `-f`) is refused for the procedures and for the checks
before anything else: its workers would each run a share of the steps with no start sequence (no
lock, journal, approvals or record), and its controller would print a verdict of no record. The
checks run in parallel across hosts inside each check instead.
"""

from __future__ import annotations

import pytest

from runbooklib import remote
from runbooklib.engine import (
    announce,
    clock,
    console,
    halt,
    journal,
    lock,
    record,
    resume,
    usage,
    window,
)
from runbooklib.engine.follow import follow
from runbooklib.engine.hosts import hosts_pattern
from runbooklib.engine.run import RUN, Run, new_run, procedure_of
from runbooklib.engine.scope import may_run_steps
from runbooklib.engine.steps import step_of
from runbooklib.engine.target import confirm_target, load_inventory
from runbooklib.inventory import Inventory, InventoryError

_all_steps_key = pytest.StashKey[dict]()
_refused = pytest.StashKey[bool]()

NO_XDIST = (
    "{flag}: the procedures and the go/no-go checks never run under pytest-xdist (its workers "
    "would skip the lock, journal, approvals and record): run without {flag}"
)


@pytest.hookimpl(wrapper=True)
def pytest_cmdline_main(config: pytest.Config):
    # A wrapper runs before pytest-xdist's own hook starts workers or its -f loop.
    flag = _distribution(config)
    if flag and may_run_steps(config):
        raise pytest.UsageError(NO_XDIST.format(flag=flag))
    return (yield)


def _distribution(config: pytest.Config) -> str | None:
    """The pytest-xdist option that would spread this session over processes, if any."""
    option = config.option
    if getattr(option, "looponfail", False):
        return "-f/--looponfail"
    workers = getattr(option, "numprocesses", None)
    if workers == 0:  # pytest-xdist's own way to turn itself off
        return None
    if workers:
        return f"-n {workers}"
    if getattr(option, "tx", None):
        return "--tx"
    if getattr(option, "dist", "no") != "no" or getattr(option, "distload", False):
        return "--dist"
    return None


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]):
    # Before -k deselects anything: the window needs the fallback's planned length even when
    # only the upgrade runs.
    steps: dict[str, list] = {}
    for item in items:
        meta = step_of(item)
        if meta:
            steps.setdefault(item.path.stem.removeprefix("test_"), []).append(meta)
    config.stash[_all_steps_key] = steps
    try:
        return (yield)
    except BaseException:
        # pytest calls pytest_collection_finish even when this hook refused the run (its
        # `finally`): that refusal must stand, with nothing started after it.
        config.stash[_refused] = True
        raise


def pytest_collection_finish(session: pytest.Session) -> None:
    config = session.config
    if config.option.collectonly or config.stash.get(_refused, False):
        return
    if not any(procedure_of(config, item) for item in session.items):
        return
    if hasattr(config, "workerinput"):
        # A pytest-xdist worker that got here around the check on the command line (--pyargs,
        # a path the check could not read): it must not run steps outside the start sequence.
        raise pytest.UsageError(NO_XDIST.format(flag="-n"))
    inv = load_inventory(config)
    run = new_run(config, session.items, config.stash.get(_all_steps_key, {}), inv)
    config.stash[RUN] = run
    usage.check(config, run)
    if config.getoption("plan"):
        window.begin(config, run)
        return  # the plan touches nothing: no confirmation, lock, journal or report
    pinned = inv.vars.get("production") and remote.unpinned(inv.hosts.values())
    if pinned:  # issue 17: ssh must never hand root commands to whoever answers
        raise pytest.UsageError(
            f"inventory {inv.name} is production; its host keys are not pinned: {pinned}"
        )
    holder = lock.lock_host(config, inv)
    earlier_start = resume.load(config, run)
    window.begin(config, run, earlier_start)
    run.target_confirmed = confirm_target(config, inv)
    for host in reached(config, session.items, inv):
        host.connect()
    lock.acquire(config, run, holder)
    _open_record(session, run)


def reached(config: pytest.Config, items: list[pytest.Item], inv: Inventory) -> list[remote.Host]:
    """The hosts the steps' patterns name, and the ini's `runbook_connects` (hosts the actions
    reach on their own, such as vantage points). Connected one by one at each first command,
    they would cost a key exchange each in turn."""
    patterns = {hosts_pattern(item) for item in items} | set(config.getini("runbook_connects"))
    found: dict[str, remote.Host] = {}
    for pattern in sorted(filter(None, patterns)):
        try:
            found.update((host.name, host) for host in inv.select(pattern))
        except InventoryError:
            continue  # the step's own `hosts` fixture says what to fix
    return list(found.values())


def _open_record(session: pytest.Session, run: Run) -> None:
    config = session.config
    console.live(config, run)
    follow(config, run)
    clock.keep(config, run)  # after follow: its wait comes before the step's start
    halt.watch(config, run)
    journal.open_journal(config, run)
    record.open_record(session, run)
    tr = config.pluginmanager.get_plugin("terminalreporter")
    if tr is not None:
        tr.write_line(
            f"run: {run.procedure} on {run.inventory.name} by {run.operator}, window "
            f"{run.window.describe()}; journal {run.base}.jsonl"
        )
        if run.resumed_from:
            _, chain = journal.verify(run.resumed_from)  # an old journal says NO CHAIN
            tr.write_line(
                f"resuming from {run.resumed_from}: {len(run.done_earlier)} steps done; "
                f"its chain: {chain}"
            )
    announce.start(session, run)  # after the journal: what it sends (or cannot) is recorded
