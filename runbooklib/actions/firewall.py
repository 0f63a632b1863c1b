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
"""

from __future__ import annotations

import ipaddress
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
    """The addresses of an inventory allow-list (`[{address: ..., name: ...}]`), validated.

    >>> allow_list([{"address": "169.237.11.246", "name": "thomas"}], "allow_8443")
    ['169.237.11.246/32']
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
                f"inventory: `{var}[{i}]` address {entry['address']!r} is not an IPv4 address "
                "or network: fix it in the inventory"
            ) from None
        if net.version != 4:
            raise AllowListError(
                f"inventory: `{var}[{i}]` {net} is not IPv4 (iptables, not ip6tables)"
            )
        if net.prefixlen == 0:
            raise AllowListError(f"inventory: `{var}[{i}]` {net} would allow everyone: name hosts")
        if str(net) not in out:
            out.append(str(net))
    return out


def render(mode: str, vars: dict) -> dict[str, list[str]]:
    """The rules of our chains for `mode`, per table, in `iptables -S` form (so they compare
    with what the host reports).

    The filter chain knows every port the inventory declares (ssh, https, jmx, maintenance) and
    refuses every other TCP connection from outside, in both modes: a listener nobody declared
    (a JVM's stray RMI port, a debugging server) is not reachable even if it binds 0.0.0.0.
    """
    if mode not in MODES:
        raise ActionError(f"firewall mode {mode!r} unknown: use one of {', '.join(MODES)}")
    ssh, https = int(vars["ssh_port"]), int(vars["https_port"])
    jmx, page = int(vars["jmx_port"]), int(vars["maintenance_port"])
    allow_https = allow_list(vars.get("allow_8443"), "allow_8443")
    allow_jmx = allow_list(vars.get("allow_9000"), "allow_9000")
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


def current(host: Host, vars: dict) -> dict[str, dict]:
    """What the host has now: our chains' rules and whether the hooks exist, per table."""
    state = {}
    for table, (_builtin, hook) in hooks(vars).items():
        chain = FILTER_CHAIN if table == "filter" else NAT_CHAIN
        out = host.probe(f"iptables -w 5 -t {table} -S", timeout=20).stdout.splitlines()
        state[table] = {
            "exists": f"-N {chain}" in out,
            "rules": [line for line in out if line.startswith(f"-A {chain} ")],
            "hooked": out.count(hook),
        }
    return state


def apply(host: Host, mode: str, *, confirm_seconds: int = CONFIRM_SECONDS) -> Outcome:
    """Put the node's firewall in `mode`; look first, and guard the change with a rollback."""
    vars = host.vars
    wanted = render(mode, vars)
    if rollback_armed(host):
        # A run that died between its change and the confirmation left the rollback armed: it
        # would undo, seconds from now, whatever is decided here. This change guards itself.
        _cancel(host, f"{state_dir(host)}/rollback.pid", check=False)
        did = "would cancel" if host.check_mode else "cancelled"
        transcript.note(f"{host}: {did} the rollback armed by a run that never confirmed it")
    now = current(host, vars)
    scripts = {}
    for table, rules in wanted.items():
        have = now[table]
        if have["exists"] and have["rules"] == rules and have["hooked"] == 1:
            continue
        if have["hooked"] > 1:
            raise ActionError(
                f"{host}: {have['hooked']} jumps to our {table} chain: delete the extra ones"
            )
        hook = None if have["hooked"] else hooks(vars)[table][1]
        scripts[table] = restore_text(table, rules, hook)
    if not scripts:
        return Outcome(host, f"firewall {mode}", False, "rules already in place")

    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    sdir = state_dir(host)
    saved = f"{sdir}/iptables-before-{mode}-{stamp}.rules"
    run_in(host, [STATE_DIR, sdir], f"{private_folder(STATE_DIR)}; {private_folder(sdir)}")
    save(host, saved)
    saved_sum = host.run(f"sha256sum {q(saved)}").stdout.split()[0:1]
    transcript.artifact("firewall-backup", f"{host}:{saved}", sha256=(saved_sum or [""])[0])

    for table in ("filter", "nat"):  # filter first: 9000 is closed before the redirect starts
        if table not in scripts:
            continue
        path = f"{sdir}/smartsite-{mode}-{table}-{stamp}.rules"
        put_file(host, path, scripts[table], mode="0600")
        host.run(f"iptables-restore -w 5 --test --noflush < {q(path)}", timeout=20)
        # The rules themselves, not only their digest: what the post-mortem reads (redacted
        # like every journal line; they name addresses and ports, never a secret).
        transcript.artifact(
            "firewall-rules",
            f"{host}:{path}",
            sha256=sha256(scripts[table]),
            content=scripts[table],
        )
    _guarded(
        host,
        saved,
        [f"{sdir}/smartsite-{mode}-{t}-{stamp}.rules" for t in scripts],
        confirm_seconds,
    )
    # Check mode ran none of the above: the words say what a real run would do.
    kept = f"would save {saved}" if host.check_mode else f"saved {saved}"
    return Outcome(host, f"firewall {mode}", True, f"tables {', '.join(scripts)}; {kept}")


def save(host: Host, path: str) -> None:
    """The whole ruleset to `path` on the host, restorable with `iptables-restore < path`.

    iptables-save omits a table nobody has used yet (nf_tables), and prints nothing at all on a
    host without rules: an empty section per table makes a restore empty those tables again
    instead of leaving our rules in them.
    """
    host.run(
        f"iptables-save > {q(path)} && for t in filter nat; do "
        f"grep -q \"^\\*$t\" {q(path)} || printf '*%s\\nCOMMIT\\n' $t >> {q(path)}; done"
    )


def _guarded(host: Host, saved: str, files: list[str], confirm_seconds: int) -> None:
    """Apply `files` with a dead man's switch, then confirm from the operator's side."""
    pidfile = f"{state_dir(host)}/rollback.pid"
    rollback = (
        f"echo $$ > {q(pidfile)}; sleep {int(confirm_seconds)}; "
        f"iptables-restore -w 5 < {q(saved)}; rm -f {q(pidfile)}"
    )
    # setsid: the job outlives this SSH session and the `timeout` wrapper around it.
    host.run(
        f"rm -f {q(pidfile)}; setsid -f sh -c {q(rollback)} </dev/null >/dev/null 2>&1; "
        f"for i in 1 2 3 4 5 6 7 8 9 10; do test -s {q(pidfile)} && exit 0; sleep 0.1; done; "
        "exit 1"
    )
    try:
        host.run(
            " && ".join(f"iptables-restore -w 5 --noflush < {q(f)}" for f in files), timeout=20
        )
    except Exception:
        host.run(f"iptables-restore -w 5 < {q(saved)}", timeout=20, check=False)
        _cancel(host, pidfile, check=False)
        raise
    if host.check_mode:
        return
    # Confirmation = a new TCP connection to sshd through the new rules, then a command over SSH.
    if not _tcp_open(host.address, int(host.vars["ssh_port"]), timeout=5):
        raise ActionError(
            f"{host}: ssh port unreachable after the change; the host restores {saved} "
            f"within {confirm_seconds}s by itself"
        )
    _cancel(host, pidfile)


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
    """Our chains on the host hold exactly the rules of `mode`, and are hooked once."""
    for table, rules in render(mode, host.vars).items():
        present = host.testinfra.iptables.rules(table)
        chain = FILTER_CHAIN if table == "filter" else NAT_CHAIN
        hook = hooks(host.vars)[table][1]
        assert present.count(hook) == 1, f"{host}: {table} chain not hooked exactly once"
        ours = [rule for rule in present if rule.startswith(f"-A {chain} ")]
        assert ours == rules, f"{host}: {table} rules differ from {mode} mode: {ours}"
    assert not rollback_armed(host), f"{host}: a firewall rollback is still armed"


def rollback_armed(host: Host) -> bool:
    return host.probe(f"test -s {q(state_dir(host) + '/rollback.pid')}", check=False).ok
