"""The record is private: reports folder 0700, every file in it 0600 (issue 17).

Records and journals hold every command with its output, allow-list addresses and checksums: no
other local user of the operator's machine reads them. The folder is made 0700, or made so when
it exists; the files are created 0600 (`create`), and the files other writers left there under
their umask (pytest-html's report, the JUnit XML, records of older runs) are set to 0600 by
`seal`.

    >>> seal(Path("reports"))   # ls -l reports/: drwx------, every file -rw-------
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest


def folder(path: Path) -> Path:
    """The reports folder, made 0700 if missing, set to 0700 if not."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        if stat.S_IMODE(path.stat().st_mode) != 0o700:
            path.chmod(0o700)
    except PermissionError:
        raise pytest.UsageError(
            f"reports folder {path} is not yours and is open to others: use a folder of your own "
            "(--reports DIR) or have its owner run `chmod 700` on it"
        ) from None
    return path


def seal(path: Path) -> None:
    """The folder 0700 and every regular file of ours in it 0600 (no symlink is followed)."""
    folder(path)
    for entry in os.scandir(path):
        if entry.is_file(follow_symlinks=False):
            info = entry.stat(follow_symlinks=False)
            if info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) & 0o077:
                os.chmod(entry.path, 0o600)


def create(path: Path, mode: str = "w"):
    """Open a new or existing file of the record for writing, 0600 whatever the umask."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | (os.O_APPEND if "a" in mode else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode otherwise
    return os.fdopen(fd, mode, encoding="utf-8")


def write_text(path: Path, text: str) -> None:
    with create(path) as f:
        f.write(text)
