"""`python -m runbooklib.scaffold PLAN NAME`: a plan page in the seed's format becomes a do-nothing
runbook that plans (every timed line, its owner and time, under the page's own window), runs with
`--approve all` to a record, and that seedmap holds against its page. No lab: the inventory's
hosts are never contacted and the lock's host is this machine."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from runbook_project import events

from runbooklib import scaffold, seedmap

REPO = Path(__file__).resolve().parents[2]

# A page this test writes itself, in the seed's wiki format: a window, a heading before the
# procedure, a timed item with no owner, lines under items (sub-steps and quoted values), a
# section after it that is no procedure.
PLAN = """\
IRC Channel for Communication
- channel: #ops
Maintenance Window
- Date: March 8, 2008
- Time: 06:00 to 07:00
Certificate Renewal
- Both admins stay on the channel for the whole window
- (06:00 Dana) Announce the window on the channel
- (06:10 Lee) Put the maintenance page up on both nodes
- Check that the page answers on 443
- /etc/ssl/private/site.key
- (06:20) Replace the certificate and key on every node
openssl x509 -noout -dates -in /etc/ssl/certs/site.pem
- (06:40 Dana, Lee) Restart the web servers and verify the new chain
- Verify the chain from outside the campus
Post Window TODOs:
- File the old certificate
"""

# Each timed line: (time, owner, words); the third takes the owner of the line before it.
TIMED = [
    ("06:00", "Dana", "Announce the window on the channel"),
    ("06:10", "Lee", "Put the maintenance page up on both nodes"),
    ("06:20", "Lee", "Replace the certificate and key on every node"),
    ("06:40", "Dana, Lee", "Restart the web servers and verify the new chain"),
]


def run_module(module: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def renewal(project) -> Path:
    """The page scaffolded by the command line into the project's runbook/ folder."""
    (project.path / "plan.txt").write_text(PLAN)
    made = run_module(
        "runbooklib.scaffold", "plan.txt", "renewal", "--into", "runbook", cwd=project.path
    )
    assert made.returncode == 0, made.stderr
    path = project.path / "runbook" / "test_renewal.py"
    assert f"wrote {Path('runbook') / 'test_renewal.py'}" in made.stdout
    return path


def test_the_plan_lists_every_timed_line_with_its_owner_and_time(project, renewal):
    result = project.run("--plan", "--window-start", "06:00")

    assert result.ret == 0
    # The page's window, not the inventory's (08:00-12:00).
    result.stdout.fnmatch_lines(["*plan: renewal on lab, window 06:00-07:00 (plan 06:00-07:00)*"])
    listed = [line for line in result.stdout.lines if re.match(r"\d\d:\d\d  ", line)]
    assert len(listed) == len(TIMED)
    for line, (at, owner, words) in zip(listed, TIMED, strict=True):
        assert re.match(rf"{at}  {re.escape(owner)} +manual +r0\d +{re.escape(words)}  \[", line)


def test_approved_it_runs_to_exit_0_and_leaves_a_record(project, renewal):
    result = project.run("--operator", "dana", "--approve", "all")

    assert result.ret == 0, result.stdout.str()
    result.assert_outcomes(passed=len(TIMED))
    assert len(project.reports(".html")) == 1
    journal = project.journal()
    assert [e["step"] for e in events(journal, "approval")] == ["r01", "r02", "r03", "r04"]
    assert {e["operator"] for e in events(journal, "approval")} == {"dana"}
    ends = events(journal, "substep_end")
    assert [e["name"] for e in ends] == [
        "Check that the page answers on 443",
        "Verify the chain from outside the campus",
    ]


def test_unapproved_a_step_waits_for_a_person(project, renewal):
    result = project.run("--operator", "dana")

    assert result.ret != 0
    result.stdout.fnmatch_lines(["*manual step r01 needs a person's confirmation*"])


def test_the_runbook_carries_its_page_for_seedmap(project, renewal, capsys):
    check = ["--plan", str(project.path / "plan.txt"), "--runbook", str(renewal)]

    assert seedmap.main(check) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "the procedure's docstring" in out  # the line before the first timed one
    assert "r02 > Check that the page answers on 443" in out
    assert "r02 docstring" in out  # /etc/ssl/private/site.key, quoted
    assert "r03 docstring" in out  # the openssl command, quoted
    assert "File the old certificate" not in out


def test_seedmap_names_the_line_of_a_step_removed(project, renewal, capsys):
    source = renewal.read_text()
    start = source.index('@step("r02"')
    renewal.write_text(source[:start] + source[source.index('@step("r03"') :])

    assert seedmap.main(["--plan", str(project.path / "plan.txt"), "--runbook", str(renewal)]) == 1

    err = capsys.readouterr().err
    assert "missing or out of order: '(06:10 Lee) Put the maintenance page up on both nodes'" in err


def test_seedmap_names_a_window_the_runbook_does_not_keep(project, renewal, capsys):
    renewal.write_text(
        renewal.read_text().replace('window("06:00", "07:00")', 'window("06:00", "08:00")')
    )

    assert seedmap.main(["--plan", str(project.path / "plan.txt"), "--runbook", str(renewal)]) == 1

    assert (
        "window: the page says 06:00-07:00, the runbook marks 06:00-08:00"
        in capsys.readouterr().err
    )


@pytest.mark.parametrize(
    ("page", "error"),
    [
        (
            PLAN.replace("- Time: 06:00 to 07:00\n", ""),
            "gives no window: add `- Time: HH:MM to HH:MM`",
        ),
        (
            PLAN.replace("(06:00 Dana)", "(06:00)"),
            "(06:00) names no owner and no item comes before it",
        ),
        (PLAN.replace("(06:20)", "(26:20)"), "'26:20' is not a time of day in HH:MM form"),
        ("Nothing\n- here\n", "has no timed item `- (HH:MM Owner) text` under a heading"),
        (
            PLAN.replace("(06:20)", "(6:20)"),
            "line 12: '(6:20) Replace the certificate': write (HH:MM Owner)",
        ),
        (
            PLAN.replace("06:00 to 07:00", "23:00 to 01:00"),
            "the window 23:00-01:00 ends before it starts",
        ),
    ],
)
def test_a_page_it_cannot_read_is_refused_in_one_line_writing_nothing(tmp_path, page, error):
    (tmp_path / "plan.txt").write_text(page)

    made = run_module(
        "runbooklib.scaffold", "plan.txt", "renewal", "--into", "runbook", cwd=tmp_path
    )

    assert made.returncode == 2
    assert made.stderr.count("\n") == 1 and made.stderr.startswith("ERROR: ")
    assert error in made.stderr
    assert not (tmp_path / "runbook").exists()


def test_it_never_overwrites_a_runbook_or_reuses_step_ids(project, renewal):
    automated = renewal.read_text() + "# automated since\n"
    renewal.write_text(automated)

    again = run_module(
        "runbooklib.scaffold", "plan.txt", "renewal", "--into", "runbook", cwd=project.path
    )
    other = run_module(
        "runbooklib.scaffold", "plan.txt", "rotation", "--into", "runbook", cwd=project.path
    )

    assert (
        again.returncode == 2
        and "exists (steps automated there would be lost): --force" in again.stderr
    )
    assert renewal.read_text() == automated
    assert other.returncode == 2 and "has step ids rNN too" in other.stderr
    assert "--prefix" in other.stderr


EXAMPLES = REPO / "docs" / "examples"


def test_the_example_runbook_is_its_page_scaffolded_and_seedmap_holds(tmp_path, capsys):
    plan = next(EXAMPLES.glob("*.txt"))
    committed = next(EXAMPLES.glob("test_*.py"))
    name = committed.stem.removeprefix("test_")

    made = scaffold.scaffold(plan, name, tmp_path)

    # The same source, apart from where it says it was written (and how its docstring wraps).
    def words(path: Path, shown: str) -> str:
        text = " ".join(path.read_text().split()).replace(shown, "THIS_FILE")
        return re.sub(r" --into \S+`", "`", text)

    assert words(made, str(made)) == words(committed, str(committed.relative_to(REPO)))
    assert seedmap.main(["--plan", str(plan), "--runbook", str(committed)]) == 0, (
        capsys.readouterr().err
    )


def test_the_scaffolded_source_is_already_formatted(renewal):
    ruff = Path(sys.executable).with_name("ruff")
    if not ruff.exists():
        pytest.skip(f"no ruff beside {sys.executable}")
    # Read as a file of this repository's runbook/: its settings, runbooklib first-party.
    source, as_if = renewal.read_text(), ["--stdin-filename", "runbook/test_renewal.py", "-"]

    for command in (["format", "--check", "--diff"], ["check", "--no-cache"]):
        ruffed = subprocess.run(
            [ruff, *command, *as_if], cwd=REPO, input=source, capture_output=True, text=True
        )
        assert ruffed.returncode == 0, ruffed.stdout + ruffed.stderr


def test_the_seed_scaffolds_into_runbooks_seedmap_holds(tmp_path, capsys):
    steps = {}
    for name, section in (
        ("upgrade", "Upgrade Process"),
        ("fallback", "Fallback Procedure (If needed)"),
    ):
        made = scaffold.scaffold(seedmap.SEED, name, tmp_path, section=section)
        assert seedmap.main(["--plan", str(seedmap.SEED), "--runbook", str(made)]) == 0, (
            capsys.readouterr().err
        )
        steps[name] = re.findall(
            r'@step\("(\w+)", at="([\d:]+)", owner="([^"]+)"', made.read_text()
        )
    # The seed's timed lines, by time: "(11:45 Thomas) Send mail" before "(12:00 Joncarlo)"; its
    # "(12:01) System ready" takes Joncarlo, the owner of the line before it.
    assert [at for _, at, _ in steps["upgrade"]][-3:] == ["11:45", "12:00", "12:01"]
    assert steps["upgrade"][-1] == ("u10", "12:01", "Joncarlo")
    assert len(steps["fallback"]) == 8


def test_one_run_refuses_procedures_that_mark_different_windows(project):
    for name, window, prefix in (("renewal", "07:00", "r"), ("rotation", "08:00", "t")):
        project.procedure(
            name,
            f"""
import pytest
pytestmark = pytest.mark.window("06:00", "{window}")

@step("{prefix}01", at="06:00", owner="Dana", kind="manual")
def test_{prefix}01():
    '''Announce the window.'''
""",
        )

    assert project.run("--plan", "-k", "renewal").ret == 0
    both = project.run("--plan")

    assert both.ret == 4
    both.stderr.fnmatch_lines(["ERROR: the procedures of this run mark different windows*"])


def test_one_run_refuses_a_procedure_with_its_own_window_beside_one_without(project, renewal):
    project.procedure(
        "upgrade",
        """
@step("u01", at="08:00", owner="Joncarlo", kind="manual")
def test_u01():
    '''Prevent any client access.'''
""",
    )

    assert project.run("--plan", "-k", "upgrade").ret == 0
    both = project.run("--plan")

    assert both.ret == 4
    both.stderr.fnmatch_lines(["ERROR: upgrade keep the inventory's window and renewal mark*"])
