"""The record's readable part: static HTML made from a run's journal lines, no JavaScript needed.

One pure function, `record_html(events)`, used twice: at the end of a run (put at the top of
pytest-html's report through its summary hook) and by `python -m runbooklib.engine.rebuild`
(a page of its own). What it shows, top to bottom: a verdict banner, the run's facts, a timeline
picture (inline SVG: planned against actual per step, the window's end, the latest time to start
the fallback, halts and approvals), the steps in plan order, then per step its sub-steps,
artifacts (backups, diffs, firewall rules before and after, allowed catalina.out lines) and its
commands per host (collapsed, long outputs cut to head and tail), and the post-upgrade TODOs.
Everything in the journal is already redacted (transcript.emit).
"""

from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass, field
from pathlib import Path


def escape(text: object) -> str:
    """For text between tags (quotes need no escaping there: shorter records)."""
    return html.escape(str(text), quote=False)


def attr(text: object) -> str:
    """For a value inside an attribute's double quotes."""
    return html.escape(str(text), quote=True)


# Long outputs: this many lines from the start and from the end, and a count of the rest; a
# line longer than LINE_CHARS is cut (a JSON blob, a classpath).
HEAD, TAIL = 3, 3
LINE_CHARS = 160
# A command longer than this is cut in the middle (a here-document, a long pipeline).
COMMAND_CHARS = 240

STYLE = """
.rb { font-family: sans-serif; max-width: 80em; color: #111; }
.rb h2 { margin: 1.2em 0 0.4em; } .rb h3 { margin: 1em 0 0.3em; }
.rb table { border-collapse: collapse; margin: 0.4em 0; }
.rb td, .rb th { border: 1px solid #bbb; padding: 0.2em 0.5em; text-align: left;
  vertical-align: top; font-size: 0.9em; }
.rb pre { background: #f6f6f6; padding: 0.4em; margin: 0.2em 0; white-space: pre-wrap;
  word-break: break-all; font-size: 0.85em; }
.rb-banner { padding: 0.8em 1em; border-radius: 4px; color: #fff; margin: 0.5em 0; }
.rb-banner b { font-size: 1.8em; display: block; }
.rb-ok { background: #1a7f37; } .rb-bad { background: #c62828; } .rb-warn { background: #b26a00; }
.rb-dry { background: #455a64; }
tr.passed td.out { background: #dfd; } tr.failed td.out, tr.interrupted td.out { background: #fdd; }
tr.skipped td.out, tr.not-run td.out { background: #eee; }
.rb .diff-add { color: #116329; background: #e6ffec; display: block; }
.rb .diff-del { color: #82071e; background: #ffebe9; display: block; }
.rb .diff-hunk { color: #0550ae; display: block; } .rb .diff-ctx { display: block; }
.rb .shape { color: #b26a00; font-weight: bold; }
.rb details { margin: 0.2em 0 0.2em 1em; } .rb summary { cursor: pointer; }
.rb .muted { color: #666; }
.summary { display: block !important; }
"""


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
    entries: list[dict] = field(default_factory=list)


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
    # The journal's hash chain (when its lines carry one): "line N: <hash of line N>", the last
    # line written when the record was made (a run's own record is made before its run_end).
    head: str | None

    def time(self, t: str | None) -> dt.datetime | None:
        return dt.datetime.fromisoformat(t).astimezone(self.tz) if t else None

    @property
    def procedure(self) -> str:
        return str(self.start.get("procedure", ""))


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
            step.duration = _float(e.get("duration"))
            if e.get("done_earlier") not in (None, "None"):
                step.reason = f"done earlier at {e['done_earlier']}"
        else:
            step.entries.append(e)
    view.steps = list(steps.values())
    return view


def _float(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


# ---- verdict ---------------------------------------------------------------------------------


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


def verdict_of(view: RunView) -> tuple[str, str, str]:
    """(the banner's word, its colour class, the line under it)."""
    line = view.end["verdict"] if view.end else "INTERRUPTED: the run stopped without an end"
    if view.procedure == "checks":
        return _go_no_go(view)
    core = line.removeprefix("DRY RUN, nothing changed: ")
    dry = core != line
    failed = [s for s in view.steps if s.outcome in ("failed", "interrupted")]
    reason = f"{failed[0].id}: {failed[0].reason}" if failed and failed[0].reason else ""
    if "HALTED" in core:
        halted = re.findall(r"HALTED after (\S+)", core)
        word, cls = f"HALTED after {', '.join(halted)}", "rb-bad"
    elif core.startswith(("FAILED", "INTERRUPTED")):
        word, cls = core.split(":")[0].split(" ")[0], "rb-bad"
    elif core.startswith("STOPPED"):
        word, cls = "STOPPED", "rb-warn"
    elif core.startswith("PASSED"):
        word, cls = "PASSED", "rb-ok"
    else:
        word, cls = core.split(":")[0], "rb-warn"
    if dry:
        word, cls = f"DRY RUN: {word}", "rb-dry" if cls == "rb-ok" else cls
    return word, cls, f"{line}. {reason}".strip() if reason else line


def _go_no_go(view: RunView) -> tuple[str, str, str]:
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
        return f"NO-GO ({phase})", "rb-bad", "; ".join(parts) or "no check ran"
    return f"GO ({phase})", "rb-ok", f"all {len(view.steps)} checks of the phase passed"


# ---- small formats ---------------------------------------------------------------------------


def hm(t: dt.datetime | None, seconds: bool = False) -> str:
    if t is None:
        return ""
    return f"{t:%H:%M:%S}" if seconds else f"{t:%H:%M}"


def seconds(value: float | None) -> str:
    if value is None:
        return ""
    if value < 60:
        return f"{value:.1f} s"
    minutes, secs = divmod(int(round(value)), 60)
    return (
        f"{minutes // 60}h{minutes % 60:02d}m{secs:02d}s"
        if minutes >= 60
        else f"{minutes}m{secs:02d}s"
    )


def lateness(step: StepView) -> str:
    if not (step.planned and step.started):
        return ""
    delta = int((step.started - step.planned).total_seconds() // 60)
    if delta == 0:
        return "on time"
    return f"{delta} min late" if delta > 0 else f"{-delta} min early"


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


def short_command(command: str) -> str:
    if len(command) <= COMMAND_CHARS:
        return command
    half = COMMAND_CHARS // 2
    return f"{command[:half]} ... ({len(command)} characters) ... {command[-half:]}"


def diff_html(text: str) -> str:
    """A unified diff, a line per block: added green, removed red, headers and hunks blue."""
    out = []
    for line in bounded_diff(text).splitlines():
        cls = "diff-ctx"
        if line.startswith(("+++", "---", "@@")):
            cls = "diff-hunk"
        elif line.startswith("+"):
            cls = "diff-add"
        elif line.startswith("-"):
            cls = "diff-del"
        out.append(f'<span class="{cls}">{escape(line) or " "}</span>')
    return '<pre class="diff">' + "".join(out) + "</pre>"


def bounded_diff(text: str, limit: int = 200) -> str:
    lines = text.splitlines()
    if len(lines) <= limit:
        return text
    return "\n".join([*lines[:limit], f"... {len(lines) - limit} more diff lines"])


def table(rows: list[tuple[str, str]]) -> str:
    """A two-column table; the values are HTML already."""
    body = "".join(f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in rows if v)
    return f"<table>{body}</table>"


# ---- the parts -------------------------------------------------------------------------------


def banner(view: RunView) -> str:
    word, cls, line = verdict_of(view)
    return f'<div class="rb-banner {cls}" id="verdict"><b>{escape(word)}</b>{escape(line)}</div>'


def facts(view: RunView, journal: str = "") -> str:
    s = view.start
    rows = [
        ("Procedure", escape(view.procedure)),
        ("Inventory", escape(f"{s.get('inventory')} ({s.get('inventory_path')})")),
        ("Target confirmed", escape(s.get("target_confirmed") or "")),
        ("Operator", escape(str(s.get("operator", "")))),
        ("Run by", escape(f"{s.get('user')}@{s.get('host')} pid {s.get('pid')}")),
        ("Command", escape("pytest " + " ".join(s.get("argv", [])))),
        ("Git revision", escape(str(s.get("revision", "")))),
        ("Window", escape(str(s.get("window", "")))),
        ("Latest fallback start", escape(hm(_fallback_latest(view)))),
        ("Dry run", "yes" if s.get("dry_run") else ""),
        ("Resumed from", escape(s.get("resumed_from") or "")),
        ("Journal", escape(journal)),
        ("Journal chain head", f"<code>{escape(view.head)}</code>" if view.head else ""),
    ]
    if view.start.get("procedure") == "checks":
        rows.insert(1, ("Phase", escape(phase_of(s.get("argv", [])))))
    lines = [
        f'<p class="approval">Approved {escape(str(a.get("step")))} by '
        f"{escape(str(a.get('operator')))} ({escape(str(a.get('how')))}) at "
        f"{escape(str(a.get('at')))}</p>"
        for a in view.approvals
    ]
    lines += [
        f'<p class="warning">Window warning: {escape(str(w.get("text", "")))}</p>'
        for w in view.warnings
    ]
    return table(rows) + "".join(lines)


def _fallback_latest(view: RunView) -> dt.datetime | None:
    latest = view.window.get("fallback_latest")
    return view.time(latest) if latest else None


def timeline(view: RunView) -> str:
    """A Gantt of planned against actual for every step, as inline SVG (no script)."""
    steps = view.steps
    planned = any(s.planned for s in steps)
    # Checks have no plan: their picture is their own few seconds, without the window.
    window_start = view.time(view.start.get("window_start")) if planned else None
    window_end = view.time(view.start.get("window_end")) if planned else None
    latest = _fallback_latest(view) if planned else None
    plan_ends = _planned_ends(steps, window_end)
    times = [t for s in steps for t in (s.planned, s.started, s.ended) if t]
    times += [t for t in (window_start, window_end, latest, *plan_ends.values()) if t]
    if not times:
        return ""
    t0, t1 = min(times), max(times)
    span = max((t1 - t0).total_seconds(), 10.0)
    left = max(60, 6 * max(len(s.id) for s in steps) + 8)
    width, row = 880 - left, 16
    height = 30 + row * len(steps) + 24

    def x(t: dt.datetime) -> float:
        return round(left + width * (t - t0).total_seconds() / span, 1)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="timeline" role="img" '
        f'viewBox="0 0 980 {height}" width="980" '
        f'height="{height}" font-family="sans-serif" font-size="10">',
        f"<title>Timeline of {escape(view.procedure)}: planned (grey) against actual "
        "(green, red when failed) for each step</title>",
    ]
    every = _tick(span)
    tick = t0.replace(minute=0, second=0, microsecond=0)
    while tick <= t1:
        if tick >= t0:
            parts.append(
                f'<line x1="{x(tick)}" y1="14" x2="{x(tick)}" y2="{height - 20}" stroke="#ddd"/>'
                f'<text x="{x(tick)}" y="{height - 8}" text-anchor="middle">'
                f"{hm(tick, every < dt.timedelta(minutes=1))}</text>"
            )
        tick += every
    for i, s in enumerate(steps):
        y = 20 + i * row
        parts.append(f'<text x="4" y="{y + 10}" class="step">{escape(s.id)}</text>')
        if s.planned:
            end = plan_ends.get(s.id) or s.planned
            w = max(x(end) - x(s.planned), 2)
            parts.append(
                f'<rect class="planned" x="{x(s.planned)}" y="{y}" width="{w}" height="6" '
                f'fill="#bbb"><title>{escape(s.id)} planned {hm(s.planned)}</title></rect>'
            )
        if s.started:
            end = s.ended or s.started
            colour = "#1a7f37" if s.outcome == "passed" else "#c62828"
            if s.outcome == "skipped":
                colour = "#999"
            w = max(x(end) - x(s.started), 2)
            parts.append(
                f'<rect class="actual" x="{x(s.started)}" y="{y + 6}" width="{w}" height="6" '
                f'fill="{colour}"><title>{escape(s.id)} {hm(s.started, True)}-'
                f"{hm(s.ended, True)} {escape(s.outcome)}</title></rect>"
            )
            if s.outcome in ("failed", "interrupted"):
                parts.append(
                    f'<text x="{x(end) + 3}" y="{y + 11}" fill="#c62828" class="halt">'
                    f"&#x2716; halted</text>"
                )
    for a in view.approvals:
        t = view.time(a.get("t"))
        i = next((n for n, s in enumerate(steps) if s.id == a.get("step")), None)
        if t and i is not None:
            y = 20 + i * row + 6
            parts.append(
                f'<path class="approval" d="M{x(t)},{y - 5} l5,5 l-5,5 l-5,-5 z" fill="#0550ae">'
                f"<title>approved by {escape(str(a.get('operator')))} ({escape(str(a.get('how')))})"
                "</title></path>"
            )
    for t, label, colour, cls in (
        (window_end, "window end", "#c62828", "window-end"),
        (latest, "latest fallback start", "#b26a00", "fallback-latest"),
    ):
        if t:
            parts.append(
                f'<line class="{cls}" x1="{x(t)}" y1="4" x2="{x(t)}" y2="{height - 20}" '
                f'stroke="{colour}" stroke-dasharray="4 3" stroke-width="1.5"/>'
                f'<text x="{x(t) + 3}" y="{12 if cls == "window-end" else 24}" fill="{colour}">'
                f"{label} {hm(t)}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


def _tick(span: float) -> dt.timedelta:
    """Grid lines: about four to twelve across the picture."""
    for every in (10, 30, 60, 300, 900, 3600, 4 * 3600):
        if span / every <= 12:
            return dt.timedelta(seconds=every)
    return dt.timedelta(days=1)


def _planned_ends(steps: list[StepView], window_end: dt.datetime | None) -> dict:
    """Each step's planned end: the next later planned time of its procedure."""
    ends = {}
    for s in steps:
        later = [
            o.planned
            for o in steps
            if o.procedure == s.procedure and o.planned and s.planned and o.planned > s.planned
        ]
        if later:
            ends[s.id] = min(later)
        elif s.planned:
            ends[s.id] = s.planned + dt.timedelta(minutes=1)
    return ends


def steps_table(view: RunView, rehearsal: dict[str, dict] | None) -> str:
    head = ["Step", "Title", "Owner", "Kind", "Planned", "Started", "Duration"]
    if rehearsal is not None:
        head.append("Rehearsal")
    head += ["Outcome", "Why"]
    rows = []
    for s in view.steps:
        title = s.title if s.title and "::" not in s.title else s.doc or s.title
        cells = [
            f'<a href="#step-{attr(s.id)}">{escape(s.id)}</a>',
            escape(title)
            + (
                f'<br><span class="muted">{escape(s.doc)}</span>'
                if s.doc and s.doc != title
                else ""
            ),
            escape(s.owner),
            escape(s.kind),
            hm(s.planned),
            f"{hm(s.started, True)} {escape(lateness(s))}".strip(),
            seconds(s.duration),
        ]
        if rehearsal is not None:
            cells.append(_rehearsal_cell(rehearsal.get(s.id)))
        cells += [escape(s.outcome), escape(s.reason)]
        cls = attr(s.outcome.replace(" ", "-"))
        tds = "".join(
            f'<td class="out">{c}</td>' if n == len(cells) - 2 else f"<td>{c}</td>"
            for n, c in enumerate(cells)
        )
        rows.append(f'<tr class="{cls}">{tds}</tr>')
    ths = "".join(f"<th>{h}</th>" for h in head)
    return f'<table id="steps"><tr>{ths}</tr>{"".join(rows)}</table>'


def _rehearsal_cell(info: dict | None) -> str:
    if not info:
        return '<span class="muted">not in the rehearsal</span>'
    text = seconds(info.get("duration"))
    if info.get("differs"):
        text += f' <span class="shape">commands differ in shape ({len(info["differs"])})</span>'
    return text


# ---- per step ---------------------------------------------------------------------------------


def step_details(view: RunView, s: StepView, compared: dict[str, dict] | None = None) -> str:
    title = s.title if "::" not in s.title else s.doc
    when = [s.owner, s.kind, f"planned {hm(s.planned)}" if s.planned else ""]
    when.append(f"started {hm(s.started, True) or '-'}, {s.outcome} {seconds(s.duration)}")
    reason = f": {s.reason}" if s.reason else ""
    parts = [
        f'<h3 id="step-{attr(s.id)}">{escape(s.id)} {escape(title)}</h3>',
        f'<p class="muted">{escape(", ".join(w for w in when if w) + reason)}</p>',
    ]
    subs = [e for e in s.entries if e["event"] == "substep_end"]
    if subs:
        parts.append(
            "<ul>"
            + "".join(
                f"<li>{escape(str(e.get('name')))}: {escape(str(e.get('outcome')))} "
                f"{escape(seconds(_float(e.get('duration'))))}</li>"
                for e in subs
            )
            + "</ul>"
        )
    for e in s.entries:
        if e["event"] == "note":
            parts.append(f'<p class="muted">note: {escape(str(e.get("text", "")))}</p>')
        elif e["event"] == "approval":
            parts.append(
                f"<p><b>Approved</b> by {escape(str(e.get('operator')))} "
                f"({escape(str(e.get('how')))}) at {escape(str(e.get('at')))}</p>"
            )
        elif e["event"] == "window_warning":
            parts.append(f"<p><b>Window warning:</b> {escape(str(e.get('text')))}</p>")
        elif e["event"] == "artifact":
            parts.append(artifact(view, e))
    firewall = firewall_rules(s)
    if firewall:
        parts.append(firewall)
    differs = ((compared or {}).get(s.id) or {}).get("differs")
    if differs:
        shown = "\n".join(short_command(d)[:300] for d in differs[:10])
        more = f"\n... and {len(differs) - 10} more" if len(differs) > 10 else ""
        parts.append(
            f'<details><summary class="shape">commands differ in shape from the rehearsal '
            f"({len(differs)})</summary><pre>{escape(shown + more)}</pre></details>"
        )
    commands = commands_per_host(s)
    if commands:
        parts.append(commands)
    return "<section>" + "".join(parts) + "</section>"


def artifact(view: RunView, e: dict) -> str:
    kind, where = str(e.get("kind")), str(e.get("where"))
    rest = {k: v for k, v in e.items() if k not in ("t", "event", "step", "kind", "where", "hash")}
    head = f"<b>{escape(kind)}</b> <code>{escape(where)}</code>"
    if "diff" in rest:
        diff = str(rest.pop("diff"))
        return f"<div>{head}{diff_html(diff) if diff else ' no difference'}</div>"
    if kind == "catalina-scan":
        return f"<div>{head}{_catalina(view, rest)}</div>"
    rows = []
    for key in ("sha256", "size", "bytes", "verified", "tables", "rows"):
        if key in rest:
            rows.append((key, escape(str(rest.pop(key)))))
    if kind in ("db-backup", "db-kept") and "verified" not in e and "checksums" in e:
        # dump_verified: a dump is kept only once a test restore gave these checksums back.
        rows.append(("verified", "by a test restore: every table's checksum below"))
    for key, value in rest.items():
        if isinstance(value, dict | list) or "\n" in str(value):
            rows.append((key, _folded(key, value)))
        else:
            rows.append((key, escape(str(value))))
    return f"<div>{head}{table(rows)}</div>"


def _folded(key: str, value) -> str:
    if isinstance(value, dict):
        text = "\n".join(f"{k}: {v}" for k, v in value.items())
    elif isinstance(value, list):
        text = "\n".join(str(v) for v in value)
    else:
        text = str(value)
    lines = text.count("\n") + 1
    return (
        f"<details><summary>{escape(key)} ({lines} lines)</summary>"
        f"<pre>{escape(bounded(text))}</pre></details>"
    )


def _catalina(view: RunView, data: dict) -> str:
    allowed = data.get("allowed") or []
    errors = data.get("errors") or []
    rows = []
    for line in allowed:
        issue_id, _, text = str(line).partition(": ")
        issue = view.known.get(issue_id, {})
        why = escape(str(issue.get("justification", "(justification not recorded)")))
        rows.append(
            f"<tr><td>{escape(issue_id)}</td><td><code>{escape(text)}</code></td>"
            f"<td>{why}</td><td>{escape(str(issue.get('expires', '')))}</td></tr>"
        )
    out = f" <span class='muted'>from offset {escape(str(data.get('offset', '')))}</span>"
    if rows:
        out += (
            "<table><tr><th>Known issue</th><th>Line allowed</th><th>Justification</th>"
            f"<th>Expires</th></tr>{''.join(rows)}</table>"
        )
    else:
        out += "<p>no known-issue line</p>"
    if errors:
        out += f"<p>error lines:</p><pre>{escape(bounded(chr(10).join(map(str, errors))))}</pre>"
    return out


_IPTABLES_S = re.compile(r"iptables (?:-w \d+ )?-t (\w+) -S\b")
_RULES_FILE = re.compile(r"smartsite-(\w+)-(filter|nat)-\w+\.rules")


def firewall_rules(s: StepView) -> str:
    """Per host and table: the rules found before the change and the rules put in place."""
    before: dict[tuple[str, str], str] = {}
    after: dict[tuple[str, str], str] = {}
    for e in s.entries:
        if e["event"] != "command":
            continue
        command = str(e.get("command", ""))
        read = _IPTABLES_S.search(command)
        if read:
            before.setdefault((e["host"], read.group(1)), str(e.get("stdout") or ""))
        written = _RULES_FILE.search(command)
        if written and e.get("stdin"):
            after[(e["host"], written.group(2))] = str(e["stdin"])
    if not after:
        return ""
    rows = "".join(
        f"<tr><td>{escape(host)}</td><td>{escape(tbl)}</td>"
        f"<td><pre>{escape(bounded(before.get((host, tbl), '(not read)')))}</pre></td>"
        f"<td><pre>{escape(bounded(rules))}</pre></td></tr>"
        for (host, tbl), rules in after.items()
    )
    return (
        "<div><b>firewall rules</b><table><tr><th>Host</th><th>Table</th><th>Before "
        f"(iptables -S)</th><th>Put in place</th></tr>{rows}</table></div>"
    )


def commands_per_host(s: StepView) -> str:
    hosts: dict[str, list[str]] = {}
    sub = ""
    for e in s.entries:
        if e["event"] == "substep_start":
            sub = str(e.get("name", ""))
        elif e["event"] == "substep_end":
            sub = ""
        elif e["event"] == "command":
            hosts.setdefault(str(e.get("host")), []).append(_command(e, sub))
    out = []
    for host, items in hosts.items():
        out.append(
            f"<details><summary>commands on {escape(host)} ({len(items)})</summary>"
            f"{''.join(items)}</details>"
        )
    return "".join(out)


def _command(e: dict, sub: str) -> str:
    dry = str(e.get("dry_run")) == "True"
    mark = " (dry run: not run)" if dry else f" &rarr; rc {escape(str(e.get('rc')))}"
    label = f'<span class="muted">[{escape(sub)}]</span> ' if sub else ""
    command = escape(short_command(str(e.get("command", ""))))
    text = f"<div>{label}<code>$ {command}{mark}</code>"
    if e.get("stdin"):
        text += f' <span class="muted">(stdin: {str(e["stdin"]).count(chr(10))} lines)</span>'
    output = "\n".join(str(e.get(k) or "").rstrip() for k in ("stdout", "stderr") if e.get(k))
    if output.strip():
        text += f"<pre>{escape(bounded(output))}</pre>"
    return text + "</div>"


def todos(view: RunView) -> str:
    items = "".join(_todo(t) for t in [*view.todos, *_known_issue_todos(view)])
    return f'<h2 id="todos">Post-upgrade TODOs</h2><ul>{items or "<li>none recorded</li>"}</ul>'


def _known_issue_todos(view: RunView) -> list[dict]:
    """A log line allowed by a known issue is a fix owed before the issue expires."""
    found: dict[str, dict] = {}
    for s in view.steps:
        for e in s.entries:
            if e.get("event") != "artifact" or e.get("kind") != "catalina-scan":
                continue
            for line in e.get("allowed") or []:
                issue_id = str(line).partition(": ")[0]
                issue = view.known.get(issue_id, {})
                expires = f" before {issue['expires']}" if issue.get("expires") else ""
                found.setdefault(
                    issue_id,
                    {
                        "step": s.id,
                        "text": f"fix the cause of known issue {issue_id}{expires} "
                        f"(allowed in catalina.out on {str(e.get('where')).split(':')[0]})",
                    },
                )
    return list(found.values())


def _todo(t: dict) -> str:
    source = " ".join(
        x for x in (str(t.get("step") or ""), f"by {t['by']}" if t.get("by") else "") if x
    )
    return (
        f"<li>{escape(str(t.get('text', '')))} <span class='muted'>({escape(source)})</span></li>"
    )


# ---- compare with the rehearsal ---------------------------------------------------------------

_IP = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")
_NUMBER = re.compile(r"\d+")


def shape(command: str, hosts: set[str]) -> str:
    """A command with what differs between clusters taken out: host names, addresses, numbers."""
    text = _IP.sub("ADDR", command)
    for host in sorted(hosts, key=len, reverse=True):
        text = re.sub(rf"\b{re.escape(host)}\b", "HOST", text)
    return _NUMBER.sub("N", text)


def _shapes(events: list[dict]) -> dict[str, set[str]]:
    hosts = {str(e["host"]) for e in events if e.get("event") == "command" and e.get("host")}
    out: dict[str, set[str]] = {}
    for e in events:
        if e.get("event") == "command" and e.get("step"):
            out.setdefault(e["step"], set()).add(shape(str(e.get("command", "")), hosts))
    return out


def compare(events: list[dict], rehearsal: list[dict]) -> dict[str, dict]:
    """Per step of the rehearsal: its duration, and the command shapes only one run has."""
    ours, theirs = _shapes(events), _shapes(rehearsal)
    done = {s.id for s in parse(events).steps if s.outcome not in ("not run", "interrupted")}
    out = {}
    for s in parse(rehearsal).steps:
        info: dict = {"duration": s.duration, "differs": []}
        if s.id in done:
            mine, rehearsed = ours.get(s.id, set()), theirs.get(s.id, set())
            info["differs"] = [f"only here: {c}" for c in sorted(mine - rehearsed)] + [
                f"only in the rehearsal: {c}" for c in sorted(rehearsed - mine)
            ]
        out[s.id] = info
    return out


def last_rehearsal(journal: Path, events: list[dict], inventory: str = "lab") -> Path | None:
    """The newest earlier journal beside this one: same procedure, the lab, not a dry run,
    ended PASSED."""
    start = parse(events).start
    procedure = start.get("procedure")
    if not procedure:
        return None
    from runbooklib.engine.journal import read

    for path in sorted(journal.parent.glob(f"*-{procedure}-{inventory}.jsonl"), reverse=True):
        if path.name >= journal.name:
            continue
        theirs = read(path)
        view = parse(theirs)
        if view.start.get("dry_run") or not view.end:
            continue
        if str(view.end.get("verdict", "")).startswith("PASSED"):
            return path
    return None


# ---- the whole ---------------------------------------------------------------------------------


def record_html(
    events: list[dict], journal: str = "", rehearsal: tuple[str, list[dict]] | None = None
) -> str:
    """The record's static HTML: a <div> with its own <style>, readable with JavaScript off."""
    view = parse(events)
    compared = compare(events, rehearsal[1]) if rehearsal else None
    parts = [
        f'<div class="rb"><style>{STYLE}</style>',
        banner(view),
        facts(view, journal),
        "<h2>Timeline</h2>",
        '<p class="muted">grey: planned; green: actual (red: failed); dashed red: the window\'s '
        "end; dashed amber: the latest time to start the fallback; blue diamond: approval</p>",
        timeline(view),
        "<h2>Steps</h2>",
    ]
    if rehearsal:
        parts.append(f'<p class="muted">Rehearsal compared: {escape(rehearsal[0])}</p>')
    parts.append(steps_table(view, compared))
    parts.append(todos(view))
    parts.append("<h2>What each step did</h2>")
    parts += [step_details(view, s, compared) for s in view.steps if s.entries or s.started]
    parts.append("</div>")
    return "\n".join(parts)


def page(events: list[dict], journal: str = "", rehearsal=None) -> str:
    """A page of its own (the rebuild): the same static record."""
    view = parse(events)
    title = f"{view.procedure} on {view.start.get('inventory')} - record"
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"</head><body><h1>{escape(title)}</h1>{record_html(events, journal, rehearsal)}"
        "</body></html>\n"
    )
