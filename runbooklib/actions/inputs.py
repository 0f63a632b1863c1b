"""Bad input is found before any host is touched: one line that names the fix.

    >>> check(inventory, repo)     # raises ActionError("inventory lab: `allow_8443[2]` ...")

Called when a procedure is collected, so that a typo in an allow-list or a missing SQL script
stops the run before u01 closes the site.
"""

from __future__ import annotations

from pathlib import Path

from runbooklib.actions import firewall, reach
from runbooklib.actions.common import ActionError, head_node
from runbooklib.inventory import Inventory, InventoryError

REQUIRED = (
    "tomcat_home", "tomcat_base", "sakai_home", "catalina_out", "src_dir", "releases_dir",
    "staging_config", "config_backup", "ssh_port", "https_port", "jmx_port", "maintenance_port",
    "svn_url", "release_tag", "release_version", "fallback_tag", "fallback_version",
    "fallback_snapshot", "db_name", "db_backup_dir", "sql_scripts", "mail", "chat", "jmx_probe",
)  # fmt: skip


def check(inventory: Inventory, repo: Path) -> None:
    v = inventory.vars
    missing = [k for k in REQUIRED if k not in v]
    if missing:
        raise ActionError(f"inventory {inventory.name}: set {', '.join(missing)} under all.vars")
    try:
        head_node(inventory)
        if not inventory.group("db"):
            raise ActionError(f"inventory {inventory.name}: the `db` group has no host")
    except InventoryError as exc:
        raise ActionError(str(exc)) from None
    if not reach.clients(inventory, "allow_8443", on=False):
        raise ActionError(
            f"inventory {inventory.name}: add a host off the allow-lists to the `public` group "
            "(under `vantage`) so that the outage page is proven from outside"
        )
    for node in inventory.group("app"):
        for mode in firewall.MODES:
            firewall.render(mode, node.vars)
    for name in v["sql_scripts"]:
        if not (repo / name).is_file():
            raise ActionError(
                f"inventory {inventory.name}: sql_scripts names {name}, not in {repo}"
            )
