"""No password in clear on the wire: every frame of every lab host's link, captured by tcpdump
during a whole upgrade and the go/no-go after it, holds neither the JMX password nor
the database password, in any of the forms an escaping would give them; the mail went over
STARTTLS, and the channel's announcements over TLS."""

from __future__ import annotations

import secrets
import sys
import time
from pathlib import Path

import pytest

from runbooklib.inventory import Inventory
from runbooklib.transcript import forms

pytestmark = pytest.mark.lab
sys.path.insert(0, str(Path(__file__).parent))
from capture import Capture, lab_links  # noqa: E402
from test_upgrade_fallback import UPGRADE, pytest_run  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
INV = Inventory.load(REPO / "inventories/lab.yml")
V = INV.vars


def passwords() -> dict[str, str]:
    return {
        "jmx": Path(V["jmx_password_file"]).read_text().split()[1],
        "db": Path(V["db_password_file"]).read_text().strip(),
    }


def test_no_password_crosses_the_network_during_an_upgrade_and_go_no_go(lab, tmp_path):
    lab.cli("reset", timeout=900)
    start = time.time()
    links = lab_links()
    assert len(links) >= 9, links  # every host of the lab
    canary = f"canary-{secrets.token_hex(8)}"
    with Capture(links, tmp_path) as capture:
        # Proof the capture can fail: a word sent in clear (UDP, to a closed port) is found.
        mail = V["mail"]["smtp_host"]
        lab.exec("public", f"echo {canary} > /dev/udp/{mail}/9")
        upgrade = pytest_run(UPGRADE, tmp_path / "upgrade")
        checks = pytest_run(["checks/"], tmp_path / "checks")
    assert canary.encode() in capture.data, "the capture missed a word sent in clear"
    assert upgrade.rc == 0, upgrade.out[-3000:]
    assert checks.rc == 0 and checks.verdict_line.startswith("GO"), checks.verdict_line
    # The capture saw the services that carry the passwords: JMX, and the database's clients.
    assert capture.tcp_port_frames(int(V["jmx_port"])) > 10
    assert capture.tcp_port_frames(3306) > 10
    data = capture.data
    for name, secret in passwords().items():
        found = [form for form in forms(secret) if form.encode() in data]
        assert not found, f"the {name} password crossed the network in clear"
    # The channel heard the run's announcements over TLS: in the channel's log, not on the wire.
    heard = [line.split("> ", 1)[1] for line in (lab.state / "irc" / "ucdsakai.log")
             .read_text().splitlines() if "<runbook" in line and "> " in line]  # fmt: skip
    assert heard and "see the record" not in heard[0], heard
    assert capture.tcp_port_frames(int(V["chat"]["port"])) > 10
    assert all(line.encode() not in data for line in heard), "an announcement crossed in clear"
    # u16's mail went over STARTTLS (the lab's server notes it), with its detail.
    mails = [m.read_text() for m in lab.state.glob("mail/*.eml") if m.stat().st_mtime >= start]
    u16 = [m for m in mails if "ready to switch iptables" in m]
    assert u16 and all("X-Lab-TLS: TLSv1." in m for m in u16), mails
