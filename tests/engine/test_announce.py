"""Announcements from the engine: the channel hears the window open, a halt and the end; a
checks run's go/no-go; a channel that is down is a warning, never a failed run. This channel
has no TLS, so it hears the headlines only, no detail (the lab's, over TLS, hears it all).

The channel here is a small IRC server on loopback that speaks just enough of the protocol
(welcome, join) and keeps what is said; the lab's ngircd is the real one (tests/e2e)."""

from __future__ import annotations

import socketserver
import threading

import pytest
from runbook_project import INVENTORY, events
from test_go_no_go import checks  # noqa: F401 - the fixture: the real checks/conftest.py


class _Irc(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        nick = "runbook"
        for raw in self.rfile:
            line = raw.decode().strip()
            if line.startswith("NICK "):
                nick = line.split()[1]
            elif line.startswith("USER "):
                self.wfile.write(f":irc 001 {nick} :welcome\r\n".encode())
            elif line.startswith("JOIN "):
                self.wfile.write(f":{nick}!u@h JOIN {line.split()[1]}\r\n".encode())
            elif line.startswith("PRIVMSG "):
                self.server.said.append(line.split(" :", 1)[1])
            elif line.startswith("QUIT"):
                return


@pytest.fixture
def channel():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Irc)
    server.daemon_threads = True
    server.said = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def _chat(port: int) -> str:
    chat = f'    chat: {{server: 127.0.0.1, port: {port}, channel: "#ucdsakai", nick: runbook}}\n'
    return INVENTORY.replace("  vars:\n", "  vars:\n" + chat)


STEPS = """
import os

@step("u01", at="08:00", owner="Jon")
def test_u01(inventory):
    '''Block.'''

@step("u02", at="08:10", owner="Prabhu")
def test_u02(inventory):
    '''Scripts.'''
    transcript.add_secret("S3cr3tPassw0rd")
    assert os.environ.get("FIXED"), "mariadb -pS3cr3tPassw0rd failed"
"""


def test_the_channel_hears_the_window_a_redacted_halt_and_the_close(project, channel, monkeypatch):
    project.runbook_side()
    project.inventory(_chat(channel.server_address[1]))
    project.procedure("upgrade", STEPS)

    project.run("--operator", "jon").assert_outcomes(passed=1, failed=1)
    monkeypatch.setenv("FIXED", "1")
    project.run("--operator", "jon", "--resume").assert_outcomes(passed=1, skipped=1)

    said = channel.said
    assert len(said) == 4, said
    assert said[0].startswith("SmartSite maintenance window ") and said[0].endswith(
        ": upgrade started"
    )
    assert said[1] == "SmartSite upgrade HALTED after u02, see the record"
    assert said[2].endswith(": upgrade resumed")
    assert said[3] == "SmartSite maintenance window closed: upgrade PASSED"
    assert not [line for line in said if "jon" in line or "mariadb" in line or "S3cr3t" in line]
    assert len(events(project.journal(), "artifact", kind="irc")) == 2  # the resumed run's two


def test_a_channel_that_is_down_is_a_warning_not_a_failure(project, channel):
    port = channel.server_address[1]
    channel.shutdown()
    channel.server_close()  # nothing listens there now
    project.runbook_side()
    project.inventory(_chat(port))
    project.procedure("upgrade", STEPS.replace('os.environ.get("FIXED")', "True"))

    result = project.run("-q")

    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["WARNING: not announced (*): SmartSite maintenance window*"])
    warnings = events(project.journal(), "warning")
    assert len(warnings) == 2
    assert warnings[-1]["text"].endswith("window closed: upgrade PASSED: 2 of 2 steps done")


def test_the_channel_hears_the_go_no_go(project, channel, checks):  # noqa: F811
    project.runbook_side()
    project.inventory(_chat(channel.server_address[1]))

    assert checks().ret == 0
    assert checks("-k", "release").ret == pytest.ExitCode.TESTS_FAILED

    assert channel.said == [
        "SmartSite go/no-go: GO, see the record",
        "SmartSite go/no-go: NO-GO, see the record",
    ]
