"""The lab, proven with real clients run inside its hosts (curl, JMX, mariadb, svn, SMTP, IRC)."""

from __future__ import annotations

import os
import re
import time
import uuid
from pathlib import Path

import requests
import testinfra

from lab import config

CA = "/var/lib/smartsite-lab/ca/ca.pem"
APP = ["stubing", "walton"]


def test_every_host_answers_ssh_as_itself_with_lab_names(lab):
    for name in [
        "stubing",
        "walton",
        "caje",
        "mware",
        "mail",
        "irc",
        "adminws1",
        "adminws2",
        "public",
    ]:
        address = config.chosen(None, None).address(name)
        host = testinfra.get_host(f"ssh://root@{address}", ssh_config=str(lab.ssh_config))
        assert host.check_output("hostname") == name
        assert re.search(r"\smware\.ucdavis\.edu\b", host.file("/etc/hosts").content_string)


def test_production_paths_are_private_to_their_hosts(lab):
    out = lab.ssh("stubing", "findmnt -n -o TARGET /ucd; ls /ucd/opt/sakai/tomcat/bin/setenv.sh")
    assert out.returncode == 0 and "/ucd" in out.stdout
    staging = "/afs/.ucdavis.edu/app/sakai/staging/config/sakai.properties"
    assert lab.ssh("walton", f"test -f {staging}").returncode == 0
    assert lab.ssh("caje", "test -e /ucd/opt").returncode != 0  # only the app nodes have /ucd
    assert not Path("/ucd/opt").exists()  # and never the machine itself
    fs = lab.ssh("caje", "findmnt -n -o FSTYPE /var/backups/sakai; ls /var/lib/mysql/sakai")
    assert fs.stdout.splitlines()[0] == "tmpfs"  # a small filesystem of its own
    assert "SAKAI_USER.frm" in fs.stdout


def test_exec_runs_inside_the_host(lab):
    out = lab.exec("caje", "hostname; ip -o -4 addr show eth0")
    assert out.stdout.startswith("caje\n")
    assert config.chosen(None, None).address("caje") + "/24" in out.stdout


def test_each_node_serves_its_2_4_0_portal_over_https_by_name_and_address(lab):
    for node in APP:
        out = lab.exec("adminws1", f"curl -sS --fail --cacert {CA} https://{node}:8443/portal")
        assert "Sakai 2.4.0" in out.stdout
        assert f"serverId: {node}" in out.stdout
        # The certificate names the address too.
        address = config.chosen(None, None).address(node)
        lab.exec(
            "adminws2", f"curl -sS --fail -o /dev/null --cacert {CA} https://{address}:8443/portal"
        )


def test_the_operator_reaches_health_with_the_ca_bundle(lab):
    for node in APP:
        address = config.chosen(None, None).address(node)
        r = requests.get(
            f"https://{address}:8443/portal/health", verify=str(lab.ca_bundle), timeout=10
        )
        assert r.status_code == 200 and "2.4.0" in r.text


def test_before_the_window_the_public_reaches_the_app(lab):
    out = lab.exec("public", f"curl -sS --fail --cacert {CA} https://stubing:8443/portal")
    assert "Sakai 2.4.0" in out.stdout
    for node in APP:  # before the window: no maintenance firewall (the runbook's)
        assert lab.ssh(node, "iptables-save -t nat | grep -c '^-A'").stdout.strip() == "0"


def test_the_maintenance_page_on_8089_answers_503_with_retry_after(lab):
    for node in APP:
        out = lab.exec("public", f"curl -sS -i --cacert {CA} https://{node}:8089/portal")
        assert out.stdout.startswith("HTTP/1.1 503")
        assert re.search(r"^Retry-After: \d+", out.stdout, re.M | re.I)
        assert "down for scheduled maintenance" in out.stdout


def test_jmx_client_reads_tomcat_on_9000_with_the_password_only(lab):
    probe = f"java /var/lib/smartsite-lab/tools/JmxProbe.java --ca {CA}"  # JMX is over TLS
    login = f"--credentials {lab.state}/secrets/jmx_password"
    assert oct((lab.state / "secrets" / "jmx_password").stat().st_mode & 0o777) == "0o600"
    for node in APP:
        out = lab.exec("adminws1", f"{probe} {login} {node} 9000")
        assert out.stdout.startswith("Apache Tomcat/10")
        out = lab.exec("adminws1", f"{probe} {node} 9000", check=False)
        assert out.returncode == 4 and "Credentials required" in out.stderr
    # The client fails, within its bound, where nothing answers.
    out = lab.exec(
        "adminws1", "java /var/lib/smartsite-lab/tools/JmxProbe.java stubing 9001 5", check=False
    )
    assert out.returncode != 0 and "JmxProbe" in out.stderr


def test_mariadb_client_from_an_app_node_and_on_caje(lab):
    password = (lab.state / "secrets" / "db_password").read_text().strip()
    assert oct((lab.state / "secrets" / "db_password").stat().st_mode & 0o777) == "0o600"
    # A client file in stubing's private /tmp: the password never goes on a command line.
    cnf = lab.state / "hosts" / "stubing" / "tmp" / "test-my.cnf"
    cnf.touch(mode=0o600)
    try:
        cnf.write_text(f"[client]\nuser=sakai\npassword={password}\nhost=caje\n")
        out = lab.exec(
            "stubing",
            "mariadb --defaults-extra-file=/tmp/test-my.cnf -N sakai"
            " -e 'SELECT COUNT(*) FROM SAKAI_USER'",
        )
        assert int(out.stdout.strip()) > 0
    finally:
        cnf.unlink()
    grants = lab.ssh("caje", "mariadb -N -e 'SHOW GRANTS'").stdout
    assert "ALL PRIVILEGES ON `sakai`.*" in grants and "SUPER" not in grants
    dump = lab.ssh("caje", "mariadb-dump --no-data sakai | grep -c 'CREATE TABLE'")
    assert int(dump.stdout.strip()) >= 4


def test_password_is_in_no_process_list(lab):
    password = (lab.state / "secrets" / "db_password").read_text().strip()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        assert password not in argv, f"pid {pid}"


def test_svn_tags_from_an_app_node(lab):
    tags = "https://mware.ucdavis.edu/svn/ucd-sakai/sakai/tags"
    out = lab.ssh("stubing", f"svn ls --non-interactive {tags}")
    assert out.returncode == 0, out.stderr
    assert {"sakai_2-4-x-prod-002/", "sakai_2-4-x-prod-003/"} <= set(out.stdout.split())
    co = lab.ssh(
        "walton",
        f"rm -rf /tmp/co && svn co -q --non-interactive {tags}/sakai_2-4-x-prod-003 /tmp/co"
        " && test -f /tmp/co/build.xml && grep -rl '2\\.4\\.1' /tmp/co | head -1; rm -rf /tmp/co",
    )
    assert co.returncode == 0 and co.stdout.strip(), co.stderr
    # Anonymous access is read-only.
    write = lab.ssh("stubing", f"svn mkdir --non-interactive -m no {tags}/nope")
    assert write.returncode != 0 and "forbidden" in write.stderr.lower()


def test_mail_to_the_smtp_host_is_kept_with_its_envelope(lab):
    token = uuid.uuid4().hex
    message = f"From: runbook@smartsite.lab\r\nSubject: lab test {token}\r\n\r\nbody {token}\r\n"
    lab.exec(
        "adminws1",
        "curl -sS smtp://mail:25 --mail-from runbook@smartsite.lab "
        "--mail-rcpt joncarlo@smartsite.lab -T -",
        input=message,
    )
    kept = [p for p in (lab.state / "mail").glob("*.eml") if token in p.read_text()]
    assert len(kept) == 1
    assert "X-Lab-Envelope-To: joncarlo@smartsite.lab" in kept[0].read_text()


IRC_CLIENT = """
import sys, time, irc.client
token = sys.argv[1]
r = irc.client.Reactor()
c = r.server().connect("irc", 6667, "t" + token[:7])  # ngircd: nicks of 9 characters at most
sent = []
r.add_global_handler("welcome", lambda c, e: c.join("#ucdsakai"))
def joined(c, e):
    if e.source.nick == c.get_nickname():
        c.privmsg("#ucdsakai", "hello " + token); sent.append(1)
r.add_global_handler("join", joined)
end = time.time() + 15
while time.time() < end and not sent:
    r.process_once(0.2)
for _ in range(5):
    r.process_once(0.1)
c.quit("done")
sys.exit(0 if sent else 1)
"""


def test_a_message_to_the_channel_reaches_the_channel_log(lab):
    token = uuid.uuid4().hex
    python = config.VENV_PYTHON
    lab.exec("adminws2", f"{python} - {token}", input=IRC_CLIENT, timeout=30)
    log = lab.state / "irc" / "ucdsakai.log"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and f"hello {token}" not in log.read_text():
        time.sleep(0.2)
    assert re.search(rf"<t{token[:7]}> hello {token}", log.read_text())


def test_hosts_have_no_route_out_of_the_lab(lab):
    subnet = str(config.chosen(None, None).subnet)
    for host in ("public", "stubing", "caje"):
        routes = lab.exec(host, "ip -4 route").stdout.splitlines()
        assert [r.split()[0] for r in routes] == [subnet]  # no default route: nothing leaves


def test_unknown_host_is_a_one_line_error(lab):
    out = lab.cli("exec", "nosuch", "--", "true", check=False)
    assert out.returncode == 1
    assert out.stderr.strip().count("\n") == 0 and "stubing" in out.stderr


def test_the_lab_names_its_own_inventory_which_the_runbook_reads_like_lab_yml(lab):
    from runbooklib.inventory import Inventory

    path = lab.cli("inventory").stdout.strip()
    assert path == str(lab.state / "inventory.yml")
    built = Inventory.load(path)
    given = Inventory.load(lab.inventory)
    assert [h.name for h in built.group("app")] == [h.name for h in given.group("app")]
    assert {n: h.address for n, h in built.hosts.items()} == {
        n: h.address for n, h in given.hosts.items()
    }


def test_app_nodes_listen_only_on_declared_ports(lab):
    """No stray JMX/RMI port: beyond loopback, only ssh, 8443, 9000 and the page's 8089."""
    for node in APP:
        rows = lab.exec(node, "ss -Hltn").stdout.splitlines()
        ports = {
            int(r.split()[3].rpartition(":")[2])
            for r in rows
            if not r.split()[3].startswith(("127.", "[::1]", "[::ffff:127."))
        }
        assert ports == {22, 8089, 8443, 9000}, (node, rows)


def test_a_long_no_go_reaches_the_channel_whole_in_numbered_messages(lab):
    from runbooklib.actions import notify
    from runbooklib.inventory import Inventory

    token = uuid.uuid4().hex
    reasons = "; ".join(f"check_{i}: stubing: portal says 2.4.0, wanted 2.4.1" for i in range(25))
    text = f"SmartSite go/no-go: NO-GO (after): {token} {reasons}"
    assert len(text.encode()) > 1000  # over twice what one IRC line holds
    notify.announce(Inventory.load(lab.inventory), text, timeout=10)
    said = [
        line.split("> ", 1)[1]
        for line in (lab.state / "irc" / "ucdsakai.log").read_text().splitlines()
        if "> (" in line and "/" in line.split("> (", 1)[1][:6]
    ]
    ours = said[said.index(next(s for s in said if token in s)) :]
    count = int(ours[0].split("/")[1].split(")")[0])
    assert count >= 3
    assert " ".join(s.split(" ", 1)[1] for s in ours[:count]) == text
