"""The go/no-go suite's phases and its verdict.

Every check is read-only and marked with the phases it belongs to:

    pytest checks/                      # after the upgrade (the default phase: `after`)
    pytest checks/ --phase preflight    # before the window opens
    pytest checks/ --phase during       # while the window is open (maintenance mode)
    pytest checks/ --expect fallback    # after a fallback: 2.4.0, no upgrade scripts

`--phase` and `--expect` are options of the engine (group "runbook", `pytest --help`).
The run ends with one line: `GO` only when every check of the phase ran and passed, in a
recorded run; else `NO-GO`, naming each failed check and why, then what was `not proven`
(deselected by -k, --deselect or node ids, skipped, not run), and the exit status is non-zero.
pytest-xdist is refused here as for the procedures (the engine's start): the checks spread over
hosts with threads inside each check, and a verdict needs the one process that records it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from runbooklib.actions import inputs, secrets
from runbooklib.actions.common import ActionError
from runbooklib.engine import evidence as _evidence
from runbooklib.engine.evidence import evidence, impact  # noqa: F401 - every check's fixtures
from runbooklib.engine.follow import why
from runbooklib.engine.plugin import PHASES
from runbooklib.engine.run import RUN, Verdict
from runbooklib.engine.target import load_inventory
from runbooklib.transcript import transcript

# The check that runs first (see pytest_collection_modifyitems).
FIRST = "test_hosts_reachable"
# Node ids of every check of the selected phase, selected or not.
_phase_checks_key = pytest.StashKey[list]()
# To turn the exit status non-zero when every selected check passed but the phase is not proven.
_session_key = pytest.StashKey[pytest.Session]()
_verdict_key = pytest.StashKey[Verdict]()


def pytest_configure(config):
    for phase in PHASES:
        config.addinivalue_line("markers", f"{phase}: go/no-go check of the `{phase}` phase")
    config.addinivalue_line("markers", _evidence.MARKER)


def pytest_collection_modifyitems(config, items):
    phase = config.getoption("phase")
    keep, drop = [], []
    for item in items:
        if "checks" not in item.path.parts or item.get_closest_marker(phase):
            keep.append(item)
        else:
            drop.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
    # The reachability check first: it opens every host's connection side by side, so that the
    # checks after it start warm (not one new connection after another), and a host that does
    # not answer is named before the checks it would fail.
    keep.sort(key=lambda item: item.name != FIRST)
    items[:] = keep
    if any("checks" in item.path.parts for item in keep):
        # Before any host, as the runbook does: a configured DB password that is missing, empty
        # or too short to redact refuses the run in one line; a usable one is redacted from now.
        try:
            inventory = load_inventory(config)
            inputs.check_secret_files(inventory)
            secrets.register_db_password(inventory)
            secrets.register_jmx_password(inventory)
        except ActionError as exc:
            raise pytest.UsageError(str(exc)) from None


@pytest.fixture(scope="session")
def phase(pytestconfig) -> str:
    return pytestconfig.getoption("phase")


@pytest.fixture(scope="session")
def expect(pytestconfig) -> str:
    return pytestconfig.getoption("expect")


@pytest.fixture(scope="session")
def expected(inventory, expect) -> tuple[str, str]:
    """(tag, version) the nodes must run."""
    v = inventory.vars
    if expect == "upgrade":
        return v["release_tag"], v["release_version"]
    return v["fallback_tag"], v["fallback_version"]


def pytest_collection_finish(session):
    config = session.config
    if not config.option.collectonly:
        config.stash[_phase_checks_key] = phase_checks(session, config.getoption("phase"))
        config.stash[_session_key] = session


def phase_checks(session, phase: str) -> list[str]:
    """Node ids of every check of the phase in this folder, whatever the command line selected:
    a GO speaks for the whole phase, so what -k, node ids or --deselect left out must show."""
    ids = []
    for path in sorted(Path(__file__).parent.glob("test_*.py")):
        module = pytest.Module.from_parent(session, path=path)
        try:
            ids += [item.nodeid for item in _items(module) if item.get_closest_marker(phase)]
        except Exception:  # noqa: BLE001 - a module that does not import proves nothing
            ids.append(module.nodeid)
    return ids


def _items(node):
    for child in node.collect():
        if isinstance(child, pytest.Item):
            yield child
        else:
            yield from _items(child)


def pytest_runbook_finish(session, run, exitstatus):
    """Judged before the journal's end: the verdict is in the journal and the record."""
    _judge(session.config, session, exitstatus)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if config.option.collectonly or exitstatus == pytest.ExitCode.USAGE_ERROR:
        return  # a refused run: its one ERROR line says why
    said = config.stash.get(_verdict_key, None)
    if said is None:  # no run began (nothing recorded): judged here
        said = _judge(config, config.stash.get(_session_key, None), exitstatus)
    colour = "green" if said.ok else "red"
    terminalreporter.write_line(said.summary, **{colour: True, "bold": True})


def _judge(config, session, exitstatus) -> Verdict:
    """The verdict, judged once: the run's own (the journal, the record and the channel read
    it), emitted, kept for the last line of the terminal, and a NO-GO fails the session."""
    terminalreporter = config.pluginmanager.get_plugin("terminalreporter")
    said = verdict(terminalreporter, config, exitstatus)
    run = config.stash.get(RUN, None)
    if run is not None:
        run.verdict = said
    transcript.emit("go_no_go", text=said.summary)
    config.stash[_verdict_key] = said
    if not said.ok and session is not None and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    return said


def verdict(terminalreporter, config, exitstatus) -> Verdict:
    """The last line: GO only when every check of the phase ran, passed, and was recorded."""
    phase = config.getoption("phase")
    wanted = config.stash.get(_phase_checks_key, [])
    reports = [
        r
        for key in ("passed", "failed", "error", "skipped", "xfailed", "xpassed")
        for r in terminalreporter.stats.get(key, [])
        if isinstance(r, pytest.TestReport)
    ]
    failed = {r.nodeid: r for r in reports if r.failed}
    skipped = {r.nodeid: r for r in reports if r.skipped}
    passed = {r.nodeid for r in reports if r.passed and r.when == "call"}
    if not reports:
        return Verdict("NO-GO", f"NO-GO ({phase}): no check ran (exit status {int(exitstatus)})")
    unproven = [
        f"{_name(n)} ({'skipped' if n in skipped else 'not run'})"
        for n in wanted
        if n not in failed and n not in passed
    ]
    parts = [f"{_name(n)}: {transcript.redact(_short(why(r)))}" for n, r in failed.items()]
    if unproven:
        parts.append(f"not proven: {', '.join(unproven)}")
    run = config.stash.get(RUN, None)
    if run is None or run.base is None:
        parts.append("no record of this run")
    if parts:
        return Verdict("NO-GO", f"NO-GO ({phase}): {'; '.join(parts)}")
    return Verdict("GO", f"GO ({phase}): all {len(wanted)} checks passed")


def _short(reason: str) -> str:
    """The verdict line names the failure, not the assertion machinery."""
    return reason.removeprefix("AssertionError: ").removeprefix("assert ")[:300]


def _name(nodeid: str) -> str:
    return nodeid.split("::")[-1]
