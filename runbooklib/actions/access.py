"""Closing and opening the site: a firewall mode on every app node, proven from outside.

    >>> close_to_public(inventory, nodes)          # maintenance rules; the public: the outage page
    >>> open_to_public(inventory, nodes, "2.4.1")  # public rules; every client: the release
    >>> mail_ready_to_switch(inventory, nodes)     # seed 11:45: "ready to switch iptables"

Used by both procedures (u01/f01, u17/f08): a mode is applied node by node, then every node is
read back, then the vantage hosts prove what a client really gets.
"""

from __future__ import annotations

from runbooklib.actions import firewall, http, notify, reach
from runbooklib.actions.common import rolling
from runbooklib.inventory import Inventory
from runbooklib.remote import Host


def close_to_public(inventory: Inventory, nodes: list[Host]) -> None:
    stamp = firewall.now_stamp()  # one for every node: the same file names on each
    rolling(nodes, lambda node: firewall.apply(node, "maintenance", stamp=stamp))
    for node in nodes:
        firewall.assert_mode(node, "maintenance")
    reach.assert_outage_page(inventory, nodes)


def open_to_public(inventory: Inventory, nodes: list[Host], version: str) -> None:
    stamp = firewall.now_stamp()
    rolling(nodes, lambda node: firewall.apply(node, "public", stamp=stamp))
    for node in nodes:
        firewall.assert_mode(node, "public")
    reach.assert_public_app(inventory, nodes, version)


def mail_ready_to_switch(inventory: Inventory, nodes: list[Host]) -> None:
    """The mail that asks the firewall's owner to open the site, with each node's version."""
    v = inventory.vars
    status = "\n".join(f"{node}: {http.health(node).version}" for node in nodes)
    sent = notify.mail(
        inventory,
        f"SmartSite {v['release_version']}: ready to switch iptables",
        f"The upgrade to {v['release_tag']} passed its tests; please open the site to the "
        f"public.\n\n{status}\n",
    )
    assert sent or inventory.check_mode, "the mail server accepted no recipient"
