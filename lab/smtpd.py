"""The lab's SMTP server (run inside the `mail` host): every message kept as one file.

    python -m lab.smtpd ADDRESS PORT FOLDER [CERT KEY]

Each message becomes FOLDER/<UTC time>-<id>.eml: the envelope as X-Lab-Envelope-* headers, then the
message as received, so tests and people can read what the runbook sent. With CERT and KEY (the
mail host's certificate from the lab CA) the server offers STARTTLS, and a message that came
over TLS is kept with `X-Lab-TLS: <protocol> <cipher>`.
"""

from __future__ import annotations

import ssl
import sys
import threading
import time
import uuid
from pathlib import Path

from aiosmtpd.controller import Controller


class KeepMessages:
    def __init__(self, folder: Path):
        self.folder = folder

    async def handle_DATA(self, server, session, envelope):
        name = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:8]}.eml"
        head = (
            f"X-Lab-Envelope-From: {envelope.mail_from}\r\n"
            f"X-Lab-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n"
        )
        if session.ssl and session.ssl.get("cipher"):
            cipher, protocol, _ = session.ssl["cipher"]
            head += f"X-Lab-TLS: {protocol} {cipher}\r\n"
        head = head.encode()
        partial = self.folder / f".{name}"
        partial.write_bytes(head + envelope.original_content)
        partial.rename(self.folder / name)  # readers never see half a message
        return "250 Message accepted for delivery"


def main() -> None:
    address, port, folder = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    folder.mkdir(parents=True, exist_ok=True)
    tls = None
    if len(sys.argv) > 5:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(sys.argv[4], sys.argv[5])
    # STARTTLS offered, not required: a client in clear is still served (the runbook itself
    # sends no detail without TLS), so that an older checkout's runbook keeps its mail.
    controller = Controller(KeepMessages(folder), hostname=address, port=port, tls_context=tls)
    controller.start()
    print(f"smtpd listening on {address}:{port}, keeping messages in {folder}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
