"""`python -m lab status`: what runs where, and what is unhealthy."""

from __future__ import annotations

from pathlib import Path

from lab import database, faults, hosts, maintpage, netns, notify, svn, tomcat
from lab.config import Lab, LabHost


def _checks(host: LabHost) -> list[tuple[str, bool, str]]:
    """(service, healthy, detail) for each thing the host should run."""
    up = hosts.port_open
    rows = [("sshd", bool(hosts.sshd_pid(host)) and up(host.address, 22), ":22")]
    if host.role == "app":
        r = tomcat.health(host)
        detail = r.text.strip().replace("\n", " ")[:70] if r is not None else "no answer"
        ok = r is not None and r.status_code == 200
        code = f"HTTP {r.status_code} " if r is not None else ""
        rows.append(("tomcat", ok, f":8443 {code}{detail}"))
        rows.append(("jmx", up(host.address, tomcat.JMX_PORT), ":9000 JMX (password)"))
        rows.append(
            (
                "nginx",
                bool(maintpage.pid(host)) and up(host.address, 8089),
                ":8089 maintenance page",
            )
        )
    if host.role == "db":
        rows.append(("mariadb", database.running(host), ":3306"))
    if host.role == "svn":
        rows.append(("apache2", bool(svn.pid(host)) and up(host.address, 443), ":443 svn"))
    if host.role == "mail":
        rows.append(("smtpd", up(host.address, 25), f":25 -> {notify.MAIL}"))
    if host.role == "irc":
        rows.append(("ngircd", up(host.address, 6667), ":6667 #ucdsakai"))
        rows.append(("logger bot", bool(netns.host_pids(host, "lab.ircbot")), str(notify.IRC_LOG)))
    return rows


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def status(lab: Lab) -> tuple[str, bool]:
    lines, healthy = [f"lab subnet {lab.subnet}, operator {lab.operator}"], True
    for host in lab.hosts:
        if not netns.anchor_pid(host):
            lines.append(
                f"{host.name:9} {host.address:15} DOWN (no namespace): run `python -m lab up`"
            )
            healthy = False
            continue
        for service, ok, detail in _checks(host):
            lines.append(
                f"{host.name:9} {host.address:15} {service:11} {'ok ' if ok else 'BAD'} {detail}"
            )
            healthy &= ok
    pids = [p for h in lab.hosts for p in netns.host_pids(h, "")]
    lines.append(f"memory: {rss_mb(pids):.0f} MB resident in {len(pids)} lab processes")
    active = faults.active()
    lines.append("faults: " + (", ".join(active) if active else "none"))
    lines.append("healthy" if healthy else "UNHEALTHY")
    return "\n".join(lines), healthy
