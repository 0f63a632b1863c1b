"""Bad step metadata in runbook/ is a collection error naming file and line."""

from __future__ import annotations

import pytest


def test_step_without_metadata(project):
    project.procedure(
        "upgrade",
        """
        @step("u01", at="08:00", owner="Jon")
        def test_u01_fine(inventory):
            '''Fine.'''

        def test_u02_forgotten(inventory):
            pass
        """,
    )

    result = project.run()

    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            "*ERROR collecting runbook/test_upgrade.py*",
            "runbook/test_upgrade.py:8: test_u02_forgotten has no step metadata: decorate it *",
        ]
    )
    assert not (project.path / "reports").exists()


def test_duplicate_ids_across_procedures(project):
    project.procedure(
        "upgrade",
        """
        @step("u01", at="08:00", owner="Jon")
        def test_u01_a(inventory):
            '''A.'''
        """,
    )
    project.procedure(
        "zfallback",
        """
        @step("u01", at="12:00", owner="Jon")
        def test_u01_b(inventory):
            '''B.'''
        """,
    )

    result = project.run()

    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        ["runbook/test_zfallback.py:4: step id u01 is already used at runbook/test_upgrade.py:4"]
    )


def test_times_going_backwards(project):
    project.procedure(
        "upgrade",
        """
        @step("u01", at="09:00", owner="Jon")
        def test_u01_a(inventory):
            '''A.'''

        @step("u02", at="08:10", owner="Jon")
        def test_u02_b(inventory):
            '''B.'''
        """,
    )

    result = project.run()

    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            "runbook/test_upgrade.py:8: step u02 at 08:10 is planned before the step above it "
            "(u01 at 09:00): times must not go backwards"
        ]
    )


def test_bad_time_names_the_line(project):
    project.procedure(
        "upgrade",
        """
        @step("u01", at="8h", owner="Jon")
        def test_u01_a(inventory):
            '''A.'''
        """,
    )

    result = project.run()

    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*'8h' is not a time of day in HH:MM form*"])
    result.stdout.fnmatch_lines(["runbook/test_upgrade.py:4: in <module>"])


def test_tests_outside_runbook_need_no_metadata(project):
    project.pytester.makepyfile(test_plain="def test_plain():\n    assert 1 + 1 == 2\n")

    result = project.pytester.runpytest("test_plain.py", "-p", "no:cacheprovider")

    result.assert_outcomes(passed=1)
    assert not (project.path / "reports").exists()  # not a run: no record
