"""The go/no-go suite's phases and its verdict.

Every check is read-only and marked with the phases it belongs to:

    pytest checks/                      # after the upgrade (the default phase: `after`)
    pytest checks/ --phase preflight    # before the window opens
    pytest checks/ --phase during       # while the window is open (maintenance mode)
    pytest checks/ --expect fallback    # after a fallback: 2.4.0, no upgrade scripts

The run ends with one line: `GO`, or `NO-GO` followed by each failed check and why.
"""

from __future__ import annotations

import pytest

from runbooklib.actions import known_issues, secrets
from runbooklib.actions.common import ActionError
from runbooklib.engine.target import load_inventory
from runbooklib.transcript import transcript

PHASES = ("preflight", "during", "after")
KNOWN_ISSUES = "runbook/known-issues.yml"


def pytest_addoption(parser):
    group = parser.getgroup("go/no-go checks")
    group.addoption(
        "--phase",
        choices=PHASES,
        default="after",
        help="which checks to run: before the window (preflight), while it is open (during), "
        "or after the upgrade or fallback (after, the default)",
    )
    group.addoption(
        "--expect",
        choices=("upgrade", "fallback"),
        default="upgrade",
        help="which release the `after` checks expect: the upgrade's (default) or the fallback's",
    )


def pytest_configure(config):
    for phase in PHASES:
        config.addinivalue_line("markers", f"{phase}: go/no-go check of the `{phase}` phase")


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
        items[:] = keep
    if any("checks" in item.path.parts for item in keep):
        # Before any host, as the runbook does: a configured DB password that is missing, empty
        # or too short to redact refuses the run in one line; a usable one is redacted from now.
        try:
            secrets.register_db_password(load_inventory(config))
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


@pytest.fixture(scope="session")
def known(pytestconfig):
    return known_issues.load(pytestconfig.rootpath / KNOWN_ISSUES)


# trylast: the innermost wrapper, so the report is redacted before any other hook sees it
# (terminal, JUnit XML, HTML report, the journal, the verdict line).
@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_makereport(item, call):
    report = yield
    secrets.redact_report(report)
    return report


def _why(report) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash else str(report.longrepr)
    lines = [line for line in text.splitlines() if line.strip()]
    first = lines[0] if lines else "failed"
    return first.removeprefix("AssertionError: ").removeprefix("assert ")[:300]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    checks = [
        r
        for key in ("passed", "failed", "error", "skipped")
        for r in terminalreporter.stats.get(key, [])
        if getattr(r, "when", "") in ("setup", "call") and "checks/" in r.nodeid
    ]
    if config.option.collectonly:
        return
    if not checks:
        terminalreporter.write_line(
            f"NO-GO: no check ran (exit status {int(exitstatus)})", red=True
        )
        return
    phase = config.getoption("phase")
    bad = [r for r in checks if r.failed]
    skipped = [r for r in checks if r.skipped]
    passed = [r for r in checks if r.passed and r.when == "call"]
    if bad:
        reasons = "; ".join(
            f"{r.nodeid.split('::')[-1]}: {transcript.redact(_why(r))}" for r in bad
        )
        terminalreporter.write_line(f"NO-GO ({phase}): {reasons}", red=True, bold=True)
    else:
        extra = f", {len(skipped)} skipped (see above)" if skipped else ""
        terminalreporter.write_line(
            f"GO ({phase}): {len(passed)} checks passed{extra}", green=True, bold=True
        )
