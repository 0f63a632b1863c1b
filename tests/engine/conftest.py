"""`project`: a throwaway runbook project in pytester's directory; `held`: its cluster lock held
by another run."""

from __future__ import annotations

import json
import subprocess

import pytest
from runbook_project import NOTE, Project, free, lock_file, wait_until


@pytest.fixture
def project(pytester: pytest.Pytester) -> Project:
    return Project(pytester)


@pytest.fixture
def held(project: Project):
    """Another run's lock: its note in the file, the flock held by a live process."""
    path = lock_file(project)
    path.parent.mkdir()
    path.write_text(json.dumps(NOTE) + "\n")
    holder = subprocess.Popen(["flock", str(path), "sleep", "120"])
    assert wait_until(lambda: not free(path))
    yield holder
    holder.kill()
    holder.wait()
