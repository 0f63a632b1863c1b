"""The DB password is a secret: registered for redaction before anything can print it.

    >>> register_db_password(inventory)   # from $SMARTSITE_DB_PASSWORD or db_password_file

The actions never need the password themselves (the db host's clients read /root/.my.cnf, and
config files are read with password values masked on the host); registering it is the second
line of defence for anything that still echoes it (a command's stderr, a page, a traceback).
"""

from __future__ import annotations

import os
from pathlib import Path

from runbooklib.inventory import Inventory
from runbooklib.transcript import transcript


def register_db_password(inventory: Inventory) -> bool:
    """True when a password was found and registered."""
    value = os.environ.get(inventory.vars.get("db_password_env") or "", "")
    path = os.path.expanduser(inventory.vars.get("db_password_file") or "")
    if not value and path and os.path.isfile(path):
        value = Path(path).read_text().strip()
    transcript.add_secret(value)
    return bool(value)


def register_jmx_password(inventory: Inventory) -> bool:
    """The JMX password (second word of jmx_password_file's first line), registered the same way:
    the nodes' jmxremote.password holds it and the vantage hosts' probe reads it."""
    path = os.path.expanduser(inventory.vars.get("jmx_password_file") or "")
    if not path or not os.path.isfile(path):
        return False
    first = (Path(path).read_text().splitlines() or [""])[0].split(None, 1)
    value = first[1].strip() if len(first) == 2 else ""
    transcript.add_secret(value)
    return bool(value)
