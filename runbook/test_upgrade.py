"""Upgrade SmartSite from Sakai 2.4.0 to 2.4.1: the seed page's "Upgrade Process", a step a line.

Where one step carries several lines of the seed, each is a named sub-step (`with substep(...)`),
recorded on its own; `python -m runbooklib.seedmap` prints the seed beside them.
Run: `pytest runbook/ -k upgrade` (plan first: add `--plan`; rehearse with `--dry-run`).
"""

from runbooklib.actions import (
    access,
    config,
    database,
    firewall,
    http,
    notify,
    reach,
    release,
    rollout,
    tomcat,
)
from runbooklib.actions.common import batches, in_batch
from runbooklib.engine import step, substep


@step("u01", at="08:00", owner="Joncarlo", kind="action", hosts="app")
def test_u01_block_client_access(inventory, hosts):
    """
    Prevent any client access to SmartSite via iptables and redirect clients to a maintenance/outage
    page
    """
    access.close_to_public(inventory, hosts)


@step("u02", at="08:00", owner="Joncarlo", kind="action", hosts="app")
def test_u02_allow_dedicated_ips_8443(inventory, hosts):
    """
    We need to allow access from dedicated IPs for possible pre-upgrade work, such as exporting
    Melete modules, etc. (PORT 8443)
    """
    # The allow-list is part of the maintenance rules that u01 applied in one piece (atomic):
    # this step proves it from the admins' workstations.
    for node in hosts:
        firewall.assert_mode(node, "maintenance")
    reach.assert_admins_reach_app(inventory, hosts)


@step("u03", at="08:00", owner="Joncarlo", kind="action", hosts="app")
def test_u03_allow_jmx_9000_on_head(inventory, hosts):
    """Adjust iptables on head node (stubing) to allow JMX access to port 9000 for specified IPs

    The specified IPs: PORT 8443: the inventory's allow_8443 (thomas, zoidberg, kirk, james,
    sandra, jon, mike, lisa); PORT 9000: its allow_9000.
    """
    # Applied with u01's rules (9000: allow_9000 only, REJECT for the rest); proven here on every
    # node: open on the head (app[0], the inventory's first app node), closed on the others.
    reach.assert_jmx_allow_list(inventory, hosts, heads=hosts[:1])


@step("u04", at="08:10", owner="Prabhu", kind="action", hosts="app:db")
def test_u04_clone_database(hosts):
    """Backing up (CLONE) production database so that it can be fully restored."""
    *nodes, db = hosts  # the pattern's order: the app nodes, then the db host
    with substep("Stop the app servers: no writer may change the database after its backup", nodes):
        in_batch(nodes, tomcat.stop)  # one seed line for every node: all at once
        for node in nodes:
            tomcat.assert_stopped(node)
    database.backup(db)
    database.assert_backup_verified(db)


@step("u05", at="09:00", owner="Prabhu", kind="action", hosts="db")
def test_u05_run_database_scripts(inventory, hosts, repo):
    """Run database upgrade scripts in the following order

    SAK-869.sql, SAK-878.sql (the inventory's sql_scripts)
    """
    db, scripts = hosts[0], inventory.vars["sql_scripts"]
    database.run_scripts(db, scripts, repo)
    database.assert_scripts_applied(db, scripts)
    database.assert_schema(db, scripts, repo)


@step("u06", at="09:15", owner="Thomas", kind="action", hosts="app[0]")
def test_u06_backup_staging_config(hosts):
    """Backup all configuration files in production staging area

    /afs/.ucdavis.edu/app/sakai/staging/config/* (the inventory's staging_config):
    mkdir /afs/.ucdavis.edu/app/sakai/staging/config/config-2-4-0.bak
    cp /afs/.ucdavis.edu/app/sakai/staging/config/* /afs/.ucdavis.edu/app/sakai/staging/config/config-2-4-0.bak/
    """  # noqa: E501 - the seed's command, as written
    head = hosts[0]  # the staging area is shared: read and written from the head node
    config.backup_staging(head)
    config.assert_backup_matches(head)


@step("u07", at="09:20", owner="Thomas", kind="action", hosts="app[0]")
def test_u07_checkout_source_on_head(inventory, hosts):
    """Start process of preparing Sakai v2.4.1 source on the head node (stubing).

    Getting the source code:
    cd ~/src (the inventory's src_dir)
    svn co https://mware.ucdavis.edu/svn/ucd-sakai/sakai/tags/sakai_2-4-x-prod-003
    """
    head, tag = hosts[0], inventory.vars["release_tag"]
    release.checkout(head, tag)
    release.assert_checkout(head, tag)


@step("u08", at="09:20", owner="Thomas", kind="action", hosts="app[0]")
def test_u08_build_deploy_on_head(inventory, hosts):
    """Cleaning, building, deploying source on head node"""
    head, v = hosts[0], inventory.vars
    tomcat.stop(head)
    release.snapshot(head, before=v["release_tag"])  # what the fallback reinstalls (f04)
    release.deploy(head, v["release_tag"])
    release.assert_deployed(head, v["release_tag"], v["release_version"])
    release.assert_snapshot(head, v["fallback_snapshot"])


@step("u09", at="09:35", owner="Thomas", kind="action", hosts="app[0]")
def test_u09_configs_in_place_jmx_opts(hosts):
    """
    Making sure all the configuration files are in place for v2.4.1 such as sakai.properties etc.;
    configure JAVA_OPTS to allow JMX access via JConsole
    """
    head = hosts[0]
    with substep(
        "Making sure all the configuration files are in place for v2.4.1 such as "
        "sakai.properties etc.",
        hosts,
    ):
        config.assert_staging_files(head)
    with substep("Configure JAVA_OPTS to allow JMX access via JConsole", hosts):
        config.assert_staging_jmx(head)


@step("u10", at="09:35", owner="Thomas", kind="action", hosts="app[0]")
def test_u10_sync_head_config_with_staging(hosts):
    """
    Synchronize all configuration files on the head node (stubing) with the AFS configuration
    staging area; edit sakai.properties on stubing

    The staging area: /afs/.ucdavis.edu/app/sakai/staging/config (the inventory's staging_config).
    """
    head = hosts[0]
    with substep(
        "Synchronize all configuration files on the head node (stubing) with the AFS "
        "configuration staging area",
        hosts,
    ):
        config.sync_from_staging(head)
        config.assert_node_equals(head, only=["local.properties", "setenv.sh"])
    with substep("Edit sakai.properties on stubing", hosts):
        # The first start creates what the scripts left to Hibernate (seed: auto.ddl, 09:35).
        config.set_properties(head, {"auto.ddl": "true"})
        config.assert_property(head, "auto.ddl", "true")


@step("u11", at="09:35", owner="Thomas", kind="action", hosts="app[0]")
def test_u11_start_head_check_catalina_out(hosts, known):
    """
    Start-up head node (stubing) and check catalina.out for any errors; check catalina.out for DB
    errors (one known issue: the hibernate auto.ddl warning)
    """
    head = hosts[0]
    with substep("Start-up head node (stubing) and check catalina.out for any errors", hosts):
        tomcat.start(head, known, start="first")
        tomcat.check_start_log(head, known, start="first")
        tomcat.assert_running(head)
        tomcat.assert_jmx_configured(head)
    with substep("Check catalina.out for DB errors", hosts):
        # Only the known issue's lines (hibernate auto.ddl, allowed at this first start).
        tomcat.assert_clean_log(head, known, start="first")


@step("u12", at="09:35", owner="Thomas", kind="action", hosts="app[0]")
def test_u12_restart_head_clean(hosts, known):
    """
    Once the head node started up without any errors, shut it down again; edit sakai.properties;
    start-up head node (stubing) again; make sure that there are no errors in catalina.out
    """
    head = hosts[0]
    # A resumed run whose edit was made has restarted with it: no second shutdown.
    edited = config.properties(head).get("auto.ddl") == "false"
    with substep("Once the head node started up without any errors, shut it down again", hosts):
        if not edited:
            tomcat.stop(head)
    with substep("Edit sakai.properties on stubing", hosts):
        config.set_properties(head, {"auto.ddl": "false"})
    with substep("Start-up head node (stubing) again", hosts):
        tomcat.start(head, known, start="any")
        config.assert_node_equals(head)
    with substep("Make sure that there are no errors in catalina.out", hosts):
        tomcat.check_start_log(head, known, start="any")
        tomcat.assert_clean_log(head, known, start="any")


@step("u13", at="09:35", owner="Thomas", kind="action", hosts="app[0]")
def test_u13_test_head_node(inventory, hosts):
    """Access head node and perform any appropriate testing"""
    head, version = hosts[0], inventory.vars["release_version"]
    http.wait_healthy(head, version)
    http.assert_healthy(head, version)
    reach.assert_admins_reach_app(inventory, hosts)


@step("u14", at="09:35", owner="Thomas", kind="action", hosts="app[1:]")
def test_u14_install_second_node(inventory, hosts, known):
    """
    If there are no errors/problems, perform installation on second node (walton); start-up walton
    and perform any appropriate testing
    """
    v = inventory.vars
    # Ansible's `serial`: the nodes after the head go in batches, the nodes of a batch at once;
    # a failure in a batch stops the batches after it.
    for batch in batches(hosts, v.get("serial", 1)):
        with substep(
            "If there are no errors/problems, perform installation on second node (walton)", batch
        ):
            in_batch(batch, lambda node: rollout.install(node, v["release_tag"]))
        with substep("Start-up walton and perform any appropriate testing", batch):
            in_batch(batch, lambda node: rollout.start_and_test(node, known, v["release_version"]))
    for node in hosts:
        release.assert_deployed(node, v["release_tag"], v["release_version"])


@step("u15", at="10:00", owner="Kirk, Sandra, Lisa", kind="manual", hosts="app")
def test_u15_release_for_initial_testing(inventory, hosts):
    """
    Release SmartSite for initial testing to determine "successful upgrade"
    """
    # The testers' verdict is the approval itself; what they get to test is verified here.
    for node in hosts:
        http.assert_healthy(node, inventory.vars["release_version"])


@step("u16", at="11:45", owner="Thomas", kind="action", hosts="app:mailhost")
def test_u16_mail_ready_to_switch(inventory, hosts):
    """Send mail to Joncarlo if we are ready to switch iptables"""
    *nodes, _mailhost = hosts  # each app node's version, mailed through the mail host
    access.mail_ready_to_switch(inventory, nodes)


@step("u17", at="12:00", owner="Joncarlo", kind="action", hosts="app")
def test_u17_allow_public_access(inventory, hosts):
    """Adjust iptables on all nodes (stubing, walton) to allow public access"""
    access.open_to_public(inventory, hosts, inventory.vars["release_version"])


@step("u18", at="12:01", owner="all", kind="check", hosts="app:db")
def test_u18_ready_for_public_access(inventory, hosts, known):
    """System ready for public access"""
    *nodes, db = hosts  # the pattern's order: the app nodes, then the db host
    v = inventory.vars
    for node in nodes:
        http.assert_healthy(node, v["release_version"])
        release.assert_deployed(node, v["release_tag"], v["release_version"])
        tomcat.assert_clean_log(node, known)
    database.assert_scripts_applied(db, v["sql_scripts"])
    reach.assert_public_app(inventory, nodes, v["release_version"])
    notify.announce(inventory, f"SmartSite {v['release_version']} is open to the public again")
