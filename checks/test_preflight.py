"""Before the window: can the upgrade start? Read-only; `pytest checks/ --phase preflight`."""

from __future__ import annotations

import pytest

from runbooklib.actions import config, database, firewall, release
from runbooklib.actions.common import in_parallel

pytestmark = pytest.mark.preflight


@pytest.mark.during
@pytest.mark.after
@pytest.mark.hosts("app:db:vantage")
def test_hosts_reachable(hosts):
    """Every host the procedures use answers over SSH (checked in parallel)."""
    failures = in_parallel(hosts, lambda h: h.probe("true", timeout=20))
    assert not failures, "unreachable: " + "; ".join(failures)


@pytest.mark.hosts("db")
def test_backup_disk_room(hosts):
    """The backup folder on the db host has room for a dump of the whole database, twice over."""
    db = hosts[0]
    need = database.size_bytes(db) * 2
    free = database.free_bytes(db)
    assert free >= need, (
        f"{db}: {db.vars['db_backup_dir']} has {free // 1024} KiB free, "
        f"needs {need // 1024} KiB (twice the database)"
    )


@pytest.mark.hosts("app[0]")
def test_release_tag_exists(inventory, hosts):
    """The release tag (and the fallback's) exists in Subversion, seen from the head node."""
    head = hosts[0]
    for tag in (inventory.vars["release_tag"], inventory.vars["fallback_tag"]):
        assert release.tag_exists(head, tag), (
            f"{inventory.vars['svn_url']}/{tag} not found from {head}"
        )


def test_sql_scripts_present(inventory, repo):
    """The upgrade scripts are in the repository, in order, and each changes the schema."""
    for name in inventory.vars["sql_scripts"]:
        path = repo / name
        assert path.is_file() and path.stat().st_size, f"{path} missing or empty"
        assert database.schema_changes(path.read_text()), f"{path}: no schema change recognised"


@pytest.mark.hosts("app[0]")
def test_staging_config_valid(hosts):
    """The staging area holds sakai.properties (DB keys), local.properties and setenv.sh (JMX)."""
    config.assert_staging_ready(hosts[0])


@pytest.mark.hosts("app")
def test_allow_lists_well_formed(inventory, hosts):
    """Both allow-lists are lists of named IPv4 or IPv6 addresses, and the firewall rules render
    in both families."""
    for var in ("allow_8443", "allow_9000"):
        firewall.allow_list(inventory.vars.get(var), var)
    for node in hosts:
        for family in firewall.TOOLS:
            firewall.render("maintenance", node.vars, family)


@pytest.mark.hosts("app")
def test_nodes_with_ipv6_have_ip6tables(hosts):
    """A node with an IPv6 address (global or ULA) has ip6tables: with iptables alone, the window's
    firewall would leave it open to everyone over IPv6."""
    failures = in_parallel(hosts, firewall.families)
    assert not failures, "NO-GO: " + "; ".join(failures)


def test_known_issues_valid(known):
    """The known-issues allow-list is well formed and nothing in it has expired."""
    assert known, "runbook/known-issues.yml lists nothing: the seed's known issue is missing"


@pytest.mark.hosts("app")
def test_nodes_on_the_old_release(inventory, hosts):
    """Every app node runs the fallback's release, so that the snapshot the fallback needs is it."""
    v = inventory.vars
    failures = in_parallel(
        hosts, lambda n: release.assert_deployed(n, v["fallback_tag"], v["fallback_version"])
    )
    assert not failures, "; ".join(failures)


@pytest.mark.hosts("db")
def test_database_not_upgraded_yet(inventory, hosts):
    """No upgrade script is recorded as applied: u04 will clone the old release's database."""
    db = hosts[0]
    applied = database.applied_scripts(db)
    assert not applied, (
        f"{db}: {', '.join(applied)} already applied: restore the database of "
        f"{inventory.vars['fallback_version']} first, or finish the upgrade with --resume"
    )
