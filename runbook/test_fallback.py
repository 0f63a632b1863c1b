"""Fall back to Sakai 2.4.0: the seed page's "Fallback Procedure (If needed)", one step per line.

In case anything goes wrong that cannot be fixed within the allocated maintenance window we
perform the following tasks.
Run: `pytest runbook/ -k fallback` (plan first: add `--plan`).
"""

from runbooklib.actions import (
    access,
    config,
    database,
    http,
    notify,
    reach,
    release,
    rollout,
    tomcat,
)
from runbooklib.actions.common import in_batch, rolling
from runbooklib.engine import step


@step("f01", at="12:00", owner="Joncarlo", kind="action", hosts="app")
def test_f01_block_client_access(inventory, hosts):
    """
    Prevent any client access to SmartSite via iptables and redirect clients to a maintenance/outage
    page
    """
    notify.announce(inventory, "SmartSite fallback to 2.4.0 started: the site shows an outage page")
    access.close_to_public(inventory, hosts)


@step("f02", at="12:01", owner="Thomas", kind="action", hosts="app")
def test_f02_shutdown_app_servers(hosts):
    """Shutdown all application servers"""
    # Every node at once, and every node tries even when another fails to stop: a fallback does
    # not halt half-way (the step then fails naming each node that did not stop).
    in_batch(hosts, tomcat.stop)
    for node in hosts:
        tomcat.assert_stopped(node)


@step(
    "f03",
    at="12:10",
    owner="Prabhu",
    kind="action",
    hosts="db",
    asks="restore over rows written since the backup",
)
def test_f03_restore_database(inventory, hosts, repo, consent):
    """Restore Sakai internal production database on caje"""
    db = hosts[0]
    database.restore(db, inventory.vars["sql_scripts"], repo, allow_loss=consent)
    database.assert_as_before_window(db, inventory.vars["sql_scripts"], repo)


@step("f04", at="12:40", owner="Thomas", kind="action", hosts="app")
def test_f04_install_previous_snapshot(inventory, hosts):
    """Install sakai-core-2-4-x-prod-002 snapshot on all application nodes (stubing, walton)"""
    v = inventory.vars
    in_batch(hosts, lambda node: release.install_snapshot(node, v["fallback_snapshot"]))
    for node in hosts:
        release.assert_deployed(node, v["fallback_tag"], v["fallback_version"])


@step("f05", at="12:40", owner="Thomas", kind="action", hosts="app")
def test_f05_restore_240_config(hosts):
    """Restore v2.4.0 configuration files"""
    head = hosts[0]  # the staging area is shared: restored from the head node (app[0])
    config.restore_staging(head)
    rolling(hosts, config.sync_from_staging)
    config.assert_staging_equals_backup(head)
    for node in hosts:
        config.assert_node_equals(node)


@step("f06", at="13:30", owner="Thomas", kind="action", hosts="app")
def test_f06_start_nodes_and_test(inventory, hosts, known):
    """Start nodes and test"""
    version = inventory.vars["fallback_version"]
    # One seed line for all nodes, so all at once (the release they go back to ran before the
    # window): start, catalina.out since this start, health, as u14 did for the upgrade.
    in_batch(hosts, lambda node: rollout.start_and_test(node, known, version))


@step("f07", at="13:40", owner="Kirk, Sandra", kind="manual", hosts="app")
def test_f07_start_testing(inventory, hosts):
    """Start testing"""
    # The testers' verdict is the approval itself; what they get to test is verified here.
    for node in hosts:
        http.assert_healthy(node, inventory.vars["fallback_version"])


@step("f08", at="14:00", owner="Joncarlo", kind="action", hosts="app")
def test_f08_allow_public_access(inventory, hosts):
    """Adjust iptables (to allow public access)"""
    access.open_to_public(inventory, hosts, inventory.vars["fallback_version"])


@step("f09", at="14:01", owner="all", kind="check", hosts="app")
def test_f09_ready_for_public_access(inventory, hosts, known):
    """System ready for public access"""
    version = inventory.vars["fallback_version"]
    for node in hosts:
        http.assert_healthy(node, version)
        tomcat.assert_clean_log(node, known)
    reach.assert_public_app(inventory, hosts, version)
    notify.announce(inventory, f"SmartSite is back on {version} and open to the public")
