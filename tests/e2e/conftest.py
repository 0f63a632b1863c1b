"""End-to-end modules change the lab (upgrade, fallback, faults): each leaves it as it found it,
in the pre-upgrade state, for the modules that follow."""

import pytest


@pytest.fixture(autouse=True, scope="module")
def _reset_the_lab_afterwards(lab):
    yield
    lab.cli("reset")
