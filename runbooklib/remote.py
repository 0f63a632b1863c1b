"""Hosts of an inventory, reached over one SSH connection each, every command bounded.

    >>> host = Host("stubing", "198.51.100.11", ssh_config="/var/lib/smartsite-lab/ssh/cfg")
    >>> host.run("systemctl is-active tomcat", changes=False).stdout
    'active'
    >>> host.testinfra.socket("tcp://0.0.0.0:8443").is_listening   # through the same shell
    True

`run(..., changes=True)` is an action: in check mode (`host.check_mode`, set by --dry-run) it is
recorded and not run. `changes=False` is a read-only probe and always runs.

Commands go to a persistent `bash` on the host (`Shell`), over the ssh_config's ControlMaster:
a warm command costs one round trip, not an ssh start. Each command is framed: it runs as
`timeout --kill-after=5 T sh -c CMD` (the bound enforced on the host), then the shell prints a
marker unique to that command with its exit status on stdout, and the marker on stderr, which
is how the reader knows where its output ends; stdout and stderr stay separate. A command reads
/dev/null, never the shell's own input. `run(..., stdin=bytes)` feeds exactly those bytes to the
command over the same connection (`head -c N`, whose input is the shell's: bash reads its script
one byte at a time from a pipe, so it never swallows them): file contents and secrets never
appear on a command line, where the host's process list would show them. A host used by several
threads at once gets one shell per thread (all over the same connection). A shell that timed
out or lost its connection is closed; the next command opens a new one, and a read-only probe
that found its idle connection dead is tried once more on a fresh one.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import re
import selectors
import shlex
import shutil
import stat
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import testinfra
import testinfra.backend.base
import testinfra.host

from runbooklib.transcript import transcript

DEFAULT_TIMEOUT = 60
# Exit codes of coreutils' timeout: 124 the bound passed, 137 it had to SIGKILL after --kill-after.
TIMED_OUT = (124, 137)
# What the local side waits beyond a command's own bound (timeout's --kill-after, then the link).
GRACE = 15
SHELL = "exec bash --noprofile --norc"


@dataclass
class Result:
    host: str
    command: str
    rc: int
    stdout: str
    stderr: str
    duration: float
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return self.rc == 0


class CommandFailed(Exception):
    def __init__(self, result: Result):
        self.result = result
        detail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        super().__init__(
            f"{result.host}: `{result.command}` exited {result.rc}: {' | '.join(detail)}"
        )


class HostUnreachable(Exception):
    pass


class CommandTimeout(Exception):
    def __init__(self, host: str, command: str, bound: float):
        self.host, self.command, self.bound = host, command, bound
        super().__init__(f"{host}: `{command}` did not finish within {bound:g}s and was stopped")


class ShellLost(Exception):
    """The shell's connection ended before the command's end marker."""

    def __init__(self, why: str, silent: bool):
        super().__init__(why)
        # Nothing at all came back: the command may never have reached the host.
        self.silent = silent


def frame(command: str, marker: str, timeout: float, stdin_size: int | None) -> bytes:
    """The line the shell runs for `command`: bounded on the host, then the end markers."""
    bounded = f"timeout --kill-after=5 {timeout:g} sh -c {shlex.quote(command)}"
    if stdin_size is None:
        run = f"{bounded} </dev/null"
    else:
        # `cat` drains what the command left unread, so head always takes exactly the payload
        # and no byte of it is ever read by the shell as a command.
        run = f"head -c {stdin_size} | ({bounded}; r=$?; cat >/dev/null; exit $r)"
    return f"{run}; printf '\\n%s %d\\n' {marker} $?; printf '\\n%s\\n' {marker} >&2\n".encode()


def unframe(stdout: bytes, stderr: bytes, marker: str) -> tuple[int, bytes, bytes] | None:
    """(rc, stdout, stderr) of a framed command once both markers arrived, else None."""
    out = re.search(b"\n" + marker.encode() + rb" (\d+)\n", stdout)
    at = stderr.find(b"\n" + marker.encode() + b"\n")
    if out is None or at < 0:
        return None
    return int(out.group(1)), stdout[: out.start()], stderr[:at]


class Shell:
    """One long-lived bash on a host (`argv` starts it), running one framed command at a time."""

    def __init__(self, argv: list[str]):
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # a ^C at the terminal reaches the runbook, not the shell
        )
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            os.set_blocking(pipe.fileno(), False)
        self.used = False

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        if self.alive:
            self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            pipe.close()

    def run(
        self, command: str, timeout: float, stdin: bytes | None = None
    ) -> tuple[int, bytes, bytes]:
        """Run `command`; (rc, stdout, stderr). Raises TimeoutError past `timeout` + GRACE and
        ShellLost when the connection ends first; the shell is then unusable (close it)."""
        marker = f"__runbook_end_{uuid.uuid4().hex}"
        pending = frame(command, marker, timeout, None if stdin is None else len(stdin))
        pending += stdin or b""
        self.used = True
        got = {self.proc.stdout.fileno(): bytearray(), self.proc.stderr.fileno(): bytearray()}
        deadline = time.monotonic() + timeout + GRACE
        with selectors.DefaultSelector() as sel:
            for fd in got:
                sel.register(fd, selectors.EVENT_READ)
            sel.register(self.proc.stdin.fileno(), selectors.EVENT_WRITE)
            writing = True
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(command)
                for key, _ in sel.select(left):
                    fd = key.fd
                    if fd not in got:
                        try:
                            pending = pending[os.write(fd, pending) :]
                        except BrokenPipeError:
                            pending = b""
                        if not pending and writing:
                            sel.unregister(fd)
                            writing = False
                        continue
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        silent = not any(got.values())
                        tail = bytes(got[self.proc.stderr.fileno()])[-300:]
                        raise ShellLost(tail.decode(errors="replace").strip(), silent)
                    got[fd] += chunk
                    done = unframe(
                        bytes(got[self.proc.stdout.fileno()]),
                        bytes(got[self.proc.stderr.fileno()]),
                        marker,
                    )
                    if done:
                        return done


_control_dir: str | None = None
_control_lock = threading.Lock()
# Where the masters stay between runs, as Ansible keeps ~/.ansible/cp.
KEPT = "~/.smartsite-runbook/cp"
# A socket's path has about 100 bytes; ssh adds 17 while it makes one: the folder takes the rest.
MAX_FOLDER = 48


def control_dir() -> str:
    """The operator's own folder for ssh's master sockets, kept across runs (ControlPersist):
    the go/no-go that follows an upgrade, and each one after it, finds its connections made.
    Only a real folder of this user's, 0700, in a parent of theirs; else a private one for this
    run. Never a shared path in /tmp, where another local user could put a socket first."""
    global _control_dir
    with _control_lock:
        if _control_dir is None or not os.path.isdir(_control_dir):
            kept = os.path.expanduser(KEPT)
            if len(kept) <= MAX_FOLDER and _private_folder(kept):
                _control_dir = kept
            else:
                base = os.environ.get("XDG_RUNTIME_DIR")
                if not (base and os.path.isdir(base) and os.stat(base).st_uid == os.getuid()):
                    base = None
                # mkdtemp makes it 0700 and ours; short: a socket path has ~100 bytes at most.
                _control_dir = tempfile.mkdtemp(prefix="rb-ssh-", dir=base)
                atexit.register(shutil.rmtree, _control_dir, ignore_errors=True)
        return _control_dir


def _private_folder(path: str) -> bool:
    """`path` and its parent made if missing; True when both are this user's own real folders,
    closed to everyone else (nobody else can swap them or put a socket there)."""
    for folder in (os.path.dirname(path), path):
        try:
            with contextlib.suppress(FileExistsError):
                os.mkdir(folder, 0o700)
            info = os.lstat(folder)
        except OSError:  # no home, or one this user cannot write
            return False
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            return False
        if info.st_mode & 0o077:
            return False
    return True


def unpinned(hosts) -> str | None:
    """Why the host keys of `hosts` are not pinned (None: they are): each must name a known hosts
    file that exists. StrictHostKeyChecking needs no look: the runbook's own `-o ...=yes` comes
    first on every ssh command line, and ssh keeps the first value it is given."""
    for host in hosts:
        if host.vars.get("ansible_connection") == "local":
            continue
        if not host.known_hosts:
            return (
                f"host {host.name} names no known hosts file: add `-o UserKnownHostsFile=PATH` "
                "(the host keys you checked) to its ansible_ssh_common_args"
            )
        if not os.path.isfile(host.known_hosts):
            return (
                f"host {host.name}'s known hosts file {host.known_hosts} does not exist: write "
                "the hosts' keys there once you checked their fingerprints"
            )
    return None


@dataclass
class Host:
    name: str
    address: str
    vars: dict[str, Any] = field(default_factory=dict)
    ssh_config: str | None = None
    identity_file: str | None = None  # ansible_ssh_private_key_file
    # ansible_ssh_common_args' `-o UserKnownHostsFile=PATH`; None: the ssh config's own.
    known_hosts: str | None = None
    user: str = "root"
    # Ansible's check mode: commands that change the host are recorded, not run.
    check_mode: bool = False
    _idle: list[Shell] = field(default_factory=list, init=False, repr=False, compare=False)
    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    def __str__(self) -> str:
        return self.name

    @cached_property
    def testinfra(self):
        """testinfra's host object, for assertions: `host.testinfra.iptables.rules(...)`.

        Its modules send their commands through this host's own shell (`Journaled`): bounded,
        redacted and in the journal like every other command, over the same pinned connection."""
        infra = testinfra.host.Host(Journaled(self))
        infra.backend.set_host(infra)
        return infra

    def pinning_options(self) -> list[str]:
        """Host keys checked against the known hosts (the inventory's, else its ssh config's),
        never accepted unseen (issue 17: `accept-new` hands root commands to whoever answers),
        and the connection's master socket in the operator's own private folder."""
        options = ["-o", "StrictHostKeyChecking=yes", "-o", f"ControlPath={self.control_path()}"]
        if self.known_hosts:
            options += ["-o", f"UserKnownHostsFile={self.known_hosts}"]
        return options

    def control_path(self) -> str:
        """The master's socket: one per destination (%C) and per way of checking it, so that a
        connection made under other settings (other known hosts, key or ssh config) is never
        taken for this one's."""
        how = "\0".join(str(x) for x in (self.ssh_config, self.identity_file, self.known_hosts))
        return f"{control_dir()}/{hashlib.sha256(how.encode()).hexdigest()[:8]}-%C"

    def ssh_argv(self) -> list[str]:
        """ssh with the inventory's settings, the pinned host keys and no question ever asked."""
        argv = ["ssh", *(["-F", self.ssh_config] if self.ssh_config else [])]
        argv += ["-i", self.identity_file] if self.identity_file else []
        argv += ["-o", f"User={self.user}", "-o", "BatchMode=yes", *self.pinning_options()]
        return argv

    def shell_argv(self) -> list[str]:
        """How to start this host's shell: ssh with the inventory's ssh_config (its ControlMaster
        makes every shell of the host share one connection), or a local bash for Ansible's
        `ansible_connection: local`."""
        if self.vars.get("ansible_connection") == "local":
            return ["bash", "-c", SHELL]
        argv = [*self.ssh_argv(), "-o", "ConnectTimeout=10"]
        argv += ["-o", "ControlMaster=auto", "-o", "ControlPersist=60s"]
        argv += ["-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3"]
        return [*argv, "-T", "--", self.address, SHELL]  # an address is never an option

    def connect(self) -> None:
        """Start the host's first shell without waiting for it: its connection (key exchange,
        login) is made meanwhile, beside the other hosts'. One that fails shows at the host's
        first command, which then opens another, as it would have anyway."""
        if self.vars.get("ansible_connection") == "local":
            return
        # ssh that cannot start: the first command starts it again, and says why.
        with self._lock, contextlib.suppress(OSError):
            if not self._idle:
                self._idle.append(Shell(self.shell_argv()))

    def _shell(self) -> Shell:
        with self._lock:
            while self._idle:
                shell = self._idle.pop()
                if shell.alive:
                    return shell
                shell.close()
        return Shell(self.shell_argv())

    def _give_back(self, shell: Shell) -> None:
        with self._lock:
            self._idle.append(shell)

    def disconnect(self) -> None:
        """Close the host's idle shells (their connection's master stays, for ControlPersist)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for shell in idle:
            shell.close()

    def _execute(self, command: str, timeout: float, stdin: bytes | None, retry: bool):
        shell = self._shell()
        reused = shell.used
        try:
            rc, out, err = shell.run(command, timeout, stdin)
        except TimeoutError:
            shell.close()
            raise CommandTimeout(self.name, transcript.redact(command), timeout) from None
        except ShellLost as lost:
            shell.close()
            if retry and reused and lost.silent:
                return self._execute(command, timeout, stdin, retry=False)
            raise HostUnreachable(
                f"{self.name} ({self.address}): the connection ended during "
                f"`{shorten(transcript.redact(command))}`: "
                f"{transcript.redact(str(lost)) or 'no message'}"
            ) from None
        self._give_back(shell)
        return rc, out.decode(errors="replace"), err.decode(errors="replace")

    def run(
        self,
        command: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        changes: bool = True,
        check: bool = True,
        stdin: bytes | None = None,
    ) -> Result:
        """Run `command` (a shell command line) on the host within `timeout` seconds, with
        `stdin` as its standard input (the journal records only its size and sha256)."""
        shown = transcript.redact(command)
        fed = {} if stdin is None else {"stdin": describe(stdin)}
        if changes and self.check_mode:
            transcript.command(self.name, shown, dry_run=True, changes=True, **fed)
            return Result(self.name, shown, 0, "", "", 0.0, dry_run=True)
        started = time.monotonic()
        # Only a read-only command is tried again: an action's effect would be unknown.
        rc, out, err = self._execute(command, timeout, stdin, retry=not changes)
        result = Result(
            self.name,
            shown,
            rc,
            transcript.redact(out),
            transcript.redact(err),
            round(time.monotonic() - started, 3),
        )
        transcript.command(
            self.name,
            shown,
            rc=result.rc,
            stdout=result.stdout,
            stderr=result.stderr,
            duration=result.duration,
            changes=changes,
            dry_run=False,
            **fed,
        )
        if result.rc in TIMED_OUT:
            raise CommandTimeout(self.name, shown, timeout)
        if check and result.rc != 0:
            raise CommandFailed(result)
        return result

    def probe(
        self, command: str, *, timeout: float = DEFAULT_TIMEOUT, check: bool = True
    ) -> Result:
        """A read-only command: runs even in a dry run."""
        return self.run(command, timeout=timeout, changes=False, check=check)


class Journaled(testinfra.backend.base.BaseBackend):
    """testinfra's backend for a Host: each command a testinfra module asks for is a read-only
    probe of the host's own shell (testinfra's ssh backend would be a second transport, whose
    commands the journal never saw). A probe runs in a dry run too: modules only read."""

    NAME = "runbook"

    def __init__(self, host: Host):
        super().__init__(host.name)
        self.runbook_host = host

    def get_encoding(self) -> str:
        return "utf-8"  # what the shell's output is decoded with (Host._execute)

    def run(self, command: str, *args: str, **kwargs: Any) -> testinfra.backend.base.CommandResult:
        result = self.runbook_host.probe(self.get_command(command, *args), check=False)
        # The command as the journal shows it (redacted), never the one with a secret in it.
        return self.result(result.rc, self.encode(result.command), result.stdout, result.stderr)


def shorten(command: str, width: int = 160) -> str:
    """A command as a one-line message names it: its first `width` characters."""
    line = " ".join(command.split())
    return line if len(line) <= width else line[: width - 3] + "..."


def describe(data: bytes) -> str:
    """What the record says of bytes sent to a host: their size and digest, never the bytes."""
    return f"{len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}"
