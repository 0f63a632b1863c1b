"""The engine serves any runbook: what an application adds reaches it through hooks and settings.

Here the runbook is not the seed's: a payroll window whose procedures live in `procedures/`, whose
channel is a file and whose known issues come from its own conftest. The engine announces in its
name, records its known issues and names its folder in the halt's "What next".
"""

from __future__ import annotations

import json
import textwrap

from runbook_project import events

STEPS = """
@step("u01", at="08:00", owner="Ada")
def test_u01(inventory):
    '''Freeze the ledger.'''

@step("u02", at="08:10", owner="Ada")
def test_u02(inventory):
    '''Run the migration.'''
    assert False, "the ledger did not answer"
"""

# The payroll runbook's side: its channel is a file of JSON lines, its known issues a constant.
CONFTEST = """
import json
from pathlib import Path

ISSUES = [{"id": "PAY-1", "justification": "a warning of the old driver",
           "expires": "2099-01-01", "hosts": "any"}]


def pytest_runbook_announce(config, inventory, text):
    with open(Path(config.rootpath) / "channel.jsonl", "a") as channel:
        channel.write(json.dumps({"inventory": inventory.name, "text": text}) + "\\n")
    return True


def pytest_runbook_known_issues(config):
    return ISSUES
"""


def _payroll(project, conftest: str = CONFTEST):
    folder = project.path / "procedures"
    folder.mkdir()
    header = "from runbooklib.engine import step\n"
    (folder / "test_upgrade.py").write_text(header + textwrap.dedent(STEPS))
    if conftest:
        project.pytester.makeconftest(conftest)

    def run(*args: str):
        return project.pytester.runpytest(
            "procedures",
            "-p",
            "no:cacheprovider",
            "-o",
            "runbook_steps=procedures",
            "-o",
            "runbook_name=Payroll",
            *args,
        )

    return run


def _said(project) -> list[str]:
    channel = project.path / "channel.jsonl"
    return [json.loads(line)["text"] for line in channel.read_text().splitlines()]


def test_the_runbook_announces_in_its_own_name_through_its_hook(project):
    run = _payroll(project)

    result = run("--operator", "ada")

    result.assert_outcomes(passed=1, failed=1)
    said = _said(project)
    assert len(said) == 2, said
    assert said[0].startswith("Payroll maintenance window ")
    assert said[0].endswith(": upgrade started on lab by ada")
    assert said[1].startswith("Payroll upgrade HALTED after u02: AssertionError: the ledger")


def test_the_halt_names_the_runbooks_own_folder(project):
    result = _payroll(project)("--operator", "ada")

    result.stdout.fnmatch_lines(
        [
            "What next:",
            "  fix the cause, then resume: pytest procedures/ -k upgrade --resume",
            "  or fall back:             pytest procedures/ -k fallback",
        ]
    )


def test_the_record_shows_the_known_issues_the_runbook_hands_over(project):
    _payroll(project)("--operator", "ada")

    recorded = events(project.journal(), "record_known_issues")
    assert [e["issues"] for e in recorded] == [
        [
            {
                "id": "PAY-1",
                "justification": "a warning of the old driver",
                "expires": "2099-01-01",
                "hosts": "any",
            }
        ]
    ]


def test_without_a_runbook_side_the_engine_announces_nothing_and_runs(project):
    result = _payroll(project, conftest="")("--operator", "ada")

    result.assert_outcomes(passed=1, failed=1)
    assert not (project.path / "channel.jsonl").exists()
    journal = project.journal()
    assert events(journal, "warning") == []
    assert events(journal, "record_known_issues") == []


def test_a_channel_hook_that_fails_is_a_warning_naming_the_message(project):
    failing = "def pytest_runbook_announce(config, inventory, text):\n    raise OSError('down')\n"
    result = _payroll(project, conftest=failing)("--operator", "ada")

    result.assert_outcomes(passed=1, failed=1)
    warnings = [e["text"] for e in events(project.journal(), "warning")]
    assert warnings[0].startswith("not announced (down): Payroll maintenance window ")
