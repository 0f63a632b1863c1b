"""Rebuild a run's report from its journal, after a crash or a kill left no HTML report.

    python -m runbooklib.engine.rebuild reports/20070818T150000Z-upgrade-production.jsonl

Writes `<journal name>.rebuilt.html` beside the journal (never over an existing file) and prints
its path. One self-contained page: the run's header, every step with planned and actual times,
its outcome (a step started and never ended is `interrupted`), and its transcript.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from html import escape
from pathlib import Path

from runbooklib.engine.journal import read

_STYLE = """
body { font-family: sans-serif; margin: 2em; }
table { border-collapse: collapse; margin-bottom: 1em; }
td, th { border: 1px solid #999; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
.failed, .interrupted { background: #fdd; } .passed { background: #dfd; }
.skipped, .not-run { background: #eee; }
pre { background: #f6f6f6; padding: 0.5em; white-space: pre-wrap; }
"""


def _local(t: str | None) -> str:
    return f"{dt.datetime.fromisoformat(t).astimezone():%H:%M:%S}" if t else ""


def steps_of(events: list[dict]) -> tuple[dict, list[dict]]:
    """The run_start event and one dict per step: plan, times, outcome and transcript."""
    start = next((e for e in events if e.get("event") == "run_start"), {})
    steps = {s["step"]: {**s, "outcome": "not run", "entries": []} for s in start.get("steps", [])}
    for event in events:
        step = steps.get(event.get("step"))
        kind = event.get("event")
        if step is None:
            continue
        if kind == "step_start":
            step.update(started=event["t"], outcome="interrupted")
        elif kind == "step_end":
            step.update(ended=event["t"], outcome=event["outcome"], reason=event.get("reason"))
        elif kind in ("command", "artifact", "note", "approval", "window_warning"):
            step["entries"].append(event)
    return start, list(steps.values())


def _entry(e: dict) -> str:
    kind = e["event"]
    if kind == "command":
        tail = " (dry run: not run)" if e.get("dry_run") else f" -> rc {e.get('rc')}"
        out = "".join(
            f"\n    {line}"
            for name in ("stdout", "stderr")
            for line in (e.get(name) or "").rstrip().splitlines()[-40:]
        )
        return f"{_local(e['t'])} [{e['host']}] $ {e['command']}{tail}{out}"
    if kind == "artifact":
        return f"{_local(e['t'])} artifact {e.get('kind')}: {e.get('where')}"
    if kind == "approval":
        return f"{_local(e['t'])} approved by {e.get('operator')} ({e.get('how')})"
    return f"{_local(e['t'])} {kind}: {e.get('text', '')}"


def render(journal: Path, events: list[dict]) -> str:
    start, steps = steps_of(events)
    end = next((e for e in reversed(events) if e.get("event") == "run_end"), None)
    last = events[-1] if events else {}
    verdict = (
        end["verdict"]
        if end
        else f"INTERRUPTED: the run stopped without an end; last event {last.get('event')} "
        f"at {_local(last.get('t'))}"
    )
    header = {
        "Verdict": verdict,
        "Procedure": start.get("procedure"),
        "Inventory": f"{start.get('inventory')} ({start.get('inventory_path')})",
        "Operator": start.get("operator"),
        "Run by": f"{start.get('user')}@{start.get('host')} pid {start.get('pid')}",
        "Git revision": start.get("revision"),
        "Window": start.get("window"),
        "Dry run": "yes" if start.get("dry_run") else "no",
        "Target confirmed": start.get("target_confirmed") or "",
        "Resumed from": start.get("resumed_from") or "",
        "Journal": str(journal),
    }
    rows = []
    for s in steps:
        cls = s["outcome"].replace(" ", "-")
        rows.append(
            f'<tr class="{cls}"><td>{escape(s["step"])}</td><td>{escape(s.get("title") or "")}</td>'
            f"<td>{escape(s.get('owner') or '')}</td><td>{escape(s.get('kind') or '')}</td>"
            f"<td>{_local(s.get('planned'))[:5]}</td><td>{_local(s.get('started'))}</td>"
            f"<td>{_local(s.get('ended'))}</td><td>{escape(s['outcome'])}</td>"
            f"<td>{escape(s.get('reason') or '')}</td></tr>"
        )
        if s["entries"]:
            text = "\n".join(_entry(e) for e in s["entries"])
            rows.append(f'<tr><td></td><td colspan="8"><pre>{escape(text)}</pre></td></tr>')
    title = f"{start.get('procedure')} on {start.get('inventory')} (rebuilt from the journal)"
    head_rows = "".join(
        f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in header.items()
    )
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{escape(title)}</h1>"
        f"<table>{head_rows}</table><table><tr><th>Step</th><th>Title</th><th>Owner</th>"
        "<th>Kind</th><th>Planned</th><th>Started</th><th>Ended</th><th>Outcome</th>"
        f"<th>Reason</th></tr>{''.join(rows)}</table></body></html>\n"
    )


def rebuild(journal: Path) -> Path:
    out = journal.with_name(journal.name.removesuffix(".jsonl") + ".rebuilt.html")
    if out.exists():
        raise FileExistsError(f"{out} exists already: move it away to rebuild")
    out.write_text(render(journal, read(journal)), encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m runbooklib.engine.rebuild", description=__doc__
    )
    parser.add_argument("journal", type=Path, help="a run's journal: reports/<...>.jsonl")
    args = parser.parse_args(argv)
    if not args.journal.is_file():
        print(f"error: {args.journal} not found: name a reports/*.jsonl file", file=sys.stderr)
        return 2
    try:
        print(rebuild(args.journal))
    except FileExistsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
