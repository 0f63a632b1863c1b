"""`python -m lab rehearse`: a full rehearsal of the window against the lab.

    lab up (when it is not healthy), lab reset (the pre-upgrade state), then
    pytest runbook/ -k upgrade --operator rehearsal --approve all
    pytest checks/
and where the two reports are. Exit 0 only when both passed. Extra arguments go to both pytest
runs (e.g. `-x`, `--inventory inventories/lab.yml`).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REPORTS = REPO / "reports"


def _run(title: str, argv: list[str]) -> int:
    print(f"\n=== {title}: {' '.join(argv)}", flush=True)
    return subprocess.run(argv, cwd=REPO).returncode


def _new_reports(since: float, procedure: str) -> list[Path]:
    return sorted(
        p for p in REPORTS.glob(f"*-{procedure}-*.html") if p.stat().st_mtime >= since - 1
    )


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
            "rehearsal",
            "--approve",
            "all",
            *args,
        ],
    )
    checks = _run("go/no-go checks", [*pytest, "checks/", *args])
    print("\n=== reports")
    for procedure in ("upgrade", "checks"):
        found = _new_reports(started, procedure)
        print(f"{procedure}: {found[-1] if found else 'no report written'}")
    ok = upgrade == 0 and checks == 0
    print(f"rehearsal {'PASSED' if ok else 'FAILED'}: upgrade exit {upgrade}, checks exit {checks}")
    return 0 if ok else 1
