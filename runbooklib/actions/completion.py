"""Is a procedure already complete on this inventory? Then running it again must change nothing.

    >>> upgrade_complete(inventory)
    'sakai_2-4-x-prod-003 on stubing, walton; scripts applied; public mode'

Each verb is idempotent on its own, but the upgrade as a whole is not a converging set of
states: u01 closes the site that u17 opens. A second run of a finished upgrade would close
the site again, so the runbook asks here first, reading only.
"""

from __future__ import annotations

from pathlib import Path

from runbooklib.actions import database, firewall, release, tomcat
from runbooklib.actions.common import app_nodes
from runbooklib.inventory import Inventory


def upgrade_complete(inventory: Inventory) -> str:
    """A one-line reason when the upgrade is complete, '' otherwise."""
    v = inventory.vars
    nodes = app_nodes(inventory)
    for node in nodes:
        if release.deployed(node).get("release.tag") != v["release_tag"]:
            return ""
        if tomcat.pid(node) is None:
            return ""
        # Every family the node filters: an IPv6 chain left in maintenance (or unhooked) is not
        # a finished upgrade, whatever IPv4 shows.
        for family in firewall.families(node):
            now = firewall.current(node, node.vars, family)
            wanted = firewall.render("public", node.vars, family)
            if any(now[t]["rules"] != wanted[t] or now[t]["hooked"] != 1 for t in wanted):
                return ""
    db = inventory.group("db")[0]
    applied = database.applied_scripts(db)
    if any(Path(s).name not in applied for s in v["sql_scripts"]):
        return ""
    names = ", ".join(n.name for n in nodes)
    return f"{v['release_tag']} on {names}; scripts applied; public mode"
