"""The record: a self-contained HTML report and JUnit XML per run, archived under reports/.

`<reports>/<UTC yyyymmddThhmmssZ>-<procedure>-<inventory>.html`, never overwritten, JUnit XML and
the journal beside it, and `<reports>/index.html` listing every run. The report is pytest-html's,
made through its public options and hooks only: at configure time a session that may run steps
gets `htmlpath`, `xmlpath` and `self_contained_html` (under a provisional name, since the name
needs the procedure, which only collection tells), renamed when the session ends; a session
that turned out to be no run (refused, --plan) leaves no file. `--html`/`--junitxml` given by
hand win (and are not renamed).

What a reader needs is static HTML at the top (pytest-html's summary hook), made from the
journal by `report.record_html`, the same function the rebuild uses: it reads with JavaScript
off. pytest-html's own table keeps one row per step with no logs: the commands are in the
journal and in the static part once, not again as captured logs and extras.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from html import escape
from pathlib import Path

import pytest
from pytest_metadata.plugin import metadata_key

from runbooklib.engine import private
from runbooklib.engine import report as static
from runbooklib.engine.journal import read
from runbooklib.engine.report_index import write_index
from runbooklib.engine.run import RUN, Run, StepState, register
from runbooklib.engine.scope import may_run_steps
from runbooklib.engine.window import late
from runbooklib.transcript import transcript

_provisional = pytest.StashKey[dict]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("runbook")
    group.addoption(
        "--todo",
        action="append",
        default=[],
        metavar="TEXT",
        help="a post-upgrade TODO for the record (repeatable)",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Before pytest-html's and junitxml's own configure: they read these options there."""
    if config.option.collectonly or hasattr(config, "workerinput"):
        return
    if config.getoption("plan", False) or not may_run_steps(config):
        return
    register(config, "record-table", Table(config))
    paths: dict[str, Path] = {}
    config.stash[_provisional] = paths
    if config.option.htmlpath and config.option.xmlpath:
        return  # both given by hand: they stay where they were asked for
    # Outside the reports folder: a refused run must leave nothing there, not even the folder.
    folder = Path(tempfile.mkdtemp(prefix="runbook-record-"))
    if not config.option.htmlpath:
        paths[".html"] = folder / "record.html"
        config.option.htmlpath = str(paths[".html"])
        config.option.self_contained_html = True
    if not config.option.xmlpath:
        paths[".xml"] = folder / "record.xml"
        config.option.xmlpath = str(paths[".xml"])


@pytest.hookimpl(wrapper=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int):
    """After every writer wrote: give the files the run's name, or remove them (no run)."""
    config = session.config
    run = config.stash.get(RUN, None)
    if run is not None and run.base is not None:
        _write_under_the_runs_name(config, run.base)
    result = yield
    provisional = config.stash.get(_provisional, {})
    for suffix, path in provisional.items():
        if path.exists() and run is not None and run.base is not None:
            shutil.move(path, run.base.with_name(run.base.name + suffix))
    for path in provisional.values():
        shutil.rmtree(path.parent, ignore_errors=True)
    if run is not None and run.base is not None:
        write_index(run.base.parent)
        private.seal(run.base.parent)  # pytest-html and junitxml wrote under the umask
    return result


def _write_under_the_runs_name(config: pytest.Config, base: Path) -> None:
    """pytest-html and junitxml write straight to the run's own names (known only now), so the
    paths they print are the files kept, never a temporary one removed after. Neither has an
    option to change its path after configure: their path attributes are set instead."""
    from _pytest.junitxml import xml_key
    from pytest_html.basereport import BaseReport

    for html in config.pluginmanager.get_plugins():
        if isinstance(html, BaseReport) and config.stash.get(_provisional, {}).get(".html"):
            html._report_path = base.with_name(base.name + ".html")
    xml = config.stash.get(xml_key, None)
    if xml is not None and config.stash.get(_provisional, {}).get(".xml"):
        xml.logfile = str(base.with_name(base.name + ".xml"))


def open_record(session: pytest.Session, run: Run) -> None:
    config = session.config
    threading.Thread(target=static.warm, name="runbook-templates", daemon=True).start()
    record = Record(run)
    register(config, "record", record)
    config.stash[metadata_key].update(record.header())
    table = config.pluginmanager.get_plugin("runbook-record-table")
    if table is not None and table.data is not None:
        table.data.title = f"{run.procedure} on {run.inventory.name} - {run.stamp}"
    # What the static record needs that the journal would not otherwise hold.
    if run.window:
        # The engine's own rule (engine/window.py), never worked out again here.
        latest = run.window.fallback_by
        transcript.emit(
            "record_window",
            fallback=run.window.fallback_name,
            fallback_minutes=run.window.fallback.total_seconds() / 60,
            fallback_latest=latest.isoformat(timespec="seconds"),
        )
    docs = {}
    for item in session.items:
        state = run.states.get(item.nodeid)
        doc = getattr(getattr(item, "obj", None), "__doc__", None)
        if state is not None and doc:
            docs[state.id] = " ".join(doc.strip().split("\n\n")[0].split())
    transcript.emit("record_docs", docs=docs)
    issues = _known_issues(config)
    if issues:
        transcript.emit("record_known_issues", issues=issues)
    for text in config.getoption("todo") or []:
        transcript.emit("todo", text=text, by=run.operator)


def _known_issues(config: pytest.Config) -> list[dict]:
    """The runbook's known issues (its `pytest_runbook_known_issues`), for the record only: a
    failure here never stops the run (the runbook refuses a bad file before the first step)."""
    try:
        return list(config.hook.pytest_runbook_known_issues(config=config) or [])
    except Exception as exc:  # noqa: BLE001 - the record annotates; it never stops the work
        transcript.emit("warning", text=f"known issues not in the record: {exc}")
        return []


class Table:
    """pytest-html's own table, registered before its session starts (it asks for the title
    and the columns then): one row per step, the step's columns, no captured logs."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.data = None  # pytest-html's report data, for the title once the run is known

    def pytest_html_report_title(self, report) -> None:
        self.data = report
        report.title = "runbook record"
        # Rows in the order the steps ran (the plan's), not grouped by result.
        report.set_data("initialSort", "original")

    def pytest_html_results_table_header(self, cells: list) -> None:
        cells[2:2] = [f"<th>{name}</th>" for name in ("Step", "Planned", "Actual", "Owner", "Kind")]

    def pytest_html_results_table_row(self, report, cells: list) -> None:
        if report.when != "call" and not (report.failed or report.skipped):
            cells.clear()  # one row per step: setup and teardown only when they say something
            return
        run = self.config.stash.get(RUN, None)
        state = run.states.get(report.nodeid) if run else None
        cells[2:2] = [f"<td>{escape(v)}</td>" for v in columns(state)]

    def pytest_html_results_table_html(self, report, data: list) -> None:
        # The commands are in the static record once; captured logs would repeat them.
        data.clear()
        if report.failed and report.longreprtext:
            data.append(escape(report.longreprtext[-4000:]))


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
            "Verdict": str(run.verdict),
        }
        if run.target_confirmed:
            head["Target confirmed"] = run.target_confirmed
        if run.resumed_from:
            head["Resumed from"] = str(run.resumed_from)
        return head

    def journal(self) -> Path:
        return self.run.base.with_name(self.run.base.name + ".jsonl")

    def events(self) -> list[dict]:
        events = read(self.journal())
        if not any(e.get("event") == "run_end" for e in events):
            # The journal writes its end after this summary; the verdict is known already.
            events.append({"t": events[-1]["t"], "event": "run_end", **self.run.verdict.fields()})
        return events

    def pytest_html_results_summary(self, prefix, summary, postfix, session) -> None:
        events, journal = self.events(), self.journal()
        rehearsals = static.rehearsals(journal, events)
        prefix.append(static.record_html(events, str(journal.name), rehearsals))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call):
        rep = yield
        transcript.redact_report(rep)
        state = self.run.states.get(item.nodeid)
        if state is not None and call.when == "teardown":
            for key, value in zip(
                ("step", "planned", "actual", "owner", "kind"), columns(state), strict=True
            ):
                rep.user_properties.append((key, value))
        return rep

    # Last of the run's last words (the journal calls them): a go/no-go replaces the run's
    # verdict in this hook, and the header shows the verdict the banner shows.
    @pytest.hookimpl(trylast=True)
    def pytest_runbook_finish(self, session: pytest.Session, run: Run, exitstatus: int) -> None:
        session.config.stash[metadata_key].update(self.header())

    def pytest_terminal_summary(self, terminalreporter) -> None:
        base = self.run.base
        terminalreporter.write_sep("-", f"verdict: {self.run.verdict}")
        terminalreporter.write_line(
            f"record: {base}.html  (JUnit: {base.name}.xml, journal: {base.name}.jsonl, "
            f"all runs: {base.parent / 'index.html'})"
        )


def columns(state: StepState | None) -> list[str]:
    if state is None:
        return ["", "", "", "", ""]
    meta = state.step
    planned = f"{state.planned:%H:%M}" if state.planned else ""
    if state.earlier:
        actual = f"done earlier at {state.earlier}"
    elif state.started and state.outcome != "skipped":
        when = late(state)
        actual = f"{state.started:%H:%M:%S}" + (f" ({when})" if when else "")
    else:
        actual = "not run"
    return [state.id, planned, actual, meta.owner if meta else "", meta.kind if meta else "check"]
