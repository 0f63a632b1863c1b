"""One run per cluster at a time: a lock that the kernel holds on a host of the inventory.

The run opens its own SSH session to the lock host (ini `runbook_lock_host`: a group or host of
the inventory, the db host) and keeps a small shell there that holds `flock` on the ini's
`runbook_lock_file` for as long as that session lives. The shell writes who holds the lock
(operator, user, machine, pid, reports folder, since, procedure) into the lock file for others.

- A second run, from any machine or checkout, finds the flock taken and is refused with that note.
- A run that dies (a crash, SIGKILL, a closed terminal) frees the lock with no one's help: its end
  of the session closes, the shell reads end-of-file and exits, the kernel drops the flock. A
  machine that vanishes without closing the connection stops its heartbeat, and the shell gives
  up after HEARTBEAT_TIMEOUT. No pid is compared anywhere: a reused pid cannot fake a holder.
- Before each step the run checks that its session still holds the lock; a lost lock errors the
  step, which halts the procedure (resume once the cause is known).

A lock host with `ansible_connection: local` (Ansible's word for this machine) runs the same shell
here without ssh: the engine's own tests use it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import json
import os
import select
import shlex
import socket
import subprocess
import threading

import pytest

from runbooklib.engine.run import Run, register
from runbooklib.inventory import Inventory, InventoryError
from runbooklib.remote import Host

# The run writes a line this often; the shell on the lock host gives up after the timeout without
# one (a machine gone without closing its connection: power cut, network lost).
HEARTBEAT = 20
HEARTBEAT_TIMEOUT = 120
# How long ssh may take to answer with the lock taken or refused.
ANSWER_TIMEOUT = 30

# Run on the lock host. The first line of stdin is the holder's note; each later line a heartbeat.
# dash's `read` has no -t, so coreutils' timeout bounds each wait; `read` takes one byte at a
# time from a pipe, so a wait never eats the next heartbeat.
_SCRIPT = """\
lock={lock}
IFS= read -r note || exit 2
mkdir -p "${{lock%/*}}"
exec 9>>"$lock"
flock -n 9; taken=$?
if [ "$taken" = 1 ]; then printf 'HELD %s\\n' "$(cat "$lock")"; exit 3; fi
if [ "$taken" != 0 ]; then echo "flock missing or failed (exit $taken)" >&2; exit 4; fi
printf '%s\\n' "$note" >"$lock"
echo LOCKED
while timeout {ttl} sh -c 'IFS= read -r beat'; do :; done
: >"$lock"
"""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("runbook").addoption(
        "--break-lock",
        action="store_true",
        help="no longer needed: the lock on the cluster frees itself when its run dies. A lock "
        "held by a live run is never broken; with this option the refusal says so",
    )
    parser.addini(
        "runbook_lock_host", "group or host of the inventory that holds the run lock", default="db"
    )
    parser.addini(
        "runbook_lock_file",
        "the lock file on that host (one per cluster, whatever the inventory is called)",
        default="/run/lock/runbook.lock",
    )


def lock_host(config: pytest.Config, inv: Inventory) -> Host:
    """The host that holds the lock; checked with the inputs, before any connection."""
    name = config.getini("runbook_lock_host")
    try:
        hosts = inv.group(name)
    except InventoryError as exc:
        raise pytest.UsageError(
            f"{exc}: the run lock lives there (ini runbook_lock_host)"
        ) from None
    if not hosts:
        raise pytest.UsageError(
            f"inventory {inv.name}: group `{name}` has no host to hold the run lock: add one"
        )
    return hosts[0]


def holder_text(note: dict) -> str:
    return (
        f"{note.get('operator', '?')} ({note.get('user', '?')}@{note.get('machine', '?')} "
        f"pid {note.get('pid', '?')}, reports {note.get('reports', '?')}) "
        f"since {note.get('since', '?')}, running {note.get('procedure', '?')}"
    )


def _command(host: Host, path: str) -> list[str]:
    script = _SCRIPT.format(lock=shlex.quote(path), ttl=HEARTBEAT_TIMEOUT)
    if host.vars.get("ansible_connection") == "local":
        return ["sh", "-c", script]
    config = ["-F", host.ssh_config] if host.ssh_config else []
    config += ["-i", host.identity_file] if host.identity_file else []
    return [
        "ssh",
        *config,
        # A connection of its own: not shared with the steps', so it ends exactly with this run.
        *("-o", "ControlMaster=no", "-o", "ControlPath=none"),
        *("-o", "BatchMode=yes", "-o", "ConnectTimeout=10"),
        *("-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4"),
        "-T",
        f"{host.user}@{host.address}",
        f"sh -c {shlex.quote(script)}",
    ]


class ClusterLock:
    """The session that holds the lock; registered for the run, closed when the session ends."""

    def __init__(self, run: Run, host: Host, path: str, proc: subprocess.Popen):
        self.run, self.host, self.path, self.proc = run, host, path, proc
        self.where = f"{host.name}:{path}"
        self._stop = threading.Event()
        threading.Thread(target=self._heartbeat, name="runbook-lock", daemon=True).start()

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT):
            try:
                self.proc.stdin.write(b"\n")
                self.proc.stdin.flush()
            except (OSError, ValueError):  # the session is gone: the next step says so
                return

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        if item.nodeid in self.run.states and self.proc.poll() is not None:
            pytest.fail(
                f"the run lock {self.where} was lost (its session ended, exit "
                f"{self.proc.returncode}): another run may have started; check who holds it "
                "before you resume",
                pytrace=False,
            )

    def close(self) -> None:
        # End of input: the shell clears its note and exits; the kernel drops the flock.
        self._stop.set()
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _first_line(proc: subprocess.Popen) -> str:
    ready, _, _ = select.select([proc.stdout], [], [], ANSWER_TIMEOUT)
    return proc.stdout.readline().decode(errors="replace").strip() if ready else ""


def acquire(config: pytest.Config, run: Run, host: Host) -> None:
    """Take the cluster's lock, or refuse the run naming who holds it."""
    path = config.getini("runbook_lock_file")
    note = {
        "operator": run.operator,
        "user": getpass.getuser(),
        "machine": socket.gethostname(),
        "pid": os.getpid(),
        "reports": str(run.reports_dir.resolve()),
        "since": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "procedure": run.procedure,
        "inventory": run.inventory.name,
    }
    proc = subprocess.Popen(
        _command(host, path),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # Out of the terminal's process group: Ctrl-C reaches the run, which then ends the session.
        start_new_session=True,
    )
    try:
        proc.stdin.write(json.dumps(note).encode() + b"\n")
        proc.stdin.flush()
    except OSError:
        pass  # ssh already gone: its answer below says why
    answer = _first_line(proc)
    if answer == "LOCKED":
        register(config, "lock", ClusterLock(run, host, path, proc))
        return
    try:
        _, err = proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    where = f"{host.name}:{path}"
    if answer.startswith("HELD "):
        try:
            holder = holder_text(json.loads(answer.removeprefix("HELD ")))
        except ValueError:
            holder = "a run that left no note"
        never = "; --break-lock never takes it" if config.getoption("break_lock") else ""
        raise pytest.UsageError(
            f"the cluster of inventory {run.inventory.name} is in use by {holder}: wait for that "
            f"run to end (lock {where}; it frees itself when that run dies){never}"
        )
    why = (err.decode(errors="replace").strip().splitlines() or ["no answer"])[-1]
    raise pytest.UsageError(
        f"cannot take the run lock {where} ({host.address}): {why}: the run needs that host "
        "over ssh, with util-linux's flock and the lock file's folder writable"
    )
