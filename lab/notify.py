"""mail and irc: the SMTP server (aiosmtpd, lab/smtpd.py) and ngircd with #ucdsakai + a logger bot.

Received mail: STATE/mail/*.eml. The channel's log: STATE/irc/ucdsakai.log.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from lab import hosts, netns, pki
from lab.config import REPO, STATE, VENV_PYTHON, LabError, LabHost

MAIL = STATE / "mail"
IRC_LOG = STATE / "irc" / "ucdsakai.log"
CHANNEL = "#ucdsakai"
PY_ENV = {"PYTHONPATH": str(REPO)}


def start_smtp(host: LabHost) -> None:
    """The SMTP server, with STARTTLS on the mail host's certificate (one without is replaced)."""
    tls = pki.ensure_cert(host)
    running = netns.host_pids(host, "lab.smtpd")
    with_tls = [p for p in running if str(tls / "cert.pem") in netns.cmdline(p)]
    if with_tls and hosts.port_open(host.address, 25):
        return
    netns.end_pids(running)
    MAIL.mkdir(parents=True, exist_ok=True)
    argv = [str(VENV_PYTHON), "-m", "lab.smtpd", host.address, "25", str(MAIL)]
    argv += [str(tls / "cert.pem"), str(tls / "key.pem")]
    netns.spawn(host, argv, host.dir / "logs" / "smtpd.log", env=PY_ENV)
    hosts.wait_port(host, 25, "the SMTP server", bound=20)


# IRC over TLS (the irc host's certificate from the lab CA); 6667 in clear stays for the bot and
# older checkouts.
IRC_TLS_PORT = 6697


def _ngircd_conf(host: LabHost) -> tuple[Path, bool]:
    """The server's configuration written, and whether it changed."""
    conf = host.dir / "ngircd.conf"
    tls = pki.ensure_cert(host)
    old = conf.read_text() if conf.exists() else None
    conf.write_text(
        f"""# Written by `python -m lab up`.
[Global]
    Name = irc.smartsite.lab
    Info = SmartSite lab IRC
    Listen = {host.address}
    Ports = 6667
    PidFile = {host.dir}/run/ngircd.pid
    MotdPhrase = "SmartSite lab"
    ServerUID = irc
    ServerGID = irc
[Limits]
    MaxConnectionsIP = 0
    PingTimeout = 120
    # The lab rehearses the runbook, not a network's flood control: ngircd's penalty (1 s
    # after a JOIN) would add a second to every announcement of every rehearsal and test.
    MaxPenaltyTime = 0
[Options]
    PAM = no
    DNS = no
    Ident = no
[SSL]
    CertFile = {tls}/cert.pem
    KeyFile = {tls}/key.pem
    Ports = {IRC_TLS_PORT}
[Channel]
    Name = {CHANNEL}
    Topic = SmartSite operations
    Modes = t
"""
    )
    return conf, conf.read_text() != old


def start_irc(host: LabHost) -> None:
    running = netns.host_pids(host, "ngircd")
    conf, changed = _ngircd_conf(host)
    if changed or not (
        running
        and hosts.port_open(host.address, 6667)
        and hosts.port_open(host.address, IRC_TLS_PORT)
    ):
        # One without TLS, half up, or with an older configuration; its bot goes with it.
        netns.end_pids(running + netns.host_pids(host, "lab.ircbot"))
        argv = ["ngircd", "-n", "-f", str(conf)]
        netns.spawn(host, argv, host.dir / "logs" / "ngircd.log")
        hosts.wait_port(host, 6667, "ngircd", bound=10)
        hosts.wait_port(host, IRC_TLS_PORT, "ngircd over TLS", bound=10)
    if not netns.host_pids(host, "lab.ircbot"):
        IRC_LOG.parent.mkdir(parents=True, exist_ok=True)
        argv = [str(VENV_PYTHON), "-m", "lab.ircbot", host.address, "6667", CHANNEL, str(IRC_LOG)]
        (host.dir / "logs" / "ircbot.log").unlink(missing_ok=True)  # wait_bot reads a fresh one
        netns.spawn(host, argv, host.dir / "logs" / "ircbot.log", env=PY_ENV)
        wait_bot(host)


def wait_bot(host: LabHost, bound: float = 15) -> None:
    log = host.dir / "logs" / "ircbot.log"
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if log.exists() and f"joined {CHANNEL}" in log.read_text()[-2000:]:
            return
        time.sleep(0.1)
    raise LabError(f"irc: the logger bot did not join {CHANNEL} (see {log})")


def clear() -> None:
    """Forget received mail and the channel's log (reset)."""
    shutil.rmtree(MAIL, ignore_errors=True)
    MAIL.mkdir(parents=True, exist_ok=True)
    if IRC_LOG.exists():
        IRC_LOG.write_text("")
