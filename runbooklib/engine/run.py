"""The run: the steps this session carries out, against which inventory, and what became of each.

A session that selects no step and nothing under the checks folders is not a run: the engine
stays out of the way (the project's own `pytest tests/`). One `Run` per session, in config.stash.
"""

from __future__ import annotations

import datetime as dt
import getpass
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from runbooklib.engine.steps import Step, step_of
from runbooklib.inventory import Inventory

RUN = pytest.StashKey["Run"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("runbook")
    group.addoption(
        "--operator",
        metavar="NAME",
        help="who carries out the run, for the record and for approvals (default: login name)",
    )
    group.addoption(
        "--reports",
        metavar="DIR",
        help="folder for the report, JUnit XML and journal (default: ini runbook_reports)",
    )
    parser.addini("runbook_reports", "folder for reports and journals", default="reports")
    parser.addini(
        "runbook_steps",
        "folders whose every test must be a @step (a procedure per module)",
        type="paths",
        default=[],
    )
    parser.addini(
        "runbook_checks",
        "folders of the read-only go/no-go suite (procedure `checks`)",
        type="paths",
        default=[],
    )


@dataclass
class StepState:
    """What became of one selected test in this run."""

    nodeid: str
    procedure: str
    # None for an undecorated check in the checks folders.
    step: Step | None
    # The plan's time on today's clock (window start + offset); set by the window module.
    planned: dt.datetime | None = None
    started: dt.datetime | None = None
    ended: dt.datetime | None = None
    # passed, failed, skipped, interrupted (started, never ended), or "not run".
    outcome: str = "not run"
    reason: str = ""
    # --resume: when an earlier run did this step ("HH:MM:SS"); it is not run again.
    earlier: str | None = None
    # Command transcript entries, shown as the step's extra in the report.
    entries: list[dict] = field(default_factory=list)
    # --dry-run: a verification step whose assertion failed because the changes it verifies
    # were not made (engine/dryrun.py); counted in the verdict, never a failure.
    waits_for_changes: bool = False

    @property
    def id(self) -> str:
        return self.step.id if self.step else self.nodeid.rsplit("::", 1)[-1]


@dataclass(frozen=True)
class Verdict:
    """How a run ended, as a value: never parsed back from its words.

    >>> Verdict("HALTED", "upgrade HALTED after u05", ("u05: SAK-869.sql failed",)).ok
    False
    """

    # GO, NO-GO (the go/no-go); PASSED, HALTED, FAILED, STOPPED, INTERRUPTED, DRY RUN (a
    # procedure); RUNNING until the session ends.
    kind: str
    # The one line said on the console, in the journal, the record's banner and the channel.
    summary: str
    # Why, beyond the summary, one line each (the failed steps' reasons): the record's banner
    # shows them after it.
    reasons: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether the session may exit 0: a failure, a halt, a NO-GO or an interruption may not."""
        return self.kind in OK_KINDS

    def fields(self) -> dict:
        """For the journal's `run_end` (the record reads these, not the words)."""
        return {"verdict": self.summary, "kind": self.kind, "reasons": list(self.reasons)}

    def __str__(self) -> str:
        return self.summary


OK_KINDS = ("GO", "PASSED", "STOPPED", "DRY RUN")
RUNNING = Verdict("RUNNING", "running")


@dataclass
class Run:
    # "upgrade", "fallback", "checks", or several joined by "+" when one session runs more.
    procedure: str
    inventory: Inventory
    operator: str
    # UTC yyyymmddThhmmssZ: names the report, the JUnit file and the journal.
    stamp: str
    reports_dir: Path
    # By nodeid, in run order.
    states: dict[str, StepState]
    # Every step collected before -k deselection: the window needs the fallback's length.
    all_steps: dict[str, list[Step]]
    current: StepState | None = None
    # procedure -> id of its failed step: the rest of that procedure is not run.
    halted_after: dict[str, str] = field(default_factory=dict)
    # procedure -> the step named by --until: the rest is not run, on purpose.
    stopped_after: dict[str, str] = field(default_factory=dict)
    # How a production target was confirmed (None: not production).
    target_confirmed: str | None = None
    # The window on today's clock (window.Window); set before the first step.
    window: Any = None
    # --resume: the journal resumed from, and step id -> "HH:MM:SS" of steps done there.
    resumed_from: Path | None = None
    done_earlier: dict[str, str] = field(default_factory=dict)
    # Where this run's record goes: <reports>/<stamp>-<procedure>-<inventory> + .html/.xml/.jsonl
    base: Path | None = None
    # Manual steps approved: {"step", "operator", "how", "at"}.
    approvals: list[dict] = field(default_factory=list)
    # Judged once when the session ends (`conclude`; the go/no-go's in checks/conftest.py),
    # then read by the console, the journal and record, the channel and the exit status.
    verdict: Verdict = field(default_factory=lambda: RUNNING)
    # git revision of the runbook, for the record.
    revision: str = "unknown"
    # --dry-run: the inventory's hosts are in check mode (see remote.Host.check_mode).
    dry_run: bool = False

    def steps(self) -> list[StepState]:
        return list(self.states.values())

    def find(self, step_id: str) -> StepState | None:
        return next((s for s in self.states.values() if s.id == step_id), None)


def _under(path: Path, folders: list[Path]) -> bool:
    return any(path == f or f in path.parents for f in folders)


def procedure_of(config: pytest.Config, item: pytest.Item) -> str | None:
    """upgrade for <steps folder>/test_upgrade.py; `checks` for the go/no-go suite; else None."""
    if _under(item.path, config.getini("runbook_checks")):
        return "checks"
    if step_of(item) or _under(item.path, config.getini("runbook_steps")):
        return item.path.stem.removeprefix("test_")
    return None


def reports_dir(config: pytest.Config) -> Path:
    option = config.getoption("reports")
    if option:
        return config.invocation_params.dir / option
    return config.rootpath / config.getini("runbook_reports")


def utc_stamp(now: dt.datetime | None = None) -> str:
    return (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")


def new_run(
    config: pytest.Config, items: list[pytest.Item], all_steps: dict, inv: Inventory
) -> Run | None:
    states: dict[str, StepState] = {}
    for item in items:
        procedure = procedure_of(config, item)
        if procedure:
            states[item.nodeid] = StepState(item.nodeid, procedure, step_of(item))
    if not states:
        return None
    procedures = list(dict.fromkeys(s.procedure for s in states.values()))
    return Run(
        procedure="+".join(procedures),
        inventory=inv,
        operator=config.getoption("operator") or getpass.getuser(),
        stamp=utc_stamp(),
        reports_dir=reports_dir(config),
        states=states,
        all_steps=all_steps,
        dry_run=bool(config.getoption("dry_run", False)),
    )


def now() -> dt.datetime:
    """Local wall-clock time, aware: the window's HH:MM are the site's local times."""
    return dt.datetime.now().astimezone()


def base_path(run: Run) -> Path:
    """<reports>/<stamp>-<procedure>-<inventory>: a name no earlier run used (never overwrite).

    Runs of one inventory cannot overlap (the lock), so a clash is a run that started within the
    same second as the previous one: wait for the next second rather than bend the name's form.
    """
    run.reports_dir.mkdir(parents=True, exist_ok=True)
    for _ in range(30):
        base = run.reports_dir / f"{run.stamp}-{run.procedure}-{run.inventory.name}"
        if not any(base.with_name(base.name + ext).exists() for ext in SUFFIXES):
            return base
        time.sleep(0.25)
        run.stamp = utc_stamp()
    raise pytest.UsageError(f"{base}.* exist already: the clock does not move? check the date")


SUFFIXES = (".html", ".xml", ".jsonl")


def conclude(run: Run, exitstatus: int) -> Verdict:
    """The run's verdict, judged once when the session ends; later callers read that value (a
    go/no-go replaces it with its own, judged by the checks, before the journal ends)."""
    if run.verdict is RUNNING:
        run.verdict = judge(run, exitstatus)
    return run.verdict


def judge(run: Run, exitstatus: int) -> Verdict:
    """A procedure's verdict, from its steps' outcomes (the one place it is worked out)."""
    states = run.steps()
    failed = [s for s in states if s.outcome == "failed"]
    interrupted = [s.id for s in states if s.outcome == "interrupted"]
    not_run = [s.id for s in states if s.outcome == "not run"]
    reasons = tuple(f"{s.id}: {s.reason}" for s in failed if s.reason)
    prefix = "DRY RUN, nothing changed: " if run.dry_run else ""
    if run.halted_after:
        text = ", ".join(f"{p} HALTED after {i}" for p, i in run.halted_after.items())
        kind = "HALTED"
    elif failed:
        text, kind = f"FAILED: {', '.join(s.id for s in failed)}", "FAILED"
    elif run.stopped_after and not interrupted:
        done = sum(s.outcome in ("passed", "skipped") and not _until_skip(s) for s in states)
        after = ", ".join(f"{p} after {i}" for p, i in run.stopped_after.items())
        text = f"STOPPED as asked (--until): {after}; {done} of {len(states)} steps done"
        kind = "STOPPED"
    elif interrupted or exitstatus == pytest.ExitCode.INTERRUPTED or not_run:
        text = f"INTERRUPTED during {', '.join(interrupted) or '-'}; not run: {', '.join(not_run)}"
        kind = "INTERRUPTED"
    elif run.dry_run:
        return Verdict("DRY RUN", dry_run_summary(states))
    else:
        done = sum(s.outcome in ("passed", "skipped") for s in states)
        things = "checks" if all(s.procedure == "checks" for s in states) else "steps"
        text, kind = f"PASSED: {done} of {len(states)} {things} done", "PASSED"
    return Verdict(kind, prefix + text, reasons)


def would_change(state) -> bool:
    """A step whose actions said they would change something, or recorded a command to run."""
    return any(
        (e["event"] == "note" and e.get("changed"))
        or (e["event"] == "command" and e.get("dry_run"))
        for e in state.entries
    )


def dry_run_summary(states: list) -> str:
    """The verdict of a dry run in which nothing real failed (see the module's docstring)."""
    waiting = [s for s in states if s.waits_for_changes]
    changing = [s for s in states if not s.waits_for_changes and would_change(s)]
    unchanged = len(states) - len(waiting) - len(changing)
    return (
        f"DRY RUN: {len(changing)} steps would change, {unchanged} unchanged; "
        f"{len(waiting)} verification steps cannot pass before the changes"
    )


def _until_skip(state: StepState) -> bool:
    return state.outcome == "skipped" and state.reason.startswith("stopped after")


def register(config: pytest.Config, name: str, plugin: object) -> None:
    """Register a plugin object for this run only; `close()` is called when the session ends."""
    config.pluginmanager.register(plugin, f"runbook-{name}")


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    # In reverse order of registration: the lock, taken first, is released last.
    for name, plugin in reversed(config.pluginmanager.list_name_plugin()):
        if isinstance(name, str) and name.startswith("runbook-"):
            close = getattr(plugin, "close", None)
            if close:
                close()
            config.pluginmanager.unregister(plugin)
