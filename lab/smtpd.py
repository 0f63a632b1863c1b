"""The lab's SMTP server (run inside the `mail` host): every message kept as one file.

    python -m lab.smtpd ADDRESS PORT FOLDER

Each message becomes FOLDER/<UTC time>-<id>.eml: the envelope as X-Lab-Envelope-* headers, then the
message as received, so tests and people can read what the runbook sent.
"""

from __future__ import annotations

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
        ).encode()
        partial = self.folder / f".{name}"
        partial.write_bytes(head + envelope.original_content)
        partial.rename(self.folder / name)  # readers never see half a message
        return "250 Message accepted for delivery"


def main() -> None:
    address, port, folder = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    folder.mkdir(parents=True, exist_ok=True)
    controller = Controller(KeepMessages(folder), hostname=address, port=port)
    controller.start()
    print(f"smtpd listening on {address}:{port}, keeping messages in {folder}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
