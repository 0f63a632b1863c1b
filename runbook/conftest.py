"""The procedures' own hooks: their inputs checked before any host, and a completed upgrade left
as it is. (The engine announces the window, a halt and the close through the project conftest.py's
pytest_runbook_announce: the team's IRC channel.)

The known-issues file and the inventory's inputs (allow-lists, SQL scripts, required variables)
are validated when the procedure is collected, so bad input stops the run, in one line, before
any host is touched. The shared fixtures (`known`, `repo`) are in the project's conftest.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from runbooklib.actions import completion, inputs, known_issues, secrets
from runbooklib.actions.common import ActionError
from runbooklib.engine.steps import step_of
from runbooklib.engine.target import load_inventory

REPO = Path(__file__).resolve().parents[1]
KNOWN_ISSUES = REPO / "runbook" / "known-issues.yml"


def pytest_collection_modifyitems(session, config, items):
    try:
        known_issues.load(KNOWN_ISSUES)
        # --plan only prints the timeline: it may show an inventory that is not complete yet.
        if any(step_of(item) for item in items) and not config.getoption("plan"):
            inventory = load_inventory(config)
            inputs.check(inventory, REPO)
            inputs.check_secret_files(inventory)
            # Before any host: a configured password that cannot be redacted refuses the run.
            secrets.register_db_password(inventory)
            secrets.register_jmx_password(inventory)
    except (known_issues.KnownIssuesError, ActionError) as exc:
        raise pytest.UsageError(str(exc)) from None


@pytest.fixture(scope="session")
def upgrade_done(inventory) -> str:
    """Why the upgrade is already complete ('' if it is not), judged once before the first step."""
    return completion.upgrade_complete(inventory)


@pytest.fixture(autouse=True)
def _nothing_left_to_do(request):
    """A second run of a completed upgrade changes nothing: its action and manual steps are
    skipped with the reason; the closing check (u18) still verifies everything."""
    meta = step_of(request.node)
    if meta and meta.id.startswith("u") and meta.kind != "check":
        why_done = request.getfixturevalue("upgrade_done")
        if why_done:
            pytest.skip(f"upgrade already complete ({why_done}): nothing to change")
