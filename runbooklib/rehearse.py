"""`python -m runbooklib.rehearse` (`make rehearse`): a full rehearsal of the window on the lab.

    python -m lab up       (when `python -m lab status` says the lab is not healthy)
    python -m lab reset    (the pre-upgrade state)
    pytest runbook/ -k upgrade --operator rehearsal --approve all
    pytest checks/ --operator rehearsal
then where the two reports are. Exit 0 only when both passed. Extra arguments go to both pytest
runs (e.g. `-x`, `--inventory inventories/lab.yml`). When the lab was brought up with another
number of app nodes than inventories/lab.yml lists, the rehearsal uses the inventory that the lab
wrote for itself (`python -m lab inventory` prints its path), so that every node is upgraded.

The runbook drives the lab through its command line; the lab knows nothing of the runbook.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from runbooklib.inventory import Inventory

REPO = Path(__file__).resolve().parents[1]
REPORTS = REPO / "reports"
LAB_INVENTORY = REPO / "inventories" / "lab.yml"
OPERATOR = "rehearsal"


def _run(title: str, argv: list[str]) -> int:
    print(f"\n=== {title}: {' '.join(argv)}", flush=True)
    return subprocess.run(argv, cwd=REPO).returncode


def _new_reports(since: float, procedure: str) -> list[Path]:
    return sorted(
        p for p in REPORTS.glob(f"*-{procedure}-*.html") if p.stat().st_mtime >= since - 1
    )


def _inventory_args(lab: list[str], args: list[str]) -> list[str]:
    """`--inventory` of the lab's own inventory when its app nodes differ from lab.yml's."""
    if any(a == "--inventory" or a.startswith("--inventory=") for a in args):
        return []
    found = subprocess.run([*lab, "inventory"], cwd=REPO, capture_output=True, text=True)
    if found.returncode != 0:
        return []
    built = Path(found.stdout.strip())
    nodes = [h.name for h in Inventory.load(built).group("app")]
    if nodes == [h.name for h in Inventory.load(LAB_INVENTORY).group("app")]:
        return []
    print(f"rehearse: the lab has {len(nodes)} app nodes: using its inventory {built}")
    return ["--inventory", str(built)]


def rehearse(args: list[str]) -> int:
    python = sys.executable
    lab = [python, "-m", "lab"]
    healthy = subprocess.run([*lab, "status"], cwd=REPO, capture_output=True).returncode == 0
    if not healthy and _run("lab up", [*lab, "up"]) != 0:
        print("rehearse: the lab did not come up; see above")
        return 1
    if _run("lab reset (pre-upgrade state)", [*lab, "reset"]) != 0:
        print("rehearse: the lab could not be reset; see above")
        return 1
    args = [*_inventory_args(lab, args), *args]
    started = time.time()
    pytest = [python, "-m", "pytest", "-p", "no:cacheprovider"]
    upgrade = _run(
        "upgrade",
        [
            *pytest,
            "runbook/",
            "-k",
            "upgrade",
            "--operator",
            OPERATOR,
            "--approve",
            "all",
            *args,
        ],
    )
    # The checks' record names the rehearsal's operator too, not the account that ran it.
    checks = _run("go/no-go checks", [*pytest, "checks/", "--operator", OPERATOR, *args])
    print("\n=== reports")
    for procedure in ("upgrade", "checks"):
        found = _new_reports(started, procedure)
        print(f"{procedure}: {found[-1] if found else 'no report written'}")
    ok = upgrade == 0 and checks == 0
    print(f"rehearsal {'PASSED' if ok else 'FAILED'}: upgrade exit {upgrade}, checks exit {checks}")
    return 0 if ok else 1


def main(argv: list[str]) -> int:
    # Only -h/--help is ours: it must answer before the lab is touched; the rest goes to pytest.
    parser = argparse.ArgumentParser(
        prog="python -m runbooklib.rehearse",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    _, to_pytest = parser.parse_known_args(argv)
    return rehearse(to_pytest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
