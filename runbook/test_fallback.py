"""Fall back to Sakai 2.4.0: the seed page's "Fallback Procedure (If needed)", one step per line.

"In case anything goes wrong that cannot be fixed within the allocated maintenance window."
Run: `pytest runbook/ -k fallback` (plan first: add `--plan`).
"""

from runbooklib.actions import config, database, firewall, http, notify, reach, release, tomcat
from runbooklib.actions.common import app_nodes, head_node, rolling
from runbooklib.engine import step


@step("f01", at="12:00", owner="Joncarlo", kind="action", hosts="app")
def test_f01_block_client_access(inventory):
    """
    Prevent any client access to SmartSite via iptables and redirect clients to a maintenance/outage
    page
    """
    notify.announce(inventory, "SmartSite fallback to 2.4.0 started: the site shows an outage page")
    nodes = app_nodes(inventory)
    rolling(nodes, lambda node: firewall.apply(node, "maintenance"))
    for node in nodes:
        firewall.assert_mode(node, "maintenance")
    reach.assert_outage_page(inventory, nodes)


@step("f02", at="12:01", owner="Thomas", kind="action", hosts="app")
def test_f02_shutdown_app_servers(inventory):
    """Shutdown all application servers"""
    nodes = app_nodes(inventory)
    # Every node must stop, even when one of them fails to: a fallback does not halt half-way.
    rolling(nodes, tomcat.stop, max_failures=len(nodes))
    for node in nodes:
        tomcat.assert_stopped(node)


@step(
    "f03",
    at="12:10",
    owner="Prabhu",
    kind="action",
    hosts="db",
    asks="restore over rows written since the backup",
)
def test_f03_restore_database(inventory, db, repo, consent):
    """Restore Sakai internal production database on caje"""
    database.restore(db, inventory.vars["sql_scripts"], repo, allow_loss=consent)
    database.assert_as_before_window(db, inventory.vars["sql_scripts"], repo)


@step("f04", at="12:40", owner="Thomas", kind="action", hosts="app")
def test_f04_install_previous_snapshot(inventory):
    """Install sakai-core-2-4-x-prod-002 snapshot on all application nodes (stubing, walton)"""
    v = inventory.vars
    nodes = app_nodes(inventory)
    rolling(nodes, lambda node: release.install_snapshot(node, v["fallback_snapshot"]))
    for node in nodes:
        release.assert_deployed(node, v["fallback_tag"], v["fallback_version"])


@step("f05", at="12:40", owner="Thomas", kind="action", hosts="app")
def test_f05_restore_240_config(inventory):
    """Restore v2.4.0 configuration files"""
    head, nodes = head_node(inventory), app_nodes(inventory)
    config.restore_staging(head)
    rolling(nodes, config.sync_from_staging)
    config.assert_staging_equals_backup(head)
    for node in nodes:
        config.assert_node_equals(node)


@step("f06", at="13:30", owner="Thomas", kind="action", hosts="app")
def test_f06_start_nodes_and_test(inventory, known):
    """Start nodes and test"""
    version = inventory.vars["fallback_version"]

    def start(node):
        tomcat.start(node, known, start="any")
        return http.wait_healthy(node, version)

    nodes = app_nodes(inventory)
    rolling(nodes, start)
    for node in nodes:
        http.assert_healthy(node, version)


@step("f07", at="13:40", owner="Kirk, Sandra", kind="manual", hosts="app")
def test_f07_start_testing(inventory):
    """Start testing"""
    # The testers' verdict is the approval itself; what they get to test is verified here.
    for node in app_nodes(inventory):
        http.assert_healthy(node, inventory.vars["fallback_version"])


@step("f08", at="14:00", owner="Joncarlo", kind="action", hosts="app")
def test_f08_allow_public_access(inventory):
    """Adjust iptables (to allow public access)"""
    nodes = app_nodes(inventory)
    rolling(nodes, lambda node: firewall.apply(node, "public"))
    for node in nodes:
        firewall.assert_mode(node, "public")
    reach.assert_public_app(inventory, nodes, inventory.vars["fallback_version"])


@step("f09", at="14:01", owner="all", kind="check", hosts="app")
def test_f09_ready_for_public_access(inventory, known):
    """System ready for public access"""
    nodes, version = app_nodes(inventory), inventory.vars["fallback_version"]
    for node in nodes:
        http.assert_healthy(node, version)
        tomcat.assert_clean_log(node, known)
    reach.assert_public_app(inventory, nodes, version)
    notify.announce(inventory, f"SmartSite is back on {version} and open to the public")
