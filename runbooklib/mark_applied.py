"""Record an upgrade script as applied once an operator has finished it by hand.

    python -m runbooklib.mark_applied SAK-869.sql [--inventory inventories/lab.yml]

This is the way out that u05 names when a script was cut short by a crash and one of its
statements leaves no trace in the schema. The script's visible changes must all be present.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runbooklib.actions import database
from runbooklib.actions.common import ActionError
from runbooklib.inventory import Inventory, InventoryError

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runbooklib.mark_applied")
    parser.add_argument("script", help="the script's file name, e.g. SAK-869.sql")
    parser.add_argument("--inventory", default=str(REPO / "inventories" / "lab.yml"))
    args = parser.parse_args(argv)
    try:
        inventory = Inventory.load(args.inventory)
    except InventoryError as exc:
        print(exc, file=sys.stderr)
        return 4
    listed = {Path(s).name: REPO / s for s in inventory.vars.get("sql_scripts") or []}
    path = listed.get(args.script)
    if path is None:
        print(f"{args.script} is not in sql_scripts of {args.inventory}: {', '.join(listed)}")
        return 4
    db = inventory.group("db")[0]
    missing = database.missing_changes(db, [str(path.relative_to(REPO))], REPO)
    if missing:
        print(f"{db}: {args.script} is not finished: the schema lacks {', '.join(missing)}")
        return 1
    try:
        outcome = database.mark_applied(db, path.name, path.read_text())
    except ActionError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"{outcome.host}: {path.name} recorded as applied")
    return 0


if __name__ == "__main__":
    sys.exit(main())
