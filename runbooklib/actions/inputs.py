"""Bad input is found before any host is touched: one line that names the file, the place and
the fix.

    >>> check(inventory, repo)     # raises ActionError("inventory lab.yml: `allow_8443[2]` ...")

Called when a procedure is collected, so that a typo in an allow-list or a missing SQL script
stops the run before u01 closes the site. The inventory's own shape (groups, hosts, addresses,
window) is checked when it is loaded (runbooklib.inventory); this is what the upgrade needs of it.
Every docs/refusals.md line comes from here, the inventory, the known issues or the options.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath

from runbooklib.actions import firewall, known_issues, reach
from runbooklib.actions.common import ActionError, batches
from runbooklib.files import FileRefused, read_text
from runbooklib.inventory import Inventory

PORTS = ("ssh_port", "https_port", "jmx_port", "maintenance_port")
TEXTS = (
    "tomcat_home", "tomcat_base", "sakai_home", "catalina_out", "src_dir", "releases_dir",
    "staging_config", "config_backup", "svn_url", "release_tag", "release_version", "fallback_tag",
    "fallback_version", "fallback_snapshot", "db_name", "db_backup_dir", "jmx_probe", "tomcat_user",
)  # fmt: skip
REQUIRED = (*TEXTS, *PORTS, "sql_scripts", "mail", "chat")
# The keys of the notification settings, and which of them are ports.
SERVICES = {
    "mail": ("smtp_host", "smtp_port", "sender", "to"),
    "chat": ("server", "port", "channel", "nick"),
}
# The allow-list of log lines at a Tomcat start (runbook/conftest.py loads and checks it first).
KNOWN_ISSUES = "runbook/known-issues.yml"
# The 2.4.1 schema changes, in the order the seed runs them (09:00: SAK-869, then SAK-878).
SEED_SQL = ("sql/SAK-869.sql", "sql/SAK-878.sql")
# A script's name goes into the applied-scripts table and onto the db host: a plain file name.
SQL_NAME = re.compile(r"sql/[A-Za-z0-9][A-Za-z0-9._-]*\.sql")
# An upgrade script is read whole before it is sent: a few hundred kilobytes at most.
SQL_MAX_BYTES = 4 << 20
# The files on the operator's machine that hold a secret (runbooklib.actions.secrets reads them).
SECRET_FILES = ("db_password_file", "jmx_password_file")
SECRET_MAX_BYTES = 4096


def check(inventory: Inventory, repo: Path) -> None:
    where = f"inventory {inventory.where}"
    v = inventory.vars
    missing = [k for k in REQUIRED if k not in v]
    if missing:
        raise ActionError(f"{where}: set {', '.join(missing)} under all.vars")
    for key in TEXTS:
        if not isinstance(v[key], str) or not v[key].strip():
            raise ActionError(f"{where}: {key} is {v[key]!r}: give it as text (in quotes)")
    for key in PORTS:
        _port(where, key, v[key])
    for key, fields in SERVICES.items():
        _service(where, key, v[key], fields)
    _roles(inventory, where)
    # Ansible's `serial`: how many nodes after the head the upgrade installs at once (u14).
    if "serial" in v:
        try:
            batches([], v["serial"])
        except ActionError as exc:
            raise ActionError(f"{where}: all.vars.{exc}") from None
    for var in ("allow_8443", "allow_9000"):
        try:
            firewall.allow_list(v.get(var), var)
        except ActionError as exc:
            raise ActionError(f"{where}: {str(exc).removeprefix('inventory: ')}") from None
    _vantage(inventory, where)
    for node in inventory.group("app"):
        for mode in firewall.MODES:
            try:
                firewall.render(mode, node.vars)
            except ActionError as exc:
                raise ActionError(f"{where}: {str(exc).removeprefix('inventory: ')}") from None
    _sql_scripts(where, v["sql_scripts"], repo)
    _known_issue_hosts(inventory, repo / KNOWN_ISSUES)


def _port(where: str, key: str, value: object) -> int:
    # bool is an int in Python: `ssh_port: yes` must not pass as port 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ActionError(f"{where}: {key} is {value!r}: give a port number (1 to 65535)")
    if not 1 <= value <= 65535:
        raise ActionError(f"{where}: {key} {value} is out of range: give 1 to 65535")
    return value


def _service(where: str, key: str, value: object, fields: tuple[str, ...]) -> None:
    if not isinstance(value, dict) or any(f not in value for f in fields):
        raise ActionError(f"{where}: {key} must be a mapping with {', '.join(fields)}")
    for field in fields:
        if field.endswith("port"):
            _port(where, f"{key}.{field}", value[field])
        elif field == "to":
            if not isinstance(value["to"], list) or not value["to"]:
                raise ActionError(f"{where}: {key}.to must be a list of addresses")
        elif not isinstance(value[field], str) or not value[field].strip():
            raise ActionError(f"{where}: {key}.{field} is {value[field]!r}: give it as text")


def _roles(inventory: Inventory, where: str) -> None:
    """One head node, listed first in `app`; a db host."""
    for group in ("app", "db"):
        if not inventory.groups.get(group):
            raise ActionError(f"{where}: the `{group}` group has no host: add one under it")
    nodes = inventory.group("app")
    heads = [h.name for h in nodes if h.vars.get("head")]
    if len(heads) > 1:
        raise ActionError(
            f"{where}: `head: true` is on {', '.join(heads)}: mark only one app node as head"
        )
    if not heads or nodes[0].name != heads[0]:
        # The plan names the head as `app[0]` (Ansible's subscript), so it must come first.
        raise ActionError(f"{where}: list the head node first in `app` and mark it `head: true`")


def _vantage(inventory: Inventory, where: str) -> None:
    """The vantage hosts can prove what they are meant to: the allow-lists are addresses, so the
    vantage hosts' must be too, and an `outsiders` host must be off both lists."""
    for host in reach.clients(inventory, None):
        if not reach.is_ip(host.address):
            raise ActionError(
                f"{where}: vantage host {host.name} has ansible_host {host.address}: give its IP "
                "address (the allow-lists are addresses)"
            )
    for host in reach.vantage(inventory, "outsiders"):
        for var in ("allow_8443", "allow_9000"):
            entry = reach.matching_entry(host.address, host.vars.get(var))
            if entry:
                raise ActionError(
                    f"{where}: public host {host.name} ({host.address}) is inside {var} "
                    f"{entry}: narrow {var} or move {host.name} out of `outsiders`"
                )
    if not reach.clients(inventory, "allow_8443", on=False):
        raise ActionError(
            f"{where}: add a host off the allow-lists to the `outsiders` group "
            "(under `vantage`) so that the outage page is proven from outside"
        )


def _sql_scripts(where: str, scripts: object, repo: Path) -> None:
    if not isinstance(scripts, list) or not all(isinstance(s, str) for s in scripts):
        raise ActionError(
            f"{where}: sql_scripts must be a list of paths like [{', '.join(SEED_SQL)}]"
        )
    seen: set[str] = set()
    for name in scripts:
        path = PurePosixPath(name)
        if path.is_absolute() or ".." in path.parts or path.parts[:1] != ("sql",):
            raise ActionError(
                f"{where}: sql_scripts names {name}, outside sql/: give a path like sql/NAME.sql"
            )
        if name in seen:
            raise ActionError(f"{where}: sql_scripts lists {name} twice: list each script once")
        seen.add(name)
        if not SQL_NAME.fullmatch(name):
            raise ActionError(
                f"{where}: sql_scripts names {name!r}: give a plain file name like sql/NAME.sql "
                "(letters, digits, `.`, `_`, `-`)"
            )
        if not os.path.lexists(repo / name):
            raise ActionError(
                f"{where}: sql_scripts names {name}, which does not exist: fix the name "
                "or add the script to sql/"
            )
        try:
            read_text(repo / name, f"{where}: sql_scripts {name}", SQL_MAX_BYTES)
        except FileRefused as exc:
            raise ActionError(str(exc)) from None
    order = [s for s in scripts if s in SEED_SQL]
    if order != list(SEED_SQL):
        raise ActionError(
            f"{where}: sql_scripts must run {' then '.join(SEED_SQL)} (the seed's order), "
            f"not {', '.join(order) or 'none of them'}"
        )


def check_secret_files(inventory: Inventory) -> None:
    """A configured secret file that exists is a small UTF-8 regular file: a FIFO would block the
    run, a folder or a binary file would end in a traceback. Called before the secrets are read
    (runbooklib.actions.secrets), for the procedures and the checks alike."""
    for key in SECRET_FILES:
        named = inventory.vars.get(key)
        if not named:
            continue
        path = Path(os.path.expanduser(str(named)))
        if os.path.lexists(path):
            try:
                read_text(path, f"inventory {inventory.where}: {key} {path}", SECRET_MAX_BYTES)
            except FileRefused as exc:
                raise ActionError(str(exc)) from None


def _known_issue_hosts(inventory: Inventory, path: Path) -> None:
    """A known issue for a host the inventory does not have is a typo that allows nothing."""
    app = [h.name for h in inventory.group("app")]
    for i, issue in enumerate(known_issues.load(path)):
        if issue.hosts not in ("head", "app", *app):
            raise ActionError(
                f"known issues {path} entry {i + 1} ({issue.id}): hosts {issue.hosts} is no app "
                f"node of inventory {inventory.where}: give head, app or one of {', '.join(app)}"
            )
