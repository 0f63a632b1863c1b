"""Each check's evidence: its docstring as title, its impact, expected against actual per host,
in the journal, the JUnit XML and the checks record (runbooklib/engine/evidence.py)."""

from __future__ import annotations

import ast
import dataclasses
import html as markup
import xml.etree.ElementTree as ET
from pathlib import Path

from runbook_project import events

from runbooklib.engine.evidence import IMPACTS, text

CHECKS = Path(__file__).resolve().parents[2] / "checks"


def _checks() -> list[tuple[str, ast.FunctionDef]]:
    found = []
    for path in sorted(CHECKS.glob("test_*.py")):
        tree = ast.parse(path.read_text(), str(path))
        found += [
            (f"{path.name}::{node.name}", node)
            for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
        ]
    return found


def _impact(node: ast.FunctionDef) -> list:
    for deco in node.decorator_list:
        if isinstance(deco, ast.Call) and ast.unparse(deco.func) == "pytest.mark.impact":
            return [ast.literal_eval(a) for a in deco.args]
    return []


def test_every_check_has_a_docstring_an_impact_and_takes_its_evidence():
    checks = _checks()
    assert len(checks) >= 20  # the walk sees the three phases' checks

    no_doc = [name for name, node in checks if not ast.get_docstring(node)]
    no_impact = [
        name
        for name, node in checks
        if len(_impact(node)) != 2 or _impact(node)[0] not in IMPACTS or not _impact(node)[1]
    ]
    no_evidence = [name for name, node in checks if "evidence" not in ast.unparse(node.args)]
    assert no_doc == [] and no_impact == [] and no_evidence == []


def test_evidence_is_plain_text_never_a_repr():
    @dataclasses.dataclass
    class Health:
        version: str
        login: bool

    assert text(Health("2.4.1", True)) == "version 2.4.1, login yes"
    assert text({"rows": 3, "checksum": "39"}) == "rows 3, checksum 39"
    assert text({22, 8443}) == "22, 8443" and text([]) == "none" and text(None) == ""

    @dataclasses.dataclass
    class Host:
        name: str

        def __str__(self) -> str:
            return self.name

    assert text(Host("stubing")) == "stubing"


CONFTEST = """
from runbooklib.engine import evidence as _evidence
from runbooklib.engine.evidence import evidence, impact  # noqa: F401


def pytest_configure(config):
    config.addinivalue_line("markers", _evidence.MARKER)
"""

CHECK_FILE = '''
import pytest
from runbooklib.transcript import transcript


@pytest.mark.impact("critical", "users would get the old release")
def test_release(evidence):
    """Every node runs 2.4.1."""
    transcript.add_secret("hunter2-db-password")

    def deployed(node):
        assert node != "walton", f"{node}: deployed 2.4.0 with hunter2-db-password"
        return {"tag": "prod-003", "version": "2.4.1"}

    failures = evidence.each(["stubing", "walton"], deployed, expected="prod-003 (2.4.1)")
    assert not failures, "; ".join(failures)


@pytest.mark.impact("high", "an error at start-up breaks a tool")
def test_log(evidence):
    """catalina.out is clean since the last start."""
    with evidence.proof("no error line", ["stubing", "walton"]):
        pass


@pytest.mark.impact("medium", "nothing proves it")
def test_nothing_recorded():
    """A check that records no evidence says so."""
'''


def test_the_checks_record_shows_title_impact_expected_actual_per_host_and_verdict(project):
    folder = project.path / "checks"
    folder.mkdir()
    (folder / "conftest.py").write_text(CONFTEST)
    (folder / "test_cluster.py").write_text(CHECK_FILE)

    result = project.pytester.runpytest("checks", "-p", "no:cacheprovider")

    result.assert_outcomes(passed=2, failed=1)
    journal = project.journal()
    seen = events(journal, "evidence", step="test_release")
    assert {(e["host"], e["actual"], e["ok"]) for e in seen} == {
        ("stubing", "tag prod-003, version 2.4.1", True),
        ("walton", "deployed 2.4.0 with ********", False),
    }
    assert events(journal, "impact", step="test_log")[0]["level"] == "high"
    (html,) = project.reports(".html")
    page = html.read_text()
    steps = page[page.index('<table id="steps">') : page.index("</table>", page.index("steps"))]
    assert "<td>Every node runs 2.4.1.<br>" in steps and "test_cluster.py::" not in steps
    assert "impact critical: users would get the old release" in steps
    section = page[page.index('id="step-test_release"') : page.index('id="step-test_log"')]
    assert "<b>failed</b>; impact critical: users would get the old release" in section
    assert (
        '<tr class="passed"><td>stubing</td><td>prod-003 (2.4.1)</td>'
        '<td>tag prod-003, version 2.4.1</td><td class="out">ok</td></tr>' in section
    )
    assert '<tr class="failed"><td>walton</td><td>prod-003 (2.4.1)</td>' in section
    log = page[page.index('id="step-test_log"') : page.index('id="step-test_nothing_recorded"')]
    assert "<td>stubing, walton</td><td>no error line</td><td>no error line</td>" in log
    assert "no evidence recorded" in page[page.index('id="step-test_nothing_recorded"') :]
    for path in (html, html.with_suffix(".jsonl"), html.with_suffix(".xml")):
        assert "hunter2-db-password" not in markup.unescape(path.read_text()), path
    props = [
        (p.get("name"), p.get("value"))
        for case in ET.parse(html.with_suffix(".xml")).getroot().iter("testcase")
        if case.get("name") == "test_release"
        for p in case.iter("property")
    ]
    assert ("impact", "critical: users would get the old release") in props
    assert (
        "evidence",
        "stubing: expected prod-003 (2.4.1); actual tag prod-003, version 2.4.1",
    ) in (props)
