"""A production run loads the runbook's plugins, not the project's test tools: pytester is
named in tests/conftest.py, so only a session under tests/ has it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_the_projects_own_tests_have_pytester(request: pytest.FixtureRequest):
    assert request.config.pluginmanager.has_plugin("pytester")


def test_a_plan_of_the_upgrade_does_not_load_pytester():
    # --trace-config lists every plugin module as it is registered; --plan touches no host.
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "runbook/", "-k", "upgrade", "--plan", "--trace-config"]
        + ["-p", "no:cacheprovider"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "plan: upgrade on" in run.stdout
    assert "runbooklib.engine.plan" in run.stdout  # the listing is there, and names plugins
    assert "_pytest.pytester" not in run.stdout + run.stderr
    # Of the project's own files, only the runbook's plugin and its conftests: no test helper.
    ours = sorted(
        {
            str(Path(path).relative_to(REPO))
            for line in run.stdout.splitlines()
            if (path := line.rpartition(": ")[2].strip()).startswith(str(REPO) + "/")
            and "site-packages" not in path  # the project's .venv: installed packages
        }
    )
    assert "runbooklib/engine/start.py" in ours
    assert [p for p in ours if not p.startswith("runbooklib/engine/")] == [
        "conftest.py",
        "runbook/conftest.py",
    ]
