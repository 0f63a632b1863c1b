"""Secrets never leave (issue 8, part 4): the upgrade on the lab with a hard DB password, every
output grepped for every form of it, and the process list entry of every program started on a
lab host while it runs.

The password holds a backslash, both quotes and a non-ASCII letter, so that each escaping (shell,
repr, JSON, .properties, URL, HTML) writes it differently; `transcript.forms` lists those forms.
"""

from __future__ import annotations

import datetime as dt
import email
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lab.config import NS_PREFIX
from runbooklib.transcript import forms

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "Sé\\cr\"et'pa55word!"
HOSTS = ("stubing", "walton", "caje", "mware", "mail", "irc", "adminws1", "adminws2", "public")
NETNS = "/run/netns"
# The database and config steps that write: each must run, and like every step that runs
# commands, be seen starting programs on each host it runs them on.
WRITERS = ("u04", "u05", "u10", "u14")
# A program with this in its arguments is started on each host before the run: it must be seen.
MARKER = "0.1308642"


@pytest.fixture
def hard_password(lab, tmp_path):
    """The lab running with PASSWORD until the plain reset of the cleanup (its own password)."""
    path = tmp_path / "db_password"
    path.touch(mode=0o600)
    path.write_text(PASSWORD + "\n", encoding="utf-8")
    try:
        lab.cli("reset", "--db-password-file", str(path), timeout=900)
        yield PASSWORD
    finally:
        lab.cli("reset", timeout=900)


# The kernel's process events (linux/connector.h, linux/cn_proc.h): every exec on the machine,
# as it happens, to a netlink listener (root).
NETLINK_CONNECTOR, CN_IDX_PROC, CN_VAL_PROC = 11, 1, 1
PROC_CN_MCAST_LISTEN, PROC_EVENT_EXEC = 1, 2
NLMSG_DONE, NLMSG_HEADER, CN_MSG_HEADER = 3, 16, 20


class ExecWatcher:
    """Each program started on a lab host while it listens, with its process list entry: the
    kernel tells of each exec (the process connector), and the entry (/proc/PID/cmdline) is read
    at once. A periodic `ps` missed short commands between two samples; this sees every exec,
    and an entry gone before it could be read is counted, never silently skipped."""

    def __init__(self, hosts: tuple[str, ...], bound: float = 900):
        self.bound = bound
        self.hosts = {os.stat(f"{NETNS}/{NS_PREFIX}{h}").st_ino: h for h in hosts}
        self.seen: list[tuple[float, str, str]] = []  # time, host, process list entry
        self.unread = 0
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_CONNECTOR)
        self.sock.bind((0, CN_IDX_PROC))
        self.sock.settimeout(0.2)
        self.stopped = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)

    def start(self) -> None:
        op = struct.pack("=I", PROC_CN_MCAST_LISTEN)
        cn = struct.pack("=IIIIHH", CN_IDX_PROC, CN_VAL_PROC, 0, 0, len(op), 0) + op
        self.sock.send(struct.pack("=IHHII", NLMSG_HEADER + len(cn), NLMSG_DONE, 0, 0, 0) + cn)
        self.reader.start()

    def _read(self) -> None:
        end = time.monotonic() + self.bound
        while not self.stopped.is_set() and time.monotonic() < end:
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            offset = NLMSG_HEADER + CN_MSG_HEADER
            (what,) = struct.unpack_from("=I", data, offset)
            if what != PROC_EVENT_EXEC:
                continue
            (pid,) = struct.unpack_from("=I", data, offset + 16)
            when = time.time()
            try:
                host = self.hosts.get(os.stat(f"/proc/{pid}/ns/net").st_ino)
                entry = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:  # ended before it could be read
                self.unread += 1
                continue
            if host:
                text = entry.replace(b"\0", b" ").decode(errors="replace")
                self.seen.append((when, host, text))

    def stop(self) -> None:
        self.stopped.set()
        self.reader.join(timeout=20)
        self.sock.close()

    def wait_for(self, host: str, needle: str, bound: float = 10) -> bool:
        end = time.monotonic() + bound
        while time.monotonic() < end:
            if any(h == host and needle in text for _, h, text in self.seen):
                return True
            time.sleep(0.05)
        return False


def found(text: str, secret_forms: set[str]) -> list[str]:
    return sorted(f for f in secret_forms if f in text)


def mails(folder: Path) -> str:
    """Every received mail, as stored and decoded (quoted-printable or base64 bodies)."""
    parts = []
    for path in sorted(folder.glob("*.eml")):
        raw = path.read_bytes()
        parts.append(raw.decode(errors="replace"))
        for part in email.message_from_bytes(raw).walk():
            payload = part.get_payload(decode=True)
            if payload:
                parts.append(payload.decode(errors="replace"))
    return "\n".join(parts)


def commands_by_step(journal: Path) -> tuple[dict[str, str], dict[str, dict[str, list[float]]]]:
    """Each step's outcome, and for each step the span [first start, last end] of the commands it
    really ran (not dry-run) on each host, from the journal's `command` events (emitted at the
    command's end, with its duration)."""
    outcomes: dict[str, str] = {}
    spans: dict[str, dict[str, list[float]]] = {}
    for line in journal.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        if event["event"] == "step_end":
            outcomes[event["step"]] = event["outcome"]
        elif event["event"] == "command" and event.get("step") and not event.get("dry_run"):
            end = dt.datetime.fromisoformat(event["t"]).timestamp()
            start = end - float(event.get("duration") or 0)
            span = spans.setdefault(event["step"], {}).setdefault(event["host"], [start, end])
            span[0], span[1] = min(span[0], start), max(span[1], end)
    return outcomes, spans


def unwatched(
    steps: tuple[str, ...],
    outcomes: dict,
    spans: dict,
    seen: list[tuple[float, str, str]],
) -> dict[str, str]:
    """The watched steps whose commands were not seen: a step counts only when it passed, ran
    commands, and a program was seen starting on each host it ran them on while they ran (the
    journal's times are to the millisecond: 1 ms either side)."""
    missing = {}
    for step in steps:
        if outcomes.get(step) != "passed":
            missing[step] = f"outcome {outcomes.get(step, 'not run')}"
        elif not spans.get(step):
            missing[step] = "ran no command"
        else:
            bare = [
                host
                for host, (start, end) in sorted(spans[step].items())
                if not any(h == host and start - 0.001 <= t <= end + 0.001 for t, h, _ in seen)
            ]
            if bare:
                missing[step] = f"no program seen starting on {', '.join(bare)} while it ran"
    return missing


def test_the_upgrade_lets_no_form_of_the_password_out(lab, hard_password, tmp_path):
    secret_forms = forms(hard_password)
    reports, log_file = tmp_path / "reports", tmp_path / "debug.log"
    watcher = ExecWatcher(HOSTS)
    watcher.start()
    for host in HOSTS:
        lab.ssh(host, f"sleep {MARKER}", timeout=30)
        assert watcher.wait_for(host, f"sleep {MARKER}"), f"no program seen starting on {host}"
    try:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-p",
                "no:cacheprovider",
                "runbook/",
                "-k",
                "upgrade",
                "--operator",
                "secrets-test",
                "--approve",
                "all",
                "--log-cli-level=DEBUG",
                f"--log-file={log_file}",
                "--log-file-level=DEBUG",
                "--reports",
                str(reports),
            ],
            cwd=REPO,
            capture_output=True,
            timeout=900,
            env={**os.environ, "SMARTSITE_DB_PASSWORD": hard_password},
        )
    finally:
        watcher.stop()
    console = (proc.stdout + proc.stderr).decode(errors="replace")

    outputs = {"console": console, "log file": log_file.read_text(errors="replace")}
    for suffix in ("html", "xml", "jsonl"):
        files = sorted(reports.glob(f"*.{suffix}"))
        assert files, f"no .{suffix} under {reports}"
        outputs[suffix] = "\n".join(f.read_text(errors="replace") for f in files)
    outputs["irc"] = (lab.state / "irc" / "ucdsakai.log").read_text(errors="replace")
    outputs["mail"] = mails(lab.state / "mail")
    assert "DEBUG" in outputs["log file"], "the log file holds no DEBUG record: not a real test"
    leaks = {name: found(text, secret_forms) for name, text in outputs.items()}
    assert not any(leaks.values()), f"the password leaked: {leaks}"

    ps_leaks = {(host, f) for _, host, text in watcher.seen for f in found(text, secret_forms)}
    assert not ps_leaks, f"the password was in a process list: {sorted(ps_leaks)}"
    outcomes, spans = commands_by_step(sorted(reports.glob("*.jsonl"))[-1])
    missing = unwatched(tuple(sorted({*WRITERS, *spans})), outcomes, spans, watcher.seen)
    assert not missing, (
        f"the process lists were not watched during: {missing} "
        f"({len(watcher.seen)} programs seen, {watcher.unread} ended before they could be read)"
    )
    # Last, so that a failed step (its failure text went to IRC too) is still grepped above.
    assert proc.returncode == 0, console[-4000:]
    assert outputs["irc"].strip() and outputs["mail"].strip(), "no IRC or mail traffic to grep"
