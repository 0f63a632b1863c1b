"""Which inventory a run acts on, and the operator's confirmation before production is touched.

`--inventory` names it (default: the ini's `runbook_inventory`, the lab). A bad file stops the run
with one line before anything runs. An inventory with `production: true` needs
`--confirm-target <its name>`, or the name typed at the terminal.
"""

from __future__ import annotations

import pytest

from runbooklib.engine.console import ask
from runbooklib.inventory import Inventory, InventoryError

_inventory_key = pytest.StashKey[Inventory]()
# Inventory var <- option that sets it for this run.
RUN_VARS = {"forks": "forks", "surface_full_scan": "full_scan", "surface_seed": "sample_seed"}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("runbook", "runbook (maintenance procedures run as steps)")
    group.addoption(
        "--inventory",
        metavar="PATH",
        help="inventory of the hosts to act on (default: ini runbook_inventory, the lab)",
    )
    group.addoption(
        "--confirm-target",
        metavar="NAME",
        help="confirm by its name that a production inventory may be touched (else: asked)",
    )
    parser.addini("runbook_inventory", "inventory used without --inventory", default="")
    parser.addini(
        "runbook_connects",
        "host patterns the run reaches beyond its steps' own (vantage points, say): connected at "
        "the start beside them",
        type="args",
        default=[],
    )


def load_inventory(config: pytest.Config) -> Inventory:
    """The run's inventory, loaded once; any problem is a one-line usage error."""
    if _inventory_key not in config.stash:
        option, default = config.getoption("inventory"), config.getini("runbook_inventory")
        if not option and not default:
            raise pytest.UsageError("no inventory: give --inventory PATH")
        # An option is relative to where the operator stands; the ini default to the project.
        path = config.invocation_params.dir / option if option else config.rootpath / default
        try:
            inventory = Inventory.load(path)
        except InventoryError as exc:
            raise pytest.UsageError(str(exc)) from None
        if config.getoption("dry_run", False):
            inventory.use_check_mode()  # handed to every action through its hosts
        # The run's choices, handed to the actions through the hosts' vars, as Ansible's `-f`
        # overrides `forks`; given on the command line, they win over the inventory's own.
        for var, option in RUN_VARS.items():
            value = config.getoption(option, None)
            if value is not None and value is not False:
                for holder in (inventory, *inventory.hosts.values()):
                    holder.vars[var] = value
        config.stash[_inventory_key] = inventory
    return config.stash[_inventory_key]


@pytest.fixture(scope="session")
def inventory(pytestconfig: pytest.Config) -> Inventory:
    """The inventory named by --inventory (default: the lab)."""
    return load_inventory(pytestconfig)


def confirm_target(config: pytest.Config, inv: Inventory) -> str | None:
    """Refuse production unless confirmed; returns how it was confirmed (for the record)."""
    if not inv.vars.get("production"):
        return None
    given = config.getoption("confirm_target")
    if given == inv.name:
        return "--confirm-target"
    if given:
        raise pytest.UsageError(
            f"--confirm-target {given} does not match inventory {inv.name}: "
            f"give --confirm-target {inv.name}"
        )
    typed = ask(config, f"\n{inv.path} is PRODUCTION. Type its name ({inv.name}) to go on: ")
    if typed == inv.name:
        return "typed at the terminal"
    raise pytest.UsageError(
        f"inventory {inv.name} is production and was not confirmed: "
        f"give --confirm-target {inv.name}"
    )
