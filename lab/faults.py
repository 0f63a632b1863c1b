"""Faults the runbook must survive: `python -m lab fault NAME [HOST]`, `python -m lab fault clear`.

A fault is a pair of functions (apply, clear) taking the host, and one line in FAULTS. Active faults
are remembered in STATE/faults.json so that `fault clear` (and `reset`) undo exactly those.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from lab import database, hosts, netns
from lab.config import SAKAI_HOME, STATE, VENV_PYTHON, Lab, LabError, LabHost

ACTIVE = STATE / "faults.json"
SQUATTER = "lab-squatter"


@dataclass(frozen=True)
class Fault:
    help: str
    default: str  # host name
    role: str | None  # hosts it applies to (None: any host)
    apply: Callable[[LabHost], None]
    clear: Callable[[LabHost], None]


def _sshd_down(host: LabHost) -> None:
    # Every sshd of the host, sessions too: a warm ControlMaster must not hide the fault.
    netns.end_pids(
        [
            p
            for p in netns.host_pids(host, "sshd")
            if netns.cmdline(p)[0].startswith(("sshd", "/usr/sbin/sshd"))
        ]
    )


def _squat(host: LabHost) -> None:
    if netns.host_pids(host, SQUATTER):
        return
    # Waits (bounded: 4 h) until 8443 is free (the runbook restarts Tomcat), then holds it.
    code = (
        "import socket,sys,time\n"
        "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        "end=time.time()+4*3600\n"
        "while time.time()<end:\n"
        "    try: s.bind(('0.0.0.0', 8443)); s.listen(1); break\n"
        "    except OSError: time.sleep(0.1)\n"
        "time.sleep(max(0, end-time.time()))\n"
    )
    netns.spawn(host, [str(VENV_PYTHON), "-c", code, SQUATTER], host.dir / "logs" / "squatter.log")


def _unsquat(host: LabHost) -> None:
    netns.end_pids(netns.host_pids(host, SQUATTER))


MARKER = f"{SAKAI_HOME}inject-startup-error"  # the app logs an ERROR at start while it exists


def _startup_error(host: LabHost) -> None:
    netns.sh(host, f"touch {MARKER}")


def _no_startup_error(host: LabHost) -> None:
    netns.sh(host, f"rm -f {MARKER}")


def _read_only(host: LabHost) -> None:
    database.sql(host, "SET GLOBAL read_only = ON;")


def _read_write(host: LabHost) -> None:
    database.sql(host, "SET GLOBAL read_only = OFF;")


FILL = "/var/backups/sakai/.lab-fault-fill"


def _fill_disk(host: LabHost) -> None:
    netns.sh(host, f"dd if=/dev/zero of={FILL} bs=1M status=none 2>/dev/null; sync; true")


def _free_disk(host: LabHost) -> None:
    netns.sh(host, f"rm -f {FILL}")


def _link_down(host: LabHost) -> None:
    # The root-side end of the host's own veth on the lab bridge: the host drops off the lab's
    # network (no route to it, none from it), its processes and sessions stay. Nothing of the
    # machine's own interfaces, routes or firewall is touched.
    netns.ip("link", "set", host.veth, "down")


def _link_up(host: LabHost) -> None:
    netns.ip("link", "set", host.veth, "up")


# name: Fault(what it does, default host, role it needs, apply, clear)
FAULTS: dict[str, Fault] = {
    "sshd-down": Fault(
        "the host's sshd is down", "walton", None, _sshd_down, hosts.start_sshd
    ),
    "port-squat": Fault(
        "8443 is taken: Tomcat cannot bind at its next start", "stubing", "app", _squat, _unsquat
    ),
    "startup-error": Fault(
        "the app logs an unexpected ERROR at its next start", "stubing", "app",
        _startup_error, _no_startup_error,
    ),
    "db-read-only": Fault(
        "MariaDB refuses writes (read_only; sakai has no SUPER)", "caje", "db",
        _read_only, _read_write,
    ),
    "backup-disk-full": Fault(
        "/var/backups/sakai on caje is full", "caje", "db", _fill_disk, _free_disk
    ),
    "partition": Fault(
        "the host's link to the lab network is down (its processes keep running)", "walton", None,
        _link_down, _link_up,
    ),
}  # fmt: skip


def _active() -> list[list[str]]:
    return json.loads(ACTIVE.read_text()) if ACTIVE.exists() else []


def apply(lab: Lab, name: str, host_name: str | None) -> str:
    fault = FAULTS.get(name)
    if not fault:
        raise LabError(f"no fault `{name}`: use one of {', '.join(FAULTS)} (or `clear`)")
    host = lab.host(host_name or fault.default)
    if fault.role and host.role != fault.role:
        raise LabError(f"fault {name} applies to {fault.role} hosts, not {host.name}")
    fault.apply(host)
    active = [a for a in _active() if a != [name, host.name]] + [[name, host.name]]
    ACTIVE.write_text(json.dumps(active))
    return f"fault {name} on {host.name}: {fault.help}"


def clear(lab: Lab) -> list[str]:
    done = []
    for name, host_name in _active():
        FAULTS[name].clear(lab.host(host_name))
        done.append(f"{name} on {host_name}")
    ACTIVE.unlink(missing_ok=True)
    return done


def active() -> list[str]:
    return [f"{n} on {h}" for n, h in _active()]
