"""The journal: one JSON line per event, appended and flushed to disk as it happens.

Beside the report (`<reports>/<stamp>-<procedure>-<inventory>.jsonl`). A run killed mid-step loses
nothing already done: the journal shows every finished step, the commands and backups made, and
the step that was started but never ended. `--resume` reads it; `python -m
runbooklib.engine.rebuild` turns it into a report. Secrets are redacted by the transcript.

    {"t": "2026-11-25T08:10:02+00:00", "event": "step_start", "step": "u04", ...}
    {"t": "...", "event": "command", "step": "u04", "host": "caje", "command": "...", "rc": 0}
    {"t": "...", "event": "step_end", "step": "u04", "outcome": "passed", "duration": 41.2}
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from runbooklib.engine.run import Run, base_path, register, verdict
from runbooklib.transcript import transcript


class Journal:
    def __init__(self, run: Run, path: Path):
        self.run, self.path = run, path
        self.file = path.open("a", encoding="utf-8")
        # Checks run their hosts in threads, each emitting commands: one whole line at a time.
        self._writing = threading.Lock()
        transcript.listeners.append(self.write)

    def write(self, event: str, data: dict) -> None:
        line = {"t": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"), "event": event}
        if self.run.current is not None and "step" not in data:
            line["step"] = self.run.current.id
        line.update(data)
        text = json.dumps(line, default=str) + "\n"
        with self._writing:
            if self.file.closed:  # a thread still talking after the session ended
                return
            self.file.write(text)
            self.file.flush()
            os.fsync(self.file.fileno())  # on disk before the next command: a crash loses nothing

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        transcript.emit(
            "run_end", verdict=verdict(self.run, exitstatus), exitstatus=int(exitstatus)
        )

    def close(self) -> None:
        if self.write in transcript.listeners:
            transcript.listeners.remove(self.write)
        with self._writing:
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
    """The events of a journal; a line cut short by a crash is left out."""
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events
