"""After the upgrade (or the fallback): is the cluster fit to be open to the public?

The default phase of `pytest checks/`. Which release is expected: `--expect upgrade` (default)
or `--expect fallback`. Each check records what it expected and what each host showed, and the
impact of its failure (`evidence`, `impact`: runbooklib/engine/evidence.py).
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

pytestmark = [pytest.mark.after, pytest.mark.hosts("app")]


@pytest.mark.impact("critical", "users would get a mix of releases, or the wrong one")
def test_release_on_every_node(hosts, expected, evidence):
    """Every app node runs the expected release (its tag and version)."""
    tag, version = expected
    failures = evidence.each(
        hosts, lambda n: release.assert_deployed(n, tag, version), expected=f"{tag} ({version})"
    )
    assert not failures, "; ".join(failures)


@pytest.mark.impact("critical", "the release would fail on a schema it does not know")
@pytest.mark.hosts("db")
def test_schema_upgraded(inventory, hosts, expect, repo, evidence):
    """The database carries every change of the upgrade scripts (none of them after a fallback)."""
    db = hosts[0]
    scripts = inventory.vars["sql_scripts"]
    missing = database.missing_changes(db, scripts, repo)
    if expect == "upgrade":
        want = f"every change of {', '.join(scripts)}"
        found = f"lacks {', '.join(missing)}" if missing else want
        evidence(want, found, db, ok=not missing)
        assert not missing, f"{db}: schema lacks {', '.join(missing)}"
    else:
        want = f"none of the changes of {', '.join(scripts)} (all missing)"
        found = f"lacks {', '.join(missing)}" if missing else "carries every change"
        evidence(want, found, db, ok=bool(missing))
        assert missing, f"{db}: the schema still carries the upgrade's changes after the fallback"


@pytest.mark.impact("high", "a node would run with settings nobody reviewed (database, JMX)")
def test_config_equals_staging(hosts, evidence):
    """Each node's sakai.properties, local.properties and setenv.sh equal the staging area's."""
    failures = evidence.each(
        hosts,
        config.assert_node_equals,
        expected="sakai.properties, local.properties and setenv.sh equal to the staging area's "
        "(sha256)",
    )
    assert not failures, "; ".join(failures)


@pytest.mark.impact("high", "an error at start-up breaks a tool or the database for some users")
def test_catalina_out_clean_since_last_start(hosts, known, evidence):
    """catalina.out has no error line since Tomcat's last start, but those of a known issue."""
    failures = evidence.each(
        hosts,
        lambda n: tomcat.assert_clean_log(n, known),
        expected="no error line in catalina.out since the last start (known issues allowed)",
    )
    assert not failures, "; ".join(failures)


@pytest.mark.impact("critical", "users would get errors instead of the portal")
def test_health_of_every_node(hosts, expected, evidence):
    """Version, login page and database status over HTTPS 8443, from the operator's machine."""
    failures = evidence.each(
        hosts,
        lambda n: http.assert_healthy(n, expected[1]),
        expected=f"version {expected[1]}, database ok, login page ok",
    )
    assert not failures, "; ".join(failures)


@pytest.mark.impact("critical", "the public would still get the maintenance page, or JMX")
def test_firewall_in_public_mode(hosts, evidence):
    """Each node's firewall holds exactly the public mode's rules, hooked once, and no rollback
    is armed."""
    failures = evidence.each(
        hosts,
        lambda n: firewall.assert_mode(n, "public"),
        expected="the public mode's rules in SMARTSITE-IN and SMARTSITE-PRE, each hooked once",
    )
    assert not failures, "; ".join(failures)


@pytest.mark.impact("critical", "some users would not reach the new release")
@pytest.mark.ahead(observe=reach.observe_https)
def test_public_gets_the_release_on_8443(inventory, hosts, expected, evidence, ahead):
    """Every vantage host, the public included, gets the expected version from every node."""
    version = expected[1]
    with evidence.proof(f"200, version {version}, from every vantage host", hosts):
        reach.assert_every_client_gets(inventory, hosts, version, seen=ahead.result())


@pytest.mark.impact("critical", "anyone could manage Tomcat over JMX")
@pytest.mark.ahead(observe=reach.observe_jmx)
def test_jmx_9000_closed_to_public(inventory, hosts, evidence, ahead):
    """9000 stays closed to clients off allow_9000 (and open to JMX from the allow-list)."""
    outsiders = reach.clients(inventory, "allow_9000", on=False)
    evidence(
        "a vantage host off allow_9000",
        ", ".join(map(str, outsiders)) or "none in the inventory",
        inventory.name,
        ok=bool(outsiders),
    )
    # Unproven is not closed: without a client off the allow-list this check is a NO-GO.
    assert outsiders, (
        f"inventory {inventory.name}: add a vantage host off allow_9000 (the `outsiders` group) "
        "to prove 9000 closed from outside"
    )
    with evidence.proof(
        "9000 closed to clients off allow_9000; JMX from allow_9000 on the head node with the "
        "password, refused without it",
        hosts,
    ):
        # app[0]: the head
        reach.assert_jmx_allow_list(inventory, hosts, hosts[:1], seen=ahead.result())


@pytest.mark.impact("critical", "a service nobody declared would be open to the internet")
@pytest.mark.ahead(observe=surface.observe)
def test_surface_only_declared_ports(inventory, hosts, evidence, ahead):
    """Every listening, NAT-mapped or declared port of every node, and a sample of the rest,
    probed from every vantage host, shows exactly what the inventory lets that host reach in
    public mode; no listener on an undeclared port."""
    with evidence.proof("exactly the declared ports of public mode, from each vantage host", hosts):
        surface.assert_surfaces(inventory, hosts, "public", seen=ahead.result())
