"""Reading a file the runbook is given: a regular file, bounded in size, UTF-8, or one line why.

    >>> read_text(Path("lab.yml"), "inventory lab.yml")
    'all:\\n  vars: ...'
    >>> read_text(Path("/tmp/fifo"), "inventory /tmp/fifo")
    FileRefused: inventory /tmp/fifo is not a regular file (a FIFO, device or socket): ...

Used for the inventory, the known issues, the SQL scripts and the secret files. The file is
opened without blocking (a FIFO never waits for a writer) and checked from the open descriptor,
so what is checked is what is read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

# An inventory or an allow-list is a few kilobytes; a megabyte is a mistake, not a file to parse.
MAX_BYTES = 1 << 20


class FileRefused(Exception):
    pass


def read_text(path: Path | str, what: str, limit: int = MAX_BYTES) -> str:
    """The file's text; FileRefused (one line naming `what` and the fix) for anything else."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise FileRefused(f"{what} not found: name an existing file") from None
    except OSError as exc:
        raise FileRefused(f"{what}: cannot read it ({exc.strerror}): fix its permissions") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise FileRefused(f"{what} is a folder, not a file: name the file")
        raise FileRefused(
            f"{what} is not a regular file (a FIFO, device or socket): name a regular file"
        )
    with os.fdopen(fd, "rb") as file:
        try:
            data = file.read(limit + 1)
        except OSError as exc:
            raise FileRefused(f"{what}: cannot read it ({exc.strerror}): fix it") from None
    if len(data) > limit:
        raise FileRefused(f"{what} is larger than {limit} bytes: name the right file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileRefused(
            f"{what} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}): "
            "save it as UTF-8"
        ) from None
