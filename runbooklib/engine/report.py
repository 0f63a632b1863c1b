"""The record's readable part: static HTML made from a run's journal lines, no JavaScript needed.

`record_html(events, journal, rehearsals)` is used twice: at the end of a run (put at the top of
pytest-html's report through its summary hook) and by `python -m runbooklib.engine.rebuild` (a
page of its own, `page`). The parts: engine/view.py reads the journal into a view model (steps,
commands, the verdict as a value), engine/timeline.py lays out the timeline, engine/artifacts.py
has one renderer per artifact kind, engine/compare.py sets each step beside the last lab run in
which it passed; the Jinja2 templates in engine/templates/ draw them, autoescaped.

Full fidelity, bounded size: every command is shown in full (wrapped, never cut) with its start,
duration and what went in on stdin; only outputs are bounded (head and tail). A command or an
output shown once is never shown again: later ones link to the first.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import jinja2
from markupsafe import Markup

from runbooklib.engine import artifacts
from runbooklib.engine.compare import Compared, compare, rehearsals, shape  # noqa: F401
from runbooklib.engine.timefmt import duration
from runbooklib.engine.timeline import timeline
from runbooklib.engine.view import (  # noqa: F401 - the record's names, for report_index
    HEAD,
    TAIL,
    CommandView,
    RunView,
    StepView,
    Verdict,
    bounded,
    commands,
    grid,
    parse,
    phase_of,
    verdict_of,
)

seconds = duration  # the one duration format, under the name report_index uses

_templates = jinja2.Environment(
    loader=jinja2.PackageLoader("runbooklib.engine", "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)


def warm() -> None:
    """Compile every template now: called in a thread as a run starts (its steps mostly wait on
    hosts), so that writing the record at the run's end compiles nothing."""
    for name in _templates.list_templates(extensions=["j2"]):
        _templates.get_template(name)


def text(value: object) -> Markup:
    """Escaped for the text between two tags, where quotes need no escaping: a shell command
    quotes a lot (`'"'"'`), and a quote escaped costs five characters. Never for an attribute."""
    return Markup(html.escape(str(value), quote=False))


_templates.filters["text"] = text
_templates.tests["columns"] = lambda v: isinstance(v, artifacts.Columns)


@dataclass
class Detail:
    """What one step did, ready for the template."""

    step: StepView
    substeps: list[dict]
    items: list[tuple[str, object]]  # (event kind, the event or its artifact block)
    commands: dict[str, list]
    differs: list[str] = field(default_factory=list)
    compared_with: str = ""
    # A check's observations: host, expected, actual, ok (engine/evidence.py).
    evidence: list[dict] = field(default_factory=list)


def hm(t: dt.datetime | None) -> str:
    return f"{t:%H:%M}" if t else ""


def hms(t: dt.datetime | None) -> str:
    return f"{t:%H:%M:%S}" if t else ""


def facts(view: RunView, journal: str = "") -> list[tuple[str, str]]:
    s = view.start
    rows = [
        ("Procedure", view.procedure),
        ("Inventory", f"{s.get('inventory')} ({s.get('inventory_path')})"),
        ("Target confirmed", s.get("target_confirmed") or ""),
        ("Operator", str(s.get("operator", ""))),
        ("Run by", f"{s.get('user')}@{s.get('host')} pid {s.get('pid')}"),
        ("Command", "pytest " + " ".join(s.get("argv", []))),
        ("Git revision", str(s.get("revision", ""))),
        ("Window", str(s.get("window", ""))),
        ("Latest fallback start", hm(view.fallback_latest)),
        ("Dry run", "yes" if s.get("dry_run") else ""),
        ("Resumed from", s.get("resumed_from") or ""),
        ("Journal", journal),
        ("Journal chain head", view.head or ""),
    ]
    if view.procedure == "checks":
        rows.insert(1, ("Phase", phase_of(s.get("argv", []))))
    return [(k, v) for k, v in rows if v]


def dedupe(details: list[Detail]) -> None:
    """Each command's text, each output and each artifact's content or table in full once:
    later ones link to the first (ids: c12 a command, o3 an output, t2 a text, v1 a table,
    p1 a long argument several commands share;
    short, since a rehearsal's record holds hundreds of them). A command whose stdin is an
    artifact's content links to it."""
    commands: dict[str, str] = {}
    shown: dict[str, str] = {}  # id -> command text
    outputs: dict[str, str] = {}
    contents: dict[str, str] = {}
    by_digest: dict[str, str] = {}
    # File name -> (text, id) of its latest text shown: an edit of it is that text and a diff.
    files: dict[str, tuple[str, str]] = {}
    values: dict[str, str] = {}
    for d in details:
        for kind, block in d.items:
            if kind != "artifact":
                continue
            for name, value in block.fields:
                if isinstance(value, str | int | float | bool) or value is None:
                    continue  # a word or a number: repeating it costs less than a link
                key = repr(value)  # a key only, never shown
                if key in values:
                    block.seen[name] = values[key]
                else:
                    block.ids[name] = values[key] = f"v{len(values) + 1}"
            if not block.content:
                continue
            if block.content in contents:
                block.content_seen = contents[block.content]
                continue
            block.content_id = contents[block.content] = f"t{len(contents) + 1}"
            by_digest[block.content_sha256] = block.content_id
            name = block.where.rpartition("/")[2]
            earlier = files.get(name)
            if block.shape == "diff" and earlier:
                edit = "\n".join(line for _, line in block.diff) + "\n"
                if artifacts.patched(earlier[0], edit) == block.content:
                    block.content_base = earlier[1]
            files[name] = (block.content, block.content_id)
    # A command with its host's name taken out -> (its id, that host): a node's command that is
    # another node's but for the name (each node's own folder) is shown once too.
    by_host: dict[str, tuple[str, str]] = {}
    for d in details:
        for cmds in d.commands.values():
            for c in cmds:
                c.stdin_content = by_digest.get(c.stdin.rpartition("sha256 ")[2], "")
                if c.command in commands:
                    c.seen = commands[c.command]
                    continue
                key = _without(c.command, c.host)
                other = by_host.get(key) if key else None
                # Said only when it holds: that command, its host's name replaced, is this one.
                if other and shown[other[0]].replace(other[1], c.host) == c.command:
                    c.seen, c.seen_host = other
                    continue
                c.id = commands[c.command] = f"c{len(commands) + 1}"
                shown[c.id] = c.command
                if key:
                    by_host.setdefault(key, (c.id, c.host))
    _share_arguments([c for d in details for cmds in d.commands.values() for c in cmds if c.id])

    for d in details:
        for cmds in d.commands.values():
            for c in cmds:
                if not c.output:
                    continue
                if c.output in outputs:
                    c.output_seen = outputs[c.output]
                else:
                    c.output_id = outputs[c.output] = f"o{len(outputs) + 1}"


# A single-quoted shell word as shlex.quote writes it (a quote inside: '"'"'), and the length
# from which one that several commands share is shown once (an awk program, a script).
_QUOTED = re.compile(r"'[^']*'(?:\"'\"'[^']*')*")
SHARED_ARGUMENT = 300


def _share_arguments(shown: list[CommandView]) -> None:
    """A long quoted argument that several commands shown in full have in common is shown in
    the first of them, under an id (p1, ...); the others name that id in its place."""
    users: dict[str, int] = {}
    for c in shown:
        for word in {m.group() for m in _QUOTED.finditer(c.command)}:
            if len(word) >= SHARED_ARGUMENT:
                users[word] = users.get(word, 0) + 1
    ids: dict[str, str] = {}
    for c in shown:
        pieces, at = [], 0
        for m in _QUOTED.finditer(c.command):
            if users.get(m.group(), 0) < 2:
                continue
            pieces.append((c.command[at : m.start()], ""))
            first = m.group() not in ids
            pid = ids.setdefault(m.group(), f"p{len(ids) + 1}")
            pieces.append((m.group() if first else "", pid))
            at = m.end()
        if pieces:
            c.pieces = [*pieces, (c.command[at:], "")]


def _without(command: str, host: str) -> str:
    """The command with the host's name taken out (a key; never shown)."""
    return command.replace(host, "\0") if host and host in command else ""


def details(view: RunView, compared: dict[str, Compared] | None) -> list[Detail]:
    out = []
    for s in view.steps:
        if not (s.entries or s.started):
            continue
        items: list[tuple[str, object]] = []
        for e in s.entries:
            kind = e["event"]
            if kind == "artifact":
                items.append((kind, artifacts.render(view, e)))
            elif kind in ("note", "approval", "window_warning", "warning"):
                items.append((kind, e))
        info = (compared or {}).get(s.id)
        out.append(
            Detail(
                step=s,
                substeps=[
                    {
                        "name": e.get("name"),
                        "outcome": e.get("outcome"),
                        "took": duration(_number(e.get("duration"))),
                    }
                    for e in s.entries
                    if e["event"] == "substep_end"
                ],
                items=items,
                commands=commands(view, s),
                differs=info.differs if info else [],
                compared_with=info.run if info else "",
                evidence=[
                    {k: str(e.get(k) or "") for k in ("host", "expected", "actual")}
                    | {"ok": str(e.get("ok")) == "True"}
                    for e in s.entries
                    if e["event"] == "evidence"
                ],
            )
        )
    dedupe(out)
    return out


def _number(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def todos(view: RunView) -> list[dict]:
    items = [*view.todos, *_known_issue_todos(view)]
    out = []
    for t in items:
        source = " ".join(
            x for x in (str(t.get("step") or ""), f"by {t['by']}" if t.get("by") else "") if x
        )
        out.append({"text": str(t.get("text", "")), "source": source})
    return out


def _known_issue_todos(view: RunView) -> list[dict]:
    """A log line allowed by a known issue is a fix owed before the issue expires."""
    found: dict[str, dict] = {}
    for s in view.steps:
        for e in s.entries:
            if e.get("event") != "artifact" or e.get("kind") != "log-scan":
                continue
            # `where` is `host:path`: the scan says which log it read, the record only repeats it.
            host, _, path = str(e.get("where")).partition(":")
            log = path.rsplit("/", 1)[-1] or "the log"
            for line in e.get("allowed") or []:
                issue_id = str(line).partition(": ")[0]
                issue = view.known.get(issue_id, {})
                expires = f" before {issue['expires']}" if issue.get("expires") else ""
                found.setdefault(
                    issue_id,
                    {
                        "step": s.id,
                        "text": f"fix the cause of known issue {issue_id}{expires} "
                        f"(allowed in {log} on {host})",
                    },
                )
    return list(found.values())


def timeline_svg(view: RunView) -> str:
    picture = timeline(view)
    if picture is None:
        return ""
    return _templates.get_template("timeline.svg.j2").render(p=picture)


def record_html(
    events: list[dict],
    journal: str = "",
    rehearsal: Iterable[tuple[str, list[dict]]] | None = None,
) -> str:
    """The record's static HTML: a <div> with its own <style>, readable with JavaScript off.
    `rehearsal`: earlier lab runs (name, events), newest first, to compare each step with."""
    view = parse(events)
    # No lab run to compare with (a first run): no column for it.
    compared = (compare(events, rehearsal) if rehearsal is not None else None) or None
    picture = timeline(view)
    hosts, cells = grid(view)
    return _templates.get_template("record.html.j2").render(
        view=view,
        verdict=verdict_of(view),
        facts=facts(view, journal),
        picture=picture,
        timeline_svg=Markup(
            _templates.get_template("timeline.svg.j2").render(p=picture) if picture else ""
        ),
        grid_hosts=hosts,
        grid_cells=cells,
        compared=compared,
        # The run most steps are compared with, named once above the table.
        usual_run=Counter(c.run for c in compared.values()).most_common(1)[0][0]
        if compared
        else "",
        todos=todos(view),
        details=details(view, compared),
        hm=hm,
        hms=hms,
        # The shapes two runs differ in are bounded like an output: the commands are shown whole
        # in their step, and a change of code can make the list as long as the step.
        bounded=bounded,
        took=duration,
    )


def page(events: list[dict], journal: str = "", rehearsal=None) -> str:
    """A page of its own (the rebuild): the same static record."""
    view = parse(events)
    return _templates.get_template("page.html.j2").render(
        title=f"{view.procedure} on {view.start.get('inventory')} - record",
        record=Markup(record_html(events, journal, rehearsal)),
    )
