"""Ansible and testinfra's `ansible://` reach the lab from inventories/lab.yml alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from runbooklib.inventory import Inventory

pytestmark = pytest.mark.lab

# ansible, ansible-inventory (testinfra's ansible:// runs it) and pytest of this virtualenv.
BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "ANSIBLE_NOCOLOR": "1"}


def app_nodes(lab) -> list[str]:
    return [h.name for h in Inventory.load(lab.inventory).select("app")]


def test_ansible_pings_every_app_node(lab):
    out = subprocess.run(
        [BIN / "ansible", "-i", lab.inventory, "app", "-m", "ping", "-o"],
        capture_output=True,
        text=True,
        timeout=120,
        env=ENV,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    answered = {line.split(" | ")[0] for line in out.stdout.splitlines() if '"pong"' in line}
    assert answered == set(app_nodes(lab)), out.stdout


def test_testinfra_ansible_backend_runs_a_command_on_every_app_node(lab, tmp_path):
    seen = tmp_path / "seen"
    (tmp_path / "test_each_node.py").write_text(
        "def test_hostname(host):\n"
        f"    with open({str(seen)!r}, 'a') as f:\n"
        "        f.write(host.check_output('hostname') + '\\n')\n"
    )
    out = subprocess.run(
        [BIN / "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", tmp_path, tmp_path]
        + ["--hosts=ansible://app", f"--ansible-inventory={lab.inventory}"],
        capture_output=True,
        text=True,
        timeout=120,
        env=ENV,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stdout[-2000:]
    assert sorted(seen.read_text().split()) == sorted(app_nodes(lab))
