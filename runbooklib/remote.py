"""Hosts of an inventory, reached over SSH with testinfra's ssh backend, every command bounded.

    >>> host = Host("stubing", "198.51.100.11", ssh_config="/var/lib/smartsite-lab/ssh/cfg")
    >>> host.run("systemctl is-active tomcat", changes=False).stdout
    'active'
    >>> host.testinfra.socket("tcp://0.0.0.0:8443").is_listening
    True

`run(..., changes=True)` is an action: in check mode (`host.check_mode`, set by --dry-run) it is
recorded and not run. `changes=False` is a
read-only probe and always runs. Every command gets a bound, enforced on the host with coreutils'
`timeout` because testinfra's `run()` has none of its own; ssh's ServerAlive options bound a dead
link. `run(..., stdin=bytes)` feeds the command's standard input over the same ssh (testinfra's
`run()` has no stdin): file contents never appear on a command line, where the host's process
list and testinfra's DEBUG log would show them.
"""

from __future__ import annotations

import hashlib
import shlex
import subprocess
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import testinfra

from runbooklib.transcript import transcript

DEFAULT_TIMEOUT = 60
# Exit codes of coreutils' timeout: 124 the bound passed, 137 it had to SIGKILL after --kill-after.
TIMED_OUT = (124, 137)


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


@dataclass
class Host:
    name: str
    address: str
    vars: dict[str, Any] = field(default_factory=dict)
    ssh_config: str | None = None
    identity_file: str | None = None  # ansible_ssh_private_key_file
    user: str = "root"
    # Ansible's check mode: commands that change the host are recorded, not run.
    check_mode: bool = False

    def __str__(self) -> str:
        return self.name

    @cached_property
    def testinfra(self):
        """testinfra's host object, for assertions: `host.testinfra.iptables.rules(...)`."""
        return testinfra.get_host(
            f"ssh://{self.user}@{self.address}",
            ssh_config=self.ssh_config,
            ssh_identity_file=self.identity_file,
            timeout=10,
        )

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
        bounded = f"timeout --kill-after=5 {timeout:g} sh -c {shlex.quote(command)}"
        started = time.monotonic()
        try:
            if stdin is None:
                out = self.testinfra.run(bounded)
            else:
                out = self._ssh(bounded, stdin, timeout + 15)
        except RuntimeError as exc:  # testinfra's ssh backend raises it when ssh itself fails (255)
            raise HostUnreachable(f"{self.name} ({self.address}): ssh failed: {exc}") from None
        result = Result(
            self.name,
            shown,
            out.rc,
            transcript.redact(out.stdout),
            transcript.redact(out.stderr),
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

    def _ssh(self, command: str, stdin: bytes, bound: float) -> subprocess.CompletedProcess:
        """`command` on the host with `stdin`, by the ssh that testinfra uses (same ssh_config,
        user, connect timeout and ControlMaster options)."""
        argv = ["ssh", *(["-F", self.ssh_config] if self.ssh_config else [])]
        argv += ["-i", self.identity_file] if self.identity_file else []
        argv += ["-o", f"User={self.user}", "-o", "ConnectTimeout=10", "-o", "BatchMode=yes"]
        argv += ["-o", "ControlMaster=auto", "-o", "ControlPersist=60s", self.address, command]
        try:
            done = subprocess.run(argv, input=stdin, capture_output=True, timeout=bound)
        except subprocess.TimeoutExpired:
            raise CommandTimeout(self.name, transcript.redact(command), bound) from None
        if done.returncode == 255:
            raise RuntimeError(done.stderr.decode(errors="replace").strip())
        done.rc = done.returncode
        done.stdout = done.stdout.decode(errors="replace")
        done.stderr = done.stderr.decode(errors="replace")
        return done

    def probe(
        self, command: str, *, timeout: float = DEFAULT_TIMEOUT, check: bool = True
    ) -> Result:
        """A read-only command: runs even in a dry run."""
        return self.run(command, timeout=timeout, changes=False, check=check)


def describe(data: bytes) -> str:
    """What the record says of bytes sent to a host: their size and digest, never the bytes."""
    return f"{len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}"
