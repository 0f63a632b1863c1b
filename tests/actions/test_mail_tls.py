"""Mail over STARTTLS, or no detail at all (issue 18, item 6): runbooklib.actions.notify.mail
against the lab's own SMTP handler (lab/smtpd.py) on loopback, with and without TLS. No lab."""

from __future__ import annotations

import socket
import ssl
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from aiosmtpd.controller import Controller

from lab.smtpd import KeepMessages
from runbooklib.actions import notify

DETAIL = "u05 failed: ERROR 1062 on caje, see SAK-869"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def cert(tmp_path) -> Path:
    """A self-signed certificate for 127.0.0.1 (its own CA): cert.pem and key.pem."""
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    return tmp_path


def send(tmp_path: Path, tls: ssl.SSLContext | None, ca: Path | None) -> str:
    """notify.mail through a local server (STARTTLS offered when `tls`); the kept message."""
    port, kept = free_port(), tmp_path / "mail"
    kept.mkdir()
    server = Controller(KeepMessages(kept), hostname="127.0.0.1", port=port, tls_context=tls)
    server.start()
    try:
        inventory = SimpleNamespace(
            check_mode=False,
            vars={
                "ca_bundle": str(ca) if ca else None,
                "mail": {"smtp_host": "127.0.0.1", "smtp_port": port,
                         "sender": "runbook@smartsite.lab", "to": ["joncarlo@smartsite.lab"]},
            },
        )  # fmt: skip
        notify.mail(inventory, "SmartSite: halted at u05", DETAIL)
    finally:
        server.stop()
    (message,) = kept.glob("*.eml")
    return message.read_text()


def test_mail_goes_over_starttls_checked_against_the_ca(cert, tmp_path):
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert / "cert.pem", cert / "key.pem")
    message = send(tmp_path, tls, cert / "cert.pem")
    assert "X-Lab-TLS: TLSv1." in message and DETAIL in message


def test_a_server_whose_certificate_is_not_trusted_gets_no_mail(cert, tmp_path):
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert / "cert.pem", cert / "key.pem")
    with pytest.raises(ssl.SSLCertVerificationError):
        send(tmp_path, tls, None)  # the system's CAs only
    assert not list((tmp_path / "mail").glob("*.eml"))


def test_without_tls_the_mail_carries_no_detail(tmp_path):
    message = send(tmp_path, None, None)
    assert "X-Lab-TLS" not in message
    assert DETAIL not in message and "u05" not in message
    assert notify.NO_TLS_BODY.strip() in message
