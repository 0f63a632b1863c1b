"""The `lab` fixture: the rehearsal lab, up and reset to the pre-upgrade state, once a session.

    def test_portal(lab):
        out = lab.exec("adminws1", "curl -s --cacert /var/lib/smartsite-lab/ca/ca.pem "
                                   "https://stubing:8443/portal")
        assert "Sakai 2.4.0" in out.stdout

Needs root. Commands that use the lab are serialized across people and helpers with
`flock /tmp/lab-dev.lock ...` around the whole pytest run (the fixture runs inside that lock).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from xdist.scheduler import LoadScopeScheduling

# pytester (pytest's fixture for testing plugins) is for the project's own tests only: named
# here, at the top of tests/, rather than in pytest.ini's addopts, a production run of runbook/
# or checks/ never loads it. pytest reads pytest_plugins only from a conftest it loads first.
pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parent.parent


@dataclass
class LabInfo:
    inventory: Path  # inventories/lab.yml (addresses relocated when LAB_SUBNET is set)
    ssh_config: Path  # ssh -F / testinfra ssh_config
    ca_bundle: Path  # the lab CA, for curl --cacert and requests verify=
    state: Path  # /var/lib/smartsite-lab

    def cli(self, *args: str, env: dict | None = None, check: bool = True, timeout: float = 600):
        """`python -m lab ARGS...`, captured."""
        out = subprocess.run(
            [sys.executable, "-m", "lab", *args],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **(env or {})},
        )
        if check and out.returncode != 0:
            raise AssertionError(f"python -m lab {' '.join(args)} exited {out.returncode}: {out}")
        return out

    def exec(self, host: str, script: str, *, check: bool = True, timeout: float = 60, input=None):
        """A shell script run inside a lab host (`python -m lab exec HOST -- bash -c SCRIPT`)."""
        out = subprocess.run(
            [sys.executable, "-m", "lab", "exec", host, "--", "bash", "-c", script],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
        )
        if check and out.returncode != 0:
            raise AssertionError(f"{host}: `{script}` exited {out.returncode}: {out.stderr[-500:]}")
        return out

    def ssh(
        self, host: str, script: str, *, timeout: float = 60, fresh: bool = False
    ) -> subprocess.CompletedProcess:
        """The same over ssh, as the runbook reaches hosts (rc 255: ssh itself failed); `fresh`:
        over a new connection given 3 s, not the config's shared master."""
        new = ["-o", "ControlMaster=no", "-o", "ControlPath=none", "-o", "ConnectTimeout=3"]
        return subprocess.run(
            ["ssh", "-F", str(self.ssh_config), *(new if fresh else []), host, script],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )


@pytest.fixture(scope="session")
def lab() -> LabInfo:
    if os.geteuid() != 0:
        pytest.fail("the lab tests need root (namespaces, sshd, iptables): run them as root")
    info = LabInfo(
        inventory=REPO / "inventories" / "lab.yml",
        ssh_config=Path("/var/lib/smartsite-lab/ssh/config"),
        ca_bundle=Path("/var/lib/smartsite-lab/ca/ca.pem"),
        state=Path("/var/lib/smartsite-lab"),
    )
    info.cli("up")
    info.cli("reset")  # a known start: the pre-upgrade state, whatever the last user left
    return info


# The tests that use the one lab live here, and only here: `make test` runs them in one worker,
# in order, while the other worker takes every other test (pytest-xdist, `-n 2`).
LAB_FOLDERS = ("tests/e2e/", "tests/lab/")


class LabTestsTogether(LoadScopeScheduling):
    """pytest-xdist's scope scheduling with one scope for every test under LAB_FOLDERS (a unit
    of work that one worker runs in order), and a scope of its own for each other test.
    (`--dist loadgroup` would do it from a mark, but its group suffix no longer reaches the
    node IDs with pytest 9.)"""

    def _split_scope(self, nodeid: str) -> str:
        return "lab" if nodeid.startswith(LAB_FOLDERS) else nodeid


def pytest_xdist_make_scheduler(config: pytest.Config, log) -> LoadScopeScheduling:
    return LabTestsTogether(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses the lab outside LAB_FOLDERS would run beside the lab's tests: refused."""
    for item in items:
        uses_lab = "lab" in item.fixturenames or item.get_closest_marker("lab")
        if uses_lab and not item.nodeid.startswith(LAB_FOLDERS):
            raise pytest.UsageError(
                f"{item.nodeid} uses the lab: move it under {' or '.join(LAB_FOLDERS)}"
            )
