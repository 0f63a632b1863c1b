"""The attack surface proven from outside, for real (issue 11, "Done when").

JMX asks for a password even from an allowed address; during the window and after the upgrade a
full TCP scan (nmap -p-) from the public vantage host finds only the ports the inventory declares
for the public, as the go/no-go's targeted probes do; a listener nobody declared is a NO-GO that
names it.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pytest

from runbooklib.actions import reach, surface
from runbooklib.actions.common import app_nodes
from runbooklib.inventory import Inventory

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).parent))
from test_upgrade_fallback import UPGRADE, pytest_run  # noqa: E402

INV = Inventory.load(REPO / "inventories/lab.yml")
PUBLIC = next(c for c in reach.clients(INV, "allow_8443", on=False))
ADMIN = next(c for c in reach.clients(INV, "allow_9000"))
PUBLIC_PORTS = {int(INV.vars["ssh_port"]), int(INV.vars["https_port"])}


def full_scan() -> dict[str, set[int]]:
    """Every TCP port of every app node that answers the public (nmap -p-, the nodes side by
    side in one nmap)."""
    return surface.probe_from(PUBLIC, app_nodes(INV), None)


def test_jmx_refuses_a_client_without_the_password_even_from_an_allowed_address(lab):
    lab.cli("reset", timeout=900)
    wrong = "/tmp/e2e-wrong-jmx-password"  # adminws1's private /tmp
    user = Path(INV.vars["jmx_password_file"]).read_text().split()[0]
    lab.exec(ADMIN.name, f"umask 077; echo '{user} not-the-password' > {wrong}")
    try:
        for node in app_nodes(INV):
            anonymous = reach.jmx_probe(ADMIN, node, login=False)
            assert anonymous.rc == 4 and "Credentials required" in anonymous.stderr, anonymous
            bad = reach.jmx_probe(ADMIN, node, credentials=wrong)
            assert bad.rc == 4 and "Invalid username or password" in bad.stderr, bad
            good = reach.jmx_probe(ADMIN, node)
            assert good.rc == 0 and good.stdout.startswith("Apache Tomcat/10"), good
    finally:
        lab.exec(ADMIN.name, f"rm -f {wrong}")


def test_public_scan_finds_only_the_declared_ports_and_a_stray_listener_is_named(lab, tmp_path):
    run = pytest_run(["runbook/", "-k", "upgrade and (u01 or u02 or u03)"], tmp_path / "r")
    assert run.rc == 0
    assert full_scan() == {n.name: PUBLIC_PORTS for n in app_nodes(INV)}
    # The whole phase: a GO speaks only for every check of it.
    during = ["checks/", "--phase", "during"]
    checks = pytest_run(during, tmp_path / "c")
    assert checks.rc == 0 and checks.verdict_line.startswith("GO"), checks.verdict_line

    head = app_nodes(INV)[0]
    pid = lab.exec(
        head.name,
        "nohup python3 -m http.server 8123 --bind 0.0.0.0 >/dev/null 2>&1 </dev/null & echo $!",
    ).stdout.strip()
    try:
        for _ in range(50):
            if 8123 in surface.read(head).tcp_ports():
                break
            time.sleep(0.2)
        # The firewall is the second line: the public does not reach it...
        assert surface.open_ports(PUBLIC, head) == PUBLIC_PORTS
        # ...and the go/no-go names it with its process all the same.
        stray = pytest_run(during, tmp_path / "s")
        assert stray.rc != 0 and stray.verdict_line.startswith("NO-GO"), stray.verdict_line
        assert re.search(rf"{head}:8123 .*python3 pid {pid} on 0\.0\.0\.0", stray.verdict_line)
    finally:
        lab.exec(head.name, f"kill {int(pid)}", check=False)

    run = pytest_run(UPGRADE, tmp_path / "u", timeout=1500)
    assert run.rc == 0
    assert full_scan() == {n.name: PUBLIC_PORTS for n in app_nodes(INV)}
    after = pytest_run(["checks/"], tmp_path / "a")
    assert after.rc == 0 and after.verdict_line.startswith("GO"), after.verdict_line
