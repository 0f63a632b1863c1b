"""up, down, status, reset: the lab's life cycle.

`up` is idempotent: a healthy host is kept, anything else about it (a namespace without its anchor,
an anchor whose namespace was deleted by hand, a stale lab of another size) is torn down and made
again. What is built once (CA, keys, database, svn repository, Tomcat instances) stays in the state
folder, so an `up` after `down` only starts things.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import yaml

from lab import database, faults, hosts, maintpage, netns, notify, pki, staging, svn, tomcat
from lab.config import (
    BRIDGE,
    DEFAULT_SUBNET,
    NS_PREFIX,
    PREFIX6,
    REPO,
    STAGING,
    STATE,
    Lab,
    LabError,
    LabHost,
    recorded,
)

TOOLS = STATE / "tools"
STAGING_DIR = STATE / "shared" / "afs" / STAGING.removeprefix("/afs/")


def say(text: str) -> None:
    print(text, flush=True)


def preflight(lab: Lab) -> None:
    """Everything that can refuse, before anything is touched."""
    if os.geteuid() != 0:
        raise LabError("the lab needs root: run it as root (e.g. sudo make lab-up)")
    for tool in (
        "ip",
        "nsenter",
        "unshare",
        "sshd",
        "mariadbd",
        "apache2",
        "nginx",
        "ngircd",
        "ant",
        "javac",
    ):
        if not shutil.which(tool, path="/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"):
            raise LabError(
                f"`{tool}` is missing: run `make lab-up` (installs lab/debian-packages.txt)"
            )
    netns.check_subnet(lab)
    netns.check_prefix6(lab)
    old = recorded()
    if old and old.subnet != lab.subnet and (STATE / "hosts").exists():
        raise LabError(
            f"the lab in {STATE} was built for subnet {old.subnet}: use --subnet {old.subnet}, "
            "or run `python -m lab down --purge` first"
        )


def write_staging(lab: Lab, db_password: str | None = None) -> None:
    """The 2.4.0 config in the AFS staging area (written afresh: `reset` drops backups too)."""
    shutil.rmtree(STAGING_DIR, ignore_errors=True)
    STAGING_DIR.mkdir(parents=True)
    password = db_password or pki.ensure_db_password()
    staging.write_config(STAGING_DIR, db_host="caje", db_password=password)


def _hosts_up(lab: Lab) -> None:
    netns.ensure_bridge(lab)
    for ns in netns.stale_namespaces(lab):
        netns.destroy_host(LabHost(ns.removeprefix(NS_PREFIX), "", "stale"))
    wanted = {h.name for h in lab.hosts}
    for name in set(netns.anchors()) - wanted:
        netns.destroy_host(LabHost(name, "", "stale"))
    restart_sshd = []
    for host in lab.hosts:
        if hosts.prepare(lab, host):
            restart_sshd.append(host)
        # Kept only if it is the anchor this state folder made: a lab whose state was removed
        # has mounts of deleted folders, and is made again.
        # So is a host made for another checkout: its private /tmp or /root may hide this one's
        # .venv, which the lab's services and the tests run inside the hosts.
        pid, made = netns.anchor_pid(host), hosts.read_pid(host.dir / "run" / "anchor.pid")
        mounts, made_with = hosts.mounts(host), host.dir / "run" / "mounts.json"
        same_mounts = (
            made_with.is_file() and [tuple(m) for m in json.loads(made_with.read_text())] == mounts
        )
        if (
            pid is None
            or pid != made
            or len(netns.anchors().get(host.name, [])) != 1
            or not same_mounts
        ):
            netns.destroy_host(host)
            pid = netns.create_host(lab, host, mounts)
            (host.dir / "run" / "anchor.pid").write_text(f"{pid}\n")
            made_with.write_text(json.dumps(mounts))
        else:
            netns.set_families(host)  # a kept host takes the families asked for
    for host in lab.hosts:
        if host in restart_sshd:  # its addresses changed (IPv6 on or off)
            hosts.stop_sshd(host)
        hosts.start_sshd(host)


def _app_node(lab: Lab, host: LabHost) -> None:
    tomcat.install_build_settings(host)
    tomcat.build(host)
    maintpage.start(host)


def _start_apps(lab: Lab, strict: bool) -> None:
    nodes = lab.role("app")
    offsets = {h.name: tomcat.start(h) for h in nodes}
    with ThreadPoolExecutor(len(nodes)) as pool:
        for f in [pool.submit(tomcat.wait_ready, h, offsets[h.name], strict) for h in nodes]:
            f.result()


BUILT = (
    STATE / "built.json"
)  # fingerprints of the sources (app, db, staging) the lab was built from


def fingerprints(rows: int) -> dict[str, str]:
    """One hash per source folder (lab/app, lab/db, lab/staging): a change means a rebuild."""
    found = {}
    for part in ("app", "db", "staging"):
        digest = hashlib.sha256(str(rows).encode() if part == "db" else b"")
        for path in sorted((REPO / "lab" / part).rglob("*")):
            # Sources only: build outputs (build/, *.class, caches) must not force rebuilds.
            skip = {"__pycache__", "build", "dist"} & set(path.parts) or path.suffix in (
                ".class",
                ".pyc",
            )
            if path.is_file() and not skip:
                digest.update(str(path.relative_to(REPO)).encode() + path.read_bytes())
        found[part] = digest.hexdigest()
    return found


def _forget_outdated(lab: Lab, wanted: dict[str, str]) -> None:
    """Drop what was built from sources that changed since (so that `up` builds it again)."""
    built = json.loads(BUILT.read_text()) if BUILT.exists() else {}
    changed = [part for part in wanted if built.get(part) != wanted[part]]
    if not built or not changed:
        return
    say(f"sources changed since the last build ({', '.join(changed)}): redoing those parts")
    if "db" in changed:
        caje = lab.host("caje")
        database.stop(caje)
        shutil.rmtree(caje.dir / "mysql-pristine", ignore_errors=True)
    if "staging" in changed:
        write_staging(lab)
    if "app" in changed:
        (lab.host("mware").dir / "svn" / ".imported").unlink(missing_ok=True)
    for node in lab.role("app") if {"app", "staging"} & set(changed) else []:
        tomcat.stop(node)
        if "app" in changed:
            shutil.rmtree(tomcat.pristine(node), ignore_errors=True)
        elif tomcat.built(node):  # a config change needs no build: the nodes take the new files
            tomcat.install_config(node)


def install_tools() -> None:
    """The vantage hosts' JMX client: its source, and its class compiled once, because
    `java JmxProbe.java` compiles it again at every run (6 s on a loaded 2-core machine, against
    under 1 s for `java -cp /var/lib/smartsite-lab/tools JmxProbe`)."""
    TOOLS.mkdir(exist_ok=True)
    source, copy = REPO / "lab" / "tools" / "JmxProbe.java", TOOLS / "JmxProbe.java"
    compiled = TOOLS / "JmxProbe.class"
    # By content, not mtime: checkouts of one source differ in mtime, and each `up` (every
    # `reset`) from another checkout would compile it again.
    if not compiled.exists() or not copy.exists() or copy.read_bytes() != source.read_bytes():
        shutil.copy2(source, copy)
        subprocess.run(["javac", "-d", str(TOOLS), str(copy)], check=True)


INVENTORY = STATE / "inventory.yml"


def inventory_for(lab: Lab, text: str) -> str:
    """The inventory of the lab as built (its subnet, its app nodes), from the text of
    inventories/lab.yml: the same groups, variables and vantage hosts, whatever their names, with
    the addresses moved to the lab's subnet and the `app` group's hosts replaced by the nodes
    that run."""
    default = ipaddress.ip_network(DEFAULT_SUBNET)
    old, new = str(default.network_address)[:-1], str(lab.subnet.network_address)[:-1]
    data = yaml.safe_load(text.replace(old, new))  # "198.51.100." -> the lab's own /24
    data["all"]["vars"]["lab_subnet"] = str(lab.subnet)
    group = data["all"]["children"]["app"]
    # Each node takes the variables of its like in lab.yml: the first node the head's, the others
    # those of the second node (or of the head, without `head`), with its own address.
    given = [dict(v or {}) for v in group["hosts"].values()]
    other = given[1] if len(given) > 1 else {k: v for k, v in given[0].items() if k != "head"}
    group["hosts"] = {
        h.name: {**(given[0] if i == 0 else other), "ansible_host": h.address}
        for i, h in enumerate(lab.role("app"))
    }
    if lab.ipv6:
        _add_ipv6(lab, data)
    head = "# Written by `python -m lab up` from inventories/lab.yml, for the lab as built.\n"
    return head + yaml.safe_dump(data, sort_keys=False)


def _add_ipv6(lab: Lab, data: dict) -> None:
    """Both families: each lab host's `ansible_host6`, and each `allow_8443` entry of a lab
    address once more with that host's IPv6 address (the same name), as a dual-stack admin would
    be. Not `allow_9000`: the lab's JMX listens on IPv4 only, so an IPv6 entry there is a port
    the go/no-go is told to find open and never can."""
    six = {h.address: h.address6 for h in lab.hosts} | {lab.operator: lab.operator6}

    def hosts_of(group: dict):
        yield from (group.get("hosts") or {}).values()
        for child in (group.get("children") or {}).values():
            yield from hosts_of(child or {})

    for host in hosts_of(data["all"]):
        if host is not None and host.get("ansible_host") in six:
            host["ansible_host6"] = six[host["ansible_host"]]
    for var in ("allow_8443",):
        entries = data["all"]["vars"].get(var) or []
        entries += [
            {"address": six[e["address"]], "name": e["name"]}
            for e in list(entries)
            if e.get("address") in six
        ]
    data["all"]["vars"]["lab_prefix6"] = str(PREFIX6)


def write_inventory(lab: Lab) -> None:
    """The lab's own inventory in the state folder; inventories/lab.yml is never changed."""
    INVENTORY.write_text(inventory_for(lab, (REPO / "inventories" / "lab.yml").read_text()))


def up(lab: Lab, rows: int = 20000, apps: bool = True) -> None:
    started = time.monotonic()
    preflight(lab)
    lab.save()
    pki.ensure_ca()
    pki.ensure_ssh(lab)
    pki.ensure_db_password()
    _hosts_up(lab)
    say(f"hosts: {len(lab.hosts)} namespaces with sshd ({time.monotonic() - started:.1f}s)")
    wanted = fingerprints(rows)
    _forget_outdated(lab, wanted)
    install_tools()
    if not (STAGING_DIR / "sakai.properties").exists():
        write_staging(lab)
    caje, mware = lab.host("caje"), lab.host("mware")
    with ThreadPoolExecutor(4) as pool:
        db = pool.submit(database.ensure, caje, rows)
        smtp = pool.submit(notify.start_smtp, lab.host("mail"))
        irc = pool.submit(notify.start_irc, lab.host("irc"))
        svn.ensure_repo(mware)
        svn.start(mware)
        with ThreadPoolExecutor(len(lab.role("app"))) as nodes:
            for f in [nodes.submit(_app_node, lab, h) for h in lab.role("app")]:
                f.result()
        for f in (db, smtp, irc):
            f.result()
    say(f"services: db, svn, mail, irc, maintenance pages ({time.monotonic() - started:.1f}s)")
    if apps:
        _start_apps(lab, strict=False)
    BUILT.write_text(json.dumps(wanted))
    write_inventory(lab)
    say(f"lab up in {time.monotonic() - started:.1f}s (state {STATE}; `python -m lab status`)")
    say(f"inventory of this lab ({len(lab.role('app'))} app nodes): {INVENTORY}")


def reset(lab: Lab, db_password: str | None = None) -> None:
    """Back to the pre-upgrade state, without rebuilding anything.

    With `db_password`, the sakai account, caje's /root/.my.cnf, the staging area and the nodes'
    sakai.properties use that password until the next plain `reset`, which puts the lab's own
    (secrets/db_password) back everywhere: the secrets test runs with a hard one."""
    started = time.monotonic()
    # First, so that no leftover rule hides a host from `up`.
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(open_firewall, [h for h in lab.hosts if netns.anchor_pid(h)]))
    up(lab, apps=False)  # quick when all is healthy; rebuilds what changed or broke
    for line in _clear_faults(lab):
        say(f"cleared fault {line}")
    write_staging(lab, db_password)
    with ThreadPoolExecutor(1 + len(lab.role("app"))) as pool:
        work = [pool.submit(_restore_db, lab.host("caje"), db_password)]
        work += [pool.submit(_restore_node, h) for h in lab.role("app")]
        for f in work:
            f.result()
    notify.clear()
    _start_apps(lab, strict=True)  # after the database: the app connects to it as it starts
    say(f"lab reset in {time.monotonic() - started:.1f}s: 2.4.0 on {len(lab.role('app'))} nodes")


def _restore_db(caje: LabHost, db_password: str | None) -> None:
    database.restore(caje)
    if db_password:
        database.set_password(caje, db_password)


def _restore_node(host: LabHost) -> None:
    tomcat.restore(host)
    # The config from the staging area just written, as at the first `up`: the same files as
    # the pristine copy's, unless the staging writer changed since (then the new ones).
    tomcat.install_config(host)
    maintpage.start(host)


def _clear_faults(lab: Lab) -> list[str]:
    try:
        return faults.clear(lab)
    except LabError as exc:
        say(f"warning: {exc}")
        faults.ACTIVE.unlink(missing_ok=True)
        return []


# Every table empty, with ACCEPT policies: `iptables-restore` replaces a whole table at once,
# so one call per family does what 16 calls of `iptables -F/-X/-P` did.
OPEN_RULES = "".join(
    f"*{table}\n" + "".join(f":{chain} ACCEPT [0:0]\n" for chain in chains) + "COMMIT\n"
    for table, chains in (
        ("filter", ("INPUT", "FORWARD", "OUTPUT")),
        ("nat", ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING")),
        ("mangle", ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING")),
        ("raw", ("PREROUTING", "OUTPUT")),
    )
)


def open_firewall(host: LabHost) -> None:
    """No rules at all inside the host (the runbook's maintenance firewall is its own business)."""
    rules = f"<<'EOF'\n{OPEN_RULES}EOF\n"
    netns.sh(host, f"iptables-restore -w {rules}ip6tables-restore -w {rules}")


def down(purge: bool = False) -> list[str]:
    """Stop everything of the lab; with `purge`, also forget what was built (the state folder)."""
    lab = recorded()
    if lab:  # faults leave marks that outlive processes (e.g. the startup-error file)
        _clear_faults(lab)
    if lab and pki.SSH_CONFIG.exists():
        for h in lab.hosts:  # end our ssh ControlMasters to the hosts
            subprocess.run(
                ["ssh", "-F", str(pki.SSH_CONFIG), "-O", "exit", h.address],
                capture_output=True,
                timeout=10,
            )
    names = {h.name for h in lab.hosts} if lab else set()
    names |= set(netns.anchors())
    names |= {ns.removeprefix(NS_PREFIX) for ns in netns.namespaces()}
    netns.destroy_hosts([LabHost(name, "", "any") for name in sorted(names)])
    if netns.ip("link", "show", BRIDGE, check=False).returncode == 0:
        netns.ip("link", "del", BRIDGE)
    removed = hosts.remove_mountpoints()
    if purge:
        shutil.rmtree(STATE, ignore_errors=True)
    return removed


def leftovers() -> list[str]:
    """What of the lab still exists on the machine (empty after `down`)."""
    left = [f"namespace {n}" for n in netns.namespaces()]
    left += [f"anchor of {n} (pids {p})" for n, p in netns.anchors().items()]
    links = [link["ifname"] for link in json.loads(netns.ip("-j", "link").stdout)]
    left += [f"link {n}" for n in links if n.startswith(("smv-", BRIDGE))]
    left += [f"folder {p}" for p in ("/ucd", "/afs") if os.path.exists(f"{p}/{hosts.MARK}")]
    return left
