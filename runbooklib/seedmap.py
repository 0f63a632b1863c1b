"""The seed beside the runbook: each line of the 2007 plan next to the step or sub-step carrying it.

    python -m runbooklib.seedmap    # the seed: docs/seed/smartsite-upgrade-plan-2007-08-18.txt
    python -m runbooklib.seedmap --seed PLAN.txt --runbook runbook/
    python -m runbooklib.seedmap --plan PLAN.txt --runbook runbook/test_NAME.py   # one procedure

The last form checks any runbook made from a plan page (`python -m runbooklib.scaffold`) against
its page: the section it names in `PLAN_SECTION` (or the page's first timed section), and the
window it marks (`pytest.mark.window`) against the page's `- Time: HH:MM to HH:MM`.

A plan page, in the seed's wiki format: a heading is a line of its own (no `- `) that begins with
a capital letter and holds no `/ * ; $ = | < >` (a command listed under an item does); a section is
the lines under a heading, and a procedure is a section with timed items `- (HH:MM Owner) text`.

Exit status 1, naming the line, when a line of the seed's "Upgrade Process" or "Fallback
Procedure" is carried by no step or sub-step, or by one out of the seed's order.

Read from the runbook itself, not from a table: a step carries the words of its title (the first
paragraph of its docstring) and each of its `with substep("..."):` blocks carries its name. A
seed line is carried by the first of them, from where the previous line was found on, whose text
holds it (or whose name begins it: "Check catalina.out for DB errors" carries the seed's longer
line); inside a step, a sub-step is preferred to the title. The seed lists "(12:00) Adjust
iptables" before "(11:45) Send mail": its times, not its listing, order the timed items (the
runbook runs by the clock), and the listing marks the lines that moved.

The lines listed under an item (the seed's values, not its actions) are carried by that item's
step: an address by the production inventory's allow-list, `PORT N:` by its `allow_N`, a file,
path or command by the step's docstring, which quotes it.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from runbooklib.engine.steps import substeps_of

REPO = Path(__file__).resolve().parents[1]
# The wiki page of 2007, kept in the repo word for word (a copy of ../shared/seed/), so the
# listing and its test run wherever the repo is cloned.
SEED = REPO / "docs" / "seed" / "smartsite-upgrade-plan-2007-08-18.txt"
# Section of the seed -> the procedure that carries it.
SECTIONS = {"Upgrade Process": "upgrade", "Fallback Procedure (If needed)": "fallback"}
# `(08:10 Prabhu) text`: the time, then the owner (none in `(12:01) text`).
_TIMED = re.compile(r"^\((\d\d:\d\d)\s*([^)]*)\)\s*")
_HEADING = re.compile(r"^[A-Z][^/*;$=|<>]*$")
# `- Time: 08:00 to 12:00 (noon)`, under the page's "Maintenance Window".
_WINDOW = re.compile(r"^Time:\s*(\d\d:\d\d)\s+to\s+(\d\d:\d\d)\b")
_ADDRESS = re.compile(r"^(\d+\.\d+\.\d+\.\d+) \(")
_PORT = re.compile(r"^PORT (\d+):$")


@dataclass
class SeedLine:
    text: str  # as in the seed, without its "- "
    at: str | None  # "12:00" for a timed item
    detail: bool  # a value listed under an item: an address, a port, a file, a command
    moved: bool = False
    owner: str = ""  # "Prabhu" in `(08:10 Prabhu)`; "" when the item names none
    number: int = 0  # its line in the page, to name it in an error


@dataclass
class PlanPage:
    # `- Time: 08:00 to 12:00`: the plan's own window, or None when the page gives none.
    window: tuple[str, str] | None
    # heading -> its lines, timed items (with the lines under them) in order of time; only the
    # sections that have a timed item (the procedures).
    sections: dict[str, list[SeedLine]]


@dataclass
class Unit:
    """A step, with the sub-steps of its body."""

    id: str
    title: str
    doc: str
    substeps: list[str] = field(default_factory=list)


def norm(text: str) -> str:
    return " ".join(text.split()).strip(" .:;").casefold()


def is_detail(raw: str) -> bool:
    if not raw.startswith("- "):
        return True  # a shell command of the seed
    text = raw[2:].strip()
    return bool(
        _ADDRESS.match(text)
        or _PORT.match(text)
        or text.startswith("/")
        or re.fullmatch(r"\S+\.sql", text)
        or (text.endswith(":") and len(text.split()) <= 4)
    )


def read_plan(path: Path) -> PlanPage:
    """A plan page: its window and its procedures (the sections with timed items)."""
    window, sections, current = None, {}, None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        raw = raw.strip()
        if not raw:
            continue
        if not raw.startswith("- ") and _HEADING.match(raw):
            current = sections.setdefault(raw, [])
            continue
        text = raw[2:].strip() if raw.startswith("- ") else raw
        found = _WINDOW.match(text)
        if found and window is None:
            window = found.group(1), found.group(2)
        if current is not None:
            timed = _TIMED.match(text)
            at, owner = (timed.group(1), timed.group(2).strip()) if timed else (None, "")
            current.append(SeedLine(text, at, is_detail(raw), owner=owner, number=number))
    procedures = {h: by_time(lines) for h, lines in sections.items() if any(x.at for x in lines)}
    return PlanPage(window, procedures)


def seed_sections(path: Path) -> dict[str, list[SeedLine]]:
    """procedure -> its seed lines, timed items (with the lines under them) in order of time."""
    return {SECTIONS[h]: lines for h, lines in read_plan(path).sections.items() if h in SECTIONS}


def by_time(lines: list[SeedLine]) -> list[SeedLine]:
    """Blocks (a timed item and the lines after it) in order of their time, stable."""
    blocks: list[list[SeedLine]] = []
    for line in lines:
        if line.at or not blocks:
            blocks.append([line])
        else:
            blocks[-1].append(line)
    latest = ""
    for block in blocks:
        at = block[0].at or ""
        block[0].moved = at < latest  # listed after a later time
        latest = max(latest, at)
    ordered = sorted(blocks, key=lambda block: block[0].at or "")
    return [line for block in ordered for line in block]


def load_module(module_path: Path):
    spec = importlib.util.spec_from_file_location(f"_seedmap_{module_path.stem}", module_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def units(module_path: Path) -> tuple[str, list[Unit]]:
    """The module's docstring and its steps in file order, read from the module itself."""
    module = load_module(module_path)
    found = []
    for _, func in inspect.getmembers(module, inspect.isfunction):
        meta = getattr(func, "runbook_step", None)
        if meta:
            line = inspect.getsourcelines(func)[1]
            found.append((line, Unit(meta.id, meta.title, func.__doc__ or "", substeps_of(func))))
    return module.__doc__ or "", [unit for _, unit in sorted(found, key=lambda f: f[0])]


def carries(carrier: str, line: str) -> bool:
    carrier, line = norm(carrier), norm(line)
    return bool(carrier) and (line in carrier or (len(carrier) >= 20 and line.startswith(carrier)))


def detail_carried(line: SeedLine, unit: Unit | None, production: dict) -> str | None:
    """Where a value listed under an item lives, or None."""
    text = line.text
    address, port = _ADDRESS.match(text), _PORT.match(text)
    if address:
        for var in ("allow_8443", "allow_9000"):
            if any(e.get("address") == address.group(1) for e in production.get(var) or []):
                return f"production inventory {var}"
    if port and f"allow_{port.group(1)}" in production:
        return f"production inventory allow_{port.group(1)}"
    if unit and norm(text) in norm(unit.doc):
        return f"{unit.id} docstring"
    return None


def side_by_side(
    lines: list[SeedLine], module_doc: str, steps: list[Unit], production: dict
) -> tuple[list[tuple[SeedLine, str]], list[str]]:
    """(seed line, what carries it) for every line, and the problems, one line each."""
    rows, problems = [], []
    step_at, sub_at = 0, 0  # where the previous line was found
    last: Unit | None = None
    for line in lines:
        text = _TIMED.sub("", line.text)
        if line.detail:
            where = detail_carried(line, last, production)
            if where is None:
                problems.append(f"not carried: {line.text!r} (a value under {last and last.id})")
            rows.append((line, where or "MISSING"))
            continue
        if step_at == 0 and sub_at == 0 and last is None and carries(module_doc, text):
            rows.append((line, "the procedure's docstring"))
            continue
        found = None
        for index in range(step_at, len(steps)):
            unit, start = steps[index], sub_at if index == step_at else 0
            sub = next(
                (i for i in range(start, len(unit.substeps)) if carries(unit.substeps[i], text)),
                None,
            )
            if sub is not None:
                found = (index, sub, f"{unit.id} > {unit.substeps[sub]}")
            elif carries(unit.title, text):
                found = (index, start, unit.id)
            if found:
                break
        if found is None:
            problems.append(f"missing or out of order: {line.text!r}")
            rows.append((line, "MISSING or OUT OF ORDER"))
            continue
        step_at, sub_at, where = found
        last = steps[step_at]
        rows.append((line, where))
    return rows, problems


def plan_procedure(plan: Path, module_path: Path) -> tuple[str, list[SeedLine], list[str]]:
    """For a runbook made from a plan page: the section it carries, that section's lines, and the
    problems of its window (the page's `Time:` against the module's `window` mark)."""
    page = read_plan(plan)
    module = load_module(module_path)
    heading = getattr(module, "PLAN_SECTION", None) or next(iter(page.sections), None)
    if heading not in page.sections:
        found = ", ".join(repr(h) for h in page.sections) or "none"
        raise ValueError(f"{plan} has no section {heading!r} with timed items (it has: {found})")
    marks = getattr(module, "pytestmark", [])
    marked = [m.args for m in (marks if isinstance(marks, list) else [marks]) if m.name == "window"]
    problems = []
    if page.window and marked and tuple(marked[0]) != page.window:
        said, marks = "-".join(page.window), "-".join(marked[0])
        problems.append(f"window: the page says {said}, the runbook marks {marks}")
    elif page.window and not marked:
        start, end = page.window
        problems.append(
            f"window: the page says {start}-{end}, the runbook marks none: "
            f'add pytestmark = pytest.mark.window("{start}", "{end}")'
        )
    return heading, page.sections[heading], problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m runbooklib.seedmap",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--seed", "--plan", type=Path, default=SEED, help="the plan page (default: the 2007 seed)"
    )
    parser.add_argument(
        "--runbook",
        type=Path,
        default=REPO / "runbook",
        help="the procedures' folder (the seed's), or one procedure's test_NAME.py",
    )
    parser.add_argument("--inventory", type=Path, default=REPO / "inventories" / "production.yml")
    args = parser.parse_args(argv)
    if not args.seed.is_file():
        print(f"ERROR: plan {args.seed} not found: give --plan PATH", file=sys.stderr)
        return 2
    if not args.runbook.exists():
        print(f"ERROR: runbook {args.runbook} not found: give --runbook PATH", file=sys.stderr)
        return 2
    production = {}
    if args.inventory.is_file():
        production = (
            (yaml.safe_load(args.inventory.read_text()) or {}).get("all", {}).get("vars", {})
        )
    problems = []
    if args.runbook.is_file():
        try:
            heading, lines, problems = plan_procedure(args.seed, args.runbook)
        except ValueError as exc:
            print(f"ERROR: {exc}", file=sys.stderr)
            return 2
        problems = [f"{args.runbook}: {p}" for p in problems]
        procedures = {heading: (args.runbook, lines)}
    else:
        procedures = {
            name: (args.runbook / f"test_{name}.py", lines)
            for name, lines in seed_sections(args.seed).items()
        }
    for procedure, (path, lines) in procedures.items():
        module_doc, steps = units(path)
        rows, found = side_by_side(lines, module_doc, steps, production)
        problems += [f"{path}: {p}" for p in found]
        shown = path.resolve().relative_to(REPO) if path.resolve().is_relative_to(REPO) else path
        print(f"== {procedure}: the plan's lines | the step or sub-step of {shown}")
        for line, where in rows:
            seed = ("    " if line.detail else "") + line.text
            seed = seed if len(seed) <= 90 else seed[:87] + "..."
            moved = "  (moved up: the plan lists it after a later time)" if line.moved else ""
            print(f"{seed:<90} | {where}{moved}")
        print()
    for problem in problems:
        print(f"ERROR: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
