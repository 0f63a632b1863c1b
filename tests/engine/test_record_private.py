"""The record is private (issue 17): `ls -l reports/` shows a 0700 folder of 0600 files, whatever
the operator's umask, an older folder and its records included; the rebuild's page too."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from runbooklib.engine import rebuild

ONE = """
@step("u01", at="08:00", owner="Jon")
def test_u01(inventory):
    '''One.'''
    transcript.command("caje", "mariadb sakai < SAK-869.sql", rc=0, stdout="done")
"""


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture
def open_umask():
    """The loosest umask an operator could have: nothing of the record may depend on it."""
    before = os.umask(0)
    yield
    os.umask(before)


def test_records_journals_and_index_are_0600_in_a_0700_folder(project, open_umask):
    project.procedure("upgrade", ONE)

    project.run("--operator", "thomas").assert_outcomes(passed=1)

    folder = project.path / "reports"
    # The run's files without their stamp, the index and the rows it keeps.
    files = sorted(re.sub(r"^\d{8}T\d{6}Z-", "", p.name) for p in folder.iterdir())
    assert files == [
        ".index-rows.json",
        "index.html",
        "upgrade-lab.html",
        "upgrade-lab.jsonl",
        "upgrade-lab.xml",
    ]
    assert _mode(folder) == 0o700
    assert {p.name: _mode(p) for p in folder.iterdir()} == {p.name: 0o600 for p in folder.iterdir()}

    (journal,) = project.reports(".jsonl")
    rebuilt = rebuild.rebuild(journal)
    assert _mode(rebuilt) == 0o600 and _mode(folder / "index.html") == 0o600


def test_an_older_open_reports_folder_and_its_records_are_made_private(project):
    folder = project.path / "reports"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    old = folder / "20070818T150000Z-upgrade-lab.jsonl"
    old.write_text("")
    old.chmod(0o644)
    elsewhere = project.path / "not-a-record"
    elsewhere.write_text("")
    elsewhere.chmod(0o644)
    (folder / "a-link").symlink_to(elsewhere)  # never followed
    project.procedure("upgrade", ONE)

    project.run().assert_outcomes(passed=1)

    assert _mode(folder) == 0o700 and _mode(old) == 0o600
    assert _mode(elsewhere) == 0o644
