"""Record an upgrade script as applied once an operator has finished it by hand.

    python -m runbooklib.mark_applied SAK-869.sql [--inventory PATH] [--confirm-target NAME]
                                      [--operator NAME] [any other runbook option]

This is the way out that u05 names when a script was cut short by a crash and one of its
statements leaves no trace in the schema. The script's visible changes must all be present.

It changes the production database, so it starts as every procedure does: it runs the one-step
procedure runbooklib/procedures/test_mark_applied.py through pytest and the step engine, so the
input checks, the production confirmation, the cluster lock, the journal and the record are the
engine's own (runbooklib/engine/start.py). A refusal exits 4 with one `ERROR:` line.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from runbooklib.actions import inputs, secrets
from runbooklib.actions.common import ActionError
from runbooklib.engine.target import load_inventory

REPO = Path(__file__).resolve().parents[1]
PROCEDURE = Path(__file__).resolve().parent / "procedures" / "test_mark_applied.py"
USAGE = "python -m runbooklib.mark_applied SCRIPT.sql [--inventory PATH] [runbook options]"


class MarkApplied:
    """The plugin that hands the script to the step and checks it with the other inputs."""

    def __init__(self, script: str):
        self.script = script

    def pytest_collection_modifyitems(self, config: pytest.Config) -> None:
        # Before the start sequence's lock (pytest_collection_finish), as runbook/conftest.py.
        inventory = load_inventory(config)
        try:
            inputs.check(inventory, REPO)
            inputs.check_secret_files(inventory)
            secrets.register_db_password(inventory)
            secrets.register_jmx_password(inventory)
        except ActionError as exc:
            raise pytest.UsageError(str(exc)) from None
        listed = [s for s in inventory.vars["sql_scripts"] if Path(s).name == self.script]
        if not listed:
            names = ", ".join(Path(s).name for s in inventory.vars["sql_scripts"])
            raise pytest.UsageError(
                f"{self.script} is not in sql_scripts of inventory {inventory.where}: "
                f"give one of {names}"
            )

    @pytest.fixture
    def mark_script(self, inventory) -> str:
        """The script to mark, as sql_scripts lists it (sql/NAME.sql)."""
        return next(s for s in inventory.vars["sql_scripts"] if Path(s).name == self.script)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-"):
        print(f"ERROR: name the script first: {USAGE}", file=sys.stderr)
        return 4
    script, options = argv[0], argv[1:]
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*\.sql", script):
        print(
            f"ERROR: {script!r} is not a script's file name: give one like SAK-869.sql",
            file=sys.stderr,
        )
        return 4
    args = [str(PROCEDURE), "-c", str(REPO / "pytest.ini"), "--rootdir", str(REPO)]
    # Its folder is the procedures folder of this run: the record and the xdist refusal apply.
    args += ["-o", f"runbook_steps={PROCEDURE.parent.relative_to(REPO)}", *options]
    # This module imported the engine before pytest started: nothing left to rewrite there.
    args += ["-W", "ignore::pytest.PytestAssertRewriteWarning"]
    return int(pytest.main(args, plugins=[MarkApplied(script)]))


if __name__ == "__main__":
    sys.exit(main())
