"""Before the window: can the upgrade start? Read-only; `pytest checks/ --phase preflight`.

Each check records what it expected and what each host showed, and the impact of its failure
(`evidence`, `impact`: runbooklib/engine/evidence.py).
"""

from __future__ import annotations

import pytest

from runbooklib.actions import config, database, firewall, release

pytestmark = pytest.mark.preflight


@pytest.mark.during
@pytest.mark.after
@pytest.mark.hosts("app:db:vantage")
@pytest.mark.impact("critical", "a step would stop half-way on a host it cannot reach")
def test_hosts_reachable(hosts, evidence):
    """Every host the procedures use answers over SSH (checked in parallel)."""

    def answers(host) -> str:
        return f"answers over SSH in {host.probe('true', timeout=20).duration:.2f} s"

    failures = evidence.each(hosts, answers, expected="answers over SSH")
    assert not failures, "unreachable: " + "; ".join(failures)


@pytest.mark.hosts("db")
@pytest.mark.impact("critical", "no backup to fall back to: the window could not be undone")
def test_backup_disk_room(hosts, evidence):
    """The backup folder on the db host has room for a dump of the whole database, twice over."""
    db = hosts[0]
    need = database.size_bytes(db) * 2
    free = database.free_bytes(db)
    where = db.vars["db_backup_dir"]
    evidence(
        f"{need // 1024} KiB free in {where} or more (twice the database)",
        f"{free // 1024} KiB free",
        db,
        ok=free >= need,
    )
    assert free >= need, (
        f"{db}: {where} has {free // 1024} KiB free, needs {need // 1024} KiB (twice the database)"
    )


@pytest.mark.hosts("app[0]")
@pytest.mark.impact("critical", "the upgrade, or its fallback, would have nothing to build")
def test_release_tag_exists(inventory, hosts, evidence):
    """The release tag (and the fallback's) exists in Subversion, seen from the head node."""
    head = hosts[0]
    for tag in (inventory.vars["release_tag"], inventory.vars["fallback_tag"]):
        url = f"{inventory.vars['svn_url']}/{tag}"
        found = release.tag_exists(head, tag)
        evidence(f"{url} exists", "found" if found else "not found", head, ok=found)
        assert found, f"{url} not found from {head}"


@pytest.mark.impact("critical", "the schema upgrade would stop part-way")
def test_sql_scripts_present(inventory, repo, evidence):
    """The upgrade scripts are in the repository, in order, and each changes the schema."""
    for name in inventory.vars["sql_scripts"]:
        path = repo / name
        size = path.stat().st_size if path.is_file() else 0
        changes = database.schema_changes(path.read_text()) if size else []
        evidence(
            "present, and changes the schema",
            f"{size} bytes, {len(changes)} schema changes" if size else "missing or empty",
            name,
            ok=bool(size and changes),
        )
        assert size, f"{path} missing or empty"
        assert changes, f"{path}: no schema change recognised"


@pytest.mark.hosts("app[0]")
@pytest.mark.impact("critical", "2.4.1 would start without its database keys or JMX")
def test_staging_config_valid(hosts, evidence):
    """The staging area holds sakai.properties (DB keys), local.properties and setenv.sh (JMX)."""
    head = hosts[0]
    problems = config.staging_problems(head)
    evidence(
        "sakai.properties with the DB keys, local.properties, setenv.sh with JMX",
        "; ".join(problems) or "all present",
        head,
        ok=not problems,
    )
    assert not problems, f"{head}: staging area not ready: {'; '.join(problems)}"


@pytest.mark.hosts("app")
@pytest.mark.impact("high", "the firewall step would fail, or let in the wrong addresses")
def test_allow_lists_well_formed(inventory, hosts, evidence):
    """Both allow-lists are lists of named IPv4 or IPv6 addresses, and the firewall rules render
    in both families."""
    for var in ("allow_8443", "allow_9000"):
        with evidence.proof(f"{var}: a list of named IPv4 addresses", [inventory.name]):
            firewall.allow_list(inventory.vars.get(var), var)
    for node in hosts:
        for family in firewall.TOOLS:
            with evidence.proof(
                f"the maintenance mode's {firewall.TOOLS[family]} rules render", [node]
            ):
                firewall.render("maintenance", node.vars, family)


@pytest.mark.hosts("app")
@pytest.mark.impact("critical", "the window's firewall would leave the node open over IPv6")
def test_nodes_with_ipv6_have_ip6tables(hosts, evidence):
    """A node with an IPv6 address (global or ULA) has ip6tables: with iptables alone, the window's
    firewall would leave it open to everyone over IPv6."""
    failures = evidence.each(
        hosts,
        lambda n: ", ".join(firewall.TOOLS[f] for f in firewall.families(n)),
        "ip6tables wherever IPv6 is",
    )
    assert not failures, "NO-GO: " + "; ".join(failures)


@pytest.mark.impact("high", "a start would fail on a known line, or allow an unknown one")
def test_known_issues_valid(known, evidence):
    """The known-issues allow-list is well formed and nothing in it has expired."""
    evidence(
        "at least the seed's known issue, none expired",
        ", ".join(f"{k.id} (until {k.expires})" for k in known) or "none",
        "runbook/known-issues.yml",
        ok=bool(known),
    )
    assert known, "runbook/known-issues.yml lists nothing: the seed's known issue is missing"


@pytest.mark.hosts("app")
@pytest.mark.impact("high", "the fallback's snapshot would not be the old release")
def test_nodes_on_the_old_release(inventory, hosts, evidence):
    """Every app node runs the fallback's release, so that the snapshot the fallback needs is it."""
    tag, version = inventory.vars["fallback_tag"], inventory.vars["fallback_version"]
    failures = evidence.each(
        hosts, lambda n: release.assert_deployed(n, tag, version), expected=f"{tag} ({version})"
    )
    assert not failures, "; ".join(failures)


@pytest.mark.hosts("db")
@pytest.mark.impact("high", "u04 would clone a database that is already changed")
def test_database_not_upgraded_yet(inventory, hosts, evidence):
    """No upgrade script is recorded as applied: u04 will clone the old release's database."""
    db = hosts[0]
    applied = database.applied_scripts(db)
    evidence("no upgrade script applied", ", ".join(applied) or "none applied", db, ok=not applied)
    assert not applied, (
        f"{db}: {', '.join(applied)} already applied: restore the database of "
        f"{inventory.vars['fallback_version']} first, or finish the upgrade with --resume"
    )
