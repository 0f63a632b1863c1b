"""Shared by runbook/ and checks/: the fixtures both use, defined once, the report's redaction, and
what the runbook hands the engine through its hooks (announcements, known issues).

The `inventory` and `hosts` fixtures and every runbook option come from the step engine, the
pytest plugin `runbooklib.engine` loaded by its entry point, so that they work the same in any
folder and in the engine's own pytester tests (`pytest --help`, group "runbook"). A step's hosts
are its `hosts=` pattern, resolved by the engine (a go/no-go check: `@pytest.mark.hosts`).
"""

from __future__ import annotations

import importlib
import threading
from pathlib import Path

import pytest

from runbooklib.actions import known_issues
from runbooklib.engine.run import RUN
from runbooklib.transcript import transcript

REPO = Path(__file__).resolve().parent
KNOWN_ISSUES = REPO / "runbook" / "known-issues.yml"


@pytest.fixture(scope="session")
def known() -> list[known_issues.KnownIssue]:
    """The known issues: log lines a Tomcat start may write without failing (validated)."""
    return known_issues.load(KNOWN_ISSUES)


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


# trylast: the innermost wrapper, so the report is redacted before any other hook sees it
# (terminal, JUnit XML, HTML report, the journal, the verdict line, the IRC announcement).
@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_makereport(item, call):
    report = yield
    transcript.redact_report(report)
    return report


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session):
    """The channel's client imported while the first steps wait on their hosts, not at the
    run's last word (the verdict, the window's close), which would wait for it."""
    run = session.config.stash.get(RUN, None)
    if run is not None and run.inventory.vars.get("chat"):
        threading.Thread(
            target=importlib.import_module,
            args=("runbooklib.actions.notify",),
            name="runbook-notify-import",
            daemon=True,
        ).start()


def pytest_runbook_announce(config, inventory, text: str, headline: str) -> bool | None:
    """The team's IRC channel (the inventory's `chat`); none named: nothing to say there. In
    clear (no `tls: true`), anyone on the path reads it: the headline only."""
    if not inventory.vars.get("chat"):
        return None
    # Imported when needed (tests and plain pytest runs never import it), and ahead in a run.
    from runbooklib.actions import notify

    # Seconds for each step (connect, join, say): a channel that is down costs the run little.
    told = text if inventory.vars["chat"].get("tls") else headline
    notify.announce(inventory, told, timeout=5.0)
    return True


def pytest_runbook_known_issues(config) -> list[dict]:
    return known_issues.for_the_record(KNOWN_ISSUES)
