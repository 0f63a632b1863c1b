"""Rebuild a run's record from its journal, after a crash or a kill left no HTML report.

    python -m runbooklib.engine.rebuild reports/20070818T150000Z-upgrade-production.jsonl

Writes `<journal name>.rebuilt.html` beside the journal (never over an existing file), rewrites
`index.html` in that folder, and prints the record's path. The page is the same static record
as the top of a run's report (`report.record_html`): a step started and never ended is
`interrupted`, and a journal with no end says INTERRUPTED.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runbooklib.engine import private, report
from runbooklib.engine.journal import read
from runbooklib.engine.report_index import write_index


def rebuild(journal: Path) -> Path:
    out = journal.with_name(journal.name.removesuffix(".jsonl") + ".rebuilt.html")
    if out.exists():
        raise FileExistsError(f"{out} exists already: move it away to rebuild")
    events = read(journal)
    found = report.last_rehearsal(journal, events)
    rehearsal = (found.name, read(found)) if found else None
    private.write_text(out, report.page(events, journal.name, rehearsal))
    write_index(journal.parent)
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
