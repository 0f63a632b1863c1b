"""The journal: one JSON line per event, appended and flushed as it happens, hash-chained.

Beside the report (`<reports>/<stamp>-<procedure>-<inventory>.jsonl`). A run killed mid-step loses
nothing already done: the journal shows every finished step, the commands and backups made, and
the step that was started but never ended. `--resume` reads it; `python -m
runbooklib.engine.rebuild` turns it into a report. Secrets are redacted by the transcript.

    {"t": "2026-11-25T08:10:02+00:00", "event": "step_start", "step": "u04", ..., "hash": "..."}
    {"t": "...", "event": "command", "step": "u04", "host": "db1", "command": "...", "rc": 0, ...}
    {"t": "...", "event": "step_end", "step": "u04", "outcome": "passed", "duration": 41.2, ...}

Tamper-evident: each line ends with `"hash"`, the sha256 of the previous line's hash ("" for the
first line) followed by the line's own JSON without that field. The last line's hash is the
chain's head (the record shows it); `python -m runbooklib.engine.journal verify FILE` names the
first line that does not match. A changed, removed or inserted line breaks the chain from there
on; lines cut off the end do not, which is why the head is kept elsewhere (the record).

How durable (issue 12): every line is flushed to the kernel at once, so the death of the process
(SIGKILL, out of memory, a crash of Python) loses nothing written: the kernel still holds it
(tests/engine/test_journal_crash.py kills a run mid-step and checks). Only a crash of the machine
loses what the kernel had not yet written to disk, so a syncer thread fsyncs behind the writer:
at most the lines of the fsync under way are lost, and no step ever waits for the disk (an fsync
costs ~3 ms here, more than the whole engine's work per step). What a machine crash can lose is
what `--resume` redoes anyway: a step whose end was not written runs again (steps are idempotent).
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from runbooklib.engine import private
from runbooklib.engine.run import Run, base_path, conclude, register
from runbooklib.transcript import transcript

# How every line ends: the chain's field, last, so that the line without it is exact bytes.
_HASH_TAIL = re.compile(r', "hash": "([0-9a-f]{64})"\}$')


def chain(previous: str, body: str) -> str:
    """The hash of a line whose JSON without "hash" is `body`, after a line hashed `previous`."""
    return hashlib.sha256((previous + body).encode("utf-8")).hexdigest()


class Journal:
    def __init__(self, run: Run, path: Path):
        self.run, self.path = run, path
        self.file = private.create(path, "a")
        self.head = ""
        # Checks run their hosts in threads, each emitting commands: one whole line at a time, and
        # the chain in the order the lines are written.
        self._writing = threading.Lock()
        self._unsynced = threading.Event()
        self._closing = False
        self._syncer = threading.Thread(target=self._sync, name="journal-fsync", daemon=True)
        self._syncer.start()
        transcript.listeners.append(self.write)

    def write(self, event: str, data: dict) -> None:
        line = {"t": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"), "event": event}
        if self.run.current is not None and "step" not in data:
            line["step"] = self.run.current.id
        line.update(data)
        line.pop("hash", None)  # the chain's field is the journal's own
        body = json.dumps(line, default=str)
        with self._writing:
            if self.file.closed:  # a thread still talking after the session ended
                return
            self.head = chain(self.head, body)
            self.file.write(f'{body[:-1]}, "hash": "{self.head}"}}\n')
            # In the kernel before the next command: the process may be killed at any moment.
            self.file.flush()
        self._unsynced.set()

    def _sync(self) -> None:
        """fsync behind the writer, so that a crash of the machine loses milliseconds of lines
        without a step ever waiting for the disk."""
        while not self._closing:
            self._unsynced.wait()
            self._unsynced.clear()
            try:
                os.fsync(self.file.fileno())
            except (OSError, ValueError):  # closed under us: close() syncs the end itself
                return

    # Before pytest-html writes: the record then shows the chain's head with the run's end in it,
    # the same head a rebuild from the journal and `journal verify` show. The run's last words
    # (the go/no-go verdict, the channel's announcement) come before its end, never after.
    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        conclude(self.run, exitstatus)
        session.config.hook.pytest_runbook_finish(
            session=session, run=self.run, exitstatus=exitstatus
        )
        if not self.run.verdict.ok and session.exitstatus == 0:  # a NO-GO fails the session
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        status = int(session.exitstatus)
        transcript.emit("run_end", **self.run.verdict.fields(), exitstatus=status)

    def close(self) -> None:
        if self.write in transcript.listeners:
            transcript.listeners.remove(self.write)
        self._closing = True
        self._unsynced.set()
        self._syncer.join(timeout=10)
        with self._writing:
            if not self.file.closed:
                self.file.flush()
                os.fsync(self.file.fileno())
                self.file.close()


def git_revision(root: Path) -> str:
    """The runbook's revision, marked dirty when the work tree differs from it."""
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        if head.returncode != 0:
            return "unknown (no commit)"
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return head.stdout.strip() + (" (modified)" if dirty else "")
    except (OSError, subprocess.TimeoutExpired):
        return "unknown (git not available)"


def open_journal(config: pytest.Config, run: Run) -> None:
    run.base = base_path(run)
    private.seal(run.base.parent)  # 0700, and the records of older runs 0600 (issue 17)
    journal = Journal(run, run.base.with_name(run.base.name + ".jsonl"))
    register(config, "journal", journal)
    run.revision = git_revision(config.rootpath)
    transcript.emit(
        "run_start",
        procedure=run.procedure,
        inventory=run.inventory.name,
        inventory_path=str(run.inventory.path),
        operator=run.operator,
        user=getpass.getuser(),
        host=socket.gethostname(),
        pid=os.getpid(),
        argv=list(config.invocation_params.args),
        revision=run.revision,
        dry_run=run.dry_run,
        target_confirmed=run.target_confirmed,
        resumed_from=str(run.resumed_from) if run.resumed_from else None,
        window_start=run.window.start.isoformat(timespec="seconds"),
        window_end=run.window.end.isoformat(timespec="seconds"),
        window=run.window.describe(),
        steps=[
            {
                "step": s.id,
                "procedure": s.procedure,
                "title": s.step.title if s.step else s.nodeid,
                "owner": s.step.owner if s.step else "",
                "kind": s.step.kind if s.step else "check",
                "at": s.step.at if s.step else None,
                "planned": s.planned.isoformat(timespec="seconds") if s.planned else None,
            }
            for s in run.steps()
        ],
    )


def read(path: Path) -> list[dict]:
    """The events of a journal; a line cut short by a crash is left out. Journals written
    before the chain (no "hash") read the same."""
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events


def verify(path: Path) -> tuple[bool, str]:
    """(True, "OK ...") when every line's hash follows from the line before, else (False, the
    first line that does not match and why). A last line cut short by a crash (no newline, not
    JSON) is named but is no break in the chain: the lines before it verify. A journal from
    before the chain says so."""
    data = path.read_bytes()
    lines = data.split(b"\n")
    torn = lines.pop() if lines else b""  # the text after the last newline: "" when whole
    head, count = "", 0
    for number, raw in enumerate(lines, start=1):
        try:
            text = raw.decode("utf-8")
            json.loads(text)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return False, f"BROKEN at line {number}: not a JSON line ({exc})"
        match = _HASH_TAIL.search(text)
        if match is None:
            if number == 1:
                return False, "NO CHAIN: no hashes (a journal from before the chain)"
            return False, f"BROKEN at line {number}: no hash (a line added or changed)"
        body = text[: match.start()] + "}"
        if chain(head, body) != match.group(1):
            return False, (
                f"BROKEN at line {number}: hash does not match (this line changed, or a line "
                "before it removed or inserted)"
            )
        head, count = match.group(1), number
    if count == 0 and not torn:
        return False, "EMPTY: no line"
    end = f"OK {count} lines, head {head}"
    if torn:
        end += (
            f"; line {count + 1} is cut short ({len(torn)} bytes, no newline): the run stopped "
            "while writing it (a crash); the lines before it verify"
        )
    return True, end


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "verify":
        print("usage: python -m runbooklib.engine.journal verify JOURNAL.jsonl", file=sys.stderr)
        return 2
    path = Path(argv[1])
    if not path.is_file():
        print(f"ERROR: {path}: no such journal", file=sys.stderr)
        return 2
    ok, text = verify(path)
    print(f"{path}: {text}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
