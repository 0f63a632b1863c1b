"""The persistent shell over ssh (runbooklib.remote), against one lab host. Read-only but for a
scratch file in /tmp on the public vantage host; short, and needs only the lab up (no reset)."""

from __future__ import annotations

import os
import signal
import uuid

import pytest

from runbooklib.inventory import Inventory
from runbooklib.remote import CommandTimeout, Host

pytestmark = pytest.mark.lab
INVENTORY = "inventories/lab.yml"


@pytest.fixture
def host() -> Host:
    if os.geteuid() != 0 or not os.path.exists("/var/lib/smartsite-lab/ssh/config"):
        pytest.fail("needs root and the lab up: flock /tmp/lab-dev.lock python -m lab up")
    found = Inventory.load(INVENTORY).hosts["public"]
    yield found
    found.disconnect()


def test_rc_and_stderr_over_ssh(host):
    got = host.run("hostname; echo oops >&2; exit 5", check=False)
    assert (got.rc, got.stdout, got.stderr) == (5, "public\n", "oops\n")


def test_a_command_past_its_bound_is_stopped_on_the_host(host):
    tag = f"{uuid.uuid4().int % 10000 + 30000}.5"  # an unusual sleep time to find it by
    with pytest.raises(CommandTimeout):
        host.run(f"sleep {tag}", timeout=1)
    assert host.probe(f"pgrep -f '[s]leep {tag}' || true").stdout == ""


def test_a_dead_connection_is_reopened(host):
    host.probe("true")
    (shell,) = host._idle
    os.kill(shell.proc.pid, signal.SIGKILL)  # the ssh client this test's host started
    shell.proc.wait()
    assert host.probe("hostname").stdout == "public\n"


def test_secret_goes_by_stdin_never_on_the_host_process_list(host):
    secret = f"not-on-any-command-line-{uuid.uuid4().hex}"
    scratch = f"/tmp/runbook-remote-test-{uuid.uuid4().hex}"
    try:
        seen = host.run(
            f"umask 077; cat > {scratch}; ps -eo args; cat {scratch}",
            stdin=secret.encode(),
        ).stdout
    finally:
        host.run(f"rm -f {scratch}")
    assert seen.endswith(secret) and seen.count(secret) == 1


def test_warm_commands_share_one_shell(host):
    host.probe("true")
    (shell,) = host._idle
    for _ in range(5):
        host.probe("true")
    assert host._idle == [shell]
