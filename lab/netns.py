"""Hosts as namespaces: the bridge, one network namespace per host, and an anchor process in each.

The anchor (`sleep infinity`, renamed `smlab-anchor-<host>`) holds the host's private mount and UTS
namespaces, so a host stays the same host while its sshd is down (a fault). Everything started in a
host enters the anchor's namespaces with nsenter. Processes are found and ended by PID through their
network namespace, never by name.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import select
import shlex
import signal
import subprocess
import time
from pathlib import Path

from lab.config import (
    BACKUP_DIR,
    BACKUP_DISK_MB,
    BRIDGE,
    NS_PREFIX,
    PREFIX6,
    Lab,
    LabError,
    LabHost,
)

ANCHOR = "smlab-anchor-"
BRIDGE_MAC = "02:5a:6c:61:62:01"  # locally administered


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def check_subnet(lab: Lab) -> None:
    """Refuse a subnet overlapping an address or route already on the machine (our bridge aside)."""
    addrs = json.loads(ip("-j", "addr").stdout)
    for link in addrs:
        if link.get("ifname") == BRIDGE:
            continue
        for a in link.get("addr_info", []):
            if a.get("family") != "inet":
                continue
            net = ipaddress.ip_interface(f"{a['local']}/{a['prefixlen']}").network
            if net.overlaps(lab.subnet):
                raise LabError(
                    f"lab subnet {lab.subnet} overlaps {net} on {link['ifname']}: "
                    "choose another with --subnet (or LAB_SUBNET)"
                )
    for route in json.loads(ip("-j", "-4", "route", "show", "table", "all").stdout):
        dst, dev = route.get("dst", ""), route.get("dev")
        if dst == "default" or dev == BRIDGE or route.get("type") in ("broadcast",):
            continue
        try:
            net = ipaddress.ip_network(dst, strict=False)
        except ValueError:
            continue
        if net.overlaps(lab.subnet):
            raise LabError(
                f"lab subnet {lab.subnet} overlaps route {dst} via {dev}: "
                "choose another with --subnet (or LAB_SUBNET)"
            )


def check_prefix6(lab: Lab) -> None:
    """With IPv6, refuse a prefix overlapping an IPv6 address or route already on the machine."""
    if not lab.ipv6:
        return
    fix = "run the lab IPv4 only (--no-ipv6, LAB_IPV6=0), or free that prefix"
    for link in json.loads(ip("-j", "-6", "addr").stdout):
        if link.get("ifname") == BRIDGE:
            continue
        for a in link.get("addr_info", []):
            net = ipaddress.ip_interface(f"{a['local']}/{a['prefixlen']}").network
            if net.overlaps(PREFIX6):
                raise LabError(f"lab prefix {PREFIX6} overlaps {net} on {link['ifname']}: {fix}")
    for route in json.loads(ip("-j", "-6", "route", "show", "table", "all").stdout):
        dst, dev = route.get("dst", ""), route.get("dev")
        if dst == "default" or dev == BRIDGE:
            continue
        try:
            net = ipaddress.ip_network(dst, strict=False)
        except ValueError:
            continue
        if net.overlaps(PREFIX6):
            raise LabError(f"lab prefix {PREFIX6} overlaps route {dst} via {dev}: {fix}")


def _sysctl(path: str, value: str) -> None:
    Path(f"/proc/sys/net/ipv6/conf/{path}").write_text(f"{value}\n")


# --- processes, found by namespace --------------------------------------------------------------


def _ns_inode(path: str) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


ROOT_NET = _ns_inode("/proc/1/ns/net")


def cmdline(pid: int) -> list[str]:
    """argv of a process ([""] when it is gone or a kernel thread)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        raw = ""
    return raw.rstrip("\0").split("\0")


def pids_in_net(inode: int) -> list[int]:
    """Every process whose network namespace is `inode` (never the machine's own)."""
    if inode is None or inode == ROOT_NET:
        return []
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _ns_inode(f"/proc/{entry}/ns/net") == inode:
            found.append(int(entry))
    return found


def anchors() -> dict[str, list[int]]:
    """Anchor PIDs by host name, including those of stale labs (namespace deleted by hand)."""
    found: dict[str, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            argv0 = cmdline(int(entry))[0]
            if argv0.startswith(ANCHOR):
                found.setdefault(argv0[len(ANCHOR) :], []).append(int(entry))
    return found


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def end_pids(
    pids: list[int], bound: float = 10, signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGKILL)
) -> list[int]:
    """Each signal in turn (SIGTERM, then SIGKILL), waiting up to `bound` seconds after each for
    the processes to end; the PIDs still running at the end. Through pidfds taken first: a PID
    that a new process took after ours ended (pid_max may be 32768) is never signalled."""
    fds: dict[int, int] = {}
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            fds[os.pidfd_open(pid)] = pid
    try:
        for sig in signals:
            for fd in fds:
                with contextlib.suppress(ProcessLookupError):
                    signal.pidfd_send_signal(fd, sig)
            deadline = time.monotonic() + bound
            running = list(fds)
            while running and (left := deadline - time.monotonic()) > 0:
                ended, _, _ = select.select(running, [], [], left)  # readable once it ended
                running = [fd for fd in running if fd not in ended]
            if not running:
                return []
        return [fds[fd] for fd in running]
    finally:
        for fd in fds:
            os.close(fd)


def ns_exists(host: LabHost) -> bool:
    return Path(f"/run/netns/{host.ns}").exists()


def anchor_pid(host: LabHost) -> int | None:
    """The host's anchor, if it is alive and inside the host's named network namespace."""
    want = _ns_inode(f"/run/netns/{host.ns}")
    for pid in anchors().get(host.name, []):
        if want and _ns_inode(f"/proc/{pid}/ns/net") == want and alive(pid):
            return pid
    return None


def destroy_hosts(hosts: list[LabHost]) -> None:
    """End every process of the hosts (their namespaces' and any stale anchor's), delete them."""
    found = anchors()
    inodes = set()
    for host in hosts:
        inodes.add(_ns_inode(f"/run/netns/{host.ns}"))
        inodes |= {_ns_inode(f"/proc/{p}/ns/net") for p in found.get(host.name, [])}
    end_pids([p for inode in inodes if inode for p in pids_in_net(inode)])
    for host in hosts:
        if ns_exists(host):
            ip("netns", "del", host.ns, check=False)
        ip("link", "del", host.veth, check=False)


def destroy_host(host: LabHost) -> None:
    destroy_hosts([host])


def namespaces() -> list[str]:
    """Every network namespace named like ours (smlab-*)."""
    names = [line.split()[0] for line in ip("netns", "list").stdout.splitlines() if line.strip()]
    return [n for n in names if n.startswith(NS_PREFIX)]


def stale_namespaces(lab: Lab) -> list[str]:
    """Namespaces named like ours that the lab asked for does not have (e.g. a larger old lab)."""
    ours = {h.ns for h in lab.hosts}
    return [n for n in namespaces() if n not in ours]


# --- building -----------------------------------------------------------------------------------


def ensure_bridge(lab: Lab) -> None:
    if ip("link", "show", BRIDGE, check=False).returncode != 0:
        ip("link", "add", BRIDGE, "type", "bridge")
    # A fixed MAC: by default a bridge takes the lowest of its ports' MACs, so re-making one host
    # would change the operator's MAC and leave every other host's ARP entry for it stale.
    ip("link", "set", BRIDGE, "address", BRIDGE_MAC)
    # Ours only: the root namespace's other links, routes and forwarding stay as they are. No
    # router advertisement is taken on the bridge: nothing from the lab routes the machine.
    _sysctl(f"{BRIDGE}/accept_ra", "0")
    _sysctl(f"{BRIDGE}/disable_ipv6", "0" if lab.ipv6 else "1")
    ip("addr", "flush", "dev", BRIDGE)
    ip("addr", "add", f"{lab.operator}/{lab.subnet.prefixlen}", "dev", BRIDGE)
    if lab.ipv6:
        # nodad: usable at once (duplicate detection would hold it tentative for a second or two).
        ip("addr", "add", f"{lab.operator6}/{PREFIX6.prefixlen}", "dev", BRIDGE, "nodad")
    ip("link", "set", BRIDGE, "up")


def _wait_link_gone(name: str, bound: float = 5) -> None:
    # After `ip netns del` the root-side veth end disappears asynchronously (lab-facts.md).
    deadline = time.monotonic() + bound
    while ip("link", "show", name, check=False).returncode == 0:
        ip("link", "del", name, check=False)
        if time.monotonic() > deadline:
            raise LabError(f"link {name} does not go away: delete it with `ip link del {name}`")
        time.sleep(0.1)


def _setup_script(host: LabHost, mounts: list[tuple[str, str]]) -> str:
    """The shell run in the new mount+UTS namespace before it becomes the anchor."""
    lines = ["set -e", "mount -t tmpfs -o mode=755,size=16m tmpfs /run", "mkdir -p /run/sshd"]
    for src, dst in mounts:
        # --rbind: a folder bound into another one (see hosts.mounts) comes along.
        lines.append(f"mount --rbind {shlex.quote(src)} {shlex.quote(dst)}")
    if host.role == "db":
        lines += [
            "mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld",
            f"mount -t tmpfs -o size={BACKUP_DISK_MB}m,mode=750 tmpfs {BACKUP_DIR}",
        ]
    lines += [f"hostname {host.name}", f"exec -a {ANCHOR}{host.name} sleep infinity"]
    return "\n".join(lines)


def create_host(lab: Lab, host: LabHost, mounts: list[tuple[str, str]]) -> int:
    """Namespace, veth on the bridge, address, then the anchor with the host's private mounts."""
    _wait_link_gone(host.veth)
    ip("netns", "add", host.ns)
    # The host's MAC follows from its address, so a host made again keeps it and the ARP caches of
    # the operator and the other hosts stay right (else it is unreachable until they expire).
    mac = "02:5a:6c:" + ":".join(f"{b:02x}" for b in ipaddress.ip_address(host.address).packed[1:])
    ip(
        "link",
        "add",
        host.veth,
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "address",
        mac,
        "netns",
        host.ns,
    )
    ip("link", "set", host.veth, "master", BRIDGE, "up")
    set_families(host)
    prefix = lab.subnet.prefixlen
    for args in (
        ["addr", "add", f"{host.address}/{prefix}", "dev", "eth0"],
        ["link", "set", "eth0", "up"],
        ["link", "set", "lo", "up"],
    ):
        ip("-n", host.ns, *args)
    log = open(host.dir / "logs" / "anchor.log", "ab")  # noqa: SIM115 (handed to the child)
    script = _setup_script(host, mounts)
    argv = [
        "ip",
        "netns",
        "exec",
        host.ns,
        "unshare",
        "--mount",
        "--uts",
        "--propagation",
        "private",
    ]
    subprocess.Popen(
        [*argv, "bash", "-c", script],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    log.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        pid = anchor_pid(host)
        if pid and _hostname_of(pid) == host.name:
            return pid
        time.sleep(0.05)
    tail = (host.dir / "logs" / "anchor.log").read_text()[-300:].strip().replace("\n", " | ")
    raise LabError(f"{host.name}: namespace setup failed ({tail}); see {host.dir}/logs/anchor.log")


def set_families(host: LabHost) -> None:
    """IPv6 on the host as a campus network has it (its ULA address on eth0, link-local, no
    router), or off (IPv4 only); idempotent, so that `up` turns it either way on a running lab."""
    on = bool(host.address6)
    sysctls = [f"net.ipv6.conf.{i}.disable_ipv6={0 if on else 1}" for i in ("all", "default")]
    # No default route, no router advertisements taken, no forwarding: nothing is routed out.
    sysctls += [f"net.ipv6.conf.{i}.accept_ra=0" for i in ("all", "default", "eth0")]
    sysctls += ["net.ipv6.conf.all.forwarding=0"]
    subprocess.run(["ip", "netns", "exec", host.ns, "sysctl", "-q", "-w", *sysctls], check=True)
    if on:
        ip("-n", host.ns, "-6", "addr", "replace", f"{host.address6}/{PREFIX6.prefixlen}",
           "dev", "eth0", "nodad")  # fmt: skip


def _hostname_of(pid: int) -> str:
    out = subprocess.run(
        ["nsenter", "-t", str(pid), "-u", "hostname"], capture_output=True, text=True
    )
    return out.stdout.strip()


# --- running things inside a host ---------------------------------------------------------------


def enter(host: LabHost) -> list[str]:
    """The nsenter prefix that puts a command inside `host` (net, UTS and mount namespaces)."""
    pid = anchor_pid(host)
    if not pid:
        raise LabError(f"lab host {host.name} is not up: run `python -m lab up`")
    return ["nsenter", "-t", str(pid), "-n", "-u", "-m", "--wd=/"]


HOST_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LANG": "C.UTF-8",
}


def sh(host: LabHost, script: str, *, timeout: float = 120, check: bool = True, stdin=None):
    """Run a shell script inside the host, bounded; failing is a LabError with the output's tail."""
    try:
        out = subprocess.run(
            [*enter(host), "bash", "-c", script],
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            start_new_session=True,  # daemons it starts must not share our terminal's signals
            capture_output=True,
            text=True,
            timeout=timeout,
            env=HOST_ENV,
        )
    except subprocess.TimeoutExpired:
        raise LabError(f"{host.name}: `{script[:60]}` took over {timeout:g}s") from None
    if check and out.returncode != 0:
        tail = " | ".join((out.stderr or out.stdout).strip().splitlines()[-3:])
        raise LabError(f"{host.name}: `{script[:80]}` exited {out.returncode}: {tail}")
    return out


def spawn(host: LabHost, argv: list[str], log: Path, env: dict | None = None) -> int:
    """Start a long-running process inside the host, detached; returns its PID."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [*enter(host), *argv],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
            env={**HOST_ENV, **(env or {})},
        )
    return proc.pid


def in_host(host: LabHost, pid: int | None) -> bool:
    """Whether `pid` is alive and inside the host (so a recycled PID is never ended by mistake)."""
    want = _ns_inode(f"/run/netns/{host.ns}")
    return bool(pid) and alive(pid) and _ns_inode(f"/proc/{pid}/ns/net") == want


def host_pids(host: LabHost, needle: str) -> list[int]:
    """PIDs inside the host whose command line contains `needle`."""
    inode = _ns_inode(f"/run/netns/{host.ns}")
    return [p for p in pids_in_net(inode) if needle in " ".join(cmdline(p))] if inode else []
