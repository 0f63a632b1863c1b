"""`reports/index.html`: every run recorded in a reports folder, newest first, static HTML.

Made from the journals (`*.jsonl`): start, procedure, inventory, operator, verdict, duration and
a link to the run's record (the rebuilt one when pytest-html's is missing). Rewritten after every
run and by the rebuild command. A journal is read again only when it or its record changed since
the last index (`.index-rows.json` keeps each row beside its journal's size and time): a folder
that holds a season of windows costs each run what its new journals cost, not all of them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from html import escape
from pathlib import Path

from runbooklib.engine import private
from runbooklib.engine.journal import read
from runbooklib.engine.report import parse, seconds, verdict_of

STYLE = """
body { font-family: sans-serif; margin: 2em; }
table { border-collapse: collapse; } td, th { border: 1px solid #bbb; padding: 0.2em 0.6em; }
.rb-ok { background: #dfd; } .rb-bad { background: #fdd; }
.rb-warn, .rb-dry { background: #ffe9c7; }
"""


def row(journal: Path) -> str:
    events = read(journal)
    view = parse(events)
    word, cls, line = verdict_of(view)
    start = view.time(view.start.get("t")) if view.start else None
    end = view.time(events[-1]["t"]) if events else None
    duration = seconds((end - start).total_seconds()) if start and end else ""
    name = journal.name.removesuffix(".jsonl")
    record = next(
        (
            journal.with_name(name + s)
            for s in (".html", ".rebuilt.html")
            if journal.with_name(name + s).exists()
        ),
        None,
    )
    link = (
        f'<a href="{escape(record.name)}">{escape(record.name)}</a>'
        if record
        else f"no record ({escape(name)}.jsonl: rebuild it)"
    )
    cells = [
        f"{start:%Y-%m-%d %H:%M:%S %Z}" if start else escape(name),
        escape(view.procedure),
        escape(str(view.start.get("inventory", ""))),
        escape(str(view.start.get("operator", ""))),
        f"<b>{escape(word)}</b><br>{escape(line)}",
        escape(duration),
        link,
    ]
    return f'<tr class="{cls}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


ROWS = ".index-rows.json"


def rows(folder: Path, journals: list[Path]) -> list[str]:
    """Each journal's row: the one kept from the last index while the journal and its records
    are as they were then, else made again."""
    try:
        kept = json.loads((folder / ROWS).read_text())
    except (OSError, ValueError):
        kept = {}
    if not isinstance(kept, dict):
        kept = {}
    now = {}
    for journal in journals:
        seen, was = _seen(journal), kept.get(journal.name)
        fresh = isinstance(was, list) and len(was) == 2 and was[0] == seen
        now[journal.name] = was if fresh else [seen, row(journal)]
    if now != kept:
        tmp = folder / f"{ROWS}.{os.getpid()}"
        private.write_text(tmp, json.dumps(now))
        tmp.replace(folder / ROWS)
    return [now[j.name][1] for j in journals]


def _seen(journal: Path) -> list:
    """What a journal's row depends on: its size and time, and which of its records exist."""
    info = journal.stat()
    name = journal.name.removesuffix(".jsonl")
    records = [s for s in (".html", ".rebuilt.html") if journal.with_name(name + s).exists()]
    return [info.st_size, info.st_mtime_ns, records]


def index_html(folder: Path) -> str:
    journals = sorted(folder.glob("*.jsonl"), key=lambda p: p.name, reverse=True)
    table = "".join(rows(folder, journals))
    made = dt.datetime.now().astimezone()
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Runs recorded</title>"
        f"<style>{STYLE}</style></head><body><h1>Runs recorded in {escape(str(folder))}</h1>"
        f"<p>{len(journals)} runs, newest first; made {made:%Y-%m-%d %H:%M:%S %Z}.</p>"
        "<table><tr><th>Start</th><th>Procedure</th><th>Inventory</th><th>Operator</th>"
        f"<th>Verdict</th><th>Duration</th><th>Record</th></tr>{table}</table></body></html>\n"
    )


def write_index(folder: Path) -> Path:
    path = folder / "index.html"
    tmp = folder / ".index.html.tmp"
    private.write_text(tmp, index_html(folder))
    tmp.replace(path)
    return path
