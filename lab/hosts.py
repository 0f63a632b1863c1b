"""One lab host: its folders, private mounts, /etc/hosts, and its own sshd.

Folders under STATE/hosts/<host>/ appear at production paths inside the host:
    root/ -> /root     tmp/ -> /tmp     hosts -> /etc/hosts    passwd, group (app nodes)
    ucd/  -> /ucd      (app nodes)      STATE/shared/afs -> /afs (app nodes, shared)
    mysql/ -> /var/lib/mysql, var-backups/ -> /var/backups (caje; /var/backups/sakai is a tmpfs)
/ucd and /afs do not exist on the machine; the lab makes empty mountpoints and removes them on down.
"""

from __future__ import annotations

import shutil
import signal
import socket
import sys
import time
from pathlib import Path

from lab import account, netns, pki
from lab.config import REPO, STATE, Lab, LabError, LabHost

AFS = STATE / "shared" / "afs"


# Hosts get a private /root and /tmp. The lab's own services run `.venv/bin/python` inside them,
# so the interpreter (pyenv keeps it under /root) and this checkout (CI may clone it under /tmp)
# are bound into the private folders first, at their own paths.
PRIVATE = ("/root", "/tmp")
KEEP_VISIBLE = sorted(
    {p for p in (sys.base_prefix, str(REPO)) for base in PRIVATE if p.startswith(base + "/")}
)


def mounts(host: LabHost) -> list[tuple[str, str]]:
    d = host.dir
    pairs = []
    for path in KEEP_VISIBLE:
        keep = d / path.lstrip("/")
        keep.mkdir(parents=True, exist_ok=True)
        pairs.append((path, str(keep)))
    pairs += [
        (str(d / "root"), "/root"),
        (str(d / "tmp"), "/tmp"),
        (str(d / "hosts"), "/etc/hosts"),
    ]
    if host.role == "app":
        pairs += [(str(d / "ucd"), "/ucd"), (str(AFS), "/afs")]
        # Tomcat's service account (lab/account.py), never in the machine's own files.
        pairs += [(str(d / "passwd"), "/etc/passwd"), (str(d / "group"), "/etc/group")]
    if host.role == "db":
        pairs += [(str(d / "mysql"), "/var/lib/mysql"), (str(d / "var-backups"), "/var/backups")]
    return pairs


MARK = (
    ".smartsite-lab-mountpoint"  # inside a folder the lab made (hidden by the mount in the hosts)
)


def _mountpoint(path: str) -> None:
    """Make an empty root-filesystem folder that a private mount needs, marked as the lab's."""
    p = Path(path)
    if not p.exists():
        p.mkdir()
        (p / MARK).touch()


def remove_mountpoints() -> list[str]:
    """rmdir the folders the lab made: only those holding nothing but the lab's mark."""
    removed = []
    for path in ("/ucd", "/afs"):
        p = Path(path)
        if p.is_dir() and [c.name for c in p.iterdir()] == [MARK]:
            (p / MARK).unlink()
            p.rmdir()
            removed.append(path)
    return removed


def prepare(lab: Lab, host: LabHost) -> bool:
    """The host's folders and config files (idempotent); True if its sshd_config changed."""
    d = host.dir
    for sub in ("root", "tmp", "logs", "run"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    (d / "root").chmod(0o700)
    (d / "tmp").chmod(0o1777)
    lines = ["127.0.0.1\tlocalhost", f"{lab.operator}\toperator operator.smartsite.lab"]
    lines += [f"{h.address}\t{' '.join(pki.host_names(h))}" for h in lab.hosts]
    (d / "hosts").write_text("\n".join(lines) + "\n")
    if host.role == "app":
        (d / "ucd" / "opt" / "sakai").mkdir(parents=True, exist_ok=True)
        account.write_user_files(host)
        AFS.mkdir(parents=True, exist_ok=True)
        _mountpoint("/ucd")
        _mountpoint("/afs")
        # svn on the nodes trusts the lab CA (production trusts its real CA the same way).
        svn = d / "root" / ".subversion"
        svn.mkdir(exist_ok=True)
        (svn / "servers").write_text(f"[global]\nssl-authority-files = {pki.CA}/ca.pem\n")
    if host.role == "db":
        (d / "mysql").mkdir(exist_ok=True)
        shutil.chown(d / "mysql", "mysql", "mysql")
        (d / "var-backups" / "sakai").mkdir(parents=True, exist_ok=True)
    # Names resolve to IPv4 only (/etc/hosts above): the database's grants and the nodes' JMX
    # name are by IPv4 address; IPv6 is reached by address (the inventory's ansible_host6).
    listen = f"ListenAddress {host.address}:22\n"
    if host.address6:
        listen += f"ListenAddress [{host.address6}]:22\n"
    config = d / "sshd_config"
    before = config.read_text() if config.exists() else ""
    config.write_text(
        f"""# Written by `python -m lab up`.
{listen.rstrip()}
HostKey {d}/ssh_host_ed25519_key
PidFile {d}/run/sshd.pid
AuthorizedKeysFile {pki.SSH}/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UsePAM no
UseDNS no
PrintMotd no
MaxSessions 64
MaxStartups 64:30:128
# A client gone silent (a cut link) is dropped after 3 unanswered probes 5 s apart, as production
# should: its sessions end, and so does what they held (the run lock's shell).
ClientAliveInterval 5
ClientAliveCountMax 3
Subsystem sftp /usr/lib/openssh/sftp-server
"""
    )
    return config.read_text() != before


def port_open(address: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_port(host: LabHost, port: int, what: str, bound: float = 30) -> None:
    deadline = time.monotonic() + bound
    while not port_open(host.address, port):
        if time.monotonic() > deadline:
            raise LabError(f"{host.name}: {what} does not answer on port {port} within {bound:g}s")
        time.sleep(0.1)


def kill_now(pids: list[int], bound: float = 10) -> None:
    """SIGKILL, then wait until they are gone: for a server whose files `reset` replaces whole,
    where a clean shutdown (Tomcat's hook, MariaDB's flush) would only cost time."""
    left = netns.end_pids(pids, bound, signals=(signal.SIGKILL,))
    if left:
        raise LabError(f"pids {left} still alive {bound:g}s after SIGKILL")


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def sshd_pid(host: LabHost) -> int | None:
    pid = read_pid(host.dir / "run" / "sshd.pid")
    return pid if netns.in_host(host, pid) else None


def start_sshd(host: LabHost) -> None:
    if sshd_pid(host):
        return  # running (a firewall inside the host may still hide it: `status` says so)
    netns.end_pids(netns.host_pids(host, f"{host.dir}/sshd_config"))  # one that lost its PID file
    argv = [
        "/usr/sbin/sshd",
        "-D",
        "-f",
        f"{host.dir}/sshd_config",
        "-E",
        f"{host.dir}/logs/sshd.log",
    ]
    netns.spawn(host, argv, host.dir / "logs" / "sshd.out")
    wait_port(host, 22, "sshd", bound=10)


def stop_sshd(host: LabHost) -> None:
    pid = sshd_pid(host)
    if pid:
        netns.end_pids([pid])
