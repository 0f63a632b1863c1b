"""up (idempotent, over stale labs), reset, the subnet refusal, and down leaving nothing.

These tests tear the lab down and break it on purpose; each one leaves it up again, and the last
one ends with `up`, so later tests (and people) find it running.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess

import yaml

from lab import config, lifecycle, netns


def machine_network() -> tuple[list, list, list]:
    """The root namespace's addresses, routes (the lab bridge's aside) and firewall, sorted."""
    addrs = [
        (link["ifname"], sorted(a["local"] for a in link.get("addr_info", [])))
        for link in json.loads(subprocess.check_output(["ip", "-j", "addr"]))
        if link["ifname"] != config.BRIDGE and not link["ifname"].startswith("smv-")
    ]
    routes = [
        json.dumps(r, sort_keys=True)
        for r in json.loads(subprocess.check_output(["ip", "-j", "route", "show", "table", "all"]))
        if r.get("dev") != config.BRIDGE and not r.get("dev", "").startswith("smv-")
    ]
    rules = subprocess.check_output(["iptables-save"], text=True).splitlines()
    rules = [r for r in rules if not r.startswith("#")]
    return sorted(addrs), sorted(routes), rules


def anchor_pids() -> dict[str, list[int]]:
    return netns.anchors()


def healthy(lab) -> bool:
    out = lab.cli("status", check=False)
    return out.returncode == 0 and out.stdout.rstrip().endswith("healthy")


def test_up_is_idempotent_and_keeps_running_hosts(lab):
    before = anchor_pids()
    lab.cli("up")
    assert anchor_pids() == before
    assert healthy(lab)


def test_reset_restores_the_pre_upgrade_state(lab):
    staging = lab.state / "shared/afs/.ucdavis.edu/app/sakai/staging/config"
    lab.ssh("caje", "mariadb -e 'DELETE FROM SAKAI_USER LIMIT 5'")
    lab.ssh("caje", "echo dump > /var/backups/sakai/sakai.sql")
    lab.ssh(
        "stubing",
        "iptables -t nat -N SMARTSITE && iptables -t nat -A PREROUTING -p tcp --dport 8443"
        " -j SMARTSITE && mkdir -p /ucd/opt/sakai/src/sakai_2-4-x-prod-003"
        " /ucd/opt/sakai/releases/2.4.0"
        " && echo auto.ddl=true >> /ucd/opt/sakai/tomcat/sakai/sakai.properties",
    )
    (staging / "config-2-4-0.bak").mkdir(exist_ok=True)
    lab.cli("fault", "backup-disk-full")
    lab.ssh("walton", "CATALINA_BASE=/ucd/opt/sakai/tomcat /usr/share/tomcat10/bin/shutdown.sh")
    users_before = lab.ssh("caje", "mariadb -N -e 'SELECT COUNT(*) FROM SAKAI_USER'").stdout
    (lab.state / "irc" / "ucdsakai.log").write_text("old line\n")

    lab.cli("reset")

    users = lab.ssh("caje", "mariadb -N -e 'SELECT COUNT(*) FROM SAKAI_USER'").stdout
    assert int(users) == int(users_before) + 5
    assert lab.ssh("caje", "ls -A /var/backups/sakai").stdout == ""
    assert lab.ssh("stubing", "iptables-save | grep -c SMARTSITE").stdout.strip() == "0"
    assert (
        lab.ssh(
            "stubing", "ls -A /ucd/opt/sakai/src /ucd/opt/sakai/releases | grep -c ."
        ).stdout.strip()
        == "2"
    )
    props = lab.ssh("stubing", "cat /ucd/opt/sakai/tomcat/sakai/sakai.properties").stdout
    assert "auto.ddl=true" not in props
    assert sorted(p.name for p in staging.iterdir()) == [
        "local.properties",
        "sakai.properties",
        "setenv.sh",
    ]
    assert lab.state.joinpath("irc/ucdsakai.log").read_text() == ""
    assert "active: none" in lab.cli("fault", "list").stdout
    for node in ("stubing", "walton"):
        page = lab.exec(
            "adminws1", f"curl -sS --fail --cacert {lab.ca_bundle} https://{node}:8443/portal"
        )
        assert "Sakai 2.4.0" in page.stdout
        logs = lab.state / "hosts" / node / "ucd/opt/sakai/tomcat/logs"
        assert (logs / "catalina.out.1").exists()  # the old log rotated
        assert (logs / "catalina.out").read_text().count("Server startup in") == 1


def test_overlapping_subnet_is_refused_before_anything_is_touched(lab):
    before = (anchor_pids(), machine_network(), (lab.state / "lab.json").read_text())
    for env in ({"LAB_SUBNET": "192.0.2.0/24"},):
        out = lab.cli("up", env=env, check=False)
        assert out.returncode == 1
        assert len(out.stderr.strip().splitlines()) == 1
        assert "overlaps 192.0.2.0/24 on eth0" in out.stderr and "--subnet" in out.stderr
    out = lab.cli("up", "--subnet", "198.51.100.0/25", check=False)
    assert out.returncode == 1 and "--subnet" in out.stderr
    out = lab.cli("up", "--subnet", "not-a-net", check=False)
    assert out.returncode == 1 and "--subnet" in out.stderr
    assert (anchor_pids(), machine_network(), (lab.state / "lab.json").read_text()) == before


def test_up_remakes_a_namespace_deleted_by_hand_and_a_killed_sshd(lab):
    walton = lab.state / "hosts/walton/run/sshd.pid"
    os.kill(int(walton.read_text()), 9)  # the lab's own sshd, by its PID
    old_caje = anchor_pids()["caje"]
    subprocess.run(["ip", "netns", "del", "smlab-caje"], check=True)  # deleted by hand
    lab.cli("up")
    assert healthy(lab)
    assert not any(netns.alive(p) for p in old_caje)  # nothing left in the orphaned namespace
    assert lab.ssh("walton", "hostname").stdout.strip() == "walton"
    assert lab.ssh("caje", "mariadb -N -e 'SELECT COUNT(*) FROM SAKAI_USER'").returncode == 0


def test_up_ends_a_lab_whose_state_folder_was_removed_and_builds_anew(lab):
    # A killed run whose state folder is gone: namespaces and processes remain, nothing is known,
    # and their private mounts point at deleted folders. `up` ends them and builds from nothing.
    # Held by pidfd: a PID number may be taken again by a new process (pid_max is 32768 here).
    old = [os.pidfd_open(p) for pids in anchor_pids().values() for p in pids]
    try:
        shutil.rmtree(lab.state)
        lab.cli("up")
        assert healthy(lab)
        ended, _, _ = select.select(old, [], [], 0)  # a pidfd is readable once its process ended
        assert sorted(ended) == sorted(old), f"{len(old) - len(ended)} old anchors still run"
    finally:
        for fd in old:
            os.close(fd)


def test_a_lab_resized_to_three_nodes_and_back_writes_its_own_inventory(lab):
    lab_yml = (config.REPO / "inventories" / "lab.yml").read_text()

    def app_hosts() -> list[str]:
        data = yaml.safe_load(lifecycle.INVENTORY.read_text())
        return list(data["all"]["children"]["app"]["hosts"])

    grown = lab.cli("up", "--app-nodes", "3", timeout=900)
    assert f"inventory of this lab (3 app nodes): {lifecycle.INVENTORY}" in grown.stdout
    assert healthy(lab)
    assert lab.ssh("app3", "hostname").stdout.strip() == "app3"
    assert app_hosts() == ["stubing", "walton", "app3"]
    lab.cli("up", "--app-nodes", "2")
    assert healthy(lab)
    assert config.NS_PREFIX + "app3" not in netns.namespaces()
    assert app_hosts() == ["stubing", "walton"]
    assert (config.REPO / "inventories" / "lab.yml").read_text() == lab_yml


def test_down_leaves_nothing_and_up_brings_it_back(lab):
    before = machine_network()
    lab.cli("down")
    assert lifecycle.leftovers() == []
    assert not any(n.startswith(config.NS_PREFIX) for n in netns.namespaces())
    assert not os.path.exists("/ucd") and not os.path.exists("/afs")
    for pid in filter(str.isdigit, os.listdir("/proc")):  # no process of the lab
        argv = netns.cmdline(int(pid))
        assert not any(str(lab.state) in a for a in argv), argv
    assert machine_network() == before
    lab.cli("up")
    assert healthy(lab)
