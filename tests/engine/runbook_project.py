"""Helpers for the engine's pytester tests: a tiny project with its own pytest.ini, inventory and
runbook/ folder, run in pytester's temporary directory (its reports land there, never in ours)."""

from __future__ import annotations

import configparser
import json
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

INVENTORY = """\
all:
  vars:
    window: {start: "08:00", end: "12:00"}
  children:
    app:
      hosts:
        stubing: {ansible_host: 192.0.2.250, head: true}
    db:
      hosts:
        # The run lock's host: Ansible's `local` connection runs the lock's shell on this machine.
        caje: {ansible_host: 127.0.0.1, ansible_connection: local}
"""


class Project:
    """A throwaway runbook project inside pytester's directory."""

    def __init__(self, pytester: pytest.Pytester):
        self.pytester = pytester
        self.path = pytester.path
        # The project's own ordering options, so the tests exercise the real settings.
        ini = configparser.ConfigParser(interpolation=None)
        ini.read(ROOT / "pytest.ini")
        addopts = ini["pytest"]["addopts"].replace("-p pytester", "").strip()
        name = ini["pytest"]["runbook_name"]
        pytester.makeini(
            f"""
            [pytest]
            addopts = {addopts}
            runbook_steps = runbook
            runbook_checks = checks
            runbook_inventory = lab.yml
            runbook_reports = reports
            runbook_fallback = fallback
            runbook_name = {name}
            # The cluster's lock file, here in the project's folder (the lab's is on caje).
            runbook_lock_file = {self.path / "cluster" / "runbook.lock"}
            # Inline runs import the engine a second time in this process: nothing to rewrite.
            filterwarnings = ignore::pytest.PytestAssertRewriteWarning
            """
        )
        self.inventory(INVENTORY)

    def runbook_side(self) -> Path:
        """The project's own conftest.py here: what the runbook hands the engine through its
        hooks (the IRC channel, the known issues), as a real run has it."""
        path = self.path / "conftest.py"
        path.write_text((ROOT / "conftest.py").read_text())
        return path

    def inventory(self, text: str, name: str = "lab.yml") -> Path:
        path = self.path / name
        path.write_text(textwrap.dedent(text))
        return path

    def procedure(self, name: str, source: str) -> Path:
        folder = self.path / "runbook"
        folder.mkdir(exist_ok=True)
        path = folder / f"test_{name}.py"
        header = (
            "from runbooklib.engine import step\nfrom runbooklib.transcript import transcript\n"
        )
        path.write_text(header + textwrap.dedent(source))
        return path

    def run(self, *args: str, subprocess: bool = False) -> pytest.RunResult:
        """pytest on runbook/; in a subprocess when the run patches modules or must not share
        this process (its pid, its globals)."""
        runner = self.pytester.runpytest_subprocess if subprocess else self.pytester.runpytest
        return runner("runbook", "-p", "no:cacheprovider", *args)

    def reports(self, suffix: str) -> list[Path]:
        # index.html lists the runs: it is no run's record.
        paths = (self.path / "reports").glob(f"*{suffix}")
        return sorted(p for p in paths if p.name != "index.html")

    def journal(self) -> list[dict]:
        """The events of the latest journal."""
        return [json.loads(line) for line in self.reports(".jsonl")[-1].read_text().splitlines()]


def events(journal: list[dict], event: str, **match) -> list[dict]:
    return [
        e for e in journal if e["event"] == event and all(e.get(k) == v for k, v in match.items())
    ]


def production(project: Project, name: str = "prod.yml") -> Path:
    """The project's inventory as production, its host keys pinned as production must (issue 17)."""
    known = project.path / "known_hosts"
    known.write_text("")
    pinned = f"    production: true\n    ansible_ssh_common_args: -o UserKnownHostsFile={known}\n"
    return project.inventory(INVENTORY.replace("  vars:\n", "  vars:\n" + pinned), name)


# Another run's note in the cluster's lock file (tests/engine/conftest.py's `held`).
NOTE = {
    "operator": "thomas",
    "user": "thomas",
    "machine": "laptop-7",
    "pid": 4242,
    "reports": "/home/thomas/runbook/reports",
    "since": "2007-08-18T08:00:00-07:00",
    "procedure": "upgrade",
}


def lock_file(project: Project) -> Path:
    """The project's cluster lock (ini runbook_lock_file), on this machine."""
    return project.path / "cluster" / "runbook.lock"


def free(path: Path) -> bool:
    """Whether no process holds the flock on `path`."""
    return subprocess.run(["flock", "-n", str(path), "true"]).returncode == 0


def wait_until(condition, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()
