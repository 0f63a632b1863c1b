"""The app nodes' service account: Tomcat runs as `sakai`, never as root (issue 18, item 5).

    >>> write_user_files(node)     # STATE/hosts/<node>/{passwd,group}: /etc/passwd, /etc/group
    >>> ids(node)
    (8443, 8443)

The hosts share the machine's /etc. So that the machine's own user database is never changed
(and `down` leaves nothing behind), each app node gets private copies of /etc/passwd and
/etc/group with the account added, bound over the originals as /etc/hosts is (lab/hosts.py).
"""

from __future__ import annotations

from pathlib import Path

from lab.config import LabError, LabHost

SERVICE_USER = "sakai"
# Its uid and gid on the nodes (the files it owns show this number on the machine): a fixed
# number, so that what one `up` chowned stays the account's after the next.
SERVICE_ID = 8443
HOME = "/ucd/opt/sakai"


def _entries(path: Path, name: str, line: str) -> str:
    """The machine's file with the account's line added (as it is, if the machine has it)."""
    text = path.read_text()
    rows = [row.split(":") for row in text.splitlines() if row and not row.startswith("#")]
    if any(row[0] == name for row in rows):
        return text
    taken = [row[0] for row in rows if len(row) > 2 and row[2] == str(SERVICE_ID)]
    if taken:
        raise LabError(
            f"id {SERVICE_ID} is {taken[0]}'s in {path}: the lab's `{name}` account needs it; "
            "change lab.account.SERVICE_ID"
        )
    return text + ("" if text.endswith("\n") else "\n") + line + "\n"


def write_user_files(host: LabHost, etc: Path = Path("/etc")) -> None:
    """The node's passwd and group: the machine's, plus the service account (idempotent; written
    in place, so that a node already up sees the new text through its bind mount)."""
    nologin = "/usr/sbin/nologin"
    user = f"{SERVICE_USER}:x:{SERVICE_ID}:{SERVICE_ID}:Sakai Tomcat:{HOME}:{nologin}"
    for name, line in (("passwd", user), ("group", f"{SERVICE_USER}:x:{SERVICE_ID}:")):
        wanted = _entries(etc / name, SERVICE_USER, line)
        target = host.dir / name
        if not target.exists() or target.read_text() != wanted:
            target.write_text(wanted)
        target.chmod(0o644)


def ids(host: LabHost) -> tuple[int, int]:
    """(uid, gid) of the service account in the node's own passwd."""
    for row in (host.dir / "passwd").read_text().splitlines():
        fields = row.split(":")
        if fields[0] == SERVICE_USER:
            return int(fields[2]), int(fields[3])
    raise LabError(f"{host.name}: no `{SERVICE_USER}` account: run `python -m lab up`")
