"""After the upgrade (or the fallback): is the cluster fit to be open to the public?

The default phase of `pytest checks/`. Which release is expected: `--expect upgrade` (default)
or `--expect fallback`.
"""

from __future__ import annotations

import pytest

from runbooklib.actions import (
    config,
    database,
    firewall,
    http,
    reach,
    release,
    surface,
    tomcat,
)
from runbooklib.actions.common import in_parallel

pytestmark = [pytest.mark.after, pytest.mark.hosts("app")]


def test_release_on_every_node(hosts, expected):
    tag, version = expected
    failures = in_parallel(hosts, lambda n: release.assert_deployed(n, tag, version))
    assert not failures, "; ".join(failures)


@pytest.mark.hosts("db")
def test_schema_upgraded(inventory, hosts, expect, repo):
    """The database carries every change of the upgrade scripts (none of them after a fallback)."""
    db = hosts[0]
    missing = database.missing_changes(db, inventory.vars["sql_scripts"], repo)
    if expect == "upgrade":
        assert not missing, f"{db}: schema lacks {', '.join(missing)}"
    else:
        assert missing, f"{db}: the schema still carries the upgrade's changes after the fallback"


def test_config_equals_staging(hosts):
    """Each node's sakai.properties, local.properties and setenv.sh equal the staging area's."""
    failures = in_parallel(hosts, config.assert_node_equals)
    assert not failures, "; ".join(failures)


def test_catalina_out_clean_since_last_start(hosts, known):
    failures = in_parallel(hosts, lambda n: tomcat.assert_clean_log(n, known))
    assert not failures, "; ".join(failures)


def test_health_of_every_node(hosts, expected):
    """Version, login page and database status over HTTPS 8443, from the operator's machine."""
    failures = in_parallel(hosts, lambda n: http.assert_healthy(n, expected[1]))
    assert not failures, "; ".join(failures)


def test_firewall_in_public_mode(hosts):
    failures = in_parallel(hosts, lambda n: firewall.assert_mode(n, "public"))
    assert not failures, "; ".join(failures)


def test_public_gets_the_release_on_8443(inventory, hosts, expected):
    """Every vantage host, the public included, gets the expected version from every node."""
    reach.assert_every_client_gets(inventory, hosts, expected[1])


def test_jmx_9000_closed_to_public(inventory, hosts):
    """9000 stays closed to clients off allow_9000 (and open to JMX from the allow-list)."""
    # Unproven is not closed: without a client off the allow-list this check is a NO-GO.
    assert reach.clients(inventory, "allow_9000", on=False), (
        f"inventory {inventory.name}: add a vantage host off allow_9000 (the `outsiders` group) "
        "to prove 9000 closed from outside"
    )
    reach.assert_jmx_allow_list(inventory, hosts, heads=hosts[:1])  # app[0]: the head


def test_surface_only_declared_ports(inventory, hosts):
    """Every listening, NAT-mapped or declared port of every node, and a sample of the rest,
    probed from every vantage host, shows exactly what the inventory lets that host reach in
    public mode; no listener on an undeclared port."""
    surface.assert_surfaces(inventory, hosts, "public")
