"""Reachability as the clients see it: curl, nmap and a JMX client run on the vantage hosts.

    >>> https_from(public, node).status
    503                                  # the maintenance page, during the window
    >>> jmx_from(adminws1, node)
    True

Reading iptables rules proves what we wrote; these probes prove what a client gets. They only
read (Host.probe), so they run in a dry run too. Which vantage host should get what follows from
the inventory's allow-lists, never from names in code.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from runbooklib.actions import firewall
from runbooklib.actions.common import ActionError, fan_out, forks, operand, q
from runbooklib.actions.http import parse_health
from runbooklib.inventory import Inventory
from runbooklib.remote import Host, Result
from runbooklib.transcript import carried, verification

# The bound of each HTTPS request of a vantage host (curl's --max-time).
ANSWER_SECONDS = 10


@dataclass
class Answer:
    status: int  # 0: no HTTP answer at all (refused, reset, timed out)
    body: str
    retry_after: str = ""

    @property
    def maintenance(self) -> bool:
        return self.status == 503

    @property
    def version(self) -> str:
        return parse_health(self.body).get("version", "") if self.status == 200 else ""


def vantage(inventory: Inventory, group: str) -> list[Host]:
    return inventory.group(group) if group in inventory.groups else []


def is_ip(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


def matching_entry(address: str, entries: object) -> str | None:
    """The allow-list network that holds `address` (an entry may be a whole network), or None.

    The one answer to "is this host allowed?": by network membership, never by comparing text.

    >>> matching_entry("198.51.100.61", [{"address": "198.51.100.0/24", "name": "lab"}])
    '198.51.100.0/24'
    """
    if not is_ip(address):
        raise ActionError(f"{address} is not an IP address: give vantage hosts their addresses")
    ip = ipaddress.ip_address(address)
    networks = firewall.allow_list(entries, "allow-list")
    return next((n for n in networks if ip in ipaddress.ip_network(n)), None)


def allowed(host: Host, var: str) -> bool:
    """Is this vantage host on the inventory's allow-list `var` (allow_8443, allow_9000)?"""
    return matching_entry(host.address, host.vars.get(var)) is not None


def https_from(client: Host, node: Host, path: str = "/portal/health") -> Answer:
    """What `client` gets from `path` over HTTPS 8443 of `node`."""
    return https_from_each(client, [node], path)[node.name]


def https_from_each(client: Host, nodes: list[Host], path: str = "/portal/health") -> dict:
    """What `client` gets from `path` over HTTPS on each node ({node: Answer}): one curl for
    all of them, the nodes one after another in it (one process and one round trip per client,
    however many nodes). After each body, curl writes a line of its own (`-w`): a marker, the
    status and the Retry-After header. The marker is drawn on the client at each call and
    printed first: no body can forge curl's line (a node under test could, with a fixed one)."""
    transfers = []
    for node in nodes:
        ca = node.vars.get("ca_bundle")
        cacert = f"--cacert {q(ca)} " if ca else ""
        url = f"https://{node.address}:{node.vars['https_port']}{path}"
        transfers.append(
            f"-sS --max-time {ANSWER_SECONDS} {cacert}"
            f'-w "\\n$m %{{http_code}} %header{{retry-after}}\\n" {q(url)}'
        )
    out = client.probe(
        "m=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \\n') && echo \"$m\" && "
        f"{{ curl {' --next '.join(transfers)} || true; }}",
        timeout=ANSWER_SECONDS * len(nodes) + 20,
    )
    mark, _, rest = out.stdout.partition("\n")
    answers = parse_answers(rest, mark, len(nodes))
    return {node.name: answer for node, answer in zip(nodes, answers, strict=True)}


def parse_answers(stdout: str, mark: str, count: int) -> list[Answer]:
    """`count` Answers from what `https_from_each`'s curl printed, in the order asked; a
    transfer with no line of curl's is no answer at all (status 0).

    >>> [a.status for a in parse_answers("version=2.4.1\\nM 200 \\n\\nM 503 120\\n", "M", 3)]
    [200, 503, 0]
    """
    if not mark:  # no marker drawn: nothing here is curl's
        return [Answer(0, "")] * count
    pieces = re.split(rf"\n{re.escape(mark)} (\d+) ?([^\n]*)\n", stdout)
    answers = [
        Answer(int(code), body, retry.strip())
        for body, code, retry in zip(pieces[0::3], pieces[1::3], pieces[2::3], strict=False)
    ]
    return (answers + [Answer(0, "")] * count)[:count]


def port_states(client: Host, nodes: list[Host], var: str) -> dict[str, str]:
    """nmap's view from the client of each node's TCP port `var` (an inventory var: jmx_port):
    {node: open, closed, filtered, or unknown}; one nmap for every node (it probes them side by
    side), so that 8 nodes cost what 2 do."""
    ports = {n.name: int(n.vars[var]) for n in nodes}
    out = client.probe(
        f"nmap -Pn -n -p {','.join(map(str, sorted(set(ports.values()))))} --max-retries 1 "
        f"--host-timeout 20s -oG - {' '.join(q(operand(n, n.address, 'address')) for n in nodes)}",
        timeout=40,
    ).stdout
    return {n.name: port_state_in(out, n.address, ports[n.name]) for n in nodes}


def port_state_in(grepable: str, address: str, port: int) -> str:
    """The state nmap's `-oG -` gives to `port` of `address`: as listed, else its `Ignored
    State` (nmap lists only the ports that differ from it), else unknown (not probed).

    >>> port_state_in("Host: 10.0.0.1 ()\\tPorts: 9000/closed/tcp//cslistener///", "10.0.0.1", 9000)
    'closed'
    """
    state = "unknown"
    for line in grepable.splitlines():
        if not line.startswith(f"Host: {address} "):
            continue
        for field in line.split("\t"):
            if field.startswith("Ports: "):
                for entry in field.removeprefix("Ports: ").split(", "):
                    number, listed = entry.split("/")[:2]
                    if int(number) == port:
                        return listed
            elif field.startswith("Ignored State: "):
                state = field.removeprefix("Ignored State: ").split()[0]
    return state


def jmx_probe(
    client: Host,
    node: Host,
    *,
    login: bool = True,
    credentials: str | None = None,
    tls: bool = True,
    write: bool = False,
) -> Result:
    """Run the JMX client on `client` against port 9000 of `node` (rc 0: it read serverInfo; 4: the
    server asked for a password it did not get or refused the one it got, or refused the write).
    With `login`, the client logs in with `credentials`, a file on its own host (default: the
    inventory's jmx_password_file), so the password is never on a command line. With `tls` (the
    only way the nodes answer), over TLS trusting the client's `ca_bundle` (else the JDK's CAs);
    without, in clear: only to prove that the nodes refuse it. `write`: then try a write, which
    the read-only role must be refused."""
    ask = dict(login=login, credentials=credentials, tls=tls, write=write)
    return client.probe(
        f"{_java(client)} {_jmx_args(client, node, **ask)}", timeout=60, check=False
    )


def jmx_probes(client: Host, node: Host, *asks: dict) -> list[Result]:
    """Several JMX probes of `node` from `client` in one JVM, one start instead of one each: each
    ask takes jmx_probe's keywords, and gets a Result of its own (rc and what the client said)."""
    joined = " + ".join(_jmx_args(client, node, **ask) for ask in asks)
    out = client.probe(f"{_java(client)} {joined}", timeout=60, check=False)
    return [
        Result(out.host, out.command, rc, text, "", out.duration, out.dry_run)
        for rc, text in parse_probes(out.stdout, len(asks), out.rc, out.stderr)
    ]


def parse_probes(stdout: str, count: int, rc: int, stderr: str = "") -> list[tuple[int, str]]:
    """(exit status, what it said) of each of `count` probes from `JmxProbe A + B ...`'s lines,
    in the order asked. The client prints one line per probe, in order, with the server's line
    breaks made spaces, so a server cannot write another probe's line; only the first line of
    each probe counts. A probe with no line failed with the JVM's status (1 if that was 0).

    >>> parse_probes("probe 1 exit 0: Tomcat\\nprobe 2 exit 4: refused\\n", 3, 137, "Killed")
    [(0, 'Tomcat'), (4, 'refused'), (137, 'no answer of probe 3: Killed')]
    """
    found: list[tuple[int, str]] = []
    for line in stdout.splitlines():
        said = re.fullmatch(r"probe (\d+) exit (-?\d+): (.*)", line)
        if said and int(said[1]) == len(found) + 1:
            found.append((int(said[2]), said[3]))
    why = (stderr or stdout).strip()[-200:]
    for n in range(len(found) + 1, count + 1):
        found.append((rc or 1, f"no answer of probe {n}: {why}"))
    return found[:count]


def _java(client: Host) -> str:
    probe = client.vars["jmx_probe"]
    # A compiled client starts in under a second; `java JmxProbe.java` compiles it at every run
    # (seconds on a busy 2-core host). C1 only, one compiler thread and the serial collector: a
    # short-lived client. No perf data: the JVM would write it into /tmp/hsperfdata_<user>.
    if probe.endswith(".class"):
        folder, name = posixpath.split(probe.removesuffix(".class"))
        return (
            "java -XX:TieredStopAtLevel=1 -XX:CICompilerCount=1 -XX:+UseSerialGC "
            f"-XX:-UsePerfData -cp {q(folder)} {q(name)}"
        )
    return f"java {q(probe)}"


def _jmx_args(
    client: Host,
    node: Host,
    *,
    login: bool = True,
    credentials: str | None = None,
    tls: bool = True,
    write: bool = False,
) -> str:
    login_file = (credentials or client.vars.get("jmx_password_file")) if login else None
    ca = client.vars.get("ca_bundle")
    secure = (f"--ca {q(ca)} " if ca else "--tls ") if tls else ""
    creds = ""
    if login_file:
        rest = login_file.removeprefix("~/")
        creds = f"--credentials {'$HOME/' if rest != login_file else ''}{q(rest)} "
    return (
        f"{secure}{creds}{'--write ' if write else ''}"
        f"{q(operand(node, node.address, 'address'))} {int(node.vars['jmx_port'])}"
    )


def jmx_from(client: Host, node: Host) -> bool:
    """Can a JMX client on `client`, logged in, read Catalina's serverInfo over 9000 of `node`?"""
    out = jmx_probe(client, node)
    return out.ok and "Tomcat" in out.stdout


def clients(inventory: Inventory, var: str | None = None, on: bool = True) -> list[Host]:
    """Vantage hosts, optionally only those on (or off) the allow-list `var`."""
    hosts = vantage(inventory, "vantage")
    return hosts if var is None else [h for h in hosts if allowed(h, var) == on]


def each_answer(clients: list[Host], nodes: list[Host], judge) -> list[str]:
    """`judge(client, node, answer)` of what every client gets over HTTPS from every node; each
    client asks all the nodes in one command (`https_from_each`), `forks` clients at a time.
    The failures, one line each."""
    return judged(clients, nodes, ask_each(clients, nodes), judge)


def ask_each(clients: list[Host], nodes: list[Host]) -> list:
    """[(answers by node, None) or (None, why)] for each client, in order: `forks` at a time."""
    return fan_out(clients, lambda c: https_from_each(c, nodes), forks(nodes))


def judged(clients: list[Host], nodes: list[Host], done: list, judge) -> list[str]:
    """The failures of `judge(client, node, answer)` over what `ask_each` got, one line each."""
    failures = [error for _, error in done if error]
    for client, (answers, _) in zip(clients, done, strict=True):
        for node in nodes if answers else []:
            try:
                judge(client, node, answers[node.name])
            except AssertionError as exc:
                failures.append(str(exc))
    return failures


@verification
def assert_outage_page(inventory: Inventory, nodes: list[Host]) -> None:
    """Clients off the 8443 allow-list get the maintenance page (503, Retry-After) on 8443."""
    public = clients(inventory, "allow_8443", on=False)
    assert public, (
        f"inventory {inventory.name}: no vantage host off allow_8443 to prove the outage page "
        "from outside: add one to the `outsiders` group"
    )

    def judge(client: Host, node: Host, got: Answer) -> None:
        assert got.maintenance and got.retry_after, (
            f"{client} gets {got.status} from {node}:8443, not the maintenance page"
        )

    failures = each_answer(public, nodes, judge)
    assert not failures, "; ".join(failures)


@verification
def assert_admins_reach_app(inventory: Inventory, nodes: list[Host]) -> None:
    """Allow-listed clients get the real application on 8443 (its health page with a version)."""
    admins = clients(inventory, "allow_8443")
    assert admins, f"inventory {inventory.name}: no vantage host on allow_8443 to prove it"

    def judge(client: Host, node: Host, got: Answer) -> None:
        assert got.status == 200 and got.version, (
            f"{client} (allow-listed) gets {got.status} from {node}:8443, not the app"
        )

    failures = each_answer(admins, nodes, judge)
    assert not failures, "; ".join(failures)


@verification
def assert_jmx_allow_list(
    inventory: Inventory, nodes: list[Host], heads: list[Host], seen: list[str] | None = None
) -> None:
    """JMX on 9000: usable from the allow-list on the head node(s) with the password over TLS,
    refused without the password and in clear, closed to everyone else (`seen`: what
    `observe_jmx` found, if it was started ahead)."""
    failures = observe_jmx(inventory, nodes, heads) if seen is None else seen
    assert not failures, "; ".join(failures)


def observe_jmx(inventory: Inventory, nodes: list[Host], heads: list[Host] | None = None) -> list:
    """What is wrong with JMX on 9000 as the vantage hosts find it, one line each; the head node
    is the first (app[0]). One fan-out (`forks` at a time): one nmap of every node from each
    client off the allow-list, and one JVM on each client on it per head node, for the three
    probes (a JVM start costs more than a probe)."""
    heads = nodes[:1] if heads is None else heads

    def closed(client: Host) -> None:
        states = port_states(client, nodes, "jmx_port")
        reached = [
            f"{client} (not on allow_9000) finds {n}:{n.vars['jmx_port']} {states[n.name]}"
            for n in nodes
            # Unproven is not closed: a node nmap said nothing of fails too.
            if states[n.name] not in ("closed", "filtered")
        ]
        assert not reached, "; ".join(reached)

    def on_the_list(client: Host, node: Host) -> None:
        # Usable with the password over TLS; refused without the password (an allowed address
        # is not an allowed person: a shared terminal server); refused in clear, where anyone on
        # the path would read the password.
        good, anonymous, clear = jmx_probes(client, node, {}, {"login": False}, {"tls": False})
        where = f"{client} (on allow_9000) gets"
        port = f"{node}:{node.vars['jmx_port']}"
        failures = []
        if not (good.ok and "Tomcat" in good.stdout):
            failures.append(f"{client} (on allow_9000) has no JMX on {port}: {good.stdout[:80]}")
        if anonymous.rc != 4:
            failures.append(
                f"{where} JMX on {port} without the password (probe exit {anonymous.rc}): "
                f"{anonymous.stdout.strip()[:80]}"
            )
        if clear.rc in (0, 4):
            failures.append(
                f"{where} JMX on {port} in clear, without TLS (probe exit {clear.rc}): the "
                "password crosses the network readable; set jmxremote.ssl and "
                "jmxremote.registry.ssl to true in setenv.sh"
            )
        assert not failures, "; ".join(failures)

    vantage = clients(inventory)
    asks = [(closed, c) for c in vantage if not allowed(c, "allow_9000")]
    asks += [(on_the_list, c, n) for c in vantage if allowed(c, "allow_9000") for n in heads]
    done = fan_out(asks, lambda a: a[0](*a[1:]), forks(nodes), name=lambda a: a[1].name)
    return [error for _, error in done if error]


@verification
def assert_every_client_gets(
    inventory: Inventory, nodes: list[Host], version: str, seen: list | None = None
) -> None:
    """Every vantage host, the public included, gets `version` on 8443 of every node (`seen`:
    what `observe_https` found, if it was started ahead)."""

    def judge(client: Host, node: Host, got: Answer) -> None:
        assert got.status == 200 and got.version == version, (
            f"{client} gets {got.status} {got.version!r} from {node}:8443, expected {version}"
        )

    seen = observe_https(inventory, nodes) if seen is None else seen
    failures = judged(clients(inventory), nodes, seen, judge)
    assert not failures, "; ".join(failures)


def observe_https(inventory: Inventory, nodes: list[Host]) -> list:
    """What every vantage host gets over HTTPS from every node (`ask_each`)."""
    return ask_each(clients(inventory), nodes)


@verification
def assert_public_app(inventory: Inventory, nodes: list[Host], version: str) -> None:
    """After the window: every client gets `version` on 8443; 9000 still closed to the public.
    Both looked at side by side (they only read); every failure of both is named."""
    failures = []
    with ThreadPoolExecutor(max_workers=1) as pool:
        jmx = pool.submit(carried(assert_jmx_allow_list), inventory, nodes, nodes[:1])
        for proof in (lambda: assert_every_client_gets(inventory, nodes, version), jmx.result):
            try:
                proof()
            except AssertionError as exc:
                failures.append(str(exc))
    assert not failures, "; ".join(failures)
