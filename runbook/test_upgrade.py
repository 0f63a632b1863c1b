"""Upgrade SmartSite from Sakai 2.4.0 to 2.4.1: the seed page's "Upgrade Process", a step a line.

Run: `pytest runbook/ -k upgrade` (plan first: add `--plan`; rehearse with `--dry-run`).
"""

from runbooklib.actions import config, database, firewall, http, notify, reach, release, tomcat
from runbooklib.actions.common import app_nodes, head_node, other_nodes, rolling
from runbooklib.engine import step


@step("u01", at="08:00", owner="Joncarlo", kind="action", hosts="app")
def test_u01_block_client_access(inventory):
    """
    Prevent any client access to SmartSite via iptables and redirect clients to a maintenance/outage
    page.
    """
    notify.announce(inventory, "SmartSite maintenance window open: the site shows an outage page")
    nodes = app_nodes(inventory)
    rolling(nodes, lambda node: firewall.apply(node, "maintenance"))
    for node in nodes:
        firewall.assert_mode(node, "maintenance")
    reach.assert_outage_page(inventory, nodes)


@step("u02", at="08:00", owner="Joncarlo", kind="action", hosts="app")
def test_u02_allow_dedicated_ips_8443(inventory):
    """
    We need to allow access from dedicated IPs for possible pre-upgrade work, such as exporting
    Melete modules, etc. (PORT 8443)
    """
    # The allow-list is part of the maintenance rules that u01 applied in one piece (atomic):
    # this step proves it from the admins' workstations.
    nodes = app_nodes(inventory)
    for node in nodes:
        firewall.assert_mode(node, "maintenance")
    reach.assert_admins_reach_app(inventory, nodes)


@step("u03", at="08:00", owner="Joncarlo", kind="action", hosts="app")
def test_u03_allow_jmx_9000_on_head(inventory):
    """Adjust iptables on head node (stubing) to allow JMX access to port 9000 for specified IPs"""
    # Applied with u01's rules (9000: allow_9000 only, REJECT for the rest); proven here.
    nodes = app_nodes(inventory)
    reach.assert_jmx_allow_list(inventory, nodes, heads=[head_node(inventory)])


@step("u04", at="08:10", owner="Prabhu", kind="action", hosts="db")
def test_u04_clone_database(inventory, db):
    """Backing up (CLONE) production database so that it can be fully restored."""
    # No writer may change the database after its backup: stop the app servers first.
    nodes = app_nodes(inventory)
    rolling(nodes, tomcat.stop)
    database.backup(db)
    for node in nodes:
        tomcat.assert_stopped(node)
    database.assert_backup_verified(db)


@step("u05", at="09:00", owner="Prabhu", kind="action", hosts="db")
def test_u05_run_database_scripts(inventory, db, repo):
    """Run database upgrade scripts in the following order: SAK-869.sql, SAK-878.sql"""
    database.run_scripts(db, inventory.vars["sql_scripts"], repo)
    database.assert_scripts_applied(db, inventory.vars["sql_scripts"])
    database.assert_schema(db, inventory.vars["sql_scripts"], repo)


@step("u06", at="09:15", owner="Thomas", kind="action", hosts="app")
def test_u06_backup_staging_config(inventory):
    """
    Backup all configuration files in production staging area
    (/afs/.ucdavis.edu/app/sakai/staging/config/* to config-2-4-0.bak)
    """
    head = head_node(inventory)
    config.backup_staging(head)
    config.assert_backup_matches(head)


@step("u07", at="09:20", owner="Thomas", kind="action", hosts="app[0]")
def test_u07_checkout_source_on_head(inventory):
    """
    Start process of preparing Sakai v2.4.1 source on the head node (stubing): svn co
    .../tags/sakai_2-4-x-prod-003
    """
    head, tag = head_node(inventory), inventory.vars["release_tag"]
    release.checkout(head, tag)
    release.assert_checkout(head, tag)


@step("u08", at="09:20", owner="Thomas", kind="action", hosts="app[0]")
def test_u08_build_deploy_on_head(inventory):
    """Cleaning, building, deploying source on head node"""
    head, v = head_node(inventory), inventory.vars
    tomcat.stop(head)
    release.deploy(head, v["release_tag"])
    release.assert_deployed(head, v["release_tag"], v["release_version"])
    release.assert_snapshot(head, v["fallback_snapshot"])


@step("u09", at="09:35", owner="Thomas", kind="action", hosts="app[0]")
def test_u09_configs_in_place_jmx_opts(inventory):
    """
    Making sure all the configuration files are in place for v2.4.1 such as sakai.properties etc.;
    configure JAVA_OPTS to allow JMX access via JConsole
    """
    head = head_node(inventory)
    config.assert_staging_ready(head)


@step("u10", at="09:35", owner="Thomas", kind="action", hosts="app[0]")
def test_u10_sync_head_config_with_staging(inventory):
    """
    Synchronize all configuration files on the head node (stubing) with the AFS configuration
    staging area; edit sakai.properties on stubing
    """
    head = head_node(inventory)
    config.sync_from_staging(head)
    # The first start creates what the scripts left to Hibernate (seed: auto.ddl, 09:35).
    config.set_properties(head, {"auto.ddl": "true"})
    config.assert_property(head, "auto.ddl", "true")
    config.assert_node_equals(head, only=["local.properties", "setenv.sh"])


@step("u11", at="09:35", owner="Thomas", kind="action", hosts="app[0]")
def test_u11_start_head_check_catalina_out(inventory, known):
    """
    Start-up head node (stubing) and check catalina.out for any errors (one known issue: the
    hibernate auto.ddl warning)
    """
    head = head_node(inventory)
    tomcat.start(head, known, start="first")
    tomcat.assert_running(head)
    tomcat.assert_jmx_configured(head)


@step("u12", at="09:35", owner="Thomas", kind="action", hosts="app[0]")
def test_u12_restart_head_clean(inventory, known):
    """
    Once the head node started up without any errors, shut it down again; edit sakai.properties;
    start-up head node (stubing) again; make sure that there are no errors in catalina.out
    """
    head = head_node(inventory)
    if config.properties(head).get("auto.ddl") != "false":
        tomcat.stop(head)
        config.set_properties(head, {"auto.ddl": "false"})
    tomcat.start(head, known, start="restart")
    config.assert_node_equals(head)
    tomcat.assert_clean_log(head, known, start="restart")


@step("u13", at="09:35", owner="Thomas", kind="action", hosts="app[0]")
def test_u13_test_head_node(inventory):
    """Access head node and perform any appropriate testing"""
    head, version = head_node(inventory), inventory.vars["release_version"]
    http.wait_healthy(head, version)
    http.assert_healthy(head, version)
    reach.assert_admins_reach_app(inventory, [head])


@step("u14", at="09:35", owner="Thomas", kind="action", hosts="app[1:]")
def test_u14_install_second_node(inventory, known):
    """
    If there are no errors/problems, perform installation on second node (walton); start-up walton
    and perform any appropriate testing
    """
    v = inventory.vars

    def install(node):
        tomcat.stop(node)
        release.checkout(node, v["release_tag"])
        release.deploy(node, v["release_tag"])
        config.sync_from_staging(node)
        tomcat.start(node, known, start="any")
        return http.wait_healthy(node, v["release_version"])

    nodes = other_nodes(inventory)
    rolling(nodes, install)
    for node in nodes:
        release.assert_deployed(node, v["release_tag"], v["release_version"])
        http.assert_healthy(node, v["release_version"])


@step("u15", at="10:00", owner="Kirk, Sandra, Lisa", kind="manual", hosts="app")
def test_u15_release_for_initial_testing(inventory):
    """
    Release SmartSite for initial testing to determine "successful upgrade"
    """
    # The testers' verdict is the approval itself; what they get to test is verified here.
    for node in app_nodes(inventory):
        http.assert_healthy(node, inventory.vars["release_version"])


@step("u16", at="11:45", owner="Thomas", kind="action", hosts="mailhost")
def test_u16_mail_ready_to_switch(inventory):
    """Send mail to Joncarlo if we are ready to switch iptables"""
    v = inventory.vars
    nodes = app_nodes(inventory)
    status = "\n".join(f"{n}: {http.health(n).version}" for n in nodes)
    sent = notify.mail(
        inventory,
        f"SmartSite {v['release_version']}: ready to switch iptables",
        f"The upgrade to {v['release_tag']} passed its tests; please open the site to the "
        f"public.\n\n{status}\n",
    )
    assert sent or inventory.check_mode, "the mail server accepted no recipient"


@step("u17", at="12:00", owner="Joncarlo", kind="action", hosts="app")
def test_u17_allow_public_access(inventory):
    """Adjust iptables on all nodes (stubing, walton) to allow public access"""
    nodes, version = app_nodes(inventory), inventory.vars["release_version"]
    rolling(nodes, lambda node: firewall.apply(node, "public"))
    for node in nodes:
        firewall.assert_mode(node, "public")
    reach.assert_public_app(inventory, nodes, version)


@step("u18", at="12:01", owner="all", kind="check", hosts="app")
def test_u18_ready_for_public_access(inventory, known, db):
    """System ready for public access"""
    nodes, v = app_nodes(inventory), inventory.vars
    for node in nodes:
        http.assert_healthy(node, v["release_version"])
        release.assert_deployed(node, v["release_tag"], v["release_version"])
        tomcat.assert_clean_log(node, known)
    database.assert_scripts_applied(db, v["sql_scripts"])
    reach.assert_public_app(inventory, nodes, v["release_version"])
    notify.announce(inventory, f"SmartSite {v['release_version']} is open to the public again")
