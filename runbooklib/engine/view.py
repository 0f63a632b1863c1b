"""The record's view model: a run's journal lines read into steps, commands and a verdict.

Pure: `parse(events)` gives a `RunView` that the templates render and nothing else computes
again. Times are shown on the window's clock; durations and lateness in engine/window.py's one
format. Everything in the journal is already redacted (transcript.emit).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import NamedTuple

from runbooklib.engine.timefmt import duration, lateness

# Outputs (and only outputs) are bounded: this many lines from the start and from the end, a
# count of the rest, and a line longer than LINE_CHARS cut (a JSON blob, a classpath).
HEAD, TAIL = 2, 2
LINE_CHARS = 160


@dataclass
class CommandView:
    host: str
    command: str  # in full: the record wraps it, never cuts it
    substep: str
    started: dt.datetime | None
    duration: float | None
    rc: object
    dry_run: bool
    stdin: str  # what went in: "N bytes, sha256 ..." (remote.describe), never the bytes
    output: str  # stdout then stderr, bounded
    # Never repeated: the first time a command's text appears it is shown in full under `id`;
    # after that, `seen` names that first one (report.dedupe).
    id: str = ""
    seen: str = ""
    # When `seen` is another host's command that differs only by that host's name (its own
    # folder, say): that host, whose name stands where this one's does.
    seen_host: str = ""
    output_id: str = ""
    output_seen: str = ""
    # The artifact whose content is exactly what went in on stdin (its id), when there is one.
    stdin_content: str = ""
    # The command as shown, when a long quoted argument of it is shared with other commands
    # (an awk program): (text, id) pieces; the argument shown first under its id, later
    # commands name the id instead (report.dedupe). Empty: the command is one piece.
    pieces: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class StepView:
    id: str
    procedure: str
    title: str
    owner: str
    kind: str
    planned: dt.datetime | None
    started: dt.datetime | None = None
    ended: dt.datetime | None = None
    outcome: str = "not run"
    reason: str = ""
    duration: float | None = None
    doc: str = ""
    # A check's impact if it fails: "critical: what breaks" (its `impact` line).
    impact: str = ""
    entries: list[dict] = field(default_factory=list)

    @property
    def heading(self) -> str:
        """The docstring's first paragraph when the title is only a node ID (a check)."""
        if self.title and "::" not in self.title and self.title != self.id:
            return self.title
        if self.doc:
            return self.doc
        # A check with no docstring: its function's name in words, not its node ID.
        name = self.title.rpartition("::")[2] or self.id
        return name.removeprefix("test_").replace("_", " ")

    @property
    def late(self) -> str:
        return lateness(self.planned, self.started)

    @property
    def took(self) -> str:
        return duration(self.duration)

    @property
    def css(self) -> str:
        return self.outcome.replace(" ", "-")


class Verdict(NamedTuple):
    word: str  # the banner's word: PASSED, HALTED after u05, GO (after), ...
    css: str  # its colour: rb-ok, rb-bad, rb-warn, rb-dry
    line: str  # the sentence under it


@dataclass
class RunView:
    start: dict
    end: dict | None
    tz: dt.tzinfo
    steps: list[StepView]
    approvals: list[dict]
    warnings: list[dict]
    todos: list[dict]
    known: dict[str, dict]
    window: dict
    # The journal's hash chain: "line N: <hash of line N>" of the last line read.
    head: str | None

    def time(self, t: str | None) -> dt.datetime | None:
        return dt.datetime.fromisoformat(t).astimezone(self.tz) if t else None

    @property
    def procedure(self) -> str:
        return str(self.start.get("procedure", ""))

    @property
    def fallback_latest(self) -> dt.datetime | None:
        """The engine's own latest time to start the fallback (record_window), never re-derived."""
        return self.time(self.window.get("fallback_latest"))


def parse(events: list[dict]) -> RunView:
    start = next((e for e in events if e.get("event") == "run_start"), {})
    ref = start.get("window_start") or (events[0]["t"] if events else None)
    tz = dt.datetime.fromisoformat(ref).tzinfo if ref else dt.UTC
    view = RunView(
        start=start,
        end=next((e for e in reversed(events) if e.get("event") == "run_end"), None),
        tz=tz or dt.UTC,
        steps=[],
        approvals=[e for e in events if e.get("event") == "approval"],
        warnings=[e for e in events if e.get("event") == "window_warning"],
        todos=[e for e in events if e.get("event") == "todo"],
        known={},
        window=next((e for e in events if e.get("event") == "record_window"), {}),
        head=next(
            (
                f"line {n + 1}: {e['hash']}"
                for n, e in reversed(list(enumerate(events)))
                if e.get("hash")
            ),
            None,
        ),
    )
    for e in events:
        if e.get("event") == "record_known_issues":
            view.known = {i["id"]: i for i in e.get("issues", [])}
    docs = next((e.get("docs", {}) for e in events if e.get("event") == "record_docs"), {})
    steps = {}
    for s in start.get("steps", []):
        steps[s["step"]] = StepView(
            id=s["step"],
            procedure=s.get("procedure", ""),
            title=s.get("title") or "",
            owner=s.get("owner") or "",
            kind=s.get("kind") or "",
            planned=view.time(s.get("planned")),
            doc=docs.get(s["step"], ""),
        )
    for e in events:
        step = steps.get(e.get("step"))
        kind = e.get("event")
        if step is None or kind in ("run_start", "run_end"):
            continue
        if kind == "step_start":
            step.started, step.outcome = view.time(e["t"]), "interrupted"
        elif kind == "step_end":
            step.ended, step.outcome = view.time(e["t"]), e.get("outcome", "")
            step.reason = e.get("reason") or ""
            step.duration = number(e.get("duration"))
            if e.get("done_earlier") not in (None, "None"):
                step.reason = f"done earlier at {e['done_earlier']}"
        elif kind == "impact":
            why = e.get("why") or ""
            step.impact = f"{e.get('level')}: {why}" if why else str(e.get("level"))
        else:
            step.entries.append(e)
    view.steps = list(steps.values())
    return view


def number(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def commands(view: RunView, step: StepView) -> dict[str, list[CommandView]]:
    """A step's commands per host, in the order run, each with its sub-step."""
    hosts: dict[str, list[CommandView]] = {}
    sub = ""
    for e in step.entries:
        if e["event"] == "substep_start":
            sub = str(e.get("name", ""))
        elif e["event"] == "substep_end":
            sub = ""
        elif e["event"] == "command":
            took = number(e.get("duration"))
            ended = view.time(e.get("t"))
            output = "\n".join(
                str(e.get(k) or "").rstrip() for k in ("stdout", "stderr") if e.get(k)
            )
            hosts.setdefault(str(e.get("host")), []).append(
                CommandView(
                    host=str(e.get("host")),
                    command=str(e.get("command", "")),
                    substep=sub,
                    # The journal's line is written when the command has ended.
                    started=ended - dt.timedelta(seconds=took) if ended and took else ended,
                    duration=took,
                    rc=e.get("rc"),
                    dry_run=str(e.get("dry_run")) == "True",
                    stdin=str(e.get("stdin") or ""),
                    output=bounded(output) if output.strip() else "",
                )
            )
    return hosts


def bounded(text: str) -> str:
    """The text's first and last lines, and how many lines were left out between them."""
    lines = [
        line if len(line) <= LINE_CHARS else f"{line[:LINE_CHARS]}... ({len(line)} characters)"
        for line in text.rstrip("\n").splitlines()
    ]
    if len(lines) <= HEAD + TAIL + 2:
        return "\n".join(lines)
    left = len(lines) - HEAD - TAIL
    return "\n".join(
        [*lines[:HEAD], f"... {left} lines left out ({len(lines)} in all) ...", *lines[-TAIL:]]
    )


# ---- the host x step grid -----------------------------------------------------------------------


def grid(view: RunView) -> tuple[list[str], dict[tuple[str, str], str]]:
    """Hosts, and per (host, step) one of ok / changed / failed / skipped (ARA's grid): a step
    counts for a host it ran commands on or said something of (`note`, with changed=)."""
    hosts: list[str] = []
    cells: dict[tuple[str, str], str] = {}
    for s in view.steps:
        touched: dict[str, bool] = {}
        for e in s.entries:
            if e["event"] == "command" and e.get("host"):
                touched.setdefault(str(e["host"]), False)
            elif e["event"] == "note" and "changed" in e:
                host = str(e.get("text", "")).partition(": ")[0]
                changed = str(e["changed"]) == "True"
                touched[host] = touched.get(host, False) or changed
        for host, changed in touched.items():
            if host not in hosts:
                hosts.append(host)
            if s.outcome in ("failed", "interrupted"):
                cells[(host, s.id)] = "failed"
            elif s.outcome in ("skipped", "not run"):
                cells[(host, s.id)] = "skipped"
            elif changed:
                # A dry run changed nothing: its notes say what would change.
                cells[(host, s.id)] = "would change" if view.start.get("dry_run") else "changed"
            else:
                cells[(host, s.id)] = "ok"
    return hosts, cells


# ---- verdict ----------------------------------------------------------------------------------


def phase_of(argv: list[str]) -> str:
    for i, arg in enumerate(argv):
        if arg == "--phase" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--phase="):
            return arg.split("=", 1)[1]
    return "after"


def _narrowed(argv: list[str]) -> str | None:
    """How a command line chose only part of a phase (a GO speaks for all of it)."""
    for arg in argv:
        if arg in ("-k", "--deselect") or arg.startswith(("-k", "--deselect=")):
            return arg
        if "::" in arg:
            return arg
    return None


_WORDS = (
    ("FAILED", "rb-bad"),
    ("INTERRUPTED", "rb-bad"),
    ("STOPPED", "rb-warn"),
    ("PASSED", "rb-ok"),
)


# The banner's colour for each kind of the engine's verdict (engine/run.py Verdict).
_CSS = {"GO": "rb-ok", "PASSED": "rb-ok", "DRY RUN": "rb-dry", "STOPPED": "rb-warn"}


def verdict_of(view: RunView) -> Verdict:
    """The banner: the run's own verdict, as the journal's end holds it (a journal written
    before verdicts were values: from the step outcomes and the run's end)."""
    if view.end and view.end.get("kind"):
        end, why = view.end, "; ".join(view.end.get("reasons") or [])
        line = f"{end['verdict']}. {why}" if why else end["verdict"]
        return Verdict(end["kind"], _CSS.get(end["kind"], "rb-bad"), line)
    if view.procedure == "checks":
        return _go_no_go(view)
    line = view.end["verdict"] if view.end else "INTERRUPTED: the run stopped without an end"
    dry = bool(view.start.get("dry_run")) or line.startswith("DRY RUN")
    failed = [s for s in view.steps if s.outcome in ("failed", "interrupted")]
    reason = f"{failed[0].id}: {failed[0].reason}" if failed and failed[0].reason else ""
    halted = [s.id for s in view.steps if s.outcome == "failed"]
    if view.end is None:
        word, css = "INTERRUPTED", "rb-bad"
    elif halted:
        word, css = f"HALTED after {', '.join(halted)}", "rb-bad"
    elif failed:
        word, css = "INTERRUPTED", "rb-bad"
    else:
        core = line.removeprefix("DRY RUN, nothing changed: ")
        word, css = next(
            ((w, c) for w, c in _WORDS if core.startswith(w)), (core.split(":")[0], "rb-warn")
        )
    if dry:
        word, css = f"DRY RUN: {word}", "rb-dry" if css == "rb-ok" else css
    return Verdict(word, css, f"{line}. {reason}" if reason else line)


def _go_no_go(view: RunView) -> Verdict:
    phase = phase_of(view.start.get("argv", []))
    failed = [s for s in view.steps if s.outcome in ("failed", "interrupted")]
    unproven = [s for s in view.steps if s.outcome in ("skipped", "not run")]
    parts = [f"{s.id}: {s.reason or s.outcome}" for s in failed]
    if unproven:
        parts.append("not proven: " + ", ".join(f"{s.id} ({s.outcome})" for s in unproven))
    narrowed = _narrowed(view.start.get("argv", []))
    if narrowed:
        parts.append(f"not proven: part of the phase only ({narrowed} on the command line)")
    if view.end is None:
        parts.append("the run stopped without an end")
    if parts or not view.steps:
        return Verdict(f"NO-GO ({phase})", "rb-bad", "; ".join(parts) or "no check ran")
    return Verdict(f"GO ({phase})", "rb-ok", f"all {len(view.steps)} checks of the phase passed")
