"""One run per cluster at a time: a lock that the kernel holds on a host of the inventory.

The run opens its own SSH session to the lock host (ini `runbook_lock_host`: a group or host of
the inventory, the db host), over that host's kept connection (remote.py), and keeps a small
shell there that holds `flock` on the ini's `runbook_lock_file` for as long as that session
lives. The file lives in a folder of its own (`/run/runbook/` by default), made 0700 by the
shell if missing and refused unless it is a real folder owned by the ssh user (root) with mode
0700: a local user of the host can neither hold, remove nor pre-create the lock (issue 17;
/run/lock is 1777). The shell writes who holds the lock
(operator, user, machine, pid, reports folder, since, procedure) into the lock file, and the
time of each heartbeat into `<lock>.beat` beside it.

- A second run, from any machine or checkout, finds the flock taken and is refused with that note,
  the holder's last heartbeat and when the lock frees if the holder is gone.
- A run that dies (a crash, SIGKILL, a closed terminal) frees the lock with no one's help: its end
  of the session closes, the shell reads end-of-file and exits, the kernel drops the flock. A
  machine or link gone without closing the connection stops the heartbeat (one line every
  HEARTBEAT s), and the shell exits DEADLINE s after the last one: the lock is free within 30 s.
  No pid is compared anywhere: a reused pid cannot fake a holder.
- The connection gives up on a silent link (ServerAlive) before the host's deadline passes, so
  a run learns that it lost the lock before anyone else can take it. A watcher thread sees the
  session end at once and fails the step in flight ("lost the cluster lock ..."), which halts the
  procedure; a lock lost between steps fails the next step's setup.
- `--break-lock` takes over a lock whose holder's heartbeat is older than the deadline (a shell
  stuck on the host, a holder of an older runbook): the lock file is replaced, the old holder's
  shell sees that at its next beat and ends; the journal records who broke whose lock. A lock
  with a fresh heartbeat is never broken.

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
import signal
import socket
import subprocess
import threading

import pytest

from runbooklib.engine.run import Run, register
from runbooklib.inventory import Inventory, InventoryError
from runbooklib.remote import Host
from runbooklib.transcript import transcript

# The run writes a line this often; the shell on the lock host exits DEADLINE s after the last
# one it got (a machine gone without closing its connection: power cut, network lost). Issue 17:
# the lock is free within 30 s of its holder's death, whatever the way.
HEARTBEAT = 5
DEADLINE = 20
# The lock's own ssh declares the link dead after 3 unanswered probes 5 s apart (15 s): before
# the host's deadline, so the run stops its step before another run can take the lock.
SERVER_ALIVE = ("-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3")
# How long ssh may take to answer with the lock taken or refused.
ANSWER_TIMEOUT = 30
# Sent by the watcher to this process when the lock is lost mid-step: its handler fails the step.
LOST_SIGNAL = signal.SIGUSR1

# Run on the lock host. The first line of stdin is the holder's note; each later line a heartbeat.
# dash's `read` has no -t, so coreutils' timeout bounds each wait; `read` takes one byte at a
# time from a pipe, so a wait never eats the next heartbeat. The children get no fd 9 (`9>&-`):
# only this shell holds the flock. Answers, one line on stdout: LOCKED [broken note], HELD <host
# now> <last beat or 0> <note>, UNSAFE <owner mode type> of the folder or file.
_SCRIPT = """\
lock={lock}; dir=${{lock%/*}}; beat="$lock.beat"; breaking={breaking}
IFS= read -r note || exit 2
umask 077
[ -e "$dir" ] || [ -L "$dir" ] || mkdir -m 700 "$dir" 2>/dev/null
if [ -L "$dir" ] || [ ! -d "$dir" ] || [ "$(stat -c %u "$dir")" != "$(id -u)" ] \\
   || [ "$(stat -c %a "$dir")" != 700 ]; then
  printf 'UNSAFE %s %s\\n' "$dir" "$(stat -c '%U %a %F' "$dir" 2>&1)"; exit 5
fi
if [ -L "$lock" ] || {{ [ -e "$lock" ] && [ ! -f "$lock" ]; }}; then
  printf 'UNSAFE %s %s\\n' "$lock" "$(stat -c '%U %a %F' "$lock" 2>&1)"; exit 5
fi
exec 9>>"$lock"
flock -n 9; taken=$?
broken=
if [ "$taken" = 1 ]; then
  now=$(date +%s); last=$(cat "$beat" 2>/dev/null); last=${{last:-0}}
  if [ "$breaking" = 1 ] && [ $((now - last)) -gt {deadline} ]; then
    broken=$(cat "$lock"); rm -f "$lock" "$beat"; exec 9>>"$lock"; flock -n 9; taken=$?
  fi
  if [ "$taken" = 1 ]; then printf 'HELD %s %s %s\\n' "$now" "$last" "$(cat "$lock")"; exit 3; fi
fi
if [ "$taken" != 0 ]; then echo "flock missing or failed (exit $taken)" >&2; exit 4; fi
ino=$(stat -c %i "$lock")
printf '%s\\n' "$note" >"$lock"
date +%s >"$beat"
echo "LOCKED $broken"
while timeout {deadline} sh -c 'IFS= read -r b' 9>&- && [ "$(stat -c %i "$lock")" = "$ino" ]
do date +%s >"$beat"; done
if [ "$(stat -c %i "$lock" 2>/dev/null)" = "$ino" ]; then : >"$lock"; rm -f "$beat"; fi
"""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("runbook").addoption(
        "--break-lock",
        action="store_true",
        help="take over the cluster's lock when its holder's heartbeat is older than "
        f"{DEADLINE} s (recorded in the journal with your name); refused while the holder is alive",
    )
    parser.addini(
        "runbook_lock_host", "group or host of the inventory that holds the run lock", default="db"
    )
    parser.addini(
        "runbook_lock_file",
        "the lock file on that host, in a folder of its own that the run makes 0700 (one per "
        "cluster, whatever the inventory is called)",
        default="/run/runbook/lock",
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


def _command(host: Host, path: str, breaking: bool) -> list[str]:
    script = _SCRIPT.format(lock=shlex.quote(path), deadline=DEADLINE, breaking=int(breaking))
    if host.vars.get("ansible_connection") == "local":
        return ["sh", "-c", script]
    ssh, *settings = host.ssh_argv()
    return [
        ssh,
        # Over the host's kept connection (no key exchange of its own when it is made): the
        # session still ends with this run, when its input closes or the connection is lost.
        *("-o", "ControlMaster=auto", "-o", "ControlPersist=60s"),
        *settings,
        *("-o", "ConnectTimeout=10", *SERVER_ALIVE),
        "-T",
        "--",  # the destination is never read as an option
        f"{host.user}@{host.address}",
        f"sh -c {shlex.quote(script)}",
    ]


class ClusterLock:
    """The session that holds the lock; registered for the run, closed when the session ends.

    Two threads: one writes the heartbeat, one waits for the session to end. If it ends before
    `close()`, the lock is lost: the step in flight is failed at once (a signal to the main
    thread, whose handler raises pytest's failure), and every later step fails its setup.
    """

    def __init__(self, run: Run, host: Host, path: str, proc: subprocess.Popen, broken: str):
        self.run, self.host, self.path, self.proc = run, host, path, proc
        self.where = f"{host.name}:{path}"
        # The note of the holder that --break-lock took the lock from: journaled once it is open.
        self.broken = broken
        self.lost: str | None = None
        self._in_step = False
        self._stop = threading.Event()
        self._previous = signal.signal(LOST_SIGNAL, self._on_lost_signal)
        threading.Thread(target=self._heartbeat, name="runbook-lock-beat", daemon=True).start()
        threading.Thread(target=self._watch, name="runbook-lock-watch", daemon=True).start()

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT):
            try:
                self.proc.stdin.write(b"\n")
                self.proc.stdin.flush()
            except (OSError, ValueError):  # the session is gone: the watcher says so
                return

    def _watch(self) -> None:
        rc = self.proc.wait()
        if self._stop.is_set():
            return  # closed by the run itself
        # What the session said last, without waiting: a child of the shell (its `timeout`) may
        # keep the pipe open for up to DEADLINE s after the shell itself is gone.
        os.set_blocking(self.proc.stderr.fileno(), False)
        said = self.proc.stderr.read() or b""
        err = said.decode(errors="replace").strip().splitlines()
        why = f"its session on {self.host.name} ended, exit {rc}" + (f": {err[-1]}" if err else "")
        self.lost = (
            f"lost the cluster lock {self.where} ({why}): another run may take it; check who "
            "holds it before you resume"
        )
        transcript.emit("lock_lost", lock=self.where, reason=why)
        if self._in_step:
            signal.pthread_kill(threading.main_thread().ident, LOST_SIGNAL)

    def _on_lost_signal(self, signum, frame) -> None:
        if self._in_step and self.lost:
            self._in_step = False  # once: the step's own cleanup must be able to run
            raise pytest.fail.Exception(self.lost, pytrace=False)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> None:
        if self.broken:  # the journal is open by now
            transcript.emit(
                "lock_broken", lock=self.where, operator=self.run.operator, holder=self.broken
            )

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        if item.nodeid in self.run.states and (self.lost or self.proc.poll() is not None):
            pytest.fail(self.lost or f"lost the cluster lock {self.where}", pytrace=False)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item):
        self._in_step = item.nodeid in self.run.states
        if self._in_step and self.lost:  # lost between the setup and the call
            self._in_step = False
            pytest.fail(self.lost, pytrace=False)
        try:
            return (yield)
        finally:
            self._in_step = False

    def close(self) -> None:
        # End of input: the shell clears its note and exits; the kernel drops the flock.
        self._stop.set()
        self._in_step = False
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        signal.signal(LOST_SIGNAL, self._previous)


def _first_line(proc: subprocess.Popen) -> str:
    ready, _, _ = select.select([proc.stdout], [], [], ANSWER_TIMEOUT)
    return proc.stdout.readline().decode(errors="replace").strip() if ready else ""


def _clock(at: dt.datetime) -> str:
    return at.strftime("%H:%M:%S")


def refusal(inventory: str, where: str, answer: str, breaking: bool) -> str:
    """The line that refuses a run, from the shell's `HELD <now> <last beat> <note>`."""
    now_s, last_s, text = (answer.removeprefix("HELD ").split(" ", 2) + ["", ""])[:3]
    try:
        holder = holder_text(json.loads(text))
    except ValueError:
        holder = "a holder that left no note"
    here = dt.datetime.now().astimezone()
    head = f"the cluster of inventory {inventory} is in use by {holder}"
    last = int(last_s) if last_s.isdigit() else 0
    if not last:
        return (
            f"{head}, with no heartbeat (lock {where}): not a run of this runbook, or one "
            "stuck on the host; if its run is gone, take it over with --break-lock"
        )
    age = max(0, int(now_s) - last) if now_s.isdigit() else 0
    beat = f"last heartbeat {_clock(here - dt.timedelta(seconds=age))} ({age} s ago)"
    if age > DEADLINE:
        return (
            f"{head}; {beat}, past its {DEADLINE} s deadline, yet its shell still holds the "
            f"lock {where}: if its run is gone, take it over with --break-lock"
        )
    frees = _clock(here + dt.timedelta(seconds=DEADLINE - age))
    refused = "; --break-lock is refused while its heartbeat is fresh" if breaking else ""
    return (
        f"{head}; {beat}: wait for that run to end (lock {where}; if that run died or lost its "
        f"link, it frees by {frees}){refused}"
    )


def acquire(config: pytest.Config, run: Run, host: Host) -> None:
    """Take the cluster's lock, or refuse the run naming who holds it."""
    path = config.getini("runbook_lock_file")
    breaking = bool(config.getoption("break_lock"))
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
        _command(host, path, breaking),
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
    if answer == "LOCKED" or answer.startswith("LOCKED "):
        broken = answer.removeprefix("LOCKED").strip()
        register(config, "lock", ClusterLock(run, host, path, proc, broken))
        return
    try:
        _, err = proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    where = f"{host.name}:{path}"
    if answer.startswith("HELD "):
        raise pytest.UsageError(refusal(run.inventory.name, where, answer, breaking))
    if answer.startswith("UNSAFE "):
        _, what, rest = answer.split(" ", 2)
        kind = "file" if what == path else "folder"
        should = "a plain file" if kind == "file" else f"{host.user}'s own private folder"
        raise pytest.UsageError(
            f"the run lock's {kind} {host.name}:{what} is not {should} ({rest}): someone else "
            f"may have made it; remove it as {host.user} on {host.name} (rm -rf "
            f"{shlex.quote(what)}) and run again"
        )
    why = (err.decode(errors="replace").strip().splitlines() or ["no answer"])[-1]
    raise pytest.UsageError(
        f"cannot take the run lock {where} ({host.address}): {why}: the run needs that host "
        "over ssh, with util-linux's flock and the lock file's folder writable"
    )
