"""`reset` kills the servers whose files it replaces whole (no lab needed: plain processes)."""

import subprocess
import sys
import time
import types

import pytest

from lab import hosts, netns
from lab.config import LabError

# A server that would take its time to stop: it ignores SIGTERM, as a busy JVM's hook seems to.
STUBBORN = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"


def stubborn() -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", STUBBORN])
    time.sleep(0.2)  # its handler set
    return proc


def test_kill_now_ends_a_process_that_ignores_sigterm_and_waits_for_its_end():
    procs = [stubborn(), stubborn()]
    started = time.monotonic()

    hosts.kill_now([p.pid for p in procs])

    assert time.monotonic() - started < 2
    # Gone when it returns (a zombie counts as gone: its files are no longer written).
    assert not any(netns.alive(p.pid) for p in procs)
    for p in procs:
        assert p.wait(timeout=5) == -9


def test_kill_now_of_nothing_or_of_the_already_gone_returns_at_once():
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    hosts.kill_now([])
    hosts.kill_now([gone.pid])


def test_kill_now_names_what_outlives_its_bound(monkeypatch):
    proc = stubborn()  # our own child: the only process this test may signal
    # Its pidfd never readable within the bound, as with one stuck in the kernel (D).
    stuck = types.SimpleNamespace(select=lambda r, w, x, wait: (time.sleep(wait), [], [], [])[1:])
    monkeypatch.setattr(netns, "select", stuck)
    with pytest.raises(LabError, match=rf"pids \[{proc.pid}\] still alive 0\.1s after SIGKILL"):
        hosts.kill_now([proc.pid], bound=0.1)
    assert proc.wait(timeout=5) == -9
