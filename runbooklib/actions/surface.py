"""The app nodes' attack surface, proven from the listeners, the NAT table and outside probes.

    >>> view = read(stubing)                  # ss -Hltnup and the NAT tables, on the node
    >>> view.listeners[0]
    Listener(proto='tcp', port=8443, address='0.0.0.0', process='java', pid=4242)
    >>> view.nat                              # ports PREROUTING maps elsewhere (DNAT, REDIRECT)
    {8443}
    >>> probe_from(public, [stubing], [22, 8089, 8443, 9000, 31337])   # nmap from outside
    {'stubing': {22, 8443}}

A TCP port with no listener and no NAT rule cannot be reached, so the proof of a full scan
(`nmap -p-` of every node from every vantage host) needs far fewer probes: every vantage host
probes every port that listens or is NAT-mapped on a node, every declared port, and a random
sample of the other ports (SAMPLE, seeded: the seed is logged, `--sample-seed` replays it) for
the firewall's default policy. Each vantage host must find exactly the ports the inventory lets
it reach in the mode (`firewall.reachable_ports`); an extra port is named with the process that
listens on it. Any listener (TCP or UDP, either family) on a port the inventory does not declare
is a NO-GO too, named with its process, even one the firewall hides: the firewall is the second
line. `--full-scan` (var `surface_full_scan`) probes every port instead, for the paranoid.

Over each family a node has: every IPv6 address the node reports (global or ULA) is probed as its
IPv4 address is, by every vantage host with IPv6, from the source address it would use; a node
with IPv6 and no vantage host able to probe it is a NO-GO (the proof would be missing).
"""

from __future__ import annotations

import ipaddress
import random
import re
from dataclasses import dataclass, field

from runbooklib.actions import firewall
from runbooklib.actions.common import fan_out, forks, operand, q
from runbooklib.actions.reach import clients
from runbooklib.inventory import Inventory
from runbooklib.remote import Host
from runbooklib.transcript import transcript, verification

# A full scan of one node on a LAN takes about 2 s (closed ports answer with a reset at once: the
# firewall REJECTs with tcp-reset); the bound only matters when a firewall drops packets.
SCAN_SECONDS = 120
# How many of the other ports each vantage host probes to prove the default policy.
SAMPLE = 200
ALL_PORTS = frozenset(range(1, 65536))
USERS = re.compile(r'\("([^"]+)",pid=(\d+)')
DPORT = re.compile(r"(!\s+)?--(?:dport|dports|destination-ports?)\s+(\S+)")
# What the node prints between its three readings (see `read`).
NAT4, NAT6, NO_NAT6 = "::runbook-nat4", "::runbook-nat6", "::runbook-nat6-unavailable"
ADDR6 = "::runbook-addr6"
INET6 = re.compile(r"\binet6\s+([0-9a-fA-F:]+)/\d+")


@dataclass(frozen=True)
class Listener:
    proto: str  # tcp or udp
    port: int
    address: str
    process: str
    pid: int

    def __str__(self) -> str:
        return f"{self.process} pid {self.pid} on {self.address} ({self.proto})"

    @property
    def loopback(self) -> bool:
        host = self.address.strip("[]").split("%")[0]
        return host.startswith(("127.", "::ffff:127.")) or host == "::1"


@dataclass
class View:
    """What a node says of itself: its listening sockets and the ports its NAT maps."""

    listeners: list[Listener] = field(default_factory=list)
    nat: set[int] = field(default_factory=set)
    # Its IPv6 addresses beyond loopback and link-local: each is probed as its IPv4 one is.
    addresses6: list[str] = field(default_factory=list)

    def tcp_ports(self) -> set[int]:
        return {x.port for x in self.listeners if x.proto == "tcp"}

    def who(self, port: int) -> str:
        """The processes listening on TCP `port`, for a message."""
        found = [str(x) for x in self.listeners if x.proto == "tcp" and x.port == port]
        if found:
            return ", ".join(found)
        return "mapped by the NAT table" if port in self.nat else "no listener on the node"


def parse_listeners(text: str) -> list[Listener]:
    """`ss -Hltnup` (both families, TCP and UDP) as Listeners; a socket without a process shown
    (another namespace's, or ss without root) is `?` pid 0.

    >>> parse_listeners('tcp LISTEN 0 50 [::]:47124 [::]:* users:(("python3",pid=7,fd=3))')
    [Listener(proto='tcp', port=47124, address='[::]', process='python3', pid=7)]
    """
    found = []
    for row in text.splitlines():
        fields = row.split()
        if len(fields) < 6 or fields[0] not in ("tcp", "udp"):
            continue
        address, _, port = fields[4].rpartition(":")
        if not port.isdigit():
            continue
        who = USERS.search(row)
        process, pid = (who.group(1), int(who.group(2))) if who else ("?", 0)
        found.append(Listener(fields[0], int(port), address, process, pid))
    return found


def _ports(spec: str) -> set[int]:
    """iptables' port list: `8443`, `8000:8100`, `80,443,8000:8100` (multiport)."""
    ports: set[int] = set()
    for part in spec.split(","):
        low, colon, high = part.partition(":")
        first = int(low) if low else 1
        last = (int(high) if high else 65535) if colon else first
        ports |= set(range(max(first, 1), min(last, 65535) + 1))
    return ports


def nat_ports(rules: list[str]) -> set[int]:
    """The TCP ports that the NAT rules (`iptables -t nat -S`, both families' together) send
    elsewhere (DNAT, REDIRECT) for a connection from outside: what enters PREROUTING, followed
    through the chains it jumps to. A rule with no port (or a negated one) maps every port that
    reaches it.

    >>> sorted(nat_ports(["-A PREROUTING -p tcp -m tcp --dport 8443 -j SMARTSITE-PRE",
    ...                   "-A SMARTSITE-PRE -p tcp -j REDIRECT --to-ports 8089"]))
    [8443]
    """
    parsed = []
    for rule in rules:
        words = rule.split()
        if len(words) < 2 or words[0] != "-A" or "-j" not in words:
            continue
        proto = words[words.index("-p") + 1] if "-p" in words else "all"
        if proto.lower() not in ("tcp", "all", "6"):
            continue
        spec = DPORT.search(rule)
        ports = ALL_PORTS if spec is None or spec.group(1) else _ports(spec.group(2))
        parsed.append((words[1], ports, words[words.index("-j") + 1]))
    entering = {"PREROUTING": set(ALL_PORTS)}
    mapped: set[int] = set()
    # Chains jump forward (iptables refuses loops): enough rounds to follow the longest path.
    for _ in range(len(parsed) + 1):
        grew = False
        for chain, ports, target in parsed:
            reach = entering.get(chain, set()) & ports
            if not reach:
                continue
            if target in ("DNAT", "REDIRECT"):
                mapped |= reach
            elif not reach <= entering.setdefault(target, set()):
                entering[target] |= reach
                grew = True
        if not grew:
            break
    return mapped


def parse_addresses6(text: str) -> list[str]:
    """The addresses of `ip -6 -o addr show scope global`, compressed as nmap prints them.

    >>> parse_addresses6("2: eth0    inet6 fd5a:6c61:6273:0::11/64 scope global nodad")
    ['fd5a:6c61:6273::11']
    """
    return [str(ipaddress.IPv6Address(m)) for m in INET6.findall(text)]


def parse_view(text: str) -> View:
    """`read`'s output: the listeners, then the IPv4 NAT table, then the IPv6 one (if any), then
    the node's IPv6 addresses."""
    text, _, addresses = text.partition(ADDR6)
    listeners, _, tables = text.partition(NAT4)
    v4, _, v6 = tables.partition(NAT6)
    if NO_NAT6 in v6:
        error = v6.replace(NO_NAT6, "").strip()
        # A kernel without IPv6 NAT has no IPv6 rule to follow; any other failure proves nothing.
        if "does not exist" not in error and "can't initialize" not in error.lower():
            raise AssertionError(f"cannot read the IPv6 NAT table: {error[:200]}")
        v6 = ""
    return View(
        parse_listeners(listeners),
        nat_ports(f"{v4}\n{v6}".splitlines()),
        parse_addresses6(addresses),
    )


def read(node: Host) -> View:
    """The node's listeners (`ss -Hltnup`: TCP and UDP, both families, with their processes), the
    ports its NAT tables map (iptables, and ip6tables where installed) and its IPv6 addresses, in
    one command."""
    out = node.probe(
        f"ss -Hltnup && echo {NAT4} && iptables -w 5 -t nat -S && echo {NAT6} && "
        f"if command -v ip6tables >/dev/null; then "
        f"ip6tables -w 5 -t nat -S 2>&1 || echo {NO_NAT6}; fi; "
        f"echo {ADDR6}; ip -6 -o addr show scope global 2>/dev/null; true",
        timeout=30,
    ).stdout
    return parse_view(out)


def sample_ports(exclude: set[int], seed: int, count: int = SAMPLE) -> set[int]:
    """`count` ports drawn from those not in `exclude`, the same ones for the same seed."""
    others = sorted(ALL_PORTS - exclude)
    return set(random.Random(seed).sample(others, min(count, len(others))))


def probe_from(client: Host, nodes: list[Host], ports: set[int] | None) -> dict[str, set[int]]:
    """The open TCP ports among `ports` (None: all of them, `nmap -p-`) of each node as `client`
    finds them: one nmap for all the nodes (it probes them side by side), bounded in time."""
    found = probe_addresses(client, {n.address: n for n in nodes}, ports)
    return {n.name: found[n.address] for n in nodes}


def probe_addresses(
    client: Host, targets: dict[str, Host], ports: set[int] | None
) -> dict[str, set[int]]:
    """`probe_from` by address ({address: its node}), all of one family (nmap -6 for IPv6)."""
    for address, node in targets.items():
        operand(node, address, "address")
    six = "-6 " if any(":" in a for a in targets) else ""
    which = (
        "-p-" if ports is None or ports >= ALL_PORTS else f"-p {','.join(map(str, sorted(ports)))}"
    )
    out = client.probe(
        f"nmap {six}-Pn -n {which} -T4 --max-retries 1 --max-rtt-timeout 200ms "
        f"--host-timeout {SCAN_SECONDS}s -oG - {' '.join(q(a) for a in targets)}",
        timeout=SCAN_SECONDS + 30,
    ).stdout
    found = {}
    for address, node in targets.items():
        lines = [x for x in out.splitlines() if x.startswith(f"Host: {address} ")]
        ports_line = next((x for x in lines if "\tPorts: " in x), None)
        if ports_line is None:
            # Every port closed or filtered: nmap lists none, only `Ignored State`.
            if any("Ignored State:" in x for x in lines):
                found[address] = set()
                continue
            raise AssertionError(
                f"{client} could not probe {node} at {address} within {SCAN_SECONDS}s: "
                f"{out.strip()[-200:]}"
            )
        listed = ports_line.split("\tPorts: ", 1)[1].split("\t", 1)[0]
        found[address] = {
            int(p.split("/")[0]) for p in listed.split(", ") if p.split("/")[1:2] == ["open"]
        }
    return found


def source6(client: Host, address: str) -> str | None:
    """The IPv6 address `client` would send from to `address`, or None when it has no route."""
    address = operand(client, address, "address")  # `ip route get` takes no `--`
    out = client.probe(f"ip -6 -o route get {q(address)} 2>/dev/null || true").stdout
    found = re.search(r"\bsrc\s+([0-9a-fA-F:]+)", out)
    return str(ipaddress.IPv6Address(found.group(1))) if found else None


def open_ports(client: Host, node: Host) -> set[int]:
    """Every TCP port of `node` that answers `client` (a full scan, nmap -p-)."""
    return probe_from(client, [node], None)[node.name]


def declared(vars: dict) -> set[int]:
    """Every port the inventory declares on an app node."""
    return {int(vars[k]) for k in ("ssh_port", "https_port", "jmx_port", "maintenance_port")}


@dataclass
class Plan:
    """Which ports every vantage host probes on every node, and why."""

    targeted: set[int]  # listening, NAT-mapped or declared on some node
    sampled: set[int]  # drawn from the rest
    seed: int | None  # None: a full scan

    @property
    def ports(self) -> set[int] | None:
        return None if self.seed is None else self.targeted | self.sampled

    def sample_note(self, port: int) -> str:
        if port in self.sampled:
            return f", a sampled port (seed {self.seed}: --sample-seed {self.seed} replays it)"
        return ""


def plan(views: dict[str, View], vars_by_node: dict[str, dict], full: bool, seed: int) -> Plan:
    targeted = set().union(
        *(v.tcp_ports() | v.nat | declared(vars_by_node[n]) for n, v in views.items())
    )
    if full or any(v.nat >= ALL_PORTS for v in views.values()):
        return Plan(set(ALL_PORTS), set(), None)
    return Plan(targeted, sample_ports(targeted, seed), seed)


def problems(
    node: str,
    vars: dict,
    mode: str,
    view: View,
    found: dict[str, tuple[str, set[int]]],
    probed: Plan,
) -> list[str]:
    """What differs between what each vantage host found on `node` ({client: (its address, the
    open ports)}) and what the inventory lets it reach in `mode`, and every listener on an
    undeclared port; each named with its process."""
    lines = []
    for client, (address, got) in found.items():
        wanted = firewall.reachable_ports(mode, vars, address)
        lines += [
            f"{client} finds {node}:{p} open ({view.who(p)}){probed.sample_note(p)}, "
            f"not declared for it in {mode} mode"
            for p in sorted(got - wanted)
        ]
        lines += [
            f"{client} finds {node}:{p} closed, which the inventory opens to it in {mode} mode"
            for p in sorted(wanted - got)
        ]
    known = declared(vars)
    lines += [
        f"{node}:{x.port} has a listener the inventory does not declare ({x})"
        for x in sorted(view.listeners, key=lambda x: (x.port, x.proto, x.address))
        if not x.loopback and (x.proto != "tcp" or x.port not in known)
    ]
    return lines


@dataclass
class Seen:
    """What `observe` saw: each node's view from inside, the ports probed, and what each vantage
    host found over each family ((client, None: IPv4, or the IPv6 targets), found)."""

    views: dict[str, View]
    probed: Plan
    found: list[tuple[tuple[Host, dict | None], object]]


def observe(inventory: Inventory, nodes: list[Host]) -> Seen:
    """The nodes read side by side (listeners, NAT, IPv6 addresses), then every vantage host
    probes all the nodes in one nmap per family, the vantage hosts side by side (`forks` at a
    time): the listening, NAT-mapped or declared ports, and a sample of the rest."""
    vantage = clients(inventory)
    bound = forks(nodes)
    read_out = fan_out(nodes, read, bound)
    failed = [error for _, error in read_out if error]
    assert not failed, "; ".join(failed)
    views = {n.name: view for n, (view, _) in zip(nodes, read_out, strict=True)}
    seed = nodes[0].vars.get("surface_seed") or random.SystemRandom().randint(1, 2**31 - 1)
    probed = plan(
        views, {n.name: n.vars for n in nodes}, bool(nodes[0].vars.get("surface_full_scan")), seed
    )
    # The seed goes into the record: a sampled port found open is replayed with --sample-seed.
    transcript.note(
        f"surface: {len(probed.targeted)} listening, NAT-mapped or declared ports and "
        f"{len(probed.sampled)} sampled ones (seed {seed}) probed from {len(vantage)} vantage hosts"
        if probed.seed
        else f"surface: every port (nmap -p-) probed from {len(vantage)} vantage hosts"
    )
    # Every vantage host probes over each family, one nmap each, all in one bounded fan-out.
    targets6 = {a: n for n in nodes for a in views[n.name].addresses6}
    jobs = [(c, None) for c in vantage] + [(c, targets6) for c in vantage if targets6]
    probe_out = fan_out(
        jobs,
        lambda job: _probe_family(job[0], nodes, job[1], probed.ports),
        bound,
        name=lambda job: job[0].name,
    )
    failed = [error for _, error in probe_out if error]
    assert not failed, "; ".join(failed)
    return Seen(views, probed, [(job, got) for job, (got, _) in zip(jobs, probe_out, strict=True)])


@verification
def assert_surfaces(
    inventory: Inventory, nodes: list[Host], mode: str, seen: Seen | None = None
) -> None:
    """From outside, every node shows exactly the ports the inventory declares for each vantage
    host in `mode`, and no node listens on an undeclared port (`seen`: what `observe` saw, if it
    was started ahead)."""
    public = [
        c
        for c in clients(inventory)
        if all(
            firewall.reachable_ports(mode, n.vars, c.address)
            == firewall.reachable_ports(mode, n.vars)
            for n in nodes
        )
    ]
    assert public, (
        f"inventory {inventory.name}: no vantage host off the allow-lists to probe the nodes "
        "from outside: add one to the `outsiders` group"
    )
    seen = observe(inventory, nodes) if seen is None else seen
    views = seen.views
    targets6 = {a: n for n in nodes for a in views[n.name].addresses6}
    found6 = _over_ipv6(public, targets6, [(c, got) for (c, six), got in seen.found if six])
    lines = []
    for node in nodes:
        found = {
            c.name: (c.address, by_node[node.name])
            for (c, six), by_node in seen.found
            if six is None
        }
        found |= found6.get(node.name, {})
        lines += problems(node.name, node.vars, mode, views[node.name], found, seen.probed)
    assert not lines, "; ".join(lines)


def _probe_family(
    client: Host, nodes: list[Host], targets6: dict[str, Host] | None, ports: set[int] | None
):
    """IPv4 (`targets6` None): the open ports of every node as `client` finds them. IPv6: None
    when `client` has no route to the nodes' IPv6 addresses, else (its source address, the open
    ports of each IPv6 address)."""
    if targets6 is None:
        return probe_from(client, nodes, ports)
    source = source6(client, next(iter(targets6)))
    return None if source is None else (source, probe_addresses(client, targets6, ports))


def _over_ipv6(
    public: list[Host],
    targets6: dict[str, Host],
    probed6: list[tuple[Host, tuple[str, dict[str, set[int]]] | None]],
) -> dict[str, dict[str, tuple[str, set[int]]]]:
    """What each vantage host with a route to the nodes' IPv6 addresses found over IPv6:
    {node: {"CLIENT over IPv6 to ADDRESS": (its source, open ports)}}. A node with IPv6 and no
    vantage host off the allow-lists that reaches it is a NO-GO: its proof would be missing."""
    if not targets6:
        return {}
    six = [(c, got) for c, got in probed6 if got is not None]
    assert any(c in public for c, _ in six), (
        f"{', '.join(sorted({n.name for n in targets6.values()}))} "
        f"{'have' if len(set(targets6.values())) > 1 else 'has'} IPv6 addresses and no vantage "
        "host off the allow-lists reaches them over IPv6: give an `outsiders` host IPv6"
    )
    found: dict[str, dict[str, tuple[str, set[int]]]] = {}
    for client, (src, by_address) in six:
        for address, node in targets6.items():
            label = f"{client.name} over IPv6 to {address}"
            found.setdefault(node.name, {})[label] = (src, by_address[address])
    return found
