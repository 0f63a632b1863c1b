"""Each fault really bites, and `python -m lab fault clear` undoes it."""

from __future__ import annotations

import time

import pytest

from runbooklib.inventory import Inventory

BASE = "CATALINA_BASE=/ucd/opt/sakai/tomcat"
BIN = "/usr/share/tomcat10/bin"


@pytest.fixture(scope="module", autouse=True)
def back_to_pre_upgrade(lab):
    yield
    lab.cli("fault", "clear")
    lab.cli("reset")


def catalina_out(lab, node: str):
    return lab.state / "hosts" / node / "ucd/opt/sakai/tomcat/logs/catalina.out"


def restart_tomcat(lab, node: str) -> str:
    """Stop and start Tomcat over ssh as an operator would; returns what the start logged."""
    # shutdown.sh, then the PID in CATALINA_PID after a bound (as the contract says).
    stop = lab.ssh(
        node,
        f"{BASE} {BIN}/shutdown.sh >/dev/null 2>&1;"
        " pid=$(cat /ucd/opt/sakai/tomcat/temp/tomcat.pid);"
        " for i in $(seq 60); do kill -0 $pid 2>/dev/null || break; sleep 0.5; done;"
        " kill -9 $pid 2>/dev/null; rm -f /ucd/opt/sakai/tomcat/temp/tomcat.pid",
        timeout=60,
    )
    assert stop.returncode == 0, stop.stderr
    out = catalina_out(lab, node)
    offset = out.stat().st_size
    start = lab.ssh(node, f"{BASE} setsid {BIN}/startup.sh </dev/null >/dev/null 2>&1")
    assert start.returncode == 0, start.stderr
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        text = out.read_bytes()[offset:].decode(errors="replace")
        if "Server startup in" in text:
            return text
        time.sleep(0.3)
    raise AssertionError(f"{node}: Tomcat did not log its startup line")


def portal_answers(lab, node: str) -> bool:
    ca = lab.ca_bundle
    out = lab.exec(
        "adminws1", f"curl -sS --fail -m 10 --cacert {ca} https://{node}:8443/portal", check=False
    )
    return out.returncode == 0 and "Sakai 2.4.0" in out.stdout


def test_sshd_down_cuts_ssh_to_that_host_only_until_cleared(lab):
    assert lab.ssh("walton", "true").returncode == 0  # a warm ControlMaster exists now
    lab.cli("fault", "sshd-down", "walton")
    assert lab.ssh("walton", "true").returncode == 255
    assert lab.ssh("stubing", "true").returncode == 0  # only that host
    lab.cli("fault", "clear")
    assert lab.ssh("walton", "hostname").stdout.strip() == "walton"


def reaches(lab, source: str, target: str, port: int = 22) -> bool:
    """A TCP connection from inside `source` to `target`'s port, within 3 s."""
    address = Inventory.load(lab.inventory).host(target).address
    probe = f"timeout 3 bash -c '</dev/tcp/{address}/{port}'"
    return lab.exec(source, probe, check=False).returncode == 0


def test_partition_cuts_the_host_off_the_lab_network_until_cleared(lab):
    assert lab.ssh("walton", "true").returncode == 0 and reaches(lab, "walton", "caje", 3306)
    tomcat = lab.exec("walton", "cat /ucd/opt/sakai/tomcat/temp/tomcat.pid").stdout.strip()
    lab.cli("fault", "partition", "walton")
    assert not reaches(lab, "stubing", "walton")  # no way in
    assert not reaches(lab, "walton", "caje", 3306)  # no way out
    # A new connection, not the warm master (which waits out its keepalive probes first).
    assert lab.ssh("walton", "true", fresh=True).returncode == 255
    assert lab.ssh("stubing", "true").returncode == 0  # only that host
    # The host itself lives on: its Tomcat is the same process.
    assert lab.exec("walton", f"kill -0 {tomcat}", check=False).returncode == 0
    assert "partition on walton" in lab.cli("fault", "list").stdout
    lab.cli("fault", "clear")
    assert reaches(lab, "walton", "caje", 3306)
    assert lab.ssh("walton", "hostname").stdout.strip() == "walton"


def test_port_squat_keeps_tomcat_off_8443(lab):
    lab.cli("fault", "port-squat", "stubing")
    logged = restart_tomcat(lab, "stubing")
    assert "Address already in use" in logged
    assert not portal_answers(lab, "stubing")
    lab.cli("fault", "clear")
    logged = restart_tomcat(lab, "stubing")
    assert "Address already in use" not in logged
    assert portal_answers(lab, "stubing")


def test_startup_error_logs_an_error_at_the_next_start_until_cleared(lab):
    lab.cli("fault", "startup-error", "walton")
    assert "ERROR" in restart_tomcat(lab, "walton")
    lab.cli("fault", "clear")
    assert "ERROR" not in restart_tomcat(lab, "walton")
    assert portal_answers(lab, "walton")


def test_db_read_only_refuses_the_sakai_user(lab):
    ddl = "mariadb -e 'CREATE TABLE lab_probe (i INT); DROP TABLE lab_probe'"
    assert lab.ssh("caje", ddl).returncode == 0
    lab.cli("fault", "db-read-only")
    refused = lab.ssh("caje", ddl)
    assert refused.returncode != 0 and "read-only" in refused.stderr
    lab.cli("fault", "clear")
    assert lab.ssh("caje", ddl).returncode == 0


def test_backup_disk_full_refuses_a_write_to_the_backup_folder_until_cleared(lab):
    write = (
        "dd if=/dev/zero of=/var/backups/sakai/probe bs=1M count=1 status=none; rc=$?;"
        " rm -f /var/backups/sakai/probe; exit $rc"
    )
    assert lab.ssh("caje", write).returncode == 0
    lab.cli("fault", "backup-disk-full")
    full = lab.ssh("caje", write)
    assert full.returncode != 0 and "No space left" in full.stderr
    lab.cli("fault", "clear")
    assert lab.ssh("caje", write).returncode == 0


def test_clear_undoes_several_faults_and_bad_names_are_one_line(lab):
    lab.cli("fault", "db-read-only")
    lab.cli("fault", "backup-disk-full")
    listed = lab.cli("fault", "list").stdout
    assert "db-read-only on caje" in listed and "backup-disk-full on caje" in listed
    cleared = lab.cli("fault", "clear").stdout
    assert "db-read-only" in cleared and "backup-disk-full" in cleared
    assert "active: none" in lab.cli("fault", "list").stdout
    bad = lab.cli("fault", "no-such-fault", check=False)
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1
    assert "port-squat" in bad.stderr  # names the valid choices
    wrong = lab.cli("fault", "port-squat", "caje", check=False)
    assert wrong.returncode == 1 and "app hosts" in wrong.stderr
