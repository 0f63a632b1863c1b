"""Tomcat runs as its service account, never root (issue 18, item 5), on the lab.

After a reset, after the upgrade and after the fallback, `ps` on every app node shows the
inventory's tomcat_user running Tomcat; the account owns what Tomcat writes and what only it
reads (0600); the release, conf/ and sakai home stay root's.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from runbooklib.actions.common import app_nodes
from runbooklib.inventory import Inventory

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).parent))
from test_upgrade_fallback import FALLBACK, UPGRADE, pytest_run  # noqa: E402

INV = Inventory.load(REPO / "inventories/lab.yml")
V = INV.vars
USER = V["tomcat_user"]
# Owner, mode and path on the node: what Tomcat writes or reads alone, and what stays root's.
OWNERS = f"""\
{USER} 755 {V["tomcat_base"]}/logs
{USER} 755 {V["tomcat_base"]}/work
{USER} 755 {V["tomcat_base"]}/temp
{USER} 600 {V["tomcat_base"]}/conf/jmxremote.password
{USER} 600 {V["tomcat_base"]}/conf/jmxremote.access
{USER} 600 {V["tomcat_base"]}/conf/jmxremote.ssl
{USER} 600 {V["tomcat_base"]}/conf/tls/key.pem
root 755 {V["tomcat_base"]}
root 755 {V["tomcat_base"]}/conf
root 755 {V["tomcat_base"]}/webapps
root 755 {V["tomcat_base"]}/bin
root 755 {V["sakai_home"].rstrip("/")}
"""


def java_users(lab, node: str) -> list[str]:
    """The owner of every java process of the node (the nodes share the machine's processes:
    those in the node's own network namespace), and of the process in Tomcat's pid file."""
    out = lab.ssh(
        node,
        'for p in $(pgrep -x java); do [ "$(readlink /proc/$p/ns/net)" = '
        '"$(readlink /proc/self/ns/net)" ] && ps -o user= -p "$p"; done; '
        f'ps -o user= -p "$(cat {V["tomcat_base"]}/temp/tomcat.pid)"',
    )
    assert out.returncode == 0, out
    return out.stdout.split()


def assert_service_account(lab) -> None:
    for node in app_nodes(INV):
        users = java_users(lab, node.name)
        assert users and set(users) == {USER}, f"{node}: java runs as {users}"
        paths = " ".join(line.split()[2] for line in OWNERS.splitlines())
        stat = lab.ssh(node.name, f"stat -c '%U %a %n' {paths}")
        assert stat.stdout == OWNERS, f"{node}: {stat.stdout}{stat.stderr}"
        props = lab.ssh(node.name, f"cd {V['sakai_home']} && stat -c '%U %G %a' *.properties")
        assert set(props.stdout.splitlines()) == {f"root {USER} 640"}, props.stdout
        # Nothing in what the account owns belongs to root (a file root wrote into it).
        found = lab.ssh(node.name, f"cd {V['tomcat_base']} && find logs work temp -user root")
        assert found.returncode == 0 and found.stdout == "", f"{node}: root's {found.stdout}"


def test_tomcat_runs_as_the_service_account_after_a_reset(lab):
    lab.cli("reset", timeout=900)
    assert_service_account(lab)


def test_and_after_the_upgrade_and_after_the_fallback(lab, tmp_path):
    upgrade = pytest_run(UPGRADE, tmp_path / "upgrade")
    assert upgrade.rc == 0, upgrade.out[-3000:]
    assert_service_account(lab)
    fallback = pytest_run(FALLBACK, tmp_path / "fallback")
    assert fallback.rc == 0, fallback.out[-3000:]
    assert_service_account(lab)
