"""A step's `hosts=` means what it means to Ansible: every form of host pattern, resolved through
the engine's own `hosts` fixture and shown by `--plan`, names the hosts ansible-core's
InventoryManager names on the same inventory file (in the same order)."""

from __future__ import annotations

import re

import pytest
import runbook_project
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from runbook_project import events

# Three app nodes, so that subscripts, ranges and exclusions each leave a different set; nothing
# is contacted (the steps only note their hosts; the lock's host is this machine).
HEAD = "        stubing: {ansible_host: 192.0.2.250, head: true}\n"
INVENTORY = runbook_project.INVENTORY.replace(
    HEAD,
    HEAD
    + "        walton: {ansible_host: 192.0.2.251}\n"
    + "        sauvignon: {ansible_host: 192.0.2.252}\n",
)
assert "sauvignon" in INVENTORY

# Each form of Ansible's host patterns, alone and combined.
PATTERNS = [
    "app",
    "app:db",  # union
    "app,db",  # union, Ansible's other separator
    "app:&db",  # intersection: none
    "app:!walton",  # exclusion
    "app:db:&app",  # the intersection applies after the unions, wherever it is written
    "app:!app[0]",
    "app[0]",  # subscripts and ranges, both ends included
    "app[-1]",
    "app[1:]",
    "app[0:1]",
    "s*",  # a glob over host and group names
    "s*:!stubing",
    "~(stu|wal).*",  # a regex
    "db:app[-1]",
]

# One step per pattern, which notes the names the `hosts` fixture handed it.
STEPS = "".join(
    f"""
@step("p{i:02d}", at="08:{i:02d}", owner="Thomas", kind="action", hosts={pattern!r})
def test_p{i:02d}(hosts):
    '''Pattern {i}.'''
    transcript.note(" ".join(h.name for h in hosts) or "-")
"""
    for i, pattern in enumerate(PATTERNS)
)


def ansible_names(inventory_file, pattern: str) -> list[str]:
    manager = InventoryManager(loader=DataLoader(), sources=[str(inventory_file)])
    return [h.name for h in manager.get_hosts(pattern)]


@pytest.fixture
def patterns(project):
    inventory_file = project.inventory(INVENTORY)
    project.procedure("upgrade", STEPS)
    expected = {f"p{i:02d}": ansible_names(inventory_file, p) for i, p in enumerate(PATTERNS)}
    # Not a comparison of empty lists: the forms leave different sets, and one leaves none.
    assert expected["p03"] == [] and expected["p04"] == ["stubing", "sauvignon"]
    assert len({tuple(v) for v in expected.values()}) >= 8
    return expected


def test_the_hosts_fixture_names_what_ansible_names_for_every_form(project, patterns):
    project.run().assert_outcomes(passed=len(PATTERNS))

    noted = {e["step"]: e["text"].split() for e in events(project.journal(), "note")}
    assert {step: names if names != ["-"] else [] for step, names in noted.items()} == patterns


def test_plan_shows_what_ansible_names_for_every_form(project, patterns):
    result = project.run("--plan", "--window-start", "08:00")

    assert result.ret == 0
    shown = {}
    for line in result.stdout.lines:
        found = re.search(r"\b(p\d\d)\s+Pattern \d+\.  \[(.*): (.*)\]$", line)
        if found:
            step, pattern, names = found.groups()
            assert pattern == PATTERNS[int(step[1:])]
            shown[step] = [] if names == "no hosts" else names.split(", ")
    assert shown == patterns


def test_a_pattern_ansible_would_read_otherwise_refuses_the_run_naming_the_fix(project):
    project.inventory(INVENTORY)
    project.procedure(
        "upgrade",
        """
@step("p01", at="08:00", owner="Thomas", kind="action", hosts="app[0-1]")
def test_p01(hosts):
    '''A range written with a dash.'''
""",
    )

    result = project.run()

    assert result.ret == 4
    errors = [line for line in result.stderr.lines if line.startswith("ERROR:")]
    assert len(errors) == 1 and "step p01 acts on `app[0-1]`" in errors[0]
    assert "write [N], [-N], [N:] or [N:M]" in errors[0]  # the fix: a form Ansible reads
