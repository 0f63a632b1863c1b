"""A dry run of the upgrade against the lab (issue 19, item 9, "Done when").

On a healthy untouched cluster it exits 0 with `DRY RUN: N steps would change, M unchanged; K
verification steps cannot pass before the changes` and changes nothing on any host; with a host
that cannot be reached it fails, as the real run would.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from runbooklib.inventory import Inventory
from tests.e2e.test_any_point import STEPS, fingerprint

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
INV = Inventory.load(REPO / "inventories/lab.yml")
NODES = INV.group("app")
DRY_RUN = ["runbook/", "-k", "upgrade", "--dry-run", "--operator", "e2e", "--approve", "all"]
VERDICT = re.compile(
    r"^DRY RUN: (\d+) steps would change, (\d+) unchanged; "
    r"(\d+) verification steps cannot pass before the changes$"
)


def dry_run(reports: Path) -> tuple[subprocess.CompletedProcess, list[dict]]:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *DRY_RUN, "--reports", reports],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    print(proc.stdout[-5000:], proc.stderr[-2000:])
    (journal,) = reports.glob("*.jsonl")
    return proc, [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]


def hosts_state(lab) -> dict:
    """What a dry run must leave as it was, beyond the fingerprint: each node's rules (both
    tables) and deployed release file."""
    release = f"{INV.vars['tomcat_base']}/sakai-release.properties"
    return {
        **fingerprint(lab),
        **{
            f"{n.name} rules": lab.exec(
                n.name, f"iptables -S; iptables -t nat -S; cat {release}"
            ).stdout
            for n in NODES
        },
    }


def test_a_dry_run_on_a_healthy_untouched_cluster_exits_0_and_changes_nothing(lab, tmp_path):
    lab.cli("reset", timeout=900)
    before = hosts_state(lab)

    proc, events = dry_run(tmp_path / "dry")

    assert proc.returncode == 0, proc.stdout[-3000:]
    assert hosts_state(lab) == before
    (end,) = [e for e in events if e["event"] == "run_end"]
    assert end["kind"] == "DRY RUN" and end["exitstatus"] == 0
    changing, unchanged, waiting = map(int, VERDICT.match(end["verdict"]).groups())
    assert f"verdict: {end['verdict']}" in proc.stdout
    # Each step counted once; only u18, which verifies what the others would do, must wait.
    assert changing + unchanged + waiting == len(STEPS)
    ends = {e["step"]: e for e in events if e["event"] == "step_end"}
    assert waiting == 1 and ends["u18"]["outcome"] == "skipped"
    assert ends["u18"]["reason"].startswith("cannot pass before the changes (dry run): ")
    would = {  # what each action said it would change, or a command it would have run
        e["step"]
        for e in events
        if (e["event"] == "note" and e.get("changed"))
        or (e["event"] == "command" and e.get("dry_run"))
    }
    assert changing == len(would) and {"u01", "u04", "u05", "u17"} <= would
    notes = [e["text"] for e in events if e["event"] == "note"]
    assert any(  # both families (ip6tables where the node has it), nothing saved
        "firewall maintenance: would change. iptables filter, iptables nat" in n
        and "; would save " in n
        for n in notes
    ), notes
    assert any("database backup: would change. would save" in n for n in notes), notes
    assert not [n for n in notes if "; saved " in n or "verified by a test restore" in n]


def test_a_dry_run_that_cannot_reach_a_host_fails(lab, tmp_path):
    lab.cli("reset", timeout=900)
    lab.cli("fault", "sshd-down", "walton")
    try:
        proc, events = dry_run(tmp_path / "dry")
    finally:
        lab.cli("fault", "clear")

    assert proc.returncode not in (0, pytest.ExitCode.USAGE_ERROR), proc.stdout[-3000:]
    (end,) = [e for e in events if e["event"] == "run_end"]
    assert end["kind"] == "HALTED"
    assert end["verdict"].startswith("DRY RUN, nothing changed: upgrade HALTED after u0")
    assert any("walton" in reason for reason in end["reasons"]), end["reasons"]
