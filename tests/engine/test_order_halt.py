"""Order (pytest-order), halt on the first failure, and every step bounded in time."""

from __future__ import annotations

from html import unescape

from runbook_project import events

FOUR = """
@step("u01", at="08:00", owner="Jon")
def test_u01_first(inventory):
    '''First.'''

@step("u02", at="08:10", owner="Jon")
def test_u02_second(inventory):
    '''Second.'''
    assert False, "the database did not answer"

@step("u03", at="08:20", owner="Jon")
def test_u03_third(inventory):
    '''Third.'''

@step("u04", at="08:30", owner="Jon")
def test_u04_fourth(inventory):
    '''Fourth.'''
"""


def test_steps_run_in_plan_order_even_when_a_plugin_reorders(project):
    # A conftest that reverses the collected tests; pytest-order's marks put them back.
    project.pytester.makeconftest(
        "def pytest_collection_modifyitems(items):\n    items.reverse()\n"
    )
    project.procedure(
        "upgrade",
        "\n".join(
            f"@step('u0{i}', at='08:0{i}', owner='Jon')\ndef test_u0{i}(inventory):\n"
            f"    '''Step {i}.'''\n"
            for i in range(1, 6)
        ),
    )

    result = project.run("-v")

    assert result.ret == 0
    result.stdout.fnmatch_lines([f"*test_u0{i} PASSED*" for i in range(1, 6)])
    started = [e["step"] for e in events(project.journal(), "step_start")]
    assert started == ["u01", "u02", "u03", "u04", "u05"]


def test_first_failure_halts_the_procedure_and_says_what_next(project):
    project.procedure("upgrade", FOUR)

    result = project.run("-rs")

    assert result.ret == 1
    result.assert_outcomes(passed=1, failed=1, skipped=2)
    result.stdout.fnmatch_lines(["SKIPPED [[]1[]] runbook/test_upgrade.py:13: halted after u02"])
    result.stdout.fnmatch_lines(
        [
            "*upgrade HALTED after u02*",
            "u02 failed: AssertionError: the database did not answer*",
            "What next:",
            "  fix the cause, then resume: pytest runbook/ -k upgrade --resume",
            "  or fall back:             pytest runbook/ -k fallback",
        ]
    )
    ends = {e["step"]: e for e in events(project.journal(), "step_end")}
    assert [ends[i]["outcome"] for i in ("u01", "u02", "u03", "u04")] == [
        "passed",
        "failed",
        "skipped",
        "skipped",
    ]
    assert ends["u03"]["reason"] == "halted after u02"
    report = unescape(project.reports(".html")[-1].read_text())
    assert "upgrade HALTED after u02" in report


def test_a_halt_stops_only_its_own_procedure(project):
    project.procedure("upgrade", FOUR)
    project.procedure(
        "fallback",
        """
        @step("f01", at="12:00", owner="Jon")
        def test_f01_block(inventory):
            '''Block.'''
        """,
    )

    result = project.run()

    result.assert_outcomes(passed=2, failed=1, skipped=2)
    assert "or fall back" in result.stdout.str()


def test_a_hanging_step_fails_naming_its_bound_and_halts(project):
    project.procedure(
        "upgrade",
        """
        import time

        @step("u01", at="08:00", owner="Jon", timeout=1)
        def test_u01_hangs(inventory):
            '''Hangs.'''
            time.sleep(30)

        @step("u02", at="08:10", owner="Jon")
        def test_u02_next(inventory):
            '''Next.'''
        """,
    )

    result = project.run("-rs")

    assert result.ret == 1
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*Timeout (>1.0s) from pytest-timeout*"])
    result.stdout.fnmatch_lines(["SKIPPED [[]1[]] runbook/test_upgrade.py:*: halted after u01"])
