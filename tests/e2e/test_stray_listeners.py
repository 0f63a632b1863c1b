"""No weaker than a full scan (issue 20, item 1): a stray listener on an unusual port, and another
on `::`, each planted by the test in an app node, is found by the go/no-go and named with its
process, though the firewall hides both from every vantage host.

The listener on `::` is a dual-stack socket (IPV6_V6ONLY off, as `python3 -m http.server --bind
::` makes it), which takes IPv4 connections too, and IPv6 ones where the lab has IPv6 (`up
--ipv6`); `ss` shows it as `*:PORT`.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pytest

from runbooklib.actions import surface
from runbooklib.actions.common import app_nodes
from runbooklib.inventory import Inventory

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).parent))
from test_upgrade_fallback import pytest_run  # noqa: E402

INV = Inventory.load(REPO / "inventories/lab.yml")
DURING = ["checks/", "--phase", "during"]
# Unusual ports, far from anything the lab or the inventory uses, and below the ephemeral range
# (32768-60999), where a node's own outgoing connection (Tomcat's pool to the database) could
# hold the port already and the listener fail to bind.
V4_PORT, V6_PORT = 29123, 29124


def plant(lab, node: str, port: int, bind: str) -> int:
    """A listener started in `node`'s namespace by this test; its pid, once `ss` shows it."""
    errors = f"/tmp/stray-{port}.err"  # the node's own /tmp
    pid = int(
        lab.exec(
            node,
            f"nohup python3 -m http.server {port} --bind {bind} >/dev/null 2>{errors} </dev/null & "
            "echo $!",
        ).stdout.strip()
    )
    for _ in range(50):
        if f":{port} " in lab.exec(node, f"ss -Hltn 'sport = :{port}'").stdout:
            return pid
        time.sleep(0.1)
    said = lab.exec(node, f"kill {pid}; ss -Htan 'sport = :{port}'; cat {errors}", check=False)
    raise AssertionError(
        f"{node}: the listener on {bind} port {port} never showed in ss: {said.stdout[-800:]}"
    )


def test_a_stray_listener_on_an_unusual_port_and_one_on_ipv6_any_are_named(lab, tmp_path):
    head, other = (n.name for n in app_nodes(INV)[:2])
    # Maintenance mode (u01-u03), where the `during` phase is a GO on a sound lab.
    run = pytest_run(["runbook/", "-k", "upgrade and (u01 or u02 or u03)"], tmp_path / "r")
    assert run.rc == 0
    clean = pytest_run(DURING, tmp_path / "c")
    assert clean.rc == 0 and clean.verdict_line.startswith("GO"), clean.verdict_line

    planted = {}
    try:
        planted[head] = plant(lab, head, V4_PORT, "0.0.0.0")
        planted[other] = plant(lab, other, V6_PORT, "::")
        # The firewall is the second line: no vantage host reaches either...
        public = next(c for c in surface.clients(INV) if c.name == "public")
        assert surface.probe_from(public, app_nodes(INV), {V4_PORT, V6_PORT}) == {
            n.name: set() for n in app_nodes(INV)
        }
        sixes = {a: n for n in app_nodes(INV) for a in surface.read(n).addresses6}
        if sixes:  # nor over IPv6
            found = surface.probe_addresses(public, sixes, {V4_PORT, V6_PORT})
            assert found == {a: set() for a in sixes}
        # ...and the go/no-go names both, with their processes.
        stray = pytest_run(DURING, tmp_path / "s")
        line = stray.verdict_line
        assert stray.rc != 0 and line.startswith("NO-GO (during): test_surface"), line
        v4 = rf"{head}:{V4_PORT} has a listener .*python3 pid {planted[head]} on 0\.0\.0\.0 \(tcp\)"
        v6 = rf"{other}:{V6_PORT} has a listener .*python3 pid {planted[other]} on \* \(tcp\)"
        assert re.search(v4, line) and re.search(v6, line), line
    finally:
        for node, pid in planted.items():
            lab.exec(node, f"kill {pid}", check=False)

    again = pytest_run(DURING, tmp_path / "a")
    assert again.rc == 0 and again.verdict_line.startswith("GO"), again.verdict_line
