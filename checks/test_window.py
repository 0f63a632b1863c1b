"""While the window is open: maintenance mode really in force, proven from the clients' side.

`pytest checks/ --phase during`. Each check records what it expected and what each host
showed, and the impact of its failure (`evidence`, `impact`: runbooklib/engine/evidence.py).
"""

from __future__ import annotations

import pytest

from runbooklib.actions import firewall, reach, surface

pytestmark = [pytest.mark.during, pytest.mark.hosts("app")]


@pytest.mark.impact("critical", "the public would reach the application during the window")
def test_maintenance_rules_on_every_node(hosts, evidence):
    """Each node's firewall holds exactly the maintenance mode's rules, hooked once."""
    failures = evidence.each(
        hosts,
        lambda n: firewall.assert_mode(n, "maintenance"),
        expected="the maintenance mode's rules in SMARTSITE-IN and SMARTSITE-PRE, each hooked once",
    )
    assert not failures, "; ".join(failures)


@pytest.mark.impact("high", "the public would get errors instead of the outage notice")
def test_public_gets_maintenance_page(inventory, hosts, evidence):
    """Clients off the 8443 allow-list get the outage page (503, Retry-After) from every node."""
    with evidence.proof("the outage page (503, Retry-After) for clients off allow_8443", hosts):
        reach.assert_outage_page(inventory, hosts)


@pytest.mark.impact("critical", "the testers could not check the release in the window")
def test_admins_reach_the_app(inventory, hosts, evidence):
    """Allow-listed workstations get the real application on 8443 of every node."""
    with evidence.proof("the application on 8443 for clients on allow_8443", hosts):
        reach.assert_admins_reach_app(inventory, hosts)


@pytest.mark.impact("critical", "anyone could manage Tomcat over JMX")
@pytest.mark.ahead(observe=reach.observe_jmx)
def test_jmx_9000_allow_list_only(inventory, hosts, evidence, ahead):
    """JMX on 9000 works from allow_9000 on the head node and is closed to everyone else."""
    with evidence.proof(
        "JMX from allow_9000 on the head node with the password; 9000 closed to others", hosts
    ):
        # app[0]: the head
        reach.assert_jmx_allow_list(inventory, hosts, hosts[:1], seen=ahead.result())


@pytest.mark.impact("critical", "a service nobody declared would be open during the window")
@pytest.mark.ahead(observe=surface.observe)
def test_surface_only_declared_ports(inventory, hosts, evidence, ahead):
    """Every listening, NAT-mapped or declared port of every node, and a sample of the rest,
    probed from every vantage host, shows exactly what the inventory lets that host reach in
    maintenance mode; no listener on an undeclared port."""
    with evidence.proof(
        "exactly the declared ports of maintenance mode, from each vantage host", hosts
    ):
        surface.assert_surfaces(inventory, hosts, "maintenance", seen=ahead.result())
