"""The journal's hash chain: a real run's journal verifies; a changed byte, a removed line and a
journal from before the chain are each named; a SIGKILL mid-step leaves a chain that verifies and
a torn last line (what a crash of the machine leaves) is named and does not stop --resume."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from runbook_project import events
from test_journal_resume import CRASHY, _kill_mid_step

from runbooklib.engine.journal import verify

STEPS = """
@step("u01", at="08:00", owner="Prabhu")
def test_u01(inventory):
    '''Back up.'''
    transcript.command("caje", "mariadb-dump sakai > clone.sql", rc=0)
    transcript.artifact("backup", "caje:clone.sql", sha256="abc")

@step("u02", at="08:10", owner="Thomas")
def test_u02(inventory):
    '''Deploy.'''
    transcript.command("stubing", "deploy", rc=0)
"""


def _verify_cli(path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "runbooklib.engine.journal", "verify", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_runs_journal_verifies_and_a_changed_byte_is_found(project):
    project.procedure("upgrade", STEPS)
    project.run().assert_outcomes(passed=2)
    path = project.reports(".jsonl")[-1]
    lines = path.read_text().splitlines()
    head = json.loads(lines[-1])["hash"]

    good = _verify_cli(path)

    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout.strip() == f"{path}: OK {len(lines)} lines, head {head}"

    # One byte of u02's command changed: rc 0 becomes rc 1.
    (number,) = [i for i, line in enumerate(lines, 1) if '"command": "deploy"' in line]
    lines[number - 1] = lines[number - 1].replace('"rc": 0', '"rc": 1')
    path.write_text("\n".join(lines) + "\n")

    bad = _verify_cli(path)

    assert bad.returncode == 1
    assert bad.stdout.strip() == (
        f"{path}: BROKEN at line {number}: hash does not match (this line changed, or a line "
        "before it removed or inserted)"
    )


def test_resume_refuses_a_journal_whose_chain_is_broken(project):
    project.procedure("upgrade", STEPS)
    project.run().assert_outcomes(passed=2)
    path = project.reports(".jsonl")[-1]
    # Someone marks u02 as never ended: a resume would run it again, or skip what it must not.
    lines = path.read_text().splitlines()
    (number,) = [i for i, x in enumerate(lines, 1) if '"step_end"' in x and '"u02"' in x]
    path.write_text("\n".join(lines[: number - 1] + lines[number:]) + "\n")

    refused = project.run("--resume")

    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    refused.stderr.fnmatch_lines(
        [
            f"ERROR: --resume: {path} BROKEN at line {number}: hash does not match*run without "
            "--resume (the steps are idempotent)"
        ]
    )
    assert len(project.reports(".jsonl")) == 1  # refused before a new journal was opened


def test_a_removed_line_breaks_the_chain_at_the_next(project, tmp_path):
    project.procedure("upgrade", STEPS)
    project.run().assert_outcomes(passed=2)
    lines = project.reports(".jsonl")[-1].read_text().splitlines()
    cut = tmp_path / "cut.jsonl"
    cut.write_text("\n".join(lines[:3] + lines[4:]) + "\n")

    assert verify(cut) == (
        False,
        "BROKEN at line 4: hash does not match (this line changed, or a line before it "
        "removed or inserted)",
    )


def test_a_journal_from_before_the_chain_says_so_and_still_resumes(project):
    project.procedure(
        "upgrade",
        """
        from pathlib import Path

        @step("u01", at="08:00", owner="Jon")
        def test_u01(inventory):
            '''One.'''

        @step("u02", at="08:10", owner="Jon")
        def test_u02(inventory):
            '''Fails until fixed.'''
            assert Path("fixed").exists()
        """,
    )
    project.run().assert_outcomes(passed=1, failed=1)
    path = project.reports(".jsonl")[-1]
    old = [json.loads(line) for line in path.read_text().splitlines()]
    path.write_text(
        "".join(json.dumps({k: v for k, v in e.items() if k != "hash"}) + "\n" for e in old)
    )

    assert _verify_cli(path).stdout.strip() == (
        f"{path}: NO CHAIN: no hashes (a journal from before the chain)"
    )
    (project.path / "fixed").write_text("")
    resumed = project.run("--resume")

    resumed.assert_outcomes(passed=1, skipped=1)
    resumed.stdout.fnmatch_lines(
        ["resuming from *: 1 steps done; its chain: NO CHAIN: no hashes (a journal from before*"]
    )


def test_sigkill_mid_step_leaves_a_verified_chain_and_a_torn_line_still_resumes(project):
    """The fsync decision's proof: every line is flushed, none waits for an fsync; a SIGKILL
    mid-step loses nothing written."""
    project.procedure("upgrade", CRASHY)

    _kill_mid_step(project)

    path = project.reports(".jsonl")[-1]
    data = path.read_text()
    assert data.endswith("\n")  # every line whole: each was written in one piece and flushed
    journal = project.journal()
    assert [e["outcome"] for e in events(journal, "step_end")] == ["passed"]  # u01, finished
    assert [e["step"] for e in events(journal, "step_start")] == ["u01", "u02"]  # u02, started
    assert events(journal, "command", step="u02")  # what u02 did before the kill
    ok, text = verify(path)
    assert ok and text == f"OK {len(journal)} lines, head {journal[-1]['hash']}"

    # A crash of the machine may leave the last line half written: cut it in the middle.
    lines = data.splitlines(keepends=True)
    torn = lines[-1][: len(lines[-1]) // 2]
    path.write_text("".join(lines[:-1]) + torn)

    ok, text = verify(path)

    assert ok, text
    assert text == (
        f"OK {len(lines) - 1} lines, head {journal[-2]['hash']}; line {len(lines)} is cut short "
        f"({len(torn.encode())} bytes, no newline): the run stopped while writing it (a crash); "
        "the lines before it verify"
    )
    resumed = project.run("--resume", subprocess=True)
    resumed.assert_outcomes(passed=2, skipped=1)
    resumed.stdout.fnmatch_lines(["resuming from *; its chain: OK * lines, head *; line * is cut*"])
    assert verify(project.reports(".jsonl")[-1])[0]
