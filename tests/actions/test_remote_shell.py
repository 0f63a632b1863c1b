"""The persistent shell's framing (runbooklib.remote), proven on a local bash, without the lab.

A host with Ansible's `ansible_connection: local` gets the same framed bash as an ssh host, only
started here: rc, stdout and stderr apart, bounded commands, stdin fed exactly, a lost shell
replaced. The same over ssh: tests/lab/test_remote.py.
"""

from __future__ import annotations

import hashlib
import os
import signal

import pytest

from runbooklib.remote import CommandTimeout, Host, HostUnreachable, Shell, frame, unframe

MARK = "__runbook_end_0123"


@pytest.fixture
def local():
    host = Host("here", "127.0.0.1", vars={"ansible_connection": "local"})
    yield host
    host.disconnect()


def test_unframe_waits_for_both_markers():
    out = b"no newline at the end\n" + MARK.encode() + b" 7\n"
    err = b"warning\n" + MARK.encode() + b"\n"
    assert unframe(out, b"warning\n", MARK) is None
    assert unframe(out[:-2], err, MARK) is None
    assert unframe(out, err, MARK) == (7, b"no newline at the end", b"warning")


def test_unframe_takes_a_marker_only_at_a_line_start():
    out = b"x" + MARK.encode() + b" 0\n"
    assert unframe(out, b"\n" + MARK.encode() + b"\n", MARK) is None


def test_frame_keeps_the_command_off_the_shell_and_its_input():
    line = frame("echo 'a b'; cat", MARK, 30, None).decode()
    assert line.startswith("timeout --kill-after=5 30 sh -c ")
    assert "'echo '\"'\"'a b'\"'\"'; cat' </dev/null;" in line
    assert line.endswith(f"printf '\\n%s\\n' {MARK} >&2\n") and line.count("\n") == 1
    fed = frame("cat", MARK, 30, 11).decode()
    assert fed.startswith("head -c 11 | (timeout --kill-after=5 30 sh -c cat; r=$?; cat >/dev/null")


def test_rc_stdout_and_stderr_apart(local):
    got = local.run("echo out; echo err >&2; printf tail; exit 3", check=False)
    assert (got.rc, got.stdout, got.stderr) == (3, "out\ntail", "err\n")


def test_stdin_exact_and_the_shell_never_reads_it(local):
    data = bytes(range(256)) * 4000 + b"\necho LEAKED\n"
    got = local.run("sha256sum", stdin=data)
    assert got.stdout.split()[0] == hashlib.sha256(data).hexdigest()
    # The command reads two bytes and ignores the rest: the rest is drained, never run.
    assert local.run("head -c 2", stdin=b"ab\necho LEAKED\n").stdout == "ab"
    assert local.run("echo next").stdout == "next\n"


def test_a_command_never_reads_the_shell_input(local):
    assert local.run("cat; echo done").stdout == "done\n"


def test_secret_on_stdin_is_on_no_command_line(local):
    secret = "s3cr3t-on-stdin-only"
    got = local.run("read -r x; ps -eo args", stdin=f"{secret}\n".encode())
    assert "ps -eo args" in got.stdout and secret not in got.stdout


def test_timeout_stops_the_command_and_the_next_one_runs(local):
    with pytest.raises(CommandTimeout, match="did not finish within 1s"):
        local.run("sleep 30", timeout=1)
    assert local.run("echo alive").stdout == "alive\n"


def test_one_shell_reused_and_a_dead_one_replaced(local):
    local.run("true")
    (shell,) = local._idle
    local.run("true")
    assert local._idle == [shell]  # the same shell: no new process per command
    os.kill(shell.proc.pid, signal.SIGKILL)  # our own child
    shell.proc.wait()
    assert local.run("echo again").stdout == "again\n"
    (fresh,) = local._idle
    assert fresh is not shell and fresh.proc.pid != shell.proc.pid


def test_a_probe_tries_again_when_its_idle_shell_died_silently(local):
    local.probe("true")
    local.disconnect()
    # An idle shell whose connection ends as soon as it gets a command, saying nothing.
    dying = Shell(["sh", "-c", "read -r line"])
    dying.used = True
    local._idle.append(dying)
    assert local.probe("echo fresh").stdout == "fresh\n"
    assert not dying.alive


def test_an_action_is_not_tried_again_on_a_lost_connection(local):
    dying = Shell(["sh", "-c", "read -r line"])
    dying.used = True
    local._idle.append(dying)
    # The message names what was in flight: the halt line says it.
    with pytest.raises(HostUnreachable, match="the connection ended during `echo changed >"):
        local.run("echo changed > /dev/null")
