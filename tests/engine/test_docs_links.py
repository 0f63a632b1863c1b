"""The README and docs/ say only what is there: every relative link reaches a file (and its
heading), every `python -m` module, `make` target and `--option` they show exists, the README
stays short, and no page sends the reader to an issue number instead of saying what a thing does.

Read from the files and the commands' own `--help` (no lab needed).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
PAGES = [README, REPO / "lab" / "README.md", *sorted((REPO / "docs").glob("*.md"))]
README_MAX_LINES = 150

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
ISSUE_NUMBER = re.compile(r"\bissues?\s*#?\d+|\(issue\b|(?<![\w&#])#\d+\b", re.IGNORECASE)
MODULE = re.compile(r"python3? -m ([\w.]+)")
# `make X` in code (a backquote or a code block's line start), never "make ... work" in prose.
MAKE_TARGET = re.compile(r"(?:^|`)make ([a-z][\w-]*)", re.MULTILINE)
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")

# Options the pages name that belong to other tools, each with where it comes from.
OTHER_TOOLS_OPTIONS = {
    "--credentials",  # lab/tools/JmxProbe.java, run on the vantage hosts
    "--ca",  # lab/tools/JmxProbe.java: the CA it trusts for JMX over TLS
    "--check",  # mysqlcheck, in the example plan page
    "--databases",  # mysqlcheck, in the example plan page
    "--write",  # tests/engine/refusal_cases.py, which regenerates docs/refusals.md
}
HELPS = [
    ["-m", "pytest", "--help", "-p", "no:cacheprovider"],
    ["-m", "lab", "up", "--help"],
    ["-m", "lab", "down", "--help"],
    ["-m", "bench", "--help"],
    ["-m", "runbooklib.scaffold", "--help"],
    ["-m", "runbooklib.seedmap", "--help"],
]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces made hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {slug(h) for h in HEADING.findall(page.read_text())}


def relative_links(page: Path) -> list[str]:
    return [t for t in LINK.findall(page.read_text()) if not re.match(r"[a-z]+:", t)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_reach_a_file_and_heading(page):
    broken = []
    for target in relative_links(page):
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target}: no heading #{anchor} in {dest.relative_to(REPO)}")
    assert not broken, f"{page.relative_to(REPO)}: {broken}"


def test_every_docs_page_is_reachable_from_the_readme():
    linked = {(README.parent / t.partition("#")[0]).resolve() for t in relative_links(README)}
    missing = [p.name for p in (REPO / "docs").glob("*.md") if p.resolve() not in linked]
    assert not missing, f"README.md links none of docs/{missing}"


def test_readme_is_short():
    lines = len(README.read_text().splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines: move detail into docs/"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_no_issue_numbers(page):
    found = ISSUE_NUMBER.findall(page.read_text())
    assert not found, f"{page.relative_to(REPO)} names {found}: say what the thing does"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_modules_and_make_targets_exist(page):
    text = page.read_text()
    top_level = {p.name for p in REPO.iterdir() if p.is_dir()}
    missing = []
    for module in set(MODULE.findall(text)):
        parts = module.split(".")
        if parts[0] not in top_level:
            continue  # pytest, venv: not this project's
        base = REPO.joinpath(*parts)
        if not (base.with_suffix(".py").is_file() or (base / "__main__.py").is_file()):
            missing.append(f"python -m {module}")
    targets = set(re.findall(r"^([\w-]+):", (REPO / "Makefile").read_text(), re.MULTILINE))
    missing += [f"make {t}" for t in set(MAKE_TARGET.findall(text)) if t not in targets]
    assert not missing, f"{page.relative_to(REPO)} shows {missing}, which do not exist"


@pytest.fixture(scope="module")
def known_options() -> set[str]:
    """Every long option that the commands the pages show print in their own --help."""
    known = set(OTHER_TOOLS_OPTIONS)
    for argv in HELPS:
        done = subprocess.run(
            [sys.executable, *argv], cwd=REPO, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, f"{' '.join(argv)}: {done.stderr}"
        known |= set(OPTION.findall(done.stdout))
    return known


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_options_exist(page, known_options):
    unknown = sorted(set(OPTION.findall(page.read_text())) - known_options)
    assert not unknown, f"{page.relative_to(REPO)} shows options no command has: {unknown}"
