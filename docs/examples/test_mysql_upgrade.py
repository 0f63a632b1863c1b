"""MySQL Minor Upgrade (5.0.45 to 5.0.51a on caje): the plan page
smartsite-mysql-minor-upgrade-2008-03-08.txt, a step per timed line.

Made by `python -m runbooklib.scaffold
docs/examples/smartsite-mysql-minor-upgrade-2008-03-08.txt mysql_upgrade --into
docs/examples`: every step is a manual confirmation until someone automates it, one step
at a time (docs/writing-a-runbook.md). Check it against its page: `python -m
runbooklib.seedmap --plan docs/examples/smartsite-mysql-minor-upgrade-2008-03-08.txt
--runbook docs/examples/test_mysql_upgrade.py`.

The page says first:

The application stays down for the whole window; the upgrade does not change the schema.
"""

import pytest

from runbooklib.engine import step, substep

# The section of the plan page this procedure carries (python -m runbooklib.seedmap).
PLAN_SECTION = "MySQL Minor Upgrade (5.0.45 to 5.0.51a on caje)"
# The page's own window (`- Time:`): the planned times are offsets from its start.
pytestmark = pytest.mark.window("06:00", "08:00")


@step("m01", at="06:00", owner="Joncarlo", kind="manual")
def test_m01_prevent_any_client_access_to_smartsite():
    """Prevent any client access to SmartSite via iptables and redirect clients to a
    maintenance/outage page
    """
    # Done by hand: the operator's confirmation of the step covers these.
    with substep("Keep port 8443 open for the admins' IPs"):
        pass


@step("m02", at="06:05", owner="Thomas", kind="manual")
def test_m02_shutdown_all_application_servers():
    """Shutdown all application servers"""
    # Done by hand: the operator's confirmation of the step covers these.
    with substep("Check that no connection from stubing or walton is left in the process list"):
        pass


@step("m03", at="06:10", owner="Prabhu", kind="manual")
def test_m03_backing_up_clone_production_database_so():
    """Backing up (CLONE) production database so that it can be fully restored

    Listed under it:
    /var/backups/mysql/sakai-2008-03-08.sql.gz
    """
    # Done by hand: the operator's confirmation of the step covers these.
    with substep("Compare the row counts of the clone with production"):
        pass


@step("m04", at="06:40", owner="Prabhu", kind="manual")
def test_m04_stop_mysqld_on_caje_and_install():
    """Stop mysqld on caje and install the 5.0.51a packages

    Listed under it:
    /var/tmp/mysql-5.0.51a/
    rpm -Uvh /var/tmp/mysql-5.0.51a/MySQL-server-community-5.0.51a-0.rhel4.i386.rpm
    """


@step("m05", at="06:55", owner="Prabhu", kind="manual")
def test_m05_start_mysqld_and_run_mysql_upgrade():
    """Start mysqld and run mysql_upgrade

    Listed under it:
    mysql_upgrade --user=root
    """
    # Done by hand: the operator's confirmation of the step covers these.
    with substep("Check the error log for InnoDB recovery messages"):
        pass


@step("m06", at="07:10", owner="Prabhu", kind="manual")
def test_m06_check_the_sakai_tables():
    """Check the Sakai tables

    Listed under it:
    mysqlcheck --check --databases sakai
    """


@step("m07", at="07:20", owner="Thomas", kind="manual")
def test_m07_start_nodes_and_check_catalina_out():
    """Start nodes and check catalina.out for DB errors"""
    # Done by hand: the operator's confirmation of the step covers these.
    with substep("Start-up head node (stubing) first, then walton"):
        pass


@step("m08", at="07:40", owner="Kirk, Sandra", kind="manual")
def test_m08_start_testing():
    """Start testing"""


@step("m09", at="07:55", owner="Joncarlo", kind="manual")
def test_m09_adjust_iptables_on_all_nodes_stubing():
    """Adjust iptables on all nodes (stubing, walton) to allow public access"""


@step("m10", at="08:00", owner="Joncarlo", kind="manual")
def test_m10_system_ready_for_public_access():
    """System ready for public access"""
