"""While the window is open: maintenance mode really in force, proven from the clients' side.

`pytest checks/ --phase during`.
"""

from __future__ import annotations

import pytest

from runbooklib.actions import firewall, reach, surface
from runbooklib.actions.common import app_nodes, head_node, in_parallel

pytestmark = pytest.mark.during


def test_maintenance_rules_on_every_node(inventory):
    failures = in_parallel(app_nodes(inventory), lambda n: firewall.assert_mode(n, "maintenance"))
    assert not failures, "; ".join(failures)


def test_public_gets_maintenance_page(inventory):
    """Clients off the 8443 allow-list get the outage page (503, Retry-After) from every node."""
    reach.assert_outage_page(inventory, app_nodes(inventory))


def test_admins_reach_the_app(inventory):
    """Allow-listed workstations get the real application on 8443 of every node."""
    reach.assert_admins_reach_app(inventory, app_nodes(inventory))


def test_jmx_9000_allow_list_only(inventory):
    """JMX on 9000 works from allow_9000 on the head node and is closed to everyone else."""
    reach.assert_jmx_allow_list(inventory, app_nodes(inventory), heads=[head_node(inventory)])


def test_surface_only_declared_ports(inventory):
    """A full TCP scan of every node, from every vantage host, finds exactly what the inventory
    lets that host reach in maintenance mode; no listener on an undeclared port."""
    surface.assert_surfaces(inventory, app_nodes(inventory), "maintenance")
