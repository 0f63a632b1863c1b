"""The record: report file names, header and per-step contents, JUnit beside it, no secrets."""

from __future__ import annotations

import html as markup
import re
import xml.etree.ElementTree as ET

from runbook_project import events

from runbooklib.engine import rebuild

STEPS = """
@step("u01", at="08:10", owner="Prabhu", kind="action", hosts="app")
def test_u01_clone(inventory):
    '''Backing up (CLONE) production database.'''
    transcript.add_secret("hunter2-db-password")
    transcript.command("caje", "mariadb-dump --password=hunter2-db-password sakai", rc=0,
                       stdout="dumped with hunter2-db-password")
    transcript.artifact("backup", "caje:/var/backups/sakai/clone.sql.gz", sha256="ab12")
    print("connecting with hunter2-db-password")

@step("u02", at="09:00", owner="Prabhu", kind="check", hosts="app")
def test_u02_scripts(inventory):
    '''Check the scripts.'''
    assert "hunter2-db-password" == "", "bad password hunter2-db-password"
"""

NAME = re.compile(r"^\d{8}T\d{6}Z-upgrade-lab$")


def test_report_name_header_steps_and_no_secrets(project):
    project.procedure("upgrade", STEPS)

    result = project.run("--operator", "thomas", "--window-start", "08:00")

    assert result.ret == 1
    (html,) = project.reports(".html")
    assert NAME.match(html.stem)
    for suffix in (".xml", ".jsonl"):
        assert html.with_suffix(suffix).exists()
    page = html.read_text()
    # The static record at the top: verdict banner, facts, timeline, steps in plan order.
    assert 'class="rb-banner rb-bad" id="verdict"><b>HALTED</b>upgrade HALTED after u02' in page
    assert "<th>Operator</th><td>thomas</td>" in page
    assert "<th>Window</th><td>08:00-12:00 (plan 08:00-12:00)</td>" in page
    assert '<svg xmlns="http://www.w3.org/2000/svg" id="timeline"' in page
    steps = page[page.index('<table id="steps">') :]
    assert steps.index(">u01</a>") < steps.index(">u02</a>")
    assert "<td>Prabhu</td>" in steps and "<td>action</td>" in steps and "<td>check</td>" in steps
    assert "<b>backup</b> <code>caje:/var/backups/sakai/clone.sql.gz</code>" in page
    assert "$ mariadb-dump --password=******** sakai" in page
    # One copy of each command: no captured log or extra repeats it.
    assert page.count("mariadb-dump") == 1
    # pytest-html's own table has the step's columns too (its data, for JavaScript).
    assert "&lt;td&gt;08:10&lt;/td&gt;" in page or "<td>08:10</td>" in page
    assert '"initialSort": "original"' in markup.unescape(page)  # plan order with JavaScript too
    # The archive lists the run.
    assert html.name in (project.path / "reports" / "index.html").read_text()
    for path in (html, html.with_suffix(".xml"), html.with_suffix(".jsonl")):
        assert "hunter2-db-password" not in markup.unescape(path.read_text()), path
    assert "hunter2-db-password" not in result.stdout.str()
    testcase = ET.parse(html.with_suffix(".xml")).getroot().find(".//testcase")
    props = {p.get("name"): p.get("value") for p in testcase.iter("property")}
    assert props["step"] == "u01" and props["owner"] == "Prabhu" and props["planned"] == "08:10"
    result.stdout.fnmatch_lines([f"record: {html}*"])


def test_reports_are_never_overwritten(project):
    project.procedure("upgrade", STEPS.split('@step("u02"')[0])

    project.run().assert_outcomes(passed=1)
    project.run().assert_outcomes(passed=1)

    assert len(project.reports(".html")) == 2
    index = (project.path / "reports" / "index.html").read_text()
    first, second = sorted(p.name for p in project.reports(".html"))
    assert index.index(second) < index.index(first)  # newest first
    assert len(project.reports(".jsonl")) == 2
    assert len(events(project.journal(), "run_start")) == 1  # one journal per run


def test_checks_are_recorded_as_procedure_checks(project):
    folder = project.path / "checks"
    folder.mkdir()
    (folder / "test_cluster.py").write_text(
        'def test_ports_closed():\n    """Port 9000 is closed to the public."""\n\n'
        'def test_release():\n    """Every node runs 2.4.1."""\n    assert False, "walton: 2.4.0"\n'
    )

    result = project.pytester.runpytest("checks", "-p", "no:cacheprovider")

    result.assert_outcomes(passed=1, failed=1)
    (html,) = project.reports(".html")
    assert html.name.endswith("-checks-lab.html")
    page = html.read_text()
    # No checks/conftest.py here, so no go/no-go: the engine's own verdict of the checks.
    assert "<b>FAILED</b>FAILED: test_release. test_release: AssertionError: walton: 2.4.0" in page
    steps = page[page.index('<table id="steps">') :]
    assert steps.index("Port 9000 is closed to the public.") < steps.index("Every node runs 2.4.1.")
    actual = re.findall(r"&lt;td&gt;(\d\d:\d\d:\d\d[^&]*)&lt;/td&gt;", page)
    assert actual and all("(" not in a for a in actual), actual  # not `21:56:26 ()`


def test_a_refused_run_leaves_no_record(project):
    project.procedure("upgrade", STEPS.split('@step("u02"')[0])

    result = project.run("--approve", "u99")

    assert result.ret == 4
    assert not (project.path / "reports").exists()


def _static(page: str) -> str:
    start = page.index('<div class="rb">')
    return page[start : page.index("\n</div>", page.rindex("</section>")) + 7]


def test_the_rebuild_makes_the_same_record_from_the_journal(project):
    project.procedure("upgrade", STEPS)
    project.run("--operator", "thomas", "--window-start", "08:00", "--todo", "rotate the logs")
    (html,) = project.reports(".html")

    rebuilt = rebuild.rebuild(html.with_suffix(".jsonl"))

    assert _static(rebuilt.read_text()) == _static(html.read_text())
    assert '<li>rotate the logs <span class="muted">(by thomas)</span></li>' in html.read_text()


def test_a_step_skipped_after_a_halt_keeps_its_row_in_pytest_htmls_table(project):
    later = '\n@step("u03", at="10:00", owner="Thomas", kind="action", hosts="app")\n'
    project.procedure(
        "upgrade", STEPS + later + "def test_u03_build(inventory):\n    '''Build.'''\n"
    )

    project.run()

    (html,) = project.reports(".html")
    data = markup.unescape(html.read_text())
    assert '"testId": "runbook/test_upgrade.py::test_u03_build::setup"' in data
    assert '"result": "Skipped"' in data


def test_the_record_gives_the_engines_latest_fallback_start_the_fallback_plans_start(project):
    # The seed's shape: the fallback's plan starts at the window's end (12:00) and runs past it,
    # so the latest time to start it is 12:00, not the window's end less its length (09:59).
    project.procedure(
        "upgrade",
        """
        @step("u01", at="08:10", owner="Prabhu", kind="action")
        def test_u01_close(inventory):
            '''Close the site.'''
        """,
    )
    project.procedure(
        "fallback",
        """
        @step("f01", at="12:00", owner="Prabhu", kind="action")
        def test_f01_restore(inventory):
            '''Restore the database.'''

        @step("f02", at="14:01", owner="Thomas", kind="action")
        def test_f02_release(inventory):
            '''Previous release.'''
        """,
    )

    result = project.run("-k", "upgrade", "--operator", "thomas", "--window-start", "08:00")

    assert result.ret == 0
    (html,) = project.reports(".html")
    assert "<th>Latest fallback start</th><td>12:00</td>" in html.read_text()


def test_the_console_names_only_the_files_kept(project):
    project.procedure("upgrade", STEPS.split('@step("u02"')[0])

    result = project.run()

    out = result.stdout.str()
    assert "runbook-record-" not in out  # no temporary path, gone once the run ends
    (html,) = project.reports(".html")
    result.stdout.fnmatch_lines([f"*Generated html report: {html.as_uri()}*"])
    result.stdout.fnmatch_lines([f"*generated xml file: {html.with_suffix('.xml')}*"])
