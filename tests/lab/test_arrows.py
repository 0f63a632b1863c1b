"""The arrows point one way: the runbook drives the lab, the lab knows nothing of the runbook.

Read from the lab's source (no lab needed): no module of lab/ imports the runbook, its library,
the checks or pytest, and none runs pytest.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LAB = REPO / "lab"
FORBIDDEN = ("runbook", "runbooklib", "checks", "pytest", "_pytest", "testinfra")


def lab_files() -> list[Path]:
    """Every file of lab/ that is code (Python, shell), not build output."""
    found = []
    for path in sorted(LAB.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        head = path.read_bytes()[:2]
        if path.suffix == ".py" or head == b"#!":
            found.append(path)
    return found


def imported_modules(path: Path) -> list[str]:
    """Modules named by import statements and by `__import__("...")` / importlib calls."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = ast.unparse(node.func)
            if func in ("__import__", "importlib.import_module", "import_module"):
                names.append(str(node.args[0].value))
    return names


def forbidden(module: str) -> bool:
    return module.split(".")[0] in FORBIDDEN


def test_the_check_catches_each_kind_of_forbidden_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import os\nimport runbooklib.engine.plugin\nfrom runbook import test_upgrade\n"
        "from lab import netns\nmod = __import__('pytest')\n"
    )
    found = [m for m in imported_modules(sample) if forbidden(m)]
    assert found == ["runbooklib.engine.plugin", "runbook", "pytest"]


def test_no_lab_module_imports_the_runbook_its_library_the_checks_or_pytest():
    python = [p for p in lab_files() if p.suffix == ".py"]
    assert LAB / "lifecycle.py" in python  # the walk sees the lab's modules
    found = {
        str(p.relative_to(REPO)): bad
        for p in python
        if (bad := [m for m in imported_modules(p) if forbidden(m)])
    }
    assert found == {}


def test_no_lab_code_runs_pytest():
    # "pytest" as a word of code: a command line, `-m pytest`, a path to the pytest script.
    word = re.compile(r"(?<![\w.])(py\.test|pytest)(?![\w])")
    found = []
    for path in lab_files():
        for n, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]  # comments may mention pytest; code may not run it
            if word.search(code):
                found.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert found == []


def test_the_runbook_side_drives_the_rehearsal():
    driver = (REPO / "runbooklib" / "rehearse.py").read_text()
    assert '"-m", "pytest"' in driver
    assert "runbooklib.rehearse" in (REPO / "Makefile").read_text()


# The engine knows no application: it imports neither the actions nor the procedures, and names
# none of the seed's parts (the application, its servers, the seed's hosts), in code or comments.
ENGINE = REPO / "runbooklib" / "engine"
ENGINE_FORBIDDEN = ("runbooklib.actions", "runbook", "checks")
APPLICATION_NAMES = re.compile(
    r"smartsite|sakai|tomcat|catalina|mariadb|caje|stubing|walton", re.IGNORECASE
)
# Loading an inventory (a tool, a lab, Ansible's side) must not import pytest or the engine.
INVENTORY_FORBIDDEN = ("pytest", "_pytest", "runbooklib.engine")


def names_one_of(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def application_lines(path: Path) -> list[str]:
    """`n: line` for each line of the file that names a part of the application."""
    lines = path.read_text().splitlines()
    return [
        f"{n}: {line.strip()}" for n, line in enumerate(lines, 1) if APPLICATION_NAMES.search(line)
    ]


def test_the_checks_catch_an_engine_that_knows_the_application(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        '"""Stops the app."""\nimport runbooklib.actions.notify\nfrom runbook import conftest\n'
        "from checks.conftest import RUN\nfrom runbooklib.engine import run\n"
        "import _pytest.python\n# Restarts SAKAI on WALTON.\n"
    )
    modules = imported_modules(sample)
    assert [m for m in modules if names_one_of(m, ENGINE_FORBIDDEN)] == [
        "runbooklib.actions.notify",
        "runbook",
        "checks.conftest",
    ]
    assert [m for m in modules if names_one_of(m, INVENTORY_FORBIDDEN)] == [
        "runbooklib.engine",
        "_pytest.python",
    ]
    assert application_lines(sample) == ["7: # Restarts SAKAI on WALTON."]


def test_the_engine_imports_no_action_no_procedure_and_no_checks():
    python = sorted(ENGINE.rglob("*.py"))
    assert ENGINE / "start.py" in python  # the walk sees the engine's modules
    found = {
        str(p.relative_to(REPO)): bad
        for p in python
        if (bad := [m for m in imported_modules(p) if names_one_of(m, ENGINE_FORBIDDEN)])
    }
    assert found == {}


def test_no_engine_file_names_a_part_of_the_application():
    files = sorted(p for p in ENGINE.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    assert ENGINE / "templates" / "record.html.j2" in files  # templates too, not only code
    found = {str(p.relative_to(REPO)): bad for p in files if (bad := application_lines(p))}
    assert found == {}


def test_loading_an_inventory_imports_neither_pytest_nor_the_engine():
    module = REPO / "runbooklib" / "inventory.py"
    found = [m for m in imported_modules(module) if names_one_of(m, INVENTORY_FORBIDDEN)]
    assert found == []


def test_loading_an_inventory_loads_neither_pytest_nor_the_engine_at_run_time():
    # The import statements above, proven by a fresh interpreter (a package __init__ counts).
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, runbooklib.inventory; print(*sorted(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    ).stdout.split()
    assert "runbooklib.inventory" in loaded
    assert [m for m in loaded if names_one_of(m, INVENTORY_FORBIDDEN)] == []


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Module -> the modules of `package` it imports (at the top or inside a function): `from a
    import b` is an arrow to the module a.b when there is one, else to a."""
    modules = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        arrows = set()
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                arrows |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the module's own package upwards
                    up = name.split(".")[: len(name.split(".")) - node.level + is_package]
                    base = ".".join([*up, *([base] if base else [])])
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    arrows.add(sub if sub in modules else base)
        graph[name] = {a for a in arrows if a in modules and a != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle as `a -> b -> a`, or [] when there is none (a depth-first search)."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        path.pop()
        return []

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return []


def test_the_cycle_check_finds_a_cycle_and_shows_it(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg import b\n")
    (pkg / "b.py").write_text("import os\n\ndef later():\n    from . import c\n")
    (pkg / "c.py").write_text("from pkg.a import thing\n")
    (pkg / "d.py").write_text("import pkg.a\n")

    graph = import_graph(tmp_path, "pkg")

    assert graph["pkg.a"] == {"pkg.b"} and graph["pkg.b"] == {"pkg.c"}
    assert find_cycle(graph) == ["pkg.a", "pkg.b", "pkg.c", "pkg.a"]
    (pkg / "c.py").write_text("import os\n")
    assert find_cycle(import_graph(tmp_path, "pkg")) == []


def test_no_import_cycle_among_the_librarys_modules():
    graph = import_graph(REPO, "runbooklib")
    assert "runbooklib.engine.record" in graph["runbooklib.engine.start"]  # the walk sees them
    assert find_cycle(graph) == []
