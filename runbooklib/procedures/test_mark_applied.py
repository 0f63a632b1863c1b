"""The procedure `mark_applied`: one step, run by `python -m runbooklib.mark_applied SCRIPT`.

It is a procedure like the upgrade so that the engine's start sequence applies as it is: the
input checks, the production confirmation, the cluster lock, then the journal and the record.
The script to mark comes from the command line (runbooklib.mark_applied's plugin, fixture
`mark_script`), checked with the other inputs before any host is touched.
"""

from __future__ import annotations

import pytest

from runbooklib.actions import database
from runbooklib.engine import step
from runbooklib.files import read_text


@step("m01", at="08:00", owner="operator", kind="action", hosts="db[0]")
def test_m01_mark_script_applied(hosts, repo, mark_script):
    """Record an upgrade script as applied once an operator has finished it by hand."""
    db = hosts[0]
    missing = database.missing_changes(db, [mark_script], repo)
    if missing:
        pytest.fail(
            f"{db}: {mark_script} is not finished: the schema lacks {', '.join(missing)}",
            pytrace=False,
        )
    text = read_text(repo / mark_script, mark_script)
    database.mark_applied(db, mark_script.removeprefix("sql/"), text)
