"""The app nodes' firewall in the window: maintenance mode and public mode, in chains of our own.

    >>> apply(host, "maintenance")     # 8443: allow-list only, everyone else -> maintenance page
    Outcome(host='stubing', what='firewall maintenance', changed=True, ...)
    >>> apply(host, "public")          # 8443 open to all; 9000 stays allow-list only
    Outcome(host='stubing', what='firewall public', changed=True, ...)

In both modes every other TCP port is refused from outside (ssh and loopback excepted), so that
only what the inventory declares is reachable (see `reachable_ports`).

Our rules live in the chains SMARTSITE-IN (filter, jumped to first from INPUT) and SMARTSITE-PRE
(nat, jumped to from PREROUTING for tcp/8443); rules of others are never touched. A change is
applied with `iptables-restore --noflush` (atomic per table), after saving the whole ruleset with
`iptables-save` to a file on the host. Like `iptables-apply`, the host first arms a background job
that restores the saved ruleset after CONFIRM_SECONDS; only a fresh SSH connection from the operator
after the change cancels it, so a change that cuts the operator off undoes itself.

Both address families, from the same mode logic: a node with ip6tables gets the same chains in
ip6tables (each allow-list entry in the family of its address), applied with ip6tables-restore,
saved beside the IPv4 ruleset and restored by the same rollback. A node with IPv6 addresses and no
ip6tables is refused (see `families`): its public would reach every port around the firewall.
"""

from __future__ import annotations

import ipaddress
import posixpath
import socket
import time

from runbooklib.actions.common import (
    ActionError,
    Outcome,
    path_part,
    private_folder,
    put_file,
    q,
    run_in,
    sha256,
)
from runbooklib.remote import Host
from runbooklib.transcript import transcript, verification

FILTER_CHAIN = "SMARTSITE-IN"
# The tools of each address family (the -save and -restore ones are named after them).
TOOLS = {4: "iptables", 6: "ip6tables"}
NAT_CHAIN = "SMARTSITE-PRE"
MODES = ("maintenance", "public")
# Where the saved rulesets and the rendered ones are kept on each node (one folder per host
# name, in case several nodes share the filesystem, as the lab's do).
STATE_DIR = "/var/backups/smartsite-firewall"


def state_dir(host: Host) -> str:
    return f"{STATE_DIR}/{path_part(host, host.name, 'host name')}"


# How long the operator has to confirm before the host restores its previous rules by itself.
CONFIRM_SECONDS = 30


class AllowListError(ActionError):
    pass


def allow_list(entries: object, var: str) -> list[str]:
    """The networks of an inventory allow-list (`[{address: ..., name: ...}]`), validated: IPv4
    and IPv6 addresses or networks.

    >>> allow_list([{"address": "169.237.11.246", "name": "thomas"},
    ...             {"address": "2001:db8::7", "name": "thomas"}], "allow_8443")
    ['169.237.11.246/32', '2001:db8::7/128']
    """
    if not isinstance(entries, list) or not entries:
        raise AllowListError(f"inventory: `{var}` must be a non-empty list of {{address, name}}")
    out = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or "address" not in entry or not entry.get("name"):
            raise AllowListError(f"inventory: `{var}[{i}]` must have `address` and `name`")
        try:
            net = ipaddress.ip_network(str(entry["address"]), strict=True)
        except ValueError:
            raise AllowListError(
                f"inventory: `{var}[{i}]` address {entry['address']!r} is not an IP address "
                "or network: fix it in the inventory"
            ) from None
        if net.prefixlen == 0:
            raise AllowListError(f"inventory: `{var}[{i}]` {net} would allow everyone: name hosts")
        if str(net) not in out:
            out.append(str(net))
    return out


def render(mode: str, vars: dict, family: int = 4) -> dict[str, list[str]]:
    """The rules of our chains for `mode` in one address family (4 or 6), per table, in
    `iptables -S` form (so they compare with what the host reports). Both families have the same
    rules; each allow-list entry goes to the family of its address.

    The filter chain knows every port the inventory declares (ssh, https, jmx, maintenance) and
    refuses every other TCP connection from outside, in both modes: a listener nobody declared
    (a JVM's stray RMI port, a debugging server) is not reachable even if it binds 0.0.0.0.
    """
    if mode not in MODES:
        raise ActionError(f"firewall mode {mode!r} unknown: use one of {', '.join(MODES)}")
    ssh, https = int(vars["ssh_port"]), int(vars["https_port"])
    jmx, page = int(vars["jmx_port"]), int(vars["maintenance_port"])
    if family not in TOOLS:
        raise ActionError(f"address family {family!r} unknown: use 4 or 6")

    def of_family(var: str) -> list[str]:
        nets = allow_list(vars.get(var), var)
        return [n for n in nets if ipaddress.ip_network(n).version == family]

    allow_https, allow_jmx = of_family("allow_8443"), of_family("allow_9000")
    if ssh in (https, jmx, page):
        raise ActionError(f"inventory: ssh_port {ssh} collides with a port the firewall closes")
    c = FILTER_CHAIN
    reset = "-j REJECT --reject-with tcp-reset"  # answers at once; a DROP leaves clients hanging
    filt = [
        # The operator's way in is never closed, whatever follows.
        f"-A {c} -p tcp -m tcp --dport {ssh} -j ACCEPT",
        f"-A {c} -i lo -j ACCEPT",
        # Answers to the node's own connections (database, svn, mail) and connections let in.
        f"-A {c} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
    ]
    filt += [f"-A {c} -s {a} -p tcp -m tcp --dport {jmx} -j ACCEPT" for a in allow_jmx]
    # tcp-reset needs -p tcp in the same rule.
    filt.append(f"-A {c} -p tcp -m tcp --dport {jmx} {reset}")
    nat: list[str] = []
    if mode == "maintenance":
        filt += [f"-A {c} -s {a} -p tcp -m tcp --dport {https} -j ACCEPT" for a in allow_https]
        # Only what slips past the redirect (e.g. traffic that skipped PREROUTING) lands here.
        filt.append(f"-A {c} -p tcp -m tcp --dport {https} {reset}")
        # The page, for whoever our redirect sent there (the public on 8443).
        filt.append(f"-A {c} -p tcp -m tcp --dport {page} -m conntrack --ctstate DNAT -j ACCEPT")
        nat += [f"-A {NAT_CHAIN} -s {a} -j RETURN" for a in allow_https]
        nat.append(f"-A {NAT_CHAIN} -p tcp -j REDIRECT --to-ports {page}")
    else:
        filt.append(f"-A {c} -p tcp -m tcp --dport {https} -j ACCEPT")
    # The page itself, directly, for the admins who check it.
    filt += [f"-A {c} -s {a} -p tcp -m tcp --dport {page} -j ACCEPT" for a in allow_https]
    filt.append(f"-A {c} -p tcp {reset}")
    return {"filter": filt, "nat": nat}


def reachable_ports(mode: str, vars: dict, client: str | None = None) -> set[int]:
    """The TCP ports of an app node that `client` (an address; None: the public) reaches in
    `mode`, by the inventory: what `render` lets through, seen from outside.

    >>> sorted(reachable_ports("maintenance", vars))           # 8443: the maintenance page
    [22, 8443]
    >>> sorted(reachable_ports("public", vars, "198.51.100.51"))   # on allow_8443 and allow_9000
    [22, 8089, 8443, 9000]
    """
    if mode not in MODES:
        raise ActionError(f"firewall mode {mode!r} unknown: use one of {', '.join(MODES)}")
    ports = {int(vars["ssh_port"]), int(vars["https_port"])}
    if client is None:
        return ports

    def on(var: str) -> bool:
        return any(
            ipaddress.ip_address(client) in ipaddress.ip_network(net)
            for net in allow_list(vars.get(var), var)
        )

    if on("allow_8443"):
        ports.add(int(vars["maintenance_port"]))
    if on("allow_9000"):
        ports.add(int(vars["jmx_port"]))
    return ports


def hooks(vars: dict) -> dict[str, tuple[str, str]]:
    """Per table: the built-in chain and the rule that jumps into our chain."""
    https = int(vars["https_port"])
    return {
        "filter": ("INPUT", f"-A INPUT -j {FILTER_CHAIN}"),
        "nat": ("PREROUTING", f"-A PREROUTING -p tcp -m tcp --dport {https} -j {NAT_CHAIN}"),
    }


def restore_text(table: str, rules: list[str], hook: str | None) -> str:
    """An `iptables-restore --noflush` input for one table: declaring our chain flushes it."""
    chain = FILTER_CHAIN if table == "filter" else NAT_CHAIN
    lines = [f"*{table}", f":{chain} - [0:0]", *rules]
    if hook:
        # Inserted first in the built-in chain, so that nobody's earlier ACCEPT bypasses us.
        lines.append(hook.replace("-A ", "-I ", 1).replace(" -", " 1 -", 1))
    return "\n".join([*lines, "COMMIT", ""])


def families(host: Host) -> tuple[int, ...]:
    """The address families whose firewall the node has: 4, and 6 where ip6tables is there.

    A node with an IPv6 address beyond link-local and loopback (global or ULA) and no ip6tables
    is an error: the iptables rules alone would leave it open over IPv6."""
    # The address is read only when it matters: every node with ip6tables answers the same.
    out = host.probe(
        "if command -v ip6tables-restore >/dev/null && test -e /proc/net/if_inet6; then "
        "echo ip6tables; else ip -6 -o addr show scope global 2>/dev/null | head -1; fi",
        check=False,
        timeout=20,
    ).stdout.splitlines()
    if out[:1] == ["ip6tables"]:
        return (4, 6)
    if any(line.strip() for line in out):
        raise ActionError(
            f"{host}: has IPv6 addresses and no ip6tables, so the firewall would leave it open "
            "over IPv6: install ip6tables (Debian: iptables) or remove its IPv6 addresses"
        )
    return (4,)


def current(host: Host, vars: dict, family: int = 4) -> dict[str, dict]:
    """What the host has now in one family: our chains' rules and whether the hooks exist, per
    table. One command for every table (each listing after a `*table` line, as iptables-save
    marks them): a round trip per family, not per table."""
    tool = TOOLS[family]
    listing = host.probe(
        " && ".join(f"echo '*{table}' && {tool} -w 5 -t {table} -S" for table in hooks(vars)),
        timeout=20,
    ).stdout.splitlines()
    tables: dict[str, list[str]] = {}
    lines: list[str] = []
    for line in listing:
        if line.startswith("*"):
            lines = tables[line[1:]] = []
        else:
            lines.append(line)
    state = {}
    for table, (_builtin, hook) in hooks(vars).items():
        chain = FILTER_CHAIN if table == "filter" else NAT_CHAIN
        out = tables.get(table, [])
        state[table] = {
            "exists": f"-N {chain}" in out,
            "rules": [line for line in out if line.startswith(f"-A {chain} ")],
            "hooked": out.count(hook),
        }
    return state


def apply(
    host: Host, mode: str, *, stamp: str | None = None, confirm_seconds: int = CONFIRM_SECONDS
) -> Outcome:
    """Put the node's firewall in `mode`; look first, and guard the change with a rollback.

    `stamp` names this change's files (default: `now_stamp()`): one stamp for every node of a
    change gives the nodes the same commands but for their folder."""
    vars = host.vars
    fams = families(host)
    wanted = {f: render(mode, vars, f) for f in fams}
    if rollback_armed(host):
        # A run that died between its change and the confirmation left the rollback armed: it
        # would undo, seconds from now, whatever is decided here. This change guards itself.
        _cancel(host, f"{state_dir(host)}/rollback.pid", check=False)
        did = "would cancel" if host.check_mode else "cancelled"
        transcript.note(f"{host}: {did} the rollback armed by a run that never confirmed it")
    # Per family, one restore input for every table that differs, filter first: 9000 is closed
    # before the redirect starts (iptables-restore commits the tables in the order given).
    scripts: dict[int, str] = {}
    changed: list[str] = []
    for family in fams:
        now = current(host, vars, family)
        texts = []
        for table, rules in wanted[family].items():
            have = now[table]
            if have["exists"] and have["rules"] == rules and have["hooked"] == 1:
                continue
            if have["hooked"] > 1:
                raise ActionError(
                    f"{host}: {have['hooked']} jumps to our {TOOLS[family]} {table} chain: "
                    "delete the extra ones"
                )
            hook = None if have["hooked"] else hooks(vars)[table][1]
            texts.append(restore_text(table, rules, hook))
            changed.append(f"{TOOLS[family]} {table}")
        if texts:
            scripts[family] = "".join(texts)
    if not scripts:
        return Outcome(host, f"firewall {mode}", False, "rules already in place")

    stamp = path_part(host, stamp or now_stamp(), "firewall stamp")
    sdir = state_dir(host)
    # Every family is saved, changed or not: the one rollback puts the whole node back. One
    # command makes the folder, saves every family and prints their digests; the commands run
    # in the folder and name its files only (the record shows each command whole).
    saved = {f: f"{TOOLS[f]}-before-{mode}-{stamp}.rules" for f in fams}
    digests = run_in(
        host,
        [STATE_DIR, sdir],
        f"{private_folder(STATE_DIR)}; {private_folder(sdir)}; cd {q(sdir)} && "
        + " && ".join(_save_command(name, family) for family, name in saved.items())
        + f" && sha256sum {' '.join(q(name) for name in saved.values())}",
    ).stdout.splitlines()
    # sha256sum answers in the order asked (a dry run: nothing); `\` marks an escaped name.
    backup = {}
    for i, name in enumerate(saved.values()):
        line = digests[i] if i < len(digests) else ""
        backup[name] = line.split()[0].lstrip("\\") if line.strip() else ""
    transcript.artifact("firewall-backup", f"{host}:{sdir}", sha256=backup)

    files = {f: f"smartsite-{mode}-{TOOLS[f]}-{stamp}.rules" for f in scripts}
    for family, name in files.items():
        put_file(host, f"{sdir}/{name}", scripts[family], mode="0600")
        # The rules themselves, not only their digest: what the post-mortem reads (redacted
        # like every journal line; they name addresses and ports, never a secret).
        transcript.artifact(
            "firewall-rules",
            f"{host}:{sdir}/{name}",
            sha256=sha256(scripts[family]),
            content=scripts[family],
        )
    host.run(
        f"cd {q(sdir)} && "
        + " && ".join(
            f"{TOOLS[f]}-restore -w 5 --test --noflush < {q(n)}" for f, n in files.items()
        ),
        timeout=20,
    )
    _guarded(host, saved, list(files.items()), confirm_seconds)
    # Check mode ran none of the above: the words say what a real run would do.
    kept = "would save" if host.check_mode else "saved"
    return Outcome(
        host,
        f"firewall {mode}",
        True,
        f"{', '.join(changed)}; {kept} the rules before in {sdir}",
    )


def now_stamp() -> str:
    """The time now, as the firewall's files are named (UTC, to the second)."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


def save(host: Host, path: str, family: int = 4) -> None:
    """The whole ruleset of one family to `path` on the host, restorable with
    `iptables-restore < path` (ip6tables-restore for family 6)."""
    host.run(_save_command(path, family))


def _save_command(path: str, family: int = 4) -> str:
    """Shell: `save`'s command. iptables-save omits a table nobody has used yet (nf_tables),
    and prints nothing at all on a host without rules: an empty section per table makes a
    restore empty those tables again instead of leaving our rules in them."""
    return (
        f'f={q(path)} && {TOOLS[family]}-save > "$f" && for t in filter nat; do '
        f'grep -q "^\\*$t" "$f" || printf \'*%s\\nCOMMIT\\n\' $t >> "$f"; done'
    )


def _guarded(
    host: Host, saved: dict[int, str], files: list[tuple[int, str]], confirm_seconds: int
) -> None:
    """Apply `files` (family, path) with one dead man's switch for every family, then confirm
    from the operator's side. Paths are absolute or in the host's state folder (`state_dir`),
    where every command here runs."""
    folder = state_dir(host)
    inside = f"cd {q(folder)} || exit 1; "
    pidfile = "rollback.pid"
    restore_all = "; ".join(f"{TOOLS[f]}-restore -w 5 < {q(path)}" for f, path in saved.items())
    rollback = f"echo $$ > {pidfile}; sleep {int(confirm_seconds)}; {restore_all}; rm -f {pidfile}"
    # setsid: the job outlives this SSH session and the `timeout` wrapper around it; it keeps
    # the folder as its working directory.
    host.run(
        f"{inside}rm -f {pidfile}; setsid -f sh -c {q(rollback)} </dev/null >/dev/null 2>&1; "
        # Armed within a second (its pid written), looked for every 10 ms.
        f"for i in $(seq 100); do test -s {pidfile} && exit 0; sleep 0.01; done; "
        "exit 1"
    )
    try:
        host.run(
            inside
            + " && ".join(f"{TOOLS[f]}-restore -w 5 --noflush < {q(path)}" for f, path in files),
            timeout=20,
        )
    except Exception:
        host.run(inside + restore_all, timeout=20, check=False)
        _cancel(host, f"{folder}/{pidfile}", check=False)
        raise
    if host.check_mode:
        return
    # Confirmation = a new TCP connection to sshd through the new rules, then a command over SSH.
    if not _tcp_open(host.address, int(host.vars["ssh_port"]), timeout=5):
        raise ActionError(
            f"{host}: ssh port unreachable after the change; the host restores "
            f"{', '.join(posixpath.join(folder, p) for p in saved.values())} "
            f"within {confirm_seconds}s by itself"
        )
    _cancel(host, f"{folder}/{pidfile}")


def _cancel(host: Host, pidfile: str, check: bool = True) -> None:
    """Stop the armed rollback. The job leads its own process group (setsid): kill the group, so
    its `sleep` goes too. (dash's kill takes `-PGID`, not `-- -PGID`.)"""
    out = host.run(
        f'p=$(cat {q(pidfile)} 2>/dev/null); [ -n "$p" ] || exit 3; kill -TERM -"$p" || exit 4; '
        f"rm -f {q(pidfile)}",
        check=False,
    )
    if check and out.rc and not out.dry_run:
        raise ActionError(
            f"{host}: the firewall rollback had already run (rc {out.rc}): the change is undone; "
            "check the operator's connection and apply again"
        )


def _tcp_open(address: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


@verification
def assert_mode(host: Host, mode: str) -> None:
    """Our chains on the host hold exactly the rules of `mode` in every family it has, and are
    hooked once."""
    for family in families(host):
        for table, rules in render(mode, host.vars, family).items():
            present = host.testinfra.iptables.rules(table, version=family)
            chain = FILTER_CHAIN if table == "filter" else NAT_CHAIN
            hook = hooks(host.vars)[table][1]
            tool = TOOLS[family]
            assert present.count(hook) == 1, f"{host}: {tool} {table} chain not hooked once"
            ours = [rule for rule in present if rule.startswith(f"-A {chain} ")]
            assert ours == rules, f"{host}: {tool} {table} rules differ from {mode} mode: {ours}"
    assert not rollback_armed(host), f"{host}: a firewall rollback is still armed"


def rollback_armed(host: Host) -> bool:
    return host.probe(f"test -s {q(state_dir(host) + '/rollback.pid')}", check=False).ok
