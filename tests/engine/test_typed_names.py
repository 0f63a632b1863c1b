"""A name typed at the terminal for a manual step or a consent is held to --operator's shape
before it reaches the record (pure logic: runbooklib.engine.approvals._typed_name)."""

from __future__ import annotations

import pytest

from runbooklib.engine import approvals


@pytest.mark.parametrize("name", ["Jon Carlo", "José", None, ""])
def test_a_plain_name_or_none_passes_as_it_is(name):
    assert approvals._typed_name(name) == name


@pytest.mark.parametrize(
    "name, why",
    [
        ("evil\x1b[32mGO (after): all checks passed", "control character"),
        ("x\ty", "control character"),
        ("x" * 65, "65 characters long: give at most 64"),
    ],
)
def test_a_forged_or_long_name_fails_the_step_without_approving(name, why):
    with pytest.raises(pytest.fail.Exception, match=why) as failed:
        approvals._typed_name(name)
    assert "the step was not approved" in str(failed.value)
    assert "\x1b" not in str(failed.value)
