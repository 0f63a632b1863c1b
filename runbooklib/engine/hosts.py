"""The hosts a step acts on: its `hosts=` pattern, resolved against the inventory.

    >>> @step("u14", at="09:35", owner="Thomas", hosts="app[1:]")
    ... def test_u14_install_second_node(hosts):   # [web2]

A step's body gets its hosts from the `hosts` fixture only; a go/no-go check names its pattern
with `@pytest.mark.hosts("app")`. `--plan` shows each pattern with the names it resolves to.
`resolve_hosts` is the engine's one way to read a pattern, and it is Ansible's: the inventory's
`select` (unions, `:&`, `:!`, subscripts, globs, `~regex`), never a split of its own.
"""

from __future__ import annotations

from typing import Any

import pytest

from runbooklib.engine.steps import step_of


def resolve_hosts(inventory: Any, pattern: str) -> list:
    """The hosts Ansible's host `pattern` names in the inventory, in Ansible's order
    (`app:!web2`, `app:&db`, `app[1:]`, `~regex`...); a pattern that names nothing or that
    Ansible would read otherwise is an InventoryError naming the fix (`Inventory.select`)."""
    return inventory.select(pattern)


def hosts_pattern(item: pytest.Item) -> str | None:
    """The step's `hosts=`, or for a go/no-go check its `@pytest.mark.hosts(pattern)`."""
    meta = step_of(item)
    if meta:
        return meta.hosts
    mark = item.get_closest_marker("hosts")
    return mark.args[0] if mark and mark.args else None


@pytest.fixture
def hosts(request: pytest.FixtureRequest, inventory: Any) -> list:
    """The hosts this step acts on: its `hosts=` pattern resolved against the inventory."""
    pattern = hosts_pattern(request.node)
    if pattern is None:
        raise pytest.UsageError(
            f"{request.node.nodeid} asks for `hosts` but names none: "
            'give it @step(..., hosts=PATTERN) or @pytest.mark.hosts("PATTERN")'
        )
    return resolve_hosts(inventory, pattern)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "hosts(pattern): the hosts a go/no-go check acts on (the `hosts` fixture)"
    )
