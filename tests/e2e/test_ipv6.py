"""Both address families closed (issue 18, "Done when"): from the public vantage host, a full TCP
scan of each app node over IPv6, during the window and after the upgrade, finds only the declared
ports, the same set as over IPv4; the window's firewall is in both families, and one rollback puts
both back. Needs the lab with IPv6 (`python -m lab up --ipv6`)."""

from __future__ import annotations

import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from lab import config
from runbooklib.actions import completion, firewall
from runbooklib.actions.common import ActionError, app_nodes, put_file
from runbooklib.inventory import Inventory
from runbooklib.remote import HostUnreachable

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).parent))
from test_upgrade_fallback import UPGRADE, pytest_run  # noqa: E402

LAB = config.recorded() or config.chosen(None, None)
pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(not LAB.ipv6, reason="the lab runs IPv4 only: `python -m lab up --ipv6`"),
]
INV = Inventory.load(REPO / "inventories/lab.yml")


def scan(lab, *addresses: str) -> dict[str, set[int]]:
    """Every TCP port of each of `addresses` (one family) open to the public vantage host: one
    nmap -p- for all of them, side by side."""
    six = "-6 " if ":" in addresses[0] else ""
    out = lab.exec(
        "public",
        f"nmap {six}-Pn -n -p- -T4 --max-retries 1 --max-rtt-timeout 200ms --open -oG - "
        + " ".join(addresses),
        timeout=600,
    ).stdout
    found = {}
    for address in addresses:
        lines = [line for line in out.splitlines() if line.startswith(f"Host: {address} ")]
        ports = " ".join(line.partition("Ports:")[2] for line in lines)
        found[address] = {int(p) for p in re.findall(r"(\d+)/open/tcp", ports)}
    return found


def both_families(lab, mode: str) -> None:
    public = firewall.reachable_ports(mode, INV.vars)
    nodes = app_nodes(INV)
    sixes = [LAB.host(node.name).address6 for node in nodes]
    # The two families' scans side by side (each over every node at once).
    with ThreadPoolExecutor(2) as pool:
        four = pool.submit(scan, lab, *(node.address for node in nodes))
        six = pool.submit(scan, lab, *sixes)
        over4, over6 = four.result(), six.result()
    for node, address6 in zip(nodes, sixes, strict=True):
        got4, got6 = over4[node.address], over6[address6]
        assert got4 == public, f"{node} over IPv4 in {mode} mode: {sorted(got4)}"
        assert got6 == got4, f"{node} over IPv6 ({address6}) in {mode} mode: {sorted(got6)}"


def test_the_public_finds_only_the_declared_ports_over_both_families(lab, tmp_path):
    lab.cli("reset", timeout=900)
    run = pytest_run([*UPGRADE, "--until", "u01"], tmp_path / "w")
    assert run.rc == 0
    for node in app_nodes(INV):
        assert firewall.families(node) == (4, 6)
        firewall.assert_mode(node, "maintenance")
    both_families(lab, "maintenance")
    # The public is redirected to the maintenance page over IPv6 too (the page, not Sakai).
    six = LAB.host(app_nodes(INV)[0].name).address6
    page = lab.exec("public", f"curl -sSk --max-time 10 https://[{six}]:8443/portal").stdout
    assert "down for scheduled maintenance" in page
    # The go/no-go's own probes run over both families and agree.
    during = pytest_run(["checks/", "--phase", "during"], tmp_path / "c")
    assert during.rc == 0 and during.verdict_line.startswith("GO"), during.verdict_line

    run = pytest_run([*UPGRADE, "--resume"], tmp_path / "w", timeout=1500)
    assert run.rc == 0
    both_families(lab, "public")
    after = pytest_run(["checks/", "--phase", "after"], tmp_path / "a")
    assert after.rc == 0 and after.verdict_line.startswith("GO"), after.verdict_line
    # Complete in both families, so a second upgrade would change nothing; not once the IPv6
    # firewall lost its jump into our chain, which a look at IPv4 alone would call done.
    assert completion.upgrade_complete(INV)
    lab.exec(app_nodes(INV)[0].name, "ip6tables -w 5 -D INPUT -j SMARTSITE-IN")
    assert completion.upgrade_complete(INV) == ""


def test_a_hole_in_the_ipv6_firewall_is_a_no_go_named_over_ipv6(lab, tmp_path):
    lab.cli("reset", timeout=900)
    run = pytest_run([*UPGRADE, "--until", "u01"], tmp_path / "w")
    assert run.rc == 0
    head = app_nodes(INV)[0]
    # IPv4 stays closed; IPv6 loses its jump into our chain, as with a node whose firewall
    # manages iptables only.
    lab.exec(head.name, "ip6tables -w 5 -D INPUT -j SMARTSITE-IN")
    six = LAB.host(head.name).address6
    maintenance = firewall.reachable_ports("maintenance", INV.vars)
    assert scan(lab, head.address)[head.address] == maintenance
    assert 8089 in scan(lab, six)[six]  # the page port, reached directly through the hole
    during = pytest_run(["checks/", "--phase", "during"], tmp_path / "c")
    assert during.rc != 0 and during.verdict_line.startswith("NO-GO"), during.verdict_line
    assert f"public over IPv6 to {six} finds {head}:8089 open" in during.out


def test_one_rollback_puts_both_families_back(lab):
    """A change that cuts the operator off (over IPv4) is undone in both families by the one
    armed rollback, the IPv6 part included."""
    node = INV.group("app")[-1]
    operator = INV.vars["allow_8443"][0]["address"]
    rules = {
        f: f"{t}-save | grep -v '^#' | sed -E 's/\\[[0-9]+:[0-9]+\\]//'"
        for f, t in firewall.TOOLS.items()
    }
    before = {f: lab.exec(node.name, rules[f]).stdout for f in rules}
    sdir = firewall.state_dir(node)
    node.run(f"mkdir -p {sdir}")
    saved = {f: f"{sdir}/e2e-ipv6-saved-{f}.rules" for f in rules}
    for family, path in saved.items():
        firewall.save(node, path, family)
    cut = "-A E2E-CUT -s {} -p tcp -m tcp --dport 22 -j REJECT --reject-with tcp-reset"
    # IPv6 first: the IPv4 cut ends the session that applies them.
    bad = {6: "-A E2E-CUT -p tcp -m tcp --dport 8443 -j ACCEPT", 4: cut.format(f"{operator}/32")}
    files = []
    for family, rule in bad.items():
        path = f"{sdir}/e2e-ipv6-bad-{family}.rules"
        put_file(node, path, f"*filter\n:E2E-CUT - [0:0]\n-I INPUT 1 -j E2E-CUT\n{rule}\nCOMMIT\n")
        files.append((family, path))
    # The cut ends the operator's own session too (the rule rejects established packets), so the
    # failure is that or the unconfirmed change: either way the node must undo it by itself.
    with pytest.raises((ActionError, HostUnreachable)):
        firewall._guarded(node, saved, files, confirm_seconds=5)
    assert "E2E-CUT" in lab.exec(node.name, rules[6]).stdout  # applied in IPv6 too
    armed = f"test -s {sdir}/rollback.pid"  # from inside the node: ssh is cut until it runs
    for _ in range(30):
        time.sleep(1)
        if lab.exec(node.name, armed, check=False).returncode != 0:
            break
    assert {f: lab.exec(node.name, rules[f]).stdout for f in rules} == before
    assert lab.ssh(node.address, "true", timeout=10).returncode == 0


def test_a_node_with_ipv6_and_no_ip6tables_is_a_no_go_naming_it(lab, tmp_path):
    node = app_nodes(INV)[-1]
    # Hidden in the node's own mount namespace only (the lab's hosts share the machine's /usr);
    # bind mounts follow the link to the xtables binary, hidden for the moment of the check.
    hide = "mount --bind /dev/null /usr/sbin/ip6tables-restore"
    lab.exec(node.name, hide)
    try:
        run = pytest_run(["checks/", "--phase", "preflight", "-k", "ip6tables"], tmp_path / "c")
    finally:
        lab.exec(node.name, "umount /usr/sbin/ip6tables-restore")
    assert run.rc != 0 and run.verdict_line.startswith("NO-GO"), run.verdict_line
    assert f"{node}: has IPv6 addresses and no ip6tables" in run.out
    assert "install ip6tables" in run.out
