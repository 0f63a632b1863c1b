"""The lab's keys: a CA for HTTPS (bundle STATE/ca/ca.pem), ssh keys, and the ssh client config.

Everything is made once and kept in the state folder; certificates name the host and its address,
so a new subnet gets new certificates.
"""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

from lab.config import STATE, Lab, LabHost

CA = STATE / "ca"
SSH = STATE / "ssh"
SSH_CONFIG = SSH / "config"
DB_PASSWORD = STATE / "secrets" / "db_password"
# JMX on the app nodes: `USER PASSWORD` (the inventory's jmx_password_file), role readonly.
JMX_PASSWORD = STATE / "secrets" / "jmx_password"
JMX_USER = "jmxadmin"


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


def ensure_ca() -> None:
    CA.mkdir(parents=True, exist_ok=True)
    if (CA / "ca.pem").exists():
        return
    _run("openssl", "genrsa", "-out", str(CA / "ca.key"), "2048")
    (CA / "ca.key").chmod(0o600)
    _run(
        "openssl", "req", "-x509", "-new", "-key", str(CA / "ca.key"), "-sha256", "-days", "3650",
        "-subj", "/O=SmartSite lab/CN=SmartSite lab CA", "-out", str(CA / "ca.pem"),
    )  # fmt: skip


def host_names(host: LabHost) -> list[str]:
    extra = {"mware": ["mware.ucdavis.edu"]}.get(host.name, [])
    return [host.name, f"{host.name}.smartsite.lab", *extra]


def ensure_cert(host: LabHost) -> Path:
    """STATE/hosts/<host>/tls/{cert.pem,key.pem}, signed by the lab CA, SANs = names + address."""
    tls = host.dir / "tls"
    tls.mkdir(parents=True, exist_ok=True)
    cert, key = tls / "cert.pem", tls / "key.pem"
    sans = ",".join([*(f"DNS:{n}" for n in host_names(host)), f"IP:{host.address}"])
    stamp = tls / "sans"
    if cert.exists() and stamp.exists() and stamp.read_text() == sans:
        return tls
    _run("openssl", "genrsa", "-out", str(key), "2048")
    key.chmod(0o600)
    csr = tls / "cert.csr"
    _run("openssl", "req", "-new", "-key", str(key), "-subj", f"/CN={host.name}", "-out", str(csr))
    ext = tls / "ext.cnf"
    ext.write_text(f"subjectAltName={sans}\nextendedKeyUsage=serverAuth\n")
    # A random serial, not -CAcreateserial's ca.srl: the nodes' certificates are signed side by
    # side, and 16 nodes raced on that one file (`lab up --app-nodes 16` failed in openssl).
    _run(
        "openssl", "x509", "-req", "-in", str(csr), "-CA", str(CA / "ca.pem"),
        "-CAkey", str(CA / "ca.key"), "-set_serial", f"0x{secrets.token_hex(16)}",
        "-days", "825", "-sha256",
        "-extfile", str(ext), "-out", str(cert),
    )  # fmt: skip
    (tls / "ca.pem").write_bytes((CA / "ca.pem").read_bytes())
    stamp.write_text(sans)
    return tls


def ensure_jmx_keystore(host: LabHost) -> tuple[Path, str]:
    """(STATE/hosts/<host>/tls/jmx.p12, its password): the node's certificate and key as the
    PKCS12 keystore that JMX's TLS reads (Java reads no PEM key), made again with the cert."""
    tls = ensure_cert(host)
    store, secret = tls / "jmx.p12", tls / "jmx.p12.password"
    password = _ensure_secret(secret, secrets.token_urlsafe(18))
    if not store.exists() or store.stat().st_mtime < (tls / "cert.pem").stat().st_mtime:
        store.touch(mode=0o600)
        _run(
            "openssl", "pkcs12", "-export", "-name", host.name, "-in", str(tls / "cert.pem"),
            "-inkey", str(tls / "key.pem"), "-certfile", str(tls / "ca.pem"),
            "-passout", f"file:{secret}", "-out", str(store),
        )  # fmt: skip
    store.chmod(0o600)
    return store, password


def ensure_ssh(lab: Lab) -> None:
    """Client key, one host key per host, known_hosts and the client config (address and name)."""
    SSH.mkdir(parents=True, exist_ok=True)
    SSH.chmod(0o700)
    if not (SSH / "id_ed25519").exists():
        _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "smartsite-lab", "-f",
             str(SSH / "id_ed25519"))  # fmt: skip
    (SSH / "authorized_keys").write_text((SSH / "id_ed25519.pub").read_text())
    known, entries = [], []
    for host in lab.hosts:
        hostkey = host.dir / "ssh_host_ed25519_key"
        host.dir.mkdir(parents=True, exist_ok=True)
        if not hostkey.exists():
            _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(hostkey))
        pub = " ".join(Path(f"{hostkey}.pub").read_text().split()[:2])
        known.append(f"{host.address},{host.name} {pub}")
        entries.append(f"Host {host.name} {host.address}\n    HostName {host.address}\n")
    (SSH / "known_hosts").write_text("\n".join(known) + "\n")
    common = f"""
Host {" ".join(h.address for h in lab.hosts)} {" ".join(h.name for h in lab.hosts)}
    User root
    IdentityFile {SSH}/id_ed25519
    IdentitiesOnly yes
    UserKnownHostsFile {SSH}/known_hosts
    StrictHostKeyChecking yes
    BatchMode yes
    ConnectTimeout 5
    ControlMaster auto
    ControlPath {SSH}/cm-%C
    ControlPersist 60s
    ServerAliveInterval 5
    ServerAliveCountMax 3
"""
    SSH_CONFIG.write_text("# Written by `python -m lab up`.\n" + "".join(entries) + common)


def _ensure_secret(path: Path, fresh: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(fresh + "\n")
    path.chmod(0o600)
    return path.read_text().strip()


def ensure_db_password() -> str:
    return _ensure_secret(DB_PASSWORD, secrets.token_urlsafe(18))


def ensure_jmx_password() -> tuple[str, str]:
    """(user, password) for JMX, made once: the first line of STATE/secrets/jmx_password."""
    line = _ensure_secret(JMX_PASSWORD, f"{JMX_USER} {secrets.token_urlsafe(18)}")
    user, password = line.splitlines()[0].split(None, 1)
    return user, password
