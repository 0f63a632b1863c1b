"""Every bad input of tests/engine/refusal_cases.py is refused in one line, before any ssh.

Each case runs the real procedures (a copy of runbook/, sql/ and the lab inventory, with one thing
broken) in pytester's folder, with a fake `ssh` first on PATH that records being started. The
control case runs the same copy unbroken and shows that the fake ssh does get started, so a
refusal that came after a connection could not pass unseen.
"""

from __future__ import annotations

import pytest
import refusal_cases
from refusal_cases import CASES, Case

# Imported before pytester's first in-process run: each run restores sys.modules after it, so the
# actions imported by one case's conftest would be dropped while modules kept from the first run
# still hold their ActionError, and the next case would end in an INTERNALERROR, not a refusal.
import runbooklib.actions.inputs  # noqa: F401
import runbooklib.actions.secrets  # noqa: F401


@pytest.fixture
def project(pytester: pytest.Pytester):
    # Inline runs import the engine a second time in this process: nothing to rewrite.
    return refusal_cases.make_project(pytester.path)


def run(pytester, monkeypatch, project, case: Case, *extra: str, checks=False) -> pytest.RunResult:
    """The case, as `pytest runbook/ -k upgrade ...` or (checks) as `pytest checks/ ...`."""
    args, env = refusal_cases.prepare(case, project)
    if checks:
        assert args[:3] == ["runbook", "-k", "upgrade"]
        args = ["checks", *args[3:]]
    for name, value in env.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    return pytester.runpytest_inprocess(
        *args, *extra, "-W", "ignore::pytest.PytestAssertRewriteWarning"
    )


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_refused_in_one_line_before_any_ssh(pytester, monkeypatch, project, case):
    result = run(pytester, monkeypatch, project, case)

    errors = [line for line in result.errlines if line.strip()]
    everything = "\n".join(result.outlines + result.errlines)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, everything
    assert len(errors) == 1 and errors[0].startswith("ERROR: "), everything
    assert "Traceback" not in everything and "INTERNALERROR" not in everything
    line = refusal_cases.shown(errors[0], project)
    for word in case.expect:
        assert word in line, f"{word!r} not in {line!r}"
    assert refusal_cases.ssh_calls(project) == []
    assert not (project / "reports").exists()  # no journal, no record
    # The page lists this case with exactly this line.
    row = refusal_cases.row(case, refusal_cases.message(line))
    assert row in refusal_cases.DOC.read_text().splitlines(), (
        f"docs/refusals.md is out of date for {case.id}: python tests/engine/refusal_cases.py "
        "--write"
    )


@pytest.mark.parametrize(
    "case_id",
    ["host-injection", "template-pipe", "not-utf8", "secret-fifo", "operator-forged-line"],
)
def test_the_go_no_go_refuses_the_same_inputs_before_any_ssh(
    pytester, monkeypatch, project, case_id
):
    """`pytest checks/` loads the same inventory, secrets and options: the same one line, and
    still no connection (the checks' first would be the run lock on the db host)."""
    case = next(c for c in CASES if c.id == case_id)
    result = run(pytester, monkeypatch, project, case, checks=True)

    errors = [line for line in result.errlines if line.strip()]
    assert result.ret == pytest.ExitCode.USAGE_ERROR, "\n".join(result.outlines + errors)
    assert len(errors) == 1 and errors[0].startswith("ERROR: ")
    assert all(word in errors[0] for word in case.expect)
    assert refusal_cases.ssh_calls(project) == []
    assert not (project / "reports").exists()


def test_a_refused_run_leaves_no_record(pytester, monkeypatch, project):
    missing = next(c for c in CASES if c.id == "missing-var")
    result = run(pytester, monkeypatch, project, missing)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert not (project / "reports").exists()


def test_the_page_lists_exactly_the_cases():
    text = refusal_cases.DOC.read_text()
    assert text.startswith(refusal_cases.HEADER)
    ids = [line.split("|")[1].strip() for line in text[len(refusal_cases.HEADER) :].splitlines()]
    assert ids == [c.id for c in CASES]
    assert len(CASES) >= 30


def test_control_unbroken_input_does_start_ssh(pytester, monkeypatch, project):
    """The detector works: with nothing broken the run gets past every check and ssh is started:
    first for the run lock on the db host (the fake ssh fails, so that refuses the run)."""
    control = Case("control", "nothing broken", ())
    result = run(pytester, monkeypatch, project, control, "--dry-run", "--operator", "x", "-x")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "cannot take the run lock" in result.stderr.str()
    assert any("@198.51.100.21 " in call for call in refusal_cases.ssh_calls(project))


def test_control_the_go_no_go_unbroken_does_start_ssh(pytester, monkeypatch, project):
    """The detector works for the checks too: unbroken, their first connection is the lock's."""
    result = run(pytester, monkeypatch, project, Case("control", "nothing broken", ()), checks=True)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "cannot take the run lock" in result.stderr.str()
    assert any("@198.51.100.21 " in call for call in refusal_cases.ssh_calls(project))
