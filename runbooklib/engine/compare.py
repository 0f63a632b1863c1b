"""Compared with the rehearsal, step by step.

Each step is set beside the last lab run in which THAT step actually ran and passed: a resumed
run counts only for the steps it ran (the ones it skipped as done earlier tell nothing), a dry
run never counts. Per step: that run's name, the step's duration there, and the command shapes
only one of the two runs has (the flag belongs to the step, not to the run).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from runbooklib.engine.timefmt import duration
from runbooklib.engine.view import parse

_IP = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")
# A digest (a backup's sha256) differs in every run: its shape is the same.
_DIGEST = re.compile(r"\b[0-9a-f]{32,}\b")
_NUMBER = re.compile(r"\d+")
# How many earlier journals are read at most, newest first, to find each step a passing run.
LOOK_BACK = 30


@dataclass
class Compared:
    run: str  # the journal the step is compared with
    duration: float | None
    differs: list[str] = field(default_factory=list)

    @property
    def took(self) -> str:
        return duration(self.duration)


def shape(command: str, hosts: set[str]) -> str:
    """A command with what differs between clusters taken out: host names, addresses, numbers."""
    text = _DIGEST.sub("DIGEST", _IP.sub("ADDR", command))
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


def ran_and_passed(events: list[dict]) -> set[str]:
    """The steps a run carried out itself and passed (not those it skipped as done earlier)."""
    return {
        s.id
        for s in parse(events).steps
        if s.outcome == "passed" and not s.reason.startswith("done earlier")
    }


def compare(events: list[dict], runs: Iterable[tuple[str, list[dict]]]) -> dict[str, Compared]:
    """Per step of this run: the newest of `runs` (newest first) in which it ran and passed."""
    ours = _shapes(events)
    mine = parse(events)
    done = {s.id for s in mine.steps if s.outcome not in ("not run", "interrupted")}
    out: dict[str, Compared] = {}
    for name, theirs in runs:
        wanted = [s.id for s in mine.steps if s.id not in out]
        if not wanted:
            break
        passed = ran_and_passed(theirs)
        view, shapes = parse(theirs), None
        for s in view.steps:
            if s.id not in wanted or s.id not in passed:
                continue
            shapes = shapes if shapes is not None else _shapes(theirs)
            info = Compared(run=name, duration=s.duration)
            if s.id in done:
                here, there = ours.get(s.id, set()), shapes.get(s.id, set())
                info.differs = [f"only here: {c}" for c in sorted(here - there)] + [
                    f"only in {name}: {c}" for c in sorted(there - here)
                ]
            out[s.id] = info
    return out


def earlier_runs(journal: Path, events: list[dict], inventory: str = "lab") -> list[Path]:
    """The journals beside this one that are earlier runs of the same procedure on the lab,
    not dry runs, newest first (at most LOOK_BACK)."""
    procedure = parse(events).start.get("procedure")
    if not procedure:
        return []
    found = sorted(journal.parent.glob(f"*-{procedure}-{inventory}.jsonl"), reverse=True)
    return [p for p in found if p.name < journal.name][:LOOK_BACK]


def rehearsals(journal: Path, events: list[dict]) -> Iterator[tuple[str, list[dict]]]:
    """(name, events) of the earlier lab runs that may be compared with, newest first; read
    lazily, so that `compare` stops reading once every step found its run."""
    from runbooklib.engine.journal import read

    for path in earlier_runs(journal, events):
        theirs = read(path)
        if not parse(theirs).start.get("dry_run"):
            yield path.name, theirs
