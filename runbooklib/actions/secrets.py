"""The DB password is a secret: registered for redaction before anything can print it.

    >>> register_db_password(inventory)   # from $SMARTSITE_DB_PASSWORD or db_password_file
    True

The actions never need the password themselves (the db host's clients read /root/.my.cnf, and
config files are read with password values masked on the host); registering it is the second
line of defence for anything that still echoes it (a command's stderr, a page, a traceback).
So a password that is configured but cannot be read, or is too short to redact safely, refuses
the run before any host is reached: redaction must never be off without anyone knowing.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from runbooklib.actions.common import ActionError
from runbooklib.inventory import Inventory
from runbooklib.transcript import MIN_SECRET, transcript


def db_password(inventory: Inventory) -> str | None:
    """The DB password: the variable named by `db_password_env` when it is set, else the file
    named by `db_password_file`; None when the inventory names neither."""
    env = inventory.vars.get("db_password_env")
    named = inventory.vars.get("db_password_file")
    where = f"inventory {inventory.path}"
    if env and env in os.environ:
        value, source = os.environ[env], f"${env}"
        if not value:
            raise ActionError(f"${env} is set but empty: unset it or export the DB password")
    elif named:
        path = Path(os.path.expanduser(str(named)))
        source = str(path)
        try:
            private(path, "db_password_file")
            value = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise ActionError(
                f"{where}: db_password_file {path}: {reason or exc}: "
                f"write the DB password there{f' or export ${env}' if env else ''}"
            ) from None
        if not value:
            raise ActionError(f"{where}: db_password_file {path} is empty: write the password")
    elif env:
        raise ActionError(f"{where}: db_password_env names ${env}, which is not set: export it")
    else:
        return None
    if len(value) < MIN_SECRET:
        raise ActionError(
            f"the DB password in {source} is shorter than {MIN_SECRET} characters: "
            "too short to redact safely; change it to a longer one"
        )
    return value


def private(path: Path, what: str) -> None:
    """Refuse a secret file that others may read or change (issue 17), naming the fix; OSError
    when it cannot be looked at."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ActionError(
            f"{what} {path} is open to others (mode {mode:04o}): make it yours alone with "
            f"`chmod 600 {path}`"
        )


def register_db_password(inventory: Inventory) -> bool:
    """True when a password was found and registered; ActionError (one line) when a configured
    password is missing, empty or too short."""
    value = db_password(inventory)
    transcript.add_secret(value)
    return bool(value)


def register_jmx_password(inventory: Inventory) -> bool:
    """The JMX password (second word of jmx_password_file's first line), registered the same way:
    the nodes' jmxremote.password holds it and the vantage hosts' probe reads it."""
    path = os.path.expanduser(inventory.vars.get("jmx_password_file") or "")
    if not path or not os.path.isfile(path):
        return False
    private(Path(path), "jmx_password_file")
    first = (Path(path).read_text().splitlines() or [""])[0].split(None, 1)
    value = first[1].strip() if len(first) == 2 else ""
    transcript.add_secret(value)
    return bool(value)
