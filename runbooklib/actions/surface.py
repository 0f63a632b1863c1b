"""The app nodes' attack surface, proven from outside: what a full TCP scan finds.

    >>> open_ports(public, stubing)            # nmap -p- from the vantage host
    {22, 8443}
    >>> listeners(stubing)[8443]               # ss -ltnp on the node
    Listener(port=8443, address='0.0.0.0', process='java', pid=4242)
    >>> problems(inventory, stubing, "maintenance")
    ['public finds stubing:37885 open (java pid 4242 on 0.0.0.0), not declared for it ...']

Each vantage host must find exactly the ports the inventory lets it reach in the mode
(`firewall.reachable_ports`): the public ssh and 8443, the allow-lists also 9000 and the page's
own port. An extra port is named with the process that listens on it, read on the node; so is any
listener on a port the inventory does not declare, even one the firewall hides: the firewall is
the second line, not a reason to leave a stray port open.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from runbooklib.actions import firewall
from runbooklib.actions.common import in_parallel, operand, q
from runbooklib.actions.reach import clients
from runbooklib.inventory import Inventory
from runbooklib.remote import Host
from runbooklib.transcript import verification

# A full scan of one node on a LAN takes about 2 s, of two side by side about 3.5 s on the lab
# (closed ports answer with a reset at once: the firewall REJECTs with tcp-reset); the bound only
# matters when a firewall drops packets.
SCAN_SECONDS = 120
USERS = re.compile(r'\("([^"]+)",pid=(\d+)')


@dataclass(frozen=True)
class Listener:
    port: int
    address: str
    process: str
    pid: int

    def __str__(self) -> str:
        return f"{self.process} pid {self.pid} on {self.address}"

    @property
    def loopback(self) -> bool:
        return self.address.startswith(("127.", "[::1]", "::1", "[::ffff:127."))


def open_ports(client: Host, node: Host) -> set[int]:
    """Every TCP port of `node` that answers `client` (nmap -p-, bounded in time)."""
    return scan_from(client, [node])[node.name]


def scan_from(client: Host, nodes: list[Host]) -> dict[str, set[int]]:
    """The open TCP ports of each node as `client` finds them: one nmap -p- for all the nodes
    (nmap scans them side by side), bounded in time."""
    targets = " ".join(q(operand(n, n.address, "address")) for n in nodes)
    out = client.probe(
        f"nmap -Pn -n -p- -T4 --max-retries 1 --max-rtt-timeout 200ms "
        f"--host-timeout {SCAN_SECONDS}s -oG - {targets}",
        timeout=SCAN_SECONDS + 30,
    ).stdout
    found = {}
    for node in nodes:
        line = next(
            (x for x in out.splitlines() if f"Host: {node.address} " in x and "\tPorts: " in x),
            None,
        )
        if line is None:
            raise AssertionError(
                f"{client} could not scan {node} within {SCAN_SECONDS}s: {out.strip()[-200:]}"
            )
        ports = line.split("\tPorts: ", 1)[1].split("\t", 1)[0]
        found[node.name] = {
            int(p.split("/")[0]) for p in ports.split(", ") if p.split("/")[1:2] == ["open"]
        }
    return found


def scans(inventory: Inventory, nodes: list[Host]) -> dict[tuple[str, str], set[int]]:
    """{(client, node): open ports} from every vantage host, the clients side by side."""
    from concurrent.futures import ThreadPoolExecutor

    vantage = clients(inventory)
    if not vantage:
        return {}
    with ThreadPoolExecutor(max_workers=len(vantage)) as pool:
        found = list(pool.map(lambda c: scan_from(c, nodes), vantage))
    return {
        (c.name, n): ports
        for c, by_node in zip(vantage, found, strict=True)
        for n, ports in by_node.items()
    }


def listeners(node: Host) -> dict[int, Listener]:
    """The node's listening TCP sockets by port, with their process (ss -ltnp, on the node)."""
    found: dict[int, Listener] = {}
    for row in node.probe("ss -Hltnp", timeout=20).stdout.splitlines():
        fields = row.split()
        if len(fields) < 4:
            continue
        address, _, port = fields[3].rpartition(":")
        who = USERS.search(row)
        process, pid = (who.group(1), int(who.group(2))) if who else ("?", 0)
        listener = Listener(int(port), address, process, pid)
        # Keep the socket reachable from outside when a port has several (e.g. lo and 0.0.0.0).
        if int(port) not in found or found[int(port)].loopback:
            found[int(port)] = listener
    return found


def declared(vars: dict) -> set[int]:
    """Every port the inventory declares on an app node."""
    return {int(vars[k]) for k in ("ssh_port", "https_port", "jmx_port", "maintenance_port")}


def problems(inventory: Inventory, node: Host, mode: str, scanned: dict | None = None) -> list[str]:
    """What differs between the scans from every vantage host and the inventory, and every
    listener on an undeclared port, each named with its process. `scanned`: the scans
    (`scans()`) when they were made for several nodes at once; else the node is scanned here."""
    vantage = clients(inventory)
    public = [
        c
        for c in vantage
        if firewall.reachable_ports(mode, node.vars, c.address)
        == (firewall.reachable_ports(mode, node.vars))
    ]
    assert public, (
        f"inventory {inventory.name}: no vantage host off the allow-lists to scan {node} from "
        "outside: add one to the `outsiders` group"
    )
    live = listeners(node)
    found = []

    def who(port: int) -> str:
        return str(live[port]) if port in live else "no listener on the node: a forward?"

    for client in vantage:
        wanted = firewall.reachable_ports(mode, node.vars, client.address)
        got = scanned[(client.name, node.name)] if scanned else open_ports(client, node)
        found += [
            f"{client} finds {node}:{p} open ({who(p)}), not declared for it in {mode} mode"
            for p in sorted(got - wanted)
        ]
        found += [
            f"{client} finds {node}:{p} closed, which the inventory opens to it in {mode} mode"
            for p in sorted(wanted - got)
        ]
    known = declared(node.vars)
    found += [
        f"{node}:{p} has a listener the inventory does not declare ({live[p]})"
        for p in sorted(set(live) - known)
        if not live[p].loopback
    ]
    return found


@verification
def assert_surface(inventory: Inventory, node: Host, mode: str, scanned=None) -> None:
    """From outside, `node` shows exactly the ports the inventory declares for each client."""
    found = problems(inventory, node, mode, scanned)
    assert not found, "; ".join(found)


@verification
def assert_surfaces(inventory: Inventory, nodes: list[Host], mode: str) -> None:
    """`assert_surface` for every node: each vantage host scans all the nodes in one nmap, the
    vantage hosts side by side; then each node's listeners are read, the nodes side by side."""
    scanned = scans(inventory, nodes)
    failures = in_parallel(nodes, lambda n: assert_surface(inventory, n, mode, scanned))
    assert not failures, "; ".join(failures)
