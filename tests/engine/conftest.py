"""`project`: a throwaway runbook project in pytester's directory; `held`: its cluster lock held
by another run."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from runbook_project import NOTE, Project, free, lock_file, wait_until


@pytest.fixture
def project(pytester: pytest.Pytester) -> Project:
    return Project(pytester)


@pytest.fixture
def held(project: Project):
    """Another run's lock: its note in the file, a fresh heartbeat, the flock held by a live
    process (`held.beat(seconds_ago)` ages its heartbeat)."""
    path = lock_file(project)
    path.parent.mkdir(mode=0o700)
    path.write_text(json.dumps(NOTE) + "\n")
    beat = path.with_name(path.name + ".beat")
    beat.write_text(f"{int(time.time())}\n")
    holder = subprocess.Popen(["flock", str(path), "sleep", "120"])
    assert wait_until(lambda: not free(path))
    holder.beat = lambda ago: beat.write_text(f"{int(time.time()) - ago}\n")
    yield holder
    holder.kill()
    holder.wait()
