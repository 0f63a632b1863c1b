"""The arrows point one way: the runbook drives the lab, the lab knows nothing of the runbook.

Read from the lab's source (no lab needed): no module of lab/ imports the runbook, its library,
the checks or pytest, and none runs pytest.
"""

from __future__ import annotations

import ast
import re
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
