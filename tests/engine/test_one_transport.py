"""One transport: testinfra's modules send their commands through the host's own shell, so each
is bounded, redacted and in the journal like an action's (testinfra's own ssh would be a second
transport the journal never sees). The project's db host here is this machine (`local`)."""

from __future__ import annotations

from runbook_project import events

from runbooklib import remote

CHECKS = """
@step("u01", at="08:00", owner="Jon", kind="check", hosts="db")
def test_u01_verify(hosts, tmp_path):
    '''Verify with testinfra's modules.'''
    there = tmp_path / "present"
    there.write_text("")
    infra = hosts[0].testinfra
    assert infra.file(str(there)).exists
    assert not infra.file(str(tmp_path / "S3cr3tPassw0rd")).exists
    assert not infra.socket("tcp://127.0.0.1:1").is_listening
"""


def test_a_testinfra_modules_commands_are_in_the_journal_redacted(project):
    project.procedure(
        "upgrade",
        CHECKS.replace("    infra = ", '    transcript.add_secret("S3cr3tPassw0rd")\n    infra = '),
    )

    project.run("--operator", "jon").assert_outcomes(passed=1)

    commands = [e["command"] for e in events(project.journal(), "command", step="u01", host="caje")]
    assert any(c.startswith("test -e ") and c.endswith("/present") for c in commands), commands
    assert any(c.startswith("test -e ") and c.endswith("/********") for c in commands), commands
    assert any(" --listening " in c for c in commands), commands  # the socket module's ss
    assert not any("S3cr3tPassw0rd" in c for c in commands)


def test_a_dry_run_still_runs_testinfras_read_only_commands(project):
    project.procedure("upgrade", CHECKS)

    project.run("--dry-run", "--operator", "jon").assert_outcomes(passed=1)

    (check,) = [
        e
        for e in events(project.journal(), "command", step="u01")
        if e["command"].endswith("/present")
    ]
    assert check["rc"] == 0 and check["dry_run"] is False and check["changes"] is False


def test_testinfra_starts_no_connection_of_its_own():
    host = remote.Host("web1", "192.0.2.11", known_hosts="/etc/runbook/known_hosts")

    backend = host.testinfra.backend

    assert isinstance(backend, remote.Journaled) and backend.runbook_host is host
    assert host.testinfra is host.testinfra  # one per host, like its shells
