"""The `project` fixture: a throwaway runbook project in pytester's directory."""

from __future__ import annotations

import pytest
from runbook_project import Project


@pytest.fixture
def project(pytester: pytest.Pytester) -> Project:
    return Project(pytester)
