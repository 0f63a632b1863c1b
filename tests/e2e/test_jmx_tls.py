"""JMX over TLS, read-only (issue 18, item 4), on the lab, from the vantage hosts.

The nodes' JMX agent speaks TLS on the registry and the RMI server with the node's certificate
(the lab CA's): the probe that trusts the lab CA reads Tomcat, a client in clear gets no
connection, a client that does not trust the lab CA gets none either, the role refuses writes,
and the password, sent during a capture of the lab's bridge, is not in it.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import pytest

from runbooklib.actions import reach
from runbooklib.actions.common import app_nodes
from runbooklib.inventory import Inventory

pytestmark = pytest.mark.lab
sys.path.insert(0, str(Path(__file__).parent))
from capture import Capture  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
INV = Inventory.load(REPO / "inventories/lab.yml")
ADMIN = next(c for c in reach.clients(INV, "allow_9000"))
NODES = app_nodes(INV)
# The admin host's end of its link, in the root namespace (lab.config.LabHost.veth): every
# frame to or from it crosses there.
LINK = f"smv-{ADMIN.name}"


def jmx_password() -> str:
    return Path(INV.vars["jmx_password_file"]).read_text().split()[1]


def test_the_probe_over_tls_reads_tomcat_and_a_client_in_clear_is_refused(lab):
    for node in NODES:
        good = reach.jmx_probe(ADMIN, node)
        assert good.rc == 0 and good.stdout.startswith("Apache Tomcat/10"), good
        # The same client, the same password, in clear: the registry speaks TLS only.
        clear = reach.jmx_probe(ADMIN, node, tls=False)
        assert clear.rc == 1 and "Tomcat" not in clear.stdout, clear
        # TLS without the password is still asked for one.
        anonymous = reach.jmx_probe(ADMIN, node, login=False)
        assert anonymous.rc == 4 and "Credentials required" in anonymous.stderr, anonymous


def test_a_client_that_does_not_trust_the_lab_ca_gets_no_connection(lab):
    node = NODES[0]
    # The JDK's own CAs only: the node's certificate is the lab CA's, so the handshake fails.
    client = dataclasses.replace(ADMIN, vars={**ADMIN.vars, "ca_bundle": None})
    untrusting = reach.jmx_probe(client, node)
    assert untrusting.rc == 1 and "Tomcat" not in untrusting.stdout, untrusting
    assert "SSLHandshakeException" in untrusting.stderr or "PKIX" in untrusting.stderr, untrusting


def test_the_role_is_read_only(lab):
    for node in NODES:
        write = reach.jmx_probe(ADMIN, node, write=True)
        assert write.rc == 4 and "Access denied" in write.stderr, write
        on_node = lab.ssh(
            node.name,
            f"cd {INV.vars['tomcat_base']}/conf && cat jmxremote.access && "
            "stat -c '%U %a %n' jmxremote.password jmxremote.access jmxremote.ssl tls/jmx.p12",
        )
        assert on_node.returncode == 0, on_node
        access, *files = on_node.stdout.splitlines()
        assert access.split()[1:] == ["readonly"], access
        assert all(f.startswith(f"{INV.vars['tomcat_user']} 600 ") for f in files), files


def test_the_password_does_not_cross_the_network_in_clear(lab, tmp_path):
    password = jmx_password().encode()
    with Capture([LINK], tmp_path) as capture:
        time.sleep(0.3)
        for node in NODES:
            good = reach.jmx_probe(ADMIN, node)
            assert good.rc == 0, good
    # The capture saw the sessions (port 9000, both ways), and no password nor user in them.
    assert capture.tcp_port_frames(int(INV.vars["jmx_port"])) > 10
    assert password not in capture.data
    assert b"jmxadmin" not in capture.data  # the user name goes inside the same TLS session
