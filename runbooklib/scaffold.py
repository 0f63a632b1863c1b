"""A plan page made a do-nothing runbook: one manual step per timed line, automated later.

    python -m runbooklib.scaffold PLAN NAME      # writes runbook/test_NAME.py
    pytest runbook/ -k NAME --plan               # its timeline, under the page's own window
    pytest runbook/ -k NAME --operator ME --approve all
    python -m runbooklib.seedmap --plan PLAN --runbook runbook/test_NAME.py

The page is in the seed's wiki format (read by seedmap's parser, the only one): the window
(`- Time: 06:00 to 07:00`), the sections, and the timed items `- (HH:MM Owner) text` with the
lines under them. Each timed item becomes a step of kind manual: its words are the docstring, its
time and owner the step's; a line under it is a named sub-step, or, for a value (an address, a
file, a command), quoted in the docstring. An item with no owner (`(12:01) text`) takes the owner
of the one before it. The page's window rides on the module, `pytest.mark.window(...)`, so the
runbook plans, runs, times and records from day one; then each step is automated in turn
(docs/writing-a-runbook.md).
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from pathlib import Path

from runbooklib.engine.steps import minutes
from runbooklib.seedmap import _TIMED, REPO, SeedLine, read_plan

_NAME = re.compile(r"[a-z][a-z0-9_]*")
# `(6:00 Dana)` or `(06.00 Dana)`: meant as a timed item, but not one seedmap reads.
_LOOSE_TIME = re.compile(r"^\(\d{1,2}[:.h]\d\d\b")
# Lines of a docstring: a one-line docstring with its quotes then fits in 100 columns.
_WIDTH = 90


class ScaffoldError(Exception):
    """Bad input: one line naming the fix; nothing is written."""


def steps_of(lines: list[SeedLine]) -> tuple[list[str], list[dict]]:
    """The section's lines before its first timed item, and one step per timed item:
    {"at", "owner", "title", "substeps", "quoted"}; in order of time (seedmap's)."""
    preamble, steps = [], []
    for line in lines:
        if line.at:
            owner = line.owner or (steps[-1]["owner"] if steps else "")
            title = _TIMED.sub("", line.text).strip()
            try:
                minutes(line.at)
            except ValueError as exc:
                raise ScaffoldError(f"line {line.number}: {exc}: write (HH:MM Owner)") from None
            if not owner:
                raise ScaffoldError(
                    f"line {line.number}: ({line.at}) names no owner and no item comes before "
                    f"it: write ({line.at} Name)"
                )
            if not title:
                raise ScaffoldError(f"line {line.number}: ({line.at}) has no words: say the task")
            steps.append(
                {"at": line.at, "owner": owner, "title": title, "substeps": [], "quoted": []}
            )
        elif _LOOSE_TIME.match(line.text):
            raise ScaffoldError(f"line {line.number}: {line.text[:30]!r}: write (HH:MM Owner)")
        elif not steps:
            preamble.append(line.text)
        elif line.detail:
            steps[-1]["quoted"].append(line.text)
        else:
            steps[-1]["substeps"].append(line.text)
    return preamble, steps


def _doc(text: str, indent: str) -> str:
    """Text for inside a triple-quoted docstring: no escape or closing quote taken as code."""
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    return textwrap.indent(text, indent).replace(indent + "\n", "\n")


def _docstring(doc: str) -> str:
    """A step's docstring as `ruff format` writes it: on one line when it is one line."""
    text = _doc(doc, "").lstrip()
    if "\n" not in text:
        return f'    """{text}{" " if text.endswith(chr(34)) else ""}"""'
    return f'    """{text}\n    """'


def _wrap(text: str, indent: str) -> str:
    return textwrap.fill(
        text,
        _WIDTH,
        initial_indent=indent,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    )


def _str(text: str) -> str:
    """A double-quoted literal (the project's style, so that `ruff format` leaves it alone)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _substep(name: str) -> list[str]:
    """`with substep("name"):`, its name cut at spaces into pieces when the line would be long
    (Python joins them back: the sub-step's name, and seedmap's reading of it, are unchanged)."""
    line = f"    with substep({_str(name)}):"
    if len(line) <= 100:
        return [line, "        pass"]
    if len(f"        {_str(name)}") <= 100:
        return ["    with substep(", f"        {_str(name)}", "    ):", "        pass"]
    pieces = textwrap.wrap(name, 80, break_long_words=False, drop_whitespace=False)
    return (
        ["    with substep("]
        + [f"        {_str(piece)}" for piece in pieces]
        + ["    ):", "        pass"]
    )


def _function_name(step_id: str, title: str) -> str:
    words = re.sub(r"[^a-z0-9]+", " ", title.lower()).split()[:6]
    return f"test_{step_id}_" + "_".join(words)[:48].rstrip("_")


def _shown(path: Path) -> Path:
    return path.resolve().relative_to(REPO) if path.resolve().is_relative_to(REPO) else path


def render(
    plan: Path, target: Path, heading: str, window: tuple[str, str], lines, prefix: str
) -> str:
    """The source of runbook/test_NAME.py."""
    preamble, steps = steps_of(lines)
    shown, name = _shown(plan), target.stem.removeprefix("test_")
    made_with = "" if target.parent == REPO / "runbook" else f" --into {_shown(target.parent)}"
    if heading != next(iter(read_plan(plan).sections)):
        made_with += f" --section {_str(heading)}"
    intro = [
        f"{heading}: the plan page {shown.name}, a step per timed line.",
        "",
        f"Made by `python -m runbooklib.scaffold {shown} {name}{made_with}`: every step is a "
        "manual confirmation until someone automates it, one step at a time "
        "(docs/writing-a-runbook.md). "
        f"Check it against its page: `python -m runbooklib.seedmap --plan {shown} --runbook "
        f"{_shown(target)}`.",
    ]
    paragraphs = [_wrap(p, "") if p else "" for p in intro]
    if preamble:
        paragraphs += ["", "The page says first:", ""] + [_wrap(p, "") for p in preamble]
    out = ['"""' + _doc("\n".join(paragraphs), "").lstrip() + '\n"""', ""]
    used = "step, substep" if any(item["substeps"] for item in steps) else "step"
    out += ["import pytest", "", f"from runbooklib.engine import {used}", ""]
    out += [
        "# The section of the plan page this procedure carries (python -m runbooklib.seedmap).",
        f"PLAN_SECTION = {_str(heading)}",
        "# The page's own window (`- Time:`): the planned times are offsets from its start.",
        f"pytestmark = pytest.mark.window({_str(window[0])}, {_str(window[1])})",
    ]
    for number, item in enumerate(steps, 1):
        step_id = f"{prefix}{number:02d}"
        doc = _wrap(item["title"], "    ")
        if item["quoted"]:
            # A long value is cut at its spaces onto lines below it (seedmap reads spaces alike).
            quoted = [_wrap(q, "    ").replace("\n    ", "\n        ") for q in item["quoted"]]
            doc += "\n\n    Listed under it:\n" + "\n".join(quoted)
        out += [
            "",
            "",
            f"@step({_str(step_id)}, at={_str(item['at'])}, owner={_str(item['owner'])}, "
            'kind="manual")',
            f"def {_function_name(step_id, item['title'])}():",
            _docstring(doc),
        ]
        if item["substeps"]:
            out.append("    # Done by hand: the operator's confirmation of the step covers these.")
        for sub in item["substeps"]:
            out += _substep(sub)
    return "\n".join(out) + "\n"


def scaffold(
    plan: Path,
    name: str,
    into: Path,
    section: str | None = None,
    prefix: str | None = None,
    force: bool = False,
) -> Path:
    """Write into/test_NAME.py from the plan page; ScaffoldError (nothing written) on bad input."""
    if not _NAME.fullmatch(name):
        raise ScaffoldError(
            f"NAME {name!r}: use lower-case letters, digits and _ (it names test_NAME.py and "
            "the procedure, `pytest -k NAME`)"
        )
    if not plan.is_file():
        raise ScaffoldError(f"plan page {plan} not found: give the path of a text file")
    page = read_plan(plan)
    if not page.sections:
        raise ScaffoldError(
            f"{plan} has no timed item `- (HH:MM Owner) text` under a heading: "
            "write the plan in the seed's format (docs/seed/)"
        )
    heading = section or next(iter(page.sections))
    if heading not in page.sections:
        found = ", ".join(repr(h) for h in page.sections)
        raise ScaffoldError(f"--section {heading!r}: not a section with timed items ({found})")
    if page.window is None:
        raise ScaffoldError(
            f"{plan} gives no window: add `- Time: HH:MM to HH:MM` under its Maintenance Window"
        )
    try:
        start, end = (minutes(at) for at in page.window)
    except ValueError as exc:
        raise ScaffoldError(f"{plan}: window {exc}: write `- Time: HH:MM to HH:MM`") from None
    if end <= start:
        raise ScaffoldError(
            f"{plan}: the window {'-'.join(page.window)} ends before it starts: the plan's clock "
            "is one day (write a night's window on one clock, e.g. 22:00 to 23:59)"
        )
    prefix = prefix or name[0]
    if not re.fullmatch(r"[a-z]+", prefix):
        raise ScaffoldError(f"--prefix {prefix!r}: give lower-case letters (step ids: c01, c02)")
    target = into / f"test_{name}.py"
    if target.exists() and not force:
        raise ScaffoldError(f"{target} exists (steps automated there would be lost): --force")
    for other in sorted(into.glob("test_*.py")) if into.is_dir() else []:
        if other != target and re.search(rf"@step\(\s*[\"']{prefix}\d", other.read_text()):
            raise ScaffoldError(
                f"{other} has step ids {prefix}NN too (one run must not see an id twice): "
                "give --prefix LETTERS"
            )
    source = render(plan, target, heading, page.window, page.sections[heading], prefix)
    compile(source, str(target), "exec")  # a page that made bad Python is our bug, not a file
    into.mkdir(parents=True, exist_ok=True)
    target.write_text(source, encoding="utf-8")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m runbooklib.scaffold",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("plan", type=Path, help="the plan page (text, the seed's wiki format)")
    parser.add_argument("name", help="the procedure's name: writes test_NAME.py")
    parser.add_argument("--into", type=Path, default=REPO / "runbook", help="default: runbook/")
    parser.add_argument("--section", help="the page's section to carry (default: its first)")
    parser.add_argument("--prefix", help="step ids' letters (default: NAME's first letter)")
    parser.add_argument("--force", action="store_true", help="overwrite test_NAME.py")
    args = parser.parse_args(argv)
    try:
        target = scaffold(args.plan, args.name, args.into, args.section, args.prefix, args.force)
    except ScaffoldError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 2
    page = read_plan(args.plan)
    print(f"wrote {target}: {args.name}, window {'-'.join(page.window)}")
    others = [h for h in page.sections if h != (args.section or next(iter(page.sections)))]
    for heading in others:
        print(f"the page has another procedure, {heading!r}: --section {heading!r} OTHER_NAME")
    return 0


if __name__ == "__main__":
    sys.exit(main())
