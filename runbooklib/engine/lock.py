"""One run per inventory at a time: a lock file naming who holds it, from where, since when.

A second run is refused with the holder's user, host, pid and start. A lock left by a process that
is gone (a crash, a killed terminal) is taken over only with `--break-lock`: a person decides that
the other run is really over. The lock lives in the ini's `runbook_locks` folder, shared by every
operator of this checkout.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import socket
from pathlib import Path

import pytest

from runbooklib.engine.run import Run, register


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("runbook").addoption(
        "--break-lock",
        action="store_true",
        help="take over the inventory's lock left by a run that is gone (never a live one)",
    )
    parser.addini("runbook_locks", "folder of the per-inventory lock files", default="reports")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True


def holder_text(info: dict) -> str:
    return (
        f"{info.get('user', '?')}@{info.get('host', '?')} pid {info.get('pid', '?')} "
        f"since {info.get('since', '?')} ({info.get('procedure', '?')})"
    )


class Lock:
    def __init__(self, path: Path):
        self.path = path

    def close(self) -> None:
        # Release only our own lock: never one taken over by someone else meanwhile.
        try:
            if json.loads(self.path.read_text()).get("pid") == os.getpid():
                self.path.unlink()
        except (OSError, ValueError):
            pass


def acquire(config: pytest.Config, run: Run) -> None:
    folder = config.rootpath / config.getini("runbook_locks")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f".lock-{run.inventory.name}.json"
    mine = {
        "user": getpass.getuser(),
        "operator": run.operator,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "since": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "procedure": run.procedure,
    }
    for _ in range(2):  # second round: after a stale lock was removed
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            _refuse_or_break(config, run, path)
            continue
        with os.fdopen(fd, "w") as f:
            json.dump(mine, f)
        register(config, "lock", Lock(path))
        return
    raise pytest.UsageError(f"lock {path} keeps coming back: another run is starting; wait")


def _refuse_or_break(config: pytest.Config, run: Run, path: Path) -> None:
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        info = {}
    name = run.inventory.name
    same_host = info.get("host") == socket.gethostname()
    # Unreadable: its writer died between creating and filling it.
    gone = not info or (same_host and isinstance(info.get("pid"), int) and not _alive(info["pid"]))
    if gone:
        if config.getoption("break_lock"):
            path.unlink(missing_ok=True)
            return
        raise pytest.UsageError(
            f"inventory {name} is locked by a run that is gone: {holder_text(info)}; "
            f"if it is really over, take the lock with --break-lock"
        )
    where = "" if same_host else " (on another machine: ask them)"
    raise pytest.UsageError(
        f"inventory {name} is in use by {holder_text(info)}{where}: wait for that run to end "
        f"(lock {path})"
    )
