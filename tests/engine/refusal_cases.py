"""Bad inputs an operator can give, and the one line the runbook answers each with.

    python tests/engine/refusal_cases.py --write    # regenerate docs/refusals.md from the cases

Each case breaks one thing in a copy of this project (the inventory, the known issues, an option,
the environment) and runs `pytest runbook/ -k upgrade` on it for real, in a subprocess, with a fake
`ssh` first on PATH that records every call: every connection (the hosts' shells, which testinfra's
modules use too, and the lock's) runs the `ssh` binary, so a refusal that came after a connection
would show in that record. tests/engine/test_refusals.py runs every case and fails when
docs/refusals.md no longer says what the cases print.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "refusals.md"
# What a copy of the project needs to run the upgrade procedure.
COPIED = ("runbook", "checks", "sql", "pytest.ini", "conftest.py")
FAKE_SSH = '#!/bin/sh\necho "ssh $*" >> "$FAKE_SSH_LOG"\nexit 255\n'


def _vars(d: dict) -> dict:
    return d["all"]["vars"]


def _hosts(d: dict, group: str) -> dict:
    return d["all"]["children"][group]["hosts"]


def _set(**values) -> Callable[[dict], None]:
    return lambda d: _vars(d).update(values)


def _host(group: str, name: str, value) -> Callable[[dict], None]:
    return lambda d: _hosts(d, group).__setitem__(name, value)


@dataclass(frozen=True)
class Case:
    id: str
    # What the operator did, as the doc says it.
    what: str
    # Key words the message must hold (the place and the fix).
    expect: tuple[str, ...]
    # Edit of the parsed lab inventory (written back as YAML), or of its text.
    edit: Callable[[dict], None] | None = None
    text: Callable[[str], str] | None = None
    # Edit of runbook/known-issues.yml's text.
    known: Callable[[str], str] | None = None
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    # The inventory's bytes made from its text (a file that is not UTF-8).
    raw: Callable[[str], bytes] | None = None
    # Files the case puts into the project first (a FIFO, a folder, a script), given its path.
    files: Callable[[Path], None] | None = None


# The known-issues file's expiry, as committed (at most 180 days ahead: review it by then).
EXPIRES = "expires: 2027-05-31"


def _date(text: str) -> str:
    return text.replace(EXPIRES, "expires: 2027-02-30", 1)


# Stands for the project's folder in an edited inventory (a path to a file the case made).
PROJECT = "@PROJECT@"


def _fifo(name: str) -> Callable[[Path], None]:
    return lambda project: os.mkfifo(project / name)


def _folder(name: str) -> Callable[[Path], None]:
    return lambda project: (project / name).mkdir()


def _file(name: str, data: bytes) -> Callable[[Path], None]:
    return lambda project: (project / name).write_bytes(data)


def _sql(name: str) -> Callable[[dict], None]:
    return _set(sql_scripts=["sql/SAK-869.sql", "sql/SAK-878.sql", name])


def _known_line(key: str, value: str | None) -> Callable[[str], str]:
    """The first entry's `key:` line set to `value`, or removed (None)."""

    def edit(text: str) -> str:
        line = next(x for x in text.splitlines(keepends=True) if x.startswith(f"  {key}:"))
        return text.replace(line, "" if value is None else f"  {key}: {value}\n", 1)

    return edit


CASES = [
    # The inventory file.
    Case(
        "no-file",
        "`--inventory` names a file that does not exist",
        ("nope.yml", "not found", "--inventory"),
        args=("--inventory", "nope.yml"),
    ),
    Case(
        "yaml-syntax",
        "a YAML syntax error (an unclosed bracket)",
        ("lab.yml:", "not valid YAML", "fix"),
        text=lambda t: t.replace("sql/SAK-878.sql]", "sql/SAK-878.sql", 1),
    ),
    Case("empty-file", "an empty inventory file", ("lab.yml", "`all:`"), text=lambda t: ""),
    Case(
        "top-list",
        "the file is a list, not a mapping",
        ("lab.yml", "`all:`"),
        text=lambda t: "- all\n",
    ),
    Case(
        "vars-list",
        "`all.vars` given as a list",
        ("all.vars", "mapping"),
        edit=lambda d: d["all"].__setitem__("vars", ["tomcat_home"]),
    ),
    Case(
        "group-list",
        "a group given as a list of hosts",
        ("`app`", "mapping"),
        edit=lambda d: d["all"]["children"].__setitem__("app", ["stubing", "walton"]),
    ),
    Case(
        "hosts-list",
        "a group's `hosts` given as a list",
        ("`app`", "hosts", "mapping"),
        edit=lambda d: d["all"]["children"]["app"].__setitem__("hosts", ["stubing", "walton"]),
    ),
    Case(
        "host-string",
        "a host whose value is its address",
        ("walton", "ansible_host"),
        edit=_host("app", "walton", "198.51.100.12"),
    ),
    Case(
        "no-address",
        "a host without `ansible_host`",
        ("walton", "ansible_host"),
        edit=_host("app", "walton", {}),
    ),
    Case(
        "empty-address",
        "a host with an empty `ansible_host`",
        ("walton", "ansible_host"),
        edit=_host("app", "walton", {"ansible_host": ""}),
    ),
    Case(
        "bad-address",
        "an address that is neither an IP address nor a host name",
        ("walton", "198.51.100.312"),
        edit=_host("app", "walton", {"ansible_host": "198.51.100.312"}),
    ),
    Case(
        "same-address",
        "two hosts with one address",
        ("walton", "stubing", "198.51.100.11"),
        edit=_host("app", "walton", {"ansible_host": "198.51.100.11"}),
    ),
    Case(
        "two-roles",
        "one host in two roles (app and db)",
        ("caje", "`app`", "`db`"),
        edit=lambda d: _hosts(d, "app").__setitem__("caje", {"ansible_host": "198.51.100.21"}),
    ),
    Case(
        "window-malformed",
        "the window's start not in HH:MM form",
        ("window.start", "HH:MM"),
        edit=_set(window={"start": "8am", "end": "12:00"}),
    ),
    Case(
        "window-unquoted",
        "the window's end written 12:00 without quotes (YAML reads 720)",
        ("window.end", "quote"),
        text=lambda t: t.replace('end: "12:00"', "end: 12:00"),
    ),
    Case(
        "window-backwards",
        "the window ends before it starts",
        ("window", "end", "after"),
        edit=_set(window={"start": "08:00", "end": "07:00"}),
    ),
    Case(
        "window-string",
        "the window given as one string",
        ("window", "start", "end"),
        edit=_set(window="08:00-12:00"),
    ),
    # What the upgrade needs from the inventory.
    Case(
        "missing-var",
        "a required variable missing",
        ("release_tag", "all.vars"),
        edit=lambda d: _vars(d).pop("release_tag"),
    ),
    Case("empty-tag", "the release tag left empty", ("release_tag",), edit=_set(release_tag="")),
    Case(
        "tomcat-root",
        "Tomcat's account (`tomcat_user`) is root",
        ("tomcat_user", "root", "unprivileged", "sakai"),
        edit=_set(tomcat_user="root"),
    ),
    Case(
        "serial-zero",
        "a rolling batch of no nodes (`serial: 0`)",
        ("serial", "0", "1 or more"),
        edit=_set(serial=0),
    ),
    Case(
        "port-text",
        "a port that is not a number",
        ("ssh_port", "22a", "number"),
        edit=_set(ssh_port="22a"),
    ),
    Case(
        "port-range",
        "a port out of range",
        ("https_port", "70000", "1 to 65535"),
        edit=_set(https_port=70000),
    ),
    Case(
        "port-collision",
        "two services on one port",
        ("ssh_port", "collides"),
        edit=_set(ssh_port=8443),
    ),
    Case(
        "no-app",
        "no host in `app`",
        ("`app`", "no host"),
        edit=lambda d: d["all"]["children"]["app"].__setitem__("hosts", {}),
    ),
    Case(
        "no-head",
        "no host marked `head: true`",
        ("head: true",),
        edit=lambda d: _hosts(d, "app")["stubing"].pop("head"),
    ),
    Case(
        "two-heads",
        "`head: true` on two hosts",
        ("head: true", "walton"),
        edit=lambda d: _hosts(d, "app")["walton"].__setitem__("head", True),
    ),
    Case(
        "no-db",
        "no host in `db`",
        ("`db`", "no host"),
        edit=lambda d: d["all"]["children"]["db"].__setitem__("hosts", {}),
    ),
    Case(
        "no-public",
        "no vantage host off the allow-lists",
        ("`outsiders`",),
        edit=lambda d: d["all"]["children"]["vantage"]["children"]["outsiders"].__setitem__(
            "hosts", {}
        ),
    ),
    Case(
        "allow-no-address",
        "an allow-list entry without its address",
        ("allow_8443[1]", "address"),
        edit=lambda d: _vars(d)["allow_8443"][1].pop("address"),
    ),
    Case(
        "allow-string",
        "an allow-list given as one string",
        ("allow_9000", "list"),
        edit=_set(allow_9000="198.51.100.1"),
    ),
    Case(
        "allow-bad-address",
        "an allow-list address that is not an address",
        ("allow_8443[2]", "198.51.100.520"),
        edit=lambda d: _vars(d)["allow_8443"][2].update(address="198.51.100.520"),
    ),
    Case(
        "allow-covers-public",
        "an allow-list network that contains the public vantage host",
        ("public", "allow_8443"),
        edit=lambda d: _vars(d)["allow_8443"].append({"address": "198.51.100.0/24", "name": "lab"}),
    ),
    Case(
        "sql-string",
        "sql_scripts given as one string",
        ("sql_scripts", "list"),
        edit=_set(sql_scripts="sql/SAK-869.sql"),
    ),
    Case(
        "sql-missing",
        "an SQL script that does not exist",
        ("sql_scripts", "SAK-999.sql"),
        edit=_set(sql_scripts=["sql/SAK-869.sql", "sql/SAK-878.sql", "sql/SAK-999.sql"]),
    ),
    Case(
        "sql-twice",
        "an SQL script listed twice",
        ("sql_scripts", "SAK-869.sql", "twice"),
        edit=_set(sql_scripts=["sql/SAK-869.sql", "sql/SAK-869.sql", "sql/SAK-878.sql"]),
    ),
    Case(
        "sql-order",
        "the SQL scripts out of the seed's order",
        ("sql_scripts", "SAK-869", "SAK-878"),
        edit=_set(sql_scripts=["sql/SAK-878.sql", "sql/SAK-869.sql"]),
    ),
    Case(
        "sql-traversal",
        "an SQL script outside sql/ (`..`)",
        ("sql_scripts", "sql/"),
        edit=_set(sql_scripts=["sql/SAK-869.sql", "sql/../pytest.ini"]),
    ),
    Case(
        "sql-absolute",
        "an SQL script given as an absolute path",
        ("sql_scripts", "/etc/passwd", "sql/"),
        edit=_set(sql_scripts=["sql/SAK-869.sql", "sql/SAK-878.sql", "/etc/passwd"]),
    ),
    Case(
        "mail-string",
        "the mail settings given as one address",
        ("mail", "smtp_host"),
        edit=_set(mail="joncarlo@smartsite.lab"),
    ),
    Case(
        "step-group",
        "a group a step acts on missing (`mailhost`, for u16)",
        ("mailhost", "u16"),
        edit=lambda d: d["all"]["children"].pop("mailhost"),
    ),
    # The known-issues file.
    Case(
        "known-date",
        "an impossible date in known-issues.yml",
        ("known-issues.yml", "2027-02-30", "YYYY-MM-DD"),
        known=_date,
    ),
    Case(
        "known-expired",
        "an expired known issue",
        ("known-issues.yml", "expired", "renew or delete"),
        known=lambda t: t.replace(EXPIRES, "expires: 2007-08-18", 1),
    ),
    Case(
        "known-syntax",
        "a YAML syntax error in known-issues.yml",
        ("known-issues.yml", "YAML"),
        known=lambda t: t + "- id: [unclosed\n",
    ),
    Case(
        "known-regex",
        "a pattern that does not compile",
        ("known-issues.yml", "pattern"),
        known=lambda t: t.replace(
            "pattern: '^ERROR: Unsuccessful", "pattern: '^(ERROR: Unsuccessful", 1
        ),
    ),
    Case(
        "known-host",
        "a known issue for a host the inventory does not have (a typo)",
        ("known-issues.yml", "stubbing", "head, app"),
        known=lambda t: t.replace("hosts: head", "hosts: stubbing", 1),
    ),
    Case(
        "known-unanchored",
        "a known issue whose pattern is `.` (it would hide every error)",
        ("known-issues.yml", "not anchored", "^...$"),
        known=_known_line("pattern", "'.'"),
    ),
    Case(
        "known-broad",
        "an anchored pattern that allows real errors (`^.*$`)",
        ("known-issues.yml", "real error", "narrow the pattern"),
        known=_known_line("pattern", "'^.*$'"),
    ),
    Case(
        "known-no-sample",
        "a known issue without a sample line",
        ("known-issues.yml", "needs exactly", "sample"),
        known=_known_line("sample", None),
    ),
    Case(
        "known-sample-mismatch",
        "a known issue whose sample its pattern does not match",
        ("known-issues.yml", "does not match its own sample"),
        known=_known_line("sample", "'ERROR: Unsuccessful: alter table SAKAI_SITE drop column X'"),
    ),
    Case(
        "known-no-expiry",
        "a known issue without an expiry",
        ("known-issues.yml", "needs exactly", "expires"),
        known=_known_line("expires", None),
    ),
    Case(
        "known-far",
        "a known issue expiring years ahead",
        ("known-issues.yml", "more than 180 days ahead", "review it by"),
        known=_known_line("expires", "2031-01-01"),
    ),
    Case(
        "known-fifo",
        "the known-issues file replaced by a FIFO",
        ("known-issues.yml", "not a regular file"),
        files=lambda project: (
            (project / "runbook" / "known-issues.yml").unlink(),
            os.mkfifo(project / "runbook" / "known-issues.yml"),
        ),
    ),
    # Hostile values: each would reach a root shell, an ssh option or SQL if it were accepted.
    Case(
        "host-injection",
        "a host named `stubing;touch /tmp/x`",
        ('all.children.app.hosts["stubing;touch /tmp/x"]', "host name"),
        edit=_host("app", "stubing;touch /tmp/x", {"ansible_host": "198.51.100.13"}),
    ),
    Case(
        "host-traversal",
        "a host named `../../../etc` (the firewall's state folder is named after the host)",
        ('hosts["../../../etc"]', "host name"),
        edit=_host("app", "../../../etc", {"ansible_host": "198.51.100.13"}),
    ),
    Case(
        "host-option",
        "a host named like an ssh option (`-oProxyCommand=id`)",
        ('hosts["-oProxyCommand=id"]', "host name"),
        edit=_host("app", "-oProxyCommand=id", {"ansible_host": "198.51.100.13"}),
    ),
    Case(
        "host-newline",
        "a host name with a newline in it",
        ('hosts["walton\\nx"]', "host name"),
        edit=_host("app", "walton\nx", {"ansible_host": "198.51.100.13"}),
    ),
    Case(
        "group-injection",
        "a group named `app;id`",
        ('all.children["app;id"]', "group name"),
        edit=lambda d: d["all"]["children"].__setitem__("app;id", {"hosts": {}}),
    ),
    Case(
        "group-space",
        "a group name with a space (`web nodes`)",
        ('all.children["web nodes"]', "group name"),
        edit=lambda d: d["all"]["children"].__setitem__("web nodes", {"hosts": {}}),
    ),
    Case(
        "var-name",
        "a variable whose name is not a name (`tomcat-home`)",
        ("all.vars.tomcat-home", "variable name"),
        edit=_set(**{"tomcat-home": "/usr/share/tomcat10"}),
    ),
    Case(
        "user-option",
        "`ansible_user` that ssh would read as an option (`-oProxyCommand=...`)",
        ("all.vars.ansible_user", "user name"),
        edit=_set(ansible_user="-oProxyCommand=touch /tmp/x"),
    ),
    Case(
        "user-injection",
        "a host's own `ansible_user` holding `;`",
        ("all.children.app.hosts.walton.ansible_user", "user name"),
        edit=_host("app", "walton", {"ansible_host": "198.51.100.12", "ansible_user": "root;id"}),
    ),
    Case(
        "address-option",
        "an `ansible_host` that ssh would read as an option",
        ("walton", "-oProxyCommand=id", "neither an IP address nor a host name"),
        edit=_host("app", "walton", {"ansible_host": "-oProxyCommand=id"}),
    ),
    Case(
        "address-injection",
        "an `ansible_host` holding a command (`198.51.100.12;id`)",
        ("walton", "198.51.100.12;id", "neither an IP address nor a host name"),
        edit=_host("app", "walton", {"ansible_host": "198.51.100.12;id"}),
    ),
    Case(
        "path-traversal",
        "a path variable with `..` (`tomcat_base: /ucd/opt/../../etc`)",
        ("all.vars.tomcat_base", "normalised", "absolute path"),
        edit=_set(tomcat_base="/ucd/opt/../../etc"),
    ),
    Case(
        "path-quote",
        "`db_backup_dir` breaking out of quotes (`...sakai'; touch /tmp/y; '`)",
        ("all.vars.db_backup_dir", "not a plain path"),
        edit=_set(db_backup_dir="/var/backups/sakai'; touch /tmp/y; '"),
    ),
    Case(
        "path-newline",
        "a path with a newline and a command after it",
        ("all.vars.catalina_out", "not a plain path"),
        edit=_set(catalina_out="/ucd/opt/sakai/tomcat/logs/catalina.out\ntouch /tmp/y"),
    ),
    Case(
        "path-relative",
        "a relative path (`releases_dir: ucd/opt/sakai/releases`)",
        ("all.vars.releases_dir", "not an absolute path"),
        edit=_set(releases_dir="ucd/opt/sakai/releases"),
    ),
    Case(
        "path-space",
        "a path with a space (two paths to a shell)",
        ("all.vars.src_dir", "not a plain path"),
        edit=_set(src_dir="/ucd/opt/sakai/src /etc"),
    ),
    Case(
        "key-traversal",
        "an ssh key path with `..`",
        ("all.vars.ansible_ssh_private_key_file", "normalised"),
        edit=_set(ansible_ssh_private_key_file="/var/lib/smartsite-lab/../../../root/.ssh/id"),
    ),
    Case(
        "tag-injection",
        "a `release_tag` holding a command (`x; touch /tmp/x`)",
        ("all.vars.release_tag", "not a tag"),
        edit=_set(release_tag="x; touch /tmp/x"),
    ),
    Case(
        "tag-option",
        "a `fallback_tag` that svn would read as an option (`-rHEAD`)",
        ("all.vars.fallback_tag", "not a tag"),
        edit=_set(fallback_tag="-rHEAD"),
    ),
    Case(
        "version-injection",
        "a `release_version` holding `$(id)`",
        ("all.vars.release_version", "not a version"),
        edit=_set(release_version="2.4.1$(id)"),
    ),
    Case(
        "snapshot-space",
        "a `fallback_snapshot` with a space",
        ("all.vars.fallback_snapshot", "not a tag"),
        edit=_set(fallback_snapshot="sakai-core 2-4-x"),
    ),
    Case(
        "db-name-injection",
        "a `db_name` holding SQL (`sakai; DROP DATABASE sakai`)",
        ("all.vars.db_name", "not a plain database name"),
        edit=_set(db_name="sakai; DROP DATABASE sakai"),
    ),
    Case(
        "db-name-backquote",
        "a `db_name` with a backquote (ends a quoted identifier)",
        ("all.vars.db_name", "not a plain database name"),
        edit=_set(db_name="sakai`"),
    ),
    Case(
        "volatile-table",
        "a `db_volatile_tables` entry holding SQL",
        ("all.vars.db_volatile_tables", "SAKAI_CLUSTER`; DROP TABLE x", "plain database name"),
        edit=_set(db_volatile_tables=["SAKAI_CLUSTER`; DROP TABLE x"]),
    ),
    Case(
        "svn-url",
        "an `svn_url` holding `;id`",
        ("all.vars.svn_url", "not a plain URL"),
        edit=_set(svn_url="https://mware.ucdavis.edu/svn/tags;id"),
    ),
    Case(
        "password-env",
        "a `db_password_env` that is not a variable name",
        ("all.vars.db_password_env", "environment variable name"),
        edit=_set(db_password_env="X;id"),
    ),
    Case(
        "chat-nick-newline",
        "an IRC nick holding a newline and an IRC command",
        ("all.vars.chat", "nick", "one plain word"),
        edit=lambda d: _vars(d)["chat"].update(nick="runbook\r\nQUIT :bye"),
    ),
    # Templating: Ansible would evaluate these, the runbook would take them as text.
    Case(
        "template-pipe",
        "`release_tag: \"{{ lookup('pipe', 'touch /tmp/x') }}\"`",
        ("all.vars.release_tag", "Jinja2", "write the value out"),
        edit=_set(release_tag="{{ lookup('pipe', 'touch /tmp/x') }}"),
    ),
    Case(
        "template-block",
        "a `{% ... %}` block in a host's variable",
        ("all.children.app.hosts.walton.note", "Jinja2"),
        edit=_host(
            "app", "walton", {"ansible_host": "198.51.100.12", "note": "{% if 1 %}x{% endif %}"}
        ),
    ),
    Case(
        "template-deep",
        "a `{# ... #}` deep inside an allow-list entry",
        ("all.vars.allow_8443[0].name", "Jinja2"),
        edit=lambda d: _vars(d)["allow_8443"][0].update(name="operator{# hidden #}"),
    ),
    Case(
        "template-key",
        "a variable's name holding `{{`",
        ('all.vars["{{ x }}"]', "Jinja2"),
        edit=_set(**{"{{ x }}": "y"}),
    ),
    # The inventory file itself.
    Case(
        "file-name",
        "an inventory whose file name holds a `;`",
        ("file name", "rename it"),
        args=("--inventory", "lab;id.yml"),
        files=lambda project: shutil.copy(project / "lab.yml", project / "lab;id.yml"),
    ),
    Case(
        "not-utf8",
        "an inventory that is not UTF-8 (Latin-1 bytes)",
        ("lab.yml", "not UTF-8", "save it as UTF-8"),
        raw=lambda t: t.replace("runbook@smartsite.lab", "runbook@smartsit\u00e9.lab").encode(
            "latin-1"
        ),
    ),
    Case(
        "inventory-folder",
        "`--inventory` naming a folder",
        ("inventories", "a folder", "name the file"),
        args=("--inventory", "inventories"),
        files=_folder("inventories"),
    ),
    Case(
        "inventory-fifo",
        "`--inventory` naming a FIFO (the run must not wait on it)",
        ("lab.fifo", "not a regular file"),
        args=("--inventory", "lab.fifo"),
        files=_fifo("lab.fifo"),
    ),
    Case(
        "inventory-big",
        "an inventory of more than a megabyte",
        ("lab.yml", "larger than 1048576 bytes"),
        text=lambda t: t + "#" * (1 << 20) + "\n",
    ),
    Case(
        "alias-bomb",
        "a YAML alias bomb (billion laughs)",
        ("lab.yml:", "alias", "write the value out"),
        text=lambda t: t.replace(
            "  vars:\n",
            "  vars:\n    a: &a [x, x, x, x, x, x, x, x, x]\n    b: &b [*a, *a, *a, *a, *a, *a]\n",
            1,
        ),
    ),
    Case(
        "deep-nesting",
        "a YAML value nested a hundred thousand deep",
        ("lab.yml", "nested too deep"),
        text=lambda t: t + "deep: " + "[" * 100000 + "]" * 100000 + "\n",
    ),
    # Secret files and SQL scripts.
    Case(
        "secret-fifo",
        "`db_password_file` naming a FIFO",
        ("db_password_file", "secret.fifo", "not a regular file"),
        edit=_set(db_password_file=f"{PROJECT}/secret.fifo"),
        files=_fifo("secret.fifo"),
    ),
    Case(
        "secret-folder",
        "`jmx_password_file` naming a folder",
        ("jmx_password_file", "secrets", "a folder"),
        edit=_set(jmx_password_file=f"{PROJECT}/secrets"),
        files=_folder("secrets"),
    ),
    Case(
        "secret-binary",
        "`db_password_file` that is not UTF-8 text",
        ("db_password_file", "db_password", "not UTF-8"),
        edit=_set(db_password_file=f"{PROJECT}/db_password"),
        files=_file("db_password", b"\xff\xfe secret \x80\n"),
    ),
    Case(
        "sql-not-utf8",
        "an SQL script that is not UTF-8",
        ("sql_scripts", "SAK-900.sql", "not UTF-8"),
        edit=_sql("sql/SAK-900.sql"),
        files=_file("sql/SAK-900.sql", b"UPDATE x SET y = '\xe9';\n"),
    ),
    Case(
        "sql-big",
        "an SQL script of more than 4 MB",
        ("sql_scripts", "SAK-900.sql", "larger than"),
        edit=_sql("sql/SAK-900.sql"),
        files=_file("sql/SAK-900.sql", b"-- x\n" * (1 << 20) + b"\n"),
    ),
    Case(
        "sql-folder",
        "an SQL script that is a folder",
        ("sql_scripts", "SAK-900.sql", "a folder"),
        edit=_sql("sql/SAK-900.sql"),
        files=_folder("sql/SAK-900.sql"),
    ),
    Case(
        "sql-name",
        "an SQL script name holding a quote and `;`",
        ("sql_scripts", "plain file name"),
        edit=_sql("sql/x');DROP TABLE y;--.sql"),
    ),
    # Options and the environment.
    Case(
        "operator-forged-line",
        "an operator name holding a newline and an ANSI escape (a forged verdict line)",
        ("--operator", "control character", "one line"),
        args=("--operator", "evil\n\x1b[32mGO (after): all checks passed"),
    ),
    Case(
        "operator-long",
        "an operator name of 200 characters",
        ("--operator", "200 characters", "at most 64"),
        args=("--operator", "x" * 200),
    ),
    Case(
        "todo-escape",
        "a `--todo` note holding an escape that clears the screen",
        ("--todo", "control character"),
        args=("--operator", "jon", "--todo", "check the mail\x1b[2J"),
    ),
    Case(
        "approve-action",
        "`--approve` naming a step that is not manual",
        ("--approve", "u05", "u15"),
        args=("--operator", "jon", "--approve", "u05"),
    ),
    Case(
        "approve-unknown",
        "`--approve` naming no step",
        ("--approve", "u99", "u15"),
        args=("--operator", "jon", "--approve", "u99"),
    ),
    Case(
        "approve-no-operator",
        "`--approve` without `--operator`",
        ("--operator",),
        args=("--approve", "u15"),
    ),
    Case(
        "operator-blank", "a blank operator name", ("--operator", "name"), args=("--operator", "  ")
    ),
    Case(
        "window-start",
        "a bad `--window-start`",
        ("--window-start", "25:00", "HH:MM"),
        args=("--window-start", "25:00"),
    ),
    Case(
        "reports-unwritable",
        "`--reports` where nothing can be written",
        ("--reports", "lab.yml", "writable"),
        args=("--reports", "lab.yml/reports"),
    ),
    Case(
        "lab-subnet",
        "a bad LAB_SUBNET",
        ("LAB_SUBNET", "198.51.100.0/33"),
        env={"LAB_SUBNET": "198.51.100.0/33"},
    ),
    # Issue 17 (engineer "lock"): a production inventory must pin its hosts' keys.
    Case(
        "production-unpinned",
        "a production inventory that names no known hosts file",
        ("production", "not pinned", "stubing", "-o UserKnownHostsFile=PATH"),
        edit=_set(production=True),
        args=("--confirm-target", "lab"),
    ),
    Case(
        "production-known-hosts-missing",
        "a production inventory whose known hosts file does not exist",
        ("production", "not pinned", "/nonexistent/known_hosts", "does not exist"),
        edit=_set(
            production=True,
            ansible_ssh_common_args="-F /var/lib/smartsite-lab/ssh/config "
            "-o UserKnownHostsFile=/nonexistent/known_hosts",
        ),
        args=("--confirm-target", "lab"),
    ),
]


@dataclass
class Outcome:
    rc: int
    stdout: str
    stderr: str
    # Every ssh command line the run started (the fake ssh's record).
    ssh: list[str]

    @property
    def errors(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


def make_project(path: Path) -> Path:
    """A copy of the project's procedures, with the lab inventory and a fake ssh."""
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, path / name)
    shutil.copy(ROOT / "inventories" / "lab.yml", path / "lab.yml")
    (path / "bin").mkdir()
    (path / "bin" / "ssh").write_text(FAKE_SSH)
    (path / "bin" / "ssh").chmod(0o755)
    return path


def prepare(case: Case, project: Path) -> tuple[list[str], dict[str, str | None]]:
    """Break what the case breaks in `project`; the pytest arguments and the environment (None:
    unset) to run it with."""
    inventory = project / "lab.yml"
    original = (ROOT / "inventories" / "lab.yml").read_text()
    if case.edit:
        data = yaml.safe_load(original)
        case.edit(data)
        text = yaml.safe_dump(data, sort_keys=False).replace(PROJECT, str(project))
        inventory.write_text(text)
    elif case.raw:
        inventory.write_bytes(case.raw(original))
    else:
        inventory.write_text(case.text(original) if case.text else original)
    known = (ROOT / "runbook" / "known-issues.yml").read_text()
    (project / "runbook" / "known-issues.yml").write_text(
        case.known(known) if case.known else known
    )
    if case.files:
        case.files(project)
    (project / "ssh.log").unlink(missing_ok=True)
    env: dict[str, str | None] = {"LAB_SUBNET": None, "PYTEST_ADDOPTS": None, **case.env}
    env["FAKE_SSH_LOG"] = str(project / "ssh.log")
    env["PATH"] = f"{project / 'bin'}{os.pathsep}{os.environ['PATH']}"
    chosen = case.args if "--inventory" in case.args else ("--inventory", "lab.yml", *case.args)
    args = ["runbook", "-k", "upgrade", "-p", "no:cacheprovider", "--reports", "reports"]
    return [*args, *chosen], env


def ssh_calls(project: Path) -> list[str]:
    """The ssh command lines the run started (the fake ssh's record)."""
    log = project / "ssh.log"
    return log.read_text().splitlines() if log.exists() else []


def shown(text: str, project: Path) -> str:
    """Paths as the operator in the project's folder would see them."""
    return text.replace(str(project) + os.sep, "")


def run(case: Case, project: Path) -> Outcome:
    """The case, run in a subprocess of pytest in `project`."""
    args, changes = prepare(case, project)
    env = {k: v for k, v in {**os.environ, **changes}.items() if v is not None}
    out = subprocess.run(
        [sys.executable, "-m", "pytest", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return Outcome(out.returncode, out.stdout, shown(out.stderr, project), ssh_calls(project))


HEADER = """\
# What is refused, and why

Generated by `python tests/engine/refusal_cases.py --write` from the cases that
`tests/engine/test_refusals.py` runs (and that fails when this page no longer says what they
print). Each case is a copy of this project with one thing broken, run as
`pytest runbook/ -k upgrade --inventory lab.yml`. Each is refused before any host is contacted
(the test puts a fake `ssh` first on PATH and proves it was never started), with exit status 4
(pytest's usage error) and exactly this one line on stderr, no traceback, and leaves no journal
or record. The hostile cases (host, group and user names, addresses, paths, tags, templates,
control characters, files that are no small UTF-8 file) would each reach a root shell, an ssh
option or SQL if they were accepted.

Why refuse rather than start: a run on bad input stops halfway through the window (the site
closed, the database half upgraded) or acts on the wrong host; a line that names the file, the
place and the fix costs the operator a minute before the window opens.

| case | the operator gave | the runbook says |
| --- | --- | --- |
"""


def row(case: Case, message: str) -> str:
    escaped = message.replace("|", "\\|")  # a | would end the table's cell
    # A double-backtick code span, since the messages themselves quote with backticks.
    return f"| {case.id} | {case.what} | `` {escaped} `` |"


def table(messages: dict[str, str]) -> str:
    """docs/refusals.md: every case and the exact line it gets."""
    return HEADER + "".join(row(case, messages[case.id]) + "\n" for case in CASES)


def message(line: str) -> str:
    """The message of pytest's usage error line; a date counted from today said as such, so
    that the page holds whatever day it is checked."""
    text = line.removeprefix("ERROR: ")
    return re.sub(r"review it by \d{4}-\d\d-\d\d", "review it by <today + 180 days>", text)


def main(argv: list[str]) -> int:
    import tempfile

    messages = {}
    for case in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            outcome = run(case, make_project(Path(tmp)))
        line = outcome.errors[0] if outcome.errors else f"(accepted, exit {outcome.rc})"
        messages[case.id] = message(line)
        print(f"{case.id}: exit {outcome.rc}, {len(outcome.ssh)} ssh, {line}")
    if "--write" in argv:
        DOC.parent.mkdir(exist_ok=True)
        DOC.write_text(table(messages))
        print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
