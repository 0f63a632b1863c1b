"""Go/no-go speaks for the whole phase: what was deselected, skipped or errored is not proven.

The project's checks folder gets the real checks/conftest.py (phases and verdict) and a few
checks of its own, in two files, so that node ids can leave a whole file out.
"""

from __future__ import annotations

import textwrap

import pytest
from runbook_project import ROOT

AFTER = """
import pytest

pytestmark = pytest.mark.after

def test_release():
    pass

def test_schema():
    pass
"""
PREFLIGHT = """
import os
import pytest

pytestmark = pytest.mark.preflight

@pytest.mark.after
def test_hosts_reachable():
    if os.environ.get("SKIP_HOSTS"):
        pytest.skip("no vantage host")

@pytest.fixture
def disk():
    if os.environ.get("BROKEN_FIXTURE"):
        raise RuntimeError("df failed")

@pytest.mark.after
def test_disk_room(disk):
    pass

def test_tag_exists():
    pass
"""


@pytest.fixture
def checks(project):
    folder = project.path / "checks"
    folder.mkdir()
    (folder / "conftest.py").write_text((ROOT / "checks" / "conftest.py").read_text())
    (folder / "test_after.py").write_text(textwrap.dedent(AFTER))
    (folder / "test_preflight.py").write_text(textwrap.dedent(PREFLIGHT))

    def run(*args: str, path: str = "checks") -> pytest.RunResult:
        return project.pytester.runpytest_subprocess(path, "-p", "no:cacheprovider", *args)

    return run


def _verdict(result: pytest.RunResult) -> str:
    lines = [line for line in result.stdout.lines if line.startswith(("GO", "NO-GO"))]
    assert len(lines) == 1, result.stdout.str()
    return lines[0]


def test_the_whole_phase_passed_is_a_go(checks):
    result = checks()

    assert result.ret == 0
    assert _verdict(result) == "GO (after): all 4 checks passed"


def test_a_k_selection_is_not_a_go(checks):
    result = checks("-k", "release or schema")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert _verdict(result) == (
        "NO-GO (after): not proven: test_hosts_reachable (not run), test_disk_room (not run)"
    )


def test_node_ids_and_deselect_are_not_a_go(checks):
    by_id = checks(path="checks/test_after.py::test_release")
    deselected = checks("--deselect", "checks/test_preflight.py::test_disk_room")

    assert _verdict(by_id) == (
        "NO-GO (after): not proven: test_schema (not run), test_hosts_reachable (not run), "
        "test_disk_room (not run)"
    )
    assert _verdict(deselected) == "NO-GO (after): not proven: test_disk_room (not run)"
    assert by_id.ret == deselected.ret == pytest.ExitCode.TESTS_FAILED


def test_a_skip_is_not_a_go(checks, monkeypatch):
    monkeypatch.setenv("SKIP_HOSTS", "1")

    result = checks()

    assert _verdict(result) == "NO-GO (after): not proven: test_hosts_reachable (skipped)"
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_an_error_is_not_a_go(checks, monkeypatch):
    monkeypatch.setenv("BROKEN_FIXTURE", "1")

    result = checks()

    assert _verdict(result) == "NO-GO (after): test_disk_room: RuntimeError: df failed"
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_another_phase_counts_only_its_own_checks(checks):
    result = checks("--phase", "preflight")

    assert _verdict(result) == "GO (preflight): all 3 checks passed"


def test_a_refused_checks_run_prints_no_verdict(checks, held):
    result = checks()

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: the cluster of inventory lab is in use by thomas*"])
    assert not [line for line in result.stdout.lines if line.startswith(("GO", "NO-GO"))]


@pytest.mark.parametrize("broken", ["", "1"], ids=["go", "no-go"])
def test_the_verdict_is_journaled_before_the_end_and_the_record_names_the_verified_head(
    checks, project, monkeypatch, broken
):
    import json
    import re
    import subprocess
    import sys

    monkeypatch.setenv("BROKEN_FIXTURE", broken)

    result = checks("--operator", "thomas")

    (journal,) = project.reports(".jsonl")
    kinds = [json.loads(line)["event"] for line in journal.read_text().splitlines()]
    assert kinds[-1] == "run_end" and kinds.count("go_no_go") == 1, kinds[-5:]
    said = next(json.loads(line) for line in journal.read_text().splitlines() if "go_no_go" in line)
    assert said["text"] == _verdict(result)
    verified = subprocess.run(
        [sys.executable, "-m", "runbooklib.engine.journal", "verify", str(journal)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines, head = re.search(r"OK (\d+) lines, head (\w+)", verified).groups()
    page = journal.with_suffix(".html").read_text()
    assert f"<th>Journal chain head</th><td><code>line {lines}: {head}</code>" in page
