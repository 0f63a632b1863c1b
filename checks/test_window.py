"""While the window is open: maintenance mode really in force, proven from the clients' side.

`pytest checks/ --phase during`.
"""

from __future__ import annotations

import pytest

from runbooklib.actions import firewall, reach, surface
from runbooklib.actions.common import in_parallel

pytestmark = [pytest.mark.during, pytest.mark.hosts("app")]


def test_maintenance_rules_on_every_node(hosts):
    failures = in_parallel(hosts, lambda n: firewall.assert_mode(n, "maintenance"))
    assert not failures, "; ".join(failures)


def test_public_gets_maintenance_page(inventory, hosts):
    """Clients off the 8443 allow-list get the outage page (503, Retry-After) from every node."""
    reach.assert_outage_page(inventory, hosts)


def test_admins_reach_the_app(inventory, hosts):
    """Allow-listed workstations get the real application on 8443 of every node."""
    reach.assert_admins_reach_app(inventory, hosts)


def test_jmx_9000_allow_list_only(inventory, hosts):
    """JMX on 9000 works from allow_9000 on the head node and is closed to everyone else."""
    reach.assert_jmx_allow_list(inventory, hosts, heads=hosts[:1])  # app[0]: the head


def test_surface_only_declared_ports(inventory, hosts):
    """Every listening, NAT-mapped or declared port of every node, and a sample of the rest,
    probed from every vantage host, shows exactly what the inventory lets that host reach in
    maintenance mode; no listener on an undeclared port."""
    surface.assert_surfaces(inventory, hosts, "maintenance")
