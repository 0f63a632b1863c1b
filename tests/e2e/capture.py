"""Every frame of the lab's links, read in the root namespace as tcpdump would read them.

    with Capture(["smv-adminws1"]) as seen:
        ...                      # traffic
    assert b"secret" not in seen.data

An AF_PACKET socket per link (the root-namespace end of each host's veth): read only, nothing is
sent. The bridge itself shows only the frames to and from the machine, not those it forwards
between hosts, hence the links.
"""

from __future__ import annotations

import select
import socket
import threading

ETH_P_ALL = 0x0003
LINK_PREFIX = "smv-"  # lab.config.LabHost.veth


def lab_links() -> list[str]:
    return sorted(name for _, name in socket.if_nameindex() if name.startswith(LINK_PREFIX))


class Capture:
    def __init__(self, links: list[str]):
        self.socks = []
        for link in links:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            sock.bind((link, 0))
            self.socks.append(sock)
        self.frames: list[bytes] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)

    def __enter__(self) -> Capture:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        self.thread.join(5)
        for sock in self.socks:
            sock.close()

    def _read(self) -> None:
        while not self.done.is_set():
            ready, _, _ = select.select(self.socks, [], [], 0.2)
            for sock in ready:
                self.frames.append(sock.recv(65535))

    @property
    def data(self) -> bytes:
        return b"".join(self.frames)

    def tcp_port_frames(self, port: int) -> int:
        """How many IPv4 TCP frames went to or from `port` (proof the capture saw a service)."""
        count = 0
        for f in self.frames:
            if f[12:14] == b"\x08\x00" and f[23] == 6:
                start = 14 + (f[14] & 0x0F) * 4
                ports = {
                    int.from_bytes(f[start : start + 2]),
                    int.from_bytes(f[start + 2 : start + 4]),
                }
                count += port in ports
        return count
