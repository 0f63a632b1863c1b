"""Sub-steps are recorded on their own; a step's hosts are its `hosts=` pattern, resolved by the
engine; steps are selected by kind and owner marks; a mistyped mark is an error."""

from __future__ import annotations

import runbook_project
from runbook_project import events

# The project's inventory with a second app node.
HEAD = "        stubing: {ansible_host: 192.0.2.250, head: true}\n"
INVENTORY = runbook_project.INVENTORY.replace(
    HEAD, HEAD + "        walton: {ansible_host: 192.0.2.251}\n"
)
assert "walton" in INVENTORY

SUBSTEPS = """
from runbooklib.engine import substep

@step("u12", at="08:00", owner="Thomas", kind="action", hosts="app[0]")
def test_u12_restart(hosts):
    '''Shut down, edit, start again.'''
    with substep("Shut it down again", hosts):
        transcript.command("stubing", "shutdown.sh", rc=0)
    with substep("Edit sakai.properties on stubing"):
        transcript.command("stubing", "awk ...", rc=0)
    with substep("Check catalina.out for DB errors", hosts):
        raise AssertionError("2 error lines in catalina.out")
"""


def test_substeps_are_journalled_with_their_commands_and_outcome(project):
    project.inventory(INVENTORY)
    project.procedure("upgrade", SUBSTEPS)

    project.run().assert_outcomes(failed=1)

    journal = [e for e in project.journal() if e.get("step") == "u12"]
    kinds = [(e["event"], e.get("name") or e.get("command")) for e in journal[1:-1]]
    assert kinds == [
        ("substep_start", "Shut it down again"),
        ("command", "shutdown.sh"),
        ("substep_end", "Shut it down again"),
        ("substep_start", "Edit sakai.properties on stubing"),
        ("command", "awk ..."),
        ("substep_end", "Edit sakai.properties on stubing"),
        ("substep_start", "Check catalina.out for DB errors"),
        ("substep_end", "Check catalina.out for DB errors"),
    ]
    starts, ends = events(journal, "substep_start"), events(journal, "substep_end")
    assert [s["hosts"] for s in starts] == [["stubing"], [], ["stubing"]]
    assert [e["outcome"] for e in ends] == ["passed", "passed", "failed"]
    assert all(isinstance(e["duration"], float) for e in ends)


HOSTS = """
import pytest

@step("u01", at="08:00", owner="Joncarlo", kind="action", hosts="app")
def test_u01_all(hosts):
    '''All app nodes.'''
    transcript.note(" ".join(h.name for h in hosts))

@step("u02", at="08:10", owner="Thomas", kind="action", hosts="app[1:]")
def test_u02_after_head(hosts):
    '''The nodes after the head.'''
    transcript.note(" ".join(h.name for h in hosts))

@step("u03", at="08:20", owner="Prabhu", kind="action", hosts="app:db")
def test_u03_union(hosts):
    '''App nodes and the db host.'''
    transcript.note(" ".join(h.name for h in hosts))
"""


def test_each_step_gets_the_hosts_its_pattern_names(project):
    project.inventory(INVENTORY)
    project.procedure("upgrade", HOSTS)

    project.run().assert_outcomes(passed=3)

    notes = {e["step"]: e["text"] for e in events(project.journal(), "note")}
    assert notes == {"u01": "stubing walton", "u02": "walton", "u03": "stubing walton caje"}


def test_plan_shows_the_names_each_pattern_resolves_to(project):
    project.inventory(INVENTORY)
    project.procedure("upgrade", HOSTS)

    result = project.run("--plan")

    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "*u01*[[]app: stubing, walton[]]",
            "*u02*[[]app[[]1:[]]: walton[]]",
            "*u03*[[]app:db: stubing, walton, caje[]]",
        ]
    )


def test_steps_are_selected_by_owner_and_kind_marks(project):
    project.inventory(INVENTORY)
    project.procedure("upgrade", HOSTS)

    by_owner = project.run("--plan", "-m", "owner_prabhu")
    by_kind = project.run("--plan", "-m", "action and not owner_joncarlo")

    by_owner.stdout.fnmatch_lines(["*u03*"])
    assert "u01" not in by_owner.stdout.str() and "u02" not in by_owner.stdout.str()
    by_kind.stdout.fnmatch_lines(["*u02*", "*u03*"])
    assert " u01 " not in by_kind.stdout.str()


def test_a_mistyped_mark_is_an_error_not_a_silently_dropped_test(project):
    project.procedure(
        "upgrade",
        """
        import pytest

        @pytest.mark.afterr
        @step("u01", at="08:00", owner="Joncarlo", kind="action", hosts="app")
        def test_u01(hosts):
            '''Typo in a mark.'''
        """,
    )

    result = project.run("--plan")

    assert result.ret != 0
    result.stdout.fnmatch_lines(["*'afterr' not found in `markers` configuration option*"])
