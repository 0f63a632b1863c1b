"""Every frame of the lab's links, captured by tcpdump in the root namespace.

    with Capture(["smv-adminws1"], tmp_path) as seen:
        ...                      # traffic
    assert b"secret" not in seen.data

One tcpdump per link (the root-namespace end of each host's veth): it only reads, nothing is
sent, and it is ended by its own PID. The bridge itself shows only the frames to and from the
machine, not those it forwards between hosts, hence the links.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

LINK_PREFIX = "smv-"  # lab.config.LabHost.veth


def lab_links() -> list[str]:
    return sorted(name for _, name in socket.if_nameindex() if name.startswith(LINK_PREFIX))


class Capture:
    def __init__(self, links: list[str], folder: Path):
        tcpdump = shutil.which("tcpdump")
        assert tcpdump, "tcpdump is missing: `make setup` installs lab/debian-packages.txt"
        self.files = [folder / f"{link}.pcap" for link in links]
        self.command = [
            [tcpdump, "-i", link, "-n", "-s", "0", "-U", "--immediate-mode", "-w", str(path)]
            for link, path in zip(links, self.files, strict=True)
        ]
        self.running: list[subprocess.Popen] = []

    def __enter__(self) -> Capture:
        for argv in self.command:
            self.running.append(subprocess.Popen(argv, stderr=subprocess.PIPE, text=True))
        for path in self.files:  # tcpdump writes the file's header once it listens
            for _ in range(50):
                if path.exists() and path.stat().st_size:
                    break
                time.sleep(0.1)
            assert path.exists(), f"tcpdump did not start on {path.stem}"
        return self

    def __exit__(self, *exc) -> None:
        for proc in self.running:
            proc.send_signal(signal.SIGINT)  # tcpdump flushes its file and ends
        for proc in self.running:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    @property
    def data(self) -> bytes:
        return b"".join(path.read_bytes() for path in self.files)

    def tcp_port_frames(self, port: int) -> int:
        """How many TCP frames went to or from `port` (proof the capture saw a service)."""
        count = 0
        for path in self.files:
            read = subprocess.run(
                ["tcpdump", "-r", str(path), "-n", "-q", f"tcp port {port}"],
                capture_output=True,
                text=True,
                check=True,
            )
            count += len(read.stdout.splitlines())
        return count
