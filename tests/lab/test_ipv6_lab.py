"""Both address families in the lab (`python -m lab up --ipv6`): every host has its ULA address on
the lab's bridge, nothing is routed out, and the public reaches the nodes over both families."""

from __future__ import annotations

import ipaddress
import json
import subprocess

import pytest

from lab import config

# The lab's own (the `lab` fixture keeps what the last `up` built, families included).
LAB = config.recorded() or config.chosen(None, None)
pytestmark = pytest.mark.skipif(not LAB.ipv6, reason="the lab runs IPv4 only (up --ipv6)")


def _json(lab, host: str, command: str) -> list:
    return json.loads(lab.exec(host, command).stdout)


def test_every_host_has_its_ula_address_and_no_route_out(lab):
    for host in LAB.hosts:
        addrs = _json(lab, host.name, "ip -j -6 addr show dev eth0 scope global")
        found = [a["local"] for link in addrs for a in link["addr_info"] if "local" in a]
        assert found == [host.address6], f"{host.name}: global IPv6 {found}"
        assert ipaddress.ip_address(host.address6) in config.PREFIX6
        routes = _json(lab, host.name, "ip -j -6 route show")
        assert not [r for r in routes if r["dst"] == "default"], f"{host.name}: {routes}"
        assert {r["dev"] for r in routes} <= {"eth0", "lo"}, routes
        forwarding = lab.exec(host.name, "sysctl -n net.ipv6.conf.all.forwarding").stdout
        assert forwarding.strip() == "0"


def test_the_root_namespace_has_the_prefix_on_the_bridge_only():
    out = subprocess.run(["ip", "-j", "-6", "addr"], capture_output=True, text=True, check=True)
    holders = {
        link["ifname"]
        for link in json.loads(out.stdout)
        for a in link.get("addr_info", [])
        if "local" in a and ipaddress.ip_address(a["local"]) in config.PREFIX6
    }
    assert holders == {config.BRIDGE}
    routes = subprocess.run(
        ["ip", "-j", "-6", "route", "show", str(config.PREFIX6)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert [r["dev"] for r in json.loads(routes.stdout)] == [config.BRIDGE]


@pytest.mark.parametrize("node", [h.name for h in LAB.role("app")])
def test_the_public_reaches_each_node_over_both_families(lab, node):
    host = LAB.host(node)
    for address in (host.address, host.address6):
        # sshd listens on both of the node's addresses; bash's /dev/tcp opens a TCP connection.
        out = lab.exec("public", f"timeout 5 bash -c 'exec 3<>/dev/tcp/{address}/22'", check=False)
        assert out.returncode == 0, f"public cannot reach {node} at {address}:22: {out.stderr}"
        # Before the window, Tomcat's 8443 (bound to ::, both families) too.
        lab.exec("public", f"timeout 5 bash -c 'exec 3<>/dev/tcp/{address}/8443'")
