"""The record: a self-contained HTML report and JUnit XML per run, archived under reports/.

`<reports>/<UTC yyyymmddThhmmssZ>-<procedure>-<inventory>.html`, never overwritten, JUnit XML and
the journal beside it. Header: inventory, operator, git revision, window, verdict. Per step:
planned, actual, owner, kind, and the step's command transcript as its extra. The report is
pytest-html's, started here once the run is known (its name needs the procedure, which only
collection tells); `--html`/`--junitxml` given by hand win.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

import pytest
import pytest_html
from _pytest.junitxml import LogXML, xml_key
from pytest_html import extras
from pytest_html.report_data import ReportData
from pytest_html.selfcontained_report import SelfContainedReport
from pytest_html.util import _process_css, _read_template
from pytest_metadata.plugin import metadata_key

from runbooklib.engine.run import Run, StepState, register, verdict
from runbooklib.engine.window import late
from runbooklib.transcript import transcript


def _html_report(config: pytest.Config, path: Path) -> SelfContainedReport:
    # What pytest-html's own pytest_configure does for --html --self-contained-html.
    resources = Path(pytest_html.__file__).parent / "resources"
    return SelfContainedReport(
        path,
        config,
        ReportData(config),
        _read_template([resources]),
        _process_css(resources / "style.css", []),
    )


def open_record(session: pytest.Session, run: Run) -> None:
    config = session.config
    record = Record(run)
    register(config, "record", record)
    metadata = config.stash[metadata_key]
    metadata.update(record.header())
    if not config.getoption("htmlpath"):
        html = _html_report(config, run.base.with_name(run.base.name + ".html"))
        register(config, "html-report", html)
        # Registered after the session started: replay what pytest-html does at its start.
        html.pytest_sessionstart(session)
        html.pytest_collection_finish(session)
    if not config.option.xmlpath:
        xml = LogXML(
            str(run.base.with_name(run.base.name + ".xml")),
            config.option.junitprefix,
            config.getini("junit_suite_name"),
            config.getini("junit_logging"),
            config.getini("junit_duration_report"),
            config.getini("junit_family"),
            config.getini("junit_log_passing_tests"),
        )
        config.stash[xml_key] = xml
        config.pluginmanager.register(xml)
        xml.pytest_sessionstart()


class Record:
    def __init__(self, run: Run):
        self.run = run

    def header(self) -> dict[str, str]:
        run = self.run
        head = {
            "Procedure": run.procedure,
            "Inventory": f"{run.inventory.name} ({run.inventory.path})",
            "Operator": run.operator,
            "Git revision": run.revision,
            "Window": run.window.describe(),
            "Verdict": run.verdict,
        }
        if run.target_confirmed:
            head["Target confirmed"] = run.target_confirmed
        if run.resumed_from:
            head["Resumed from"] = str(run.resumed_from)
        return head

    def pytest_html_report_title(self, report) -> None:
        report.title = f"{self.run.procedure} on {self.run.inventory.name} - {self.run.stamp}"

    def pytest_html_results_summary(self, prefix, summary, postfix, session) -> None:
        prefix.append(f"<h2>Verdict: {escape(self.run.verdict)}</h2>")
        for approval in self.run.approvals:
            prefix.append(
                f"<p>Approved {escape(approval['step'])} by {escape(approval['operator'])} "
                f"({escape(approval['how'])}) at {escape(approval['at'])}</p>"
            )
        if self.run.window:
            for text in self.run.window.warnings:
                prefix.append(f"<p>Window warning: {escape(text)}</p>")

    def pytest_html_results_table_header(self, cells: list) -> None:
        cells[2:2] = [f"<th>{name}</th>" for name in ("Step", "Planned", "Actual", "Owner", "Kind")]

    def pytest_html_results_table_row(self, report, cells: list) -> None:
        state = self.run.states.get(report.nodeid)
        cells[2:2] = [f"<td>{escape(v)}</td>" for v in columns(state)]

    def pytest_html_results_table_html(self, report, data: list) -> None:
        state = self.run.states.get(report.nodeid)
        if state is not None and state.entries:
            data.insert(0, escape(f"{' transcript ':-^80}\n{transcript_text(state)}\n"))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call):
        report = yield
        transcript.redact_report(report)
        state = self.run.states.get(item.nodeid)
        if state is not None and call.when == "teardown":
            # The whole step is over: its transcript goes with the last report.
            if state.entries:
                report.extras = [
                    *getattr(report, "extras", []),
                    extras.text(transcript_text(state), name="transcript"),
                ]
            for key, value in zip(
                ("step", "planned", "actual", "owner", "kind"), columns(state), strict=True
            ):
                report.user_properties.append((key, value))
        return report

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        verdict(self.run, exitstatus)
        session.config.stash[metadata_key].update(self.header())

    def pytest_terminal_summary(self, terminalreporter) -> None:
        base = self.run.base
        terminalreporter.write_sep("-", f"verdict: {self.run.verdict}")
        terminalreporter.write_line(
            f"record: {base}.html  (JUnit: {base.name}.xml, journal: {base.name}.jsonl)"
        )


def columns(state: StepState | None) -> list[str]:
    if state is None:
        return ["", "", "", "", ""]
    meta = state.step
    planned = f"{state.planned:%H:%M}" if state.planned else ""
    if state.earlier:
        actual = f"done earlier at {state.earlier}"
    elif state.started and state.outcome != "skipped":
        actual = f"{state.started:%H:%M:%S} ({late(state)})"
    else:
        actual = "not run"
    return [state.id, planned, actual, meta.owner if meta else "", meta.kind if meta else "check"]


def transcript_text(state: StepState) -> str:
    """The step's commands, artifacts, notes and approvals, as plain text (already redacted)."""
    lines = []
    for entry in state.entries:
        kind = entry["event"]
        if kind == "command":
            mark = " (dry run: not run)" if entry.get("dry_run") else f" -> rc {entry.get('rc')}"
            lines.append(f"[{entry['host']}] $ {entry['command']}{mark}")
            for stream in ("stdout", "stderr"):
                if entry.get(stream):
                    lines += [f"    {line}" for line in entry[stream].rstrip().splitlines()[-40:]]
        elif kind == "artifact":
            data = {k: v for k, v in entry.items() if k not in ("event", "kind", "where")}
            lines.append(
                f"artifact {entry['kind']}: {entry['where']} {json.dumps(data, default=str)}"
            )
        elif kind == "approval":
            lines.append(f"approved by {entry['operator']} ({entry['how']}) at {entry['at']}")
        else:
            lines.append(f"note: {entry.get('text', '')}")
    return transcript.redact("\n".join(lines))
