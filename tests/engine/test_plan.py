"""--plan prints the timeline and opens no connection to any host."""

from __future__ import annotations

import re
import subprocess
import sys

from runbook_project import INVENTORY, ROOT

# A conftest that turns every way of reaching a host into a logged error: Host.run (ssh through
# testinfra), testinfra.get_host, and any process started for ssh. Only in a subprocess run.
TRIPWIRE = """
import subprocess
import testinfra
from runbooklib import remote

LOG = __import__("pathlib").Path(__file__).with_name("connections.log")
_popen = subprocess.Popen

def _log(what):
    with LOG.open("a") as f:
        f.write(what + "\\n")
    raise ConnectionError(f"connection attempted: {what}")

def _popen_unless_ssh(args, *rest, **kwargs):
    if "ssh" in str(args):
        _log(f"ssh process {args!r}")
    return _popen(args, *rest, **kwargs)

remote.Host.run = lambda *a, **k: _log("Host.run")
testinfra.get_host = lambda *a, **k: _log("testinfra.get_host")
subprocess.Popen = _popen_unless_ssh
"""

STEPS = """
@step("u01", at="08:00", owner="Joncarlo", kind="action", hosts="app")
def test_u01_block(inventory):
    '''Prevent any client access.'''
    inventory.host("stubing").run("iptables-restore < /tmp/rules")

@step("u02", at="08:10", owner="Prabhu", kind="check", hosts="backup")
def test_u02_clone(inventory):
    '''Backing up (CLONE) production database.'''
    inventory.host("stubing").probe("true")
"""


def test_plan_prints_timeline_and_touches_nothing(project):
    project.pytester.makeconftest(TRIPWIRE)
    project.procedure("upgrade", STEPS)

    result = project.run("--plan", "--window-start", "08:00", subprocess=True)

    assert result.ret == 0
    result.stdout.re_match_lines(
        [
            r".*plan: upgrade on lab, window 08:00-12:00.*",
            r"08:00  Joncarlo  action  u01   Prevent any client access\.  \[app: stubing\]",
            r"08:10  Prabhu    check   u02   Backing up \(CLONE\) production database\.  "
            r"\[backup: not in inventory lab\]",
        ]
    )
    assert not (project.path / "connections.log").exists()
    assert not (project.path / "reports").exists()  # no journal, report or lock either


def test_the_tripwire_catches_a_real_run(project):
    """Control for the test above: without --plan the same steps do try to connect."""
    # A real run refuses a step whose group is not in the inventory: give u02 its `backup`.
    project.inventory(
        INVENTORY + "    backup:\n      hosts:\n        bk: {ansible_host: 192.0.2.251}\n"
    )
    project.pytester.makeconftest(TRIPWIRE)
    project.procedure("upgrade", STEPS)

    result = project.run(subprocess=True)

    assert result.ret == 1
    said = (project.path / "connections.log").read_text().splitlines()
    assert "Host.run" in said
    # The hosts of every step (u01's app, u02's backup) are connected at the start, side by
    # side, before the first command goes anywhere.
    before = " ".join(said[: said.index("Host.run")])
    assert "192.0.2.250" in before and "192.0.2.251" in before, said


# The table: id, planned time, owner, kind.
UPGRADE = [
    ("u01", "08:00", "Joncarlo", "action"),
    ("u02", "08:00", "Joncarlo", "action"),
    ("u03", "08:00", "Joncarlo", "action"),
    ("u04", "08:10", "Prabhu", "action"),
    ("u05", "09:00", "Prabhu", "action"),
    ("u06", "09:15", "Thomas", "action"),
    ("u07", "09:20", "Thomas", "action"),
    ("u08", "09:20", "Thomas", "action"),
    ("u09", "09:35", "Thomas", "action"),
    ("u10", "09:35", "Thomas", "action"),
    ("u11", "09:35", "Thomas", "action"),
    ("u12", "09:35", "Thomas", "action"),
    ("u13", "09:35", "Thomas", "action"),
    ("u14", "09:35", "Thomas", "action"),
    ("u15", "10:00", "Kirk, Sandra, Lisa", "manual"),
    ("u16", "11:45", "Thomas", "action"),
    ("u17", "12:00", "Joncarlo", "action"),
    ("u18", "12:01", "all", "check"),
]
FALLBACK = [
    ("f01", "12:00", "Joncarlo", "action"),
    ("f02", "12:01", "Thomas", "action"),
    ("f03", "12:10", "Prabhu", "action"),
    ("f04", "12:40", "Thomas", "action"),
    ("f05", "12:40", "Thomas", "action"),
    ("f06", "13:30", "Thomas", "action"),
    ("f07", "13:40", "Kirk, Sandra", "manual"),
    ("f08", "14:00", "Joncarlo", "action"),
    ("f09", "14:01", "all", "check"),
]
LINE = re.compile(r"^(\d\d:\d\d)  (.+?)\s+(action|check|manual)\s+([uf]\d\d) ")


def _plan(selection: str, tmp_path) -> list[tuple[str, str, str, str]]:
    # The real runbook, in a subprocess from the project's root, as the operator would run it.
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "runbook/", "-k", selection, "--plan"]
        + ["--window-start", "08:00", "-p", "no:cacheprovider", "--reports", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return [
        (m.group(4), m.group(1), m.group(2), m.group(3))
        for m in map(LINE.match, done.stdout.splitlines())
        if m
    ]


def test_real_runbook_plans_the_whole_upgrade(tmp_path):
    assert _plan("upgrade", tmp_path) == UPGRADE


def test_real_runbook_plans_the_whole_fallback(tmp_path):
    assert _plan("fallback", tmp_path) == FALLBACK
