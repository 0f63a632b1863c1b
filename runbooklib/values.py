"""The shapes a value may have where it enters: inventory names and variables, operator text.

    >>> check_inventory({"all": {"vars": {"release_tag": "x; touch /tmp/x"}}})
    ValueError: all.vars.release_tag 'x; touch /tmp/x' is not a tag: give letters, digits, ...

Pure rules, no I/O: runbooklib.inventory calls `check_inventory` on the parsed file before it
reads anything else out of it, runbooklib.engine checks the operator's words with `text`. A value
that passes still reaches a shell only through shlex.quote (the actions' own line); these rules
are the first line, and say what the fix is.
"""

from __future__ import annotations

import ipaddress
import json
import keyword
import os
import re
from collections.abc import Callable

# Jinja2's delimiters: Ansible templates any inventory value holding them, the runbook does not;
# so a value holding them would mean two things, and is refused (write the value out).
TEMPLATE_MARKS = ("{{", "{%", "{#")
# Operator names and notes: enough for a full name, short enough for a console line.
TEXT_LIMIT = 64
TODO_LIMIT = 200

# A host name as Ansible's inventory takes it and DNS-ish: letters, digits, `-`, `_`, `.`;
# first a letter, digit or `_` (so never an option like `-oProxyCommand`).
_HOST = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,252}")
# POSIX's portable user name (useradd's default rule), never starting with `-`.
_USER = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_VERSION = re.compile(r"[0-9]+(\.[0-9]+){0,3}")
# A database, table or column name MariaDB takes unquoted, kept to ASCII and 64 characters.
_SQL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_URL = re.compile(r"(https?|svn|svn\+ssh)://[A-Za-z0-9._~:/@%+-]+")
# Path characters: no quote, space, `$`, `;`, `*` or control character anywhere.
_PATH = re.compile(r"[A-Za-z0-9._/+@%,=~-]+")


def identifier(value: object) -> bool:
    """Ansible's rule for group and variable names (ansible.utils.vars.isidentifier)."""
    return (
        isinstance(value, str)
        and value.isascii()
        and value.isidentifier()
        and not keyword.iskeyword(value)
    )


def _pattern(regex: re.Pattern, what: str) -> Callable[[object], str | None]:
    def rule(value: object) -> str | None:
        if isinstance(value, str) and regex.fullmatch(value):
            return None
        return what

    return rule


def _ipv6_address(value: object) -> str | None:
    """A host's IPv6 address (`ansible_host6`): it reaches the scans' command lines."""
    try:
        ipaddress.IPv6Address(str(value))
    except ValueError:
        return "is not an IPv6 address: give one like 2001:db8::11 (no brackets, no prefix)"
    return None


def path(value: object, home: bool = False) -> str | None:
    """None for an absolute, normalised path; else why not and the fix."""
    fix = "give an absolute path without `..`, quotes, spaces or control characters"
    if not isinstance(value, str) or not _PATH.fullmatch(value):
        return f"is not a plain path: {fix}"
    # `~/` (a file on the operator's machine) is expanded by expanduser, never by a shell.
    text = value[1:] if home and value.startswith("~/") else value
    if not text.startswith("/") or "~" in text:
        return f"is not an absolute path: {fix}"
    stripped = text.rstrip("/") or "/"
    if os.path.normpath(stripped) != stripped or "//" in text:
        return f"is not normalised (`..`, `.` or `//`): {fix}"
    return None


def _home_path(value: object) -> str | None:
    """A file on the operator's machine: `~/` is the operator's home (expanduser)."""
    return path(value, home=True)


def _names(rule: Callable[[object], str | None]) -> Callable[[object], str | None]:
    def each(value: object) -> str | None:
        if not isinstance(value, list):
            return "is not a list: give a list like [NAME, NAME]"
        return next((f"has {shown(v)}, which {why}" for v in value if (why := rule(v))), None)

    return each


# A word of a notification setting (an address, a channel, a nick): it reaches an SMTP or IRC
# line, where a newline or a space would start another command.
_WORD = re.compile(r"[A-Za-z0-9_.@#+-]{1,128}")


def _words(value: object) -> str | None:
    """Each text of a notification mapping (mail, chat) is one plain word."""
    if not isinstance(value, dict):
        return None  # runbooklib.actions.inputs names the missing mapping
    for key, field in value.items():
        for word in field if isinstance(field, list) else [field]:
            if isinstance(word, str) and not _WORD.fullmatch(word):
                return (
                    f"has {key} {shown(word)}, not one plain word: give letters, digits and "
                    "`_ . @ # + -` only"
                )
    return None


def _service_account(value: object) -> str | None:
    """Tomcat's user: a POSIX user name, and never root (issue 18: a JVM reached over the network
    must not run as root)."""
    if not isinstance(value, str) or not _USER.fullmatch(value):
        return "is not a user name: give lowercase letters, digits, `_` or `-`, not first `-`"
    if value == "root":
        return "is root: Tomcat must run as an unprivileged account: give it, e.g. sakai"
    return None


def _whole(value: object) -> str | None:
    """A count (`forks`, a seed): a whole number, 1 or more; `yes` is no number here."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return "is not a whole number, 1 or more: give one like 10"
    return None


_sql_name = _pattern(
    _SQL_NAME, "is not a plain database name: give letters, digits and `_` (64 at most)"
)

# Ansible's default `forks`: how many hosts a read-only fan-out talks to at once when neither
# the inventory nor `--forks` says.
FORKS = 10

# The variables that reach a command, and the shape each must have wherever it is set.
RULES: dict[str, Callable[[object], str | None]] = {
    **dict.fromkeys(
        (
            "tomcat_home", "tomcat_base", "sakai_home", "catalina_out", "src_dir",
            "releases_dir", "staging_config", "config_backup", "db_backup_dir", "jmx_probe",
            "ca_bundle", "ansible_ssh_private_key_file", "ansible_python_interpreter",
        ),
        path,
    ),
    "db_password_file": _home_path,
    "ansible_host6": _ipv6_address,
    "jmx_password_file": _home_path,
    "ansible_user": _pattern(
        _USER, "is not a user name: give lowercase letters, digits, `_` or `-`, not first `-`"
    ),
    "tomcat_user": _service_account,
    **dict.fromkeys(
        ("release_tag", "fallback_tag", "fallback_snapshot"),
        _pattern(_TAG, "is not a tag: give letters, digits, `.`, `_` or `-` (not first)"),
    ),
    **dict.fromkeys(
        ("release_version", "fallback_version"),
        _pattern(_VERSION, 'is not a version: give numbers and dots, quoted, like "2.4.1"'),
    ),
    "db_name": _sql_name,
    "db_volatile_tables": _names(_sql_name),
    "db_password_env": _pattern(
        _ENV_NAME, "is not an environment variable name: give letters, digits and `_`"
    ),
    # Ansible's connection plugin by name (`ssh`, `local`): the runbook compares it as text.
    "ansible_connection": _pattern(
        re.compile(r"[a-z][a-z0-9_.]{0,63}"), "is not a connection plugin's name: give ssh or local"
    ),
    "mail": _words,
    "chat": _words,
    # How many hosts a read-only fan-out talks to at once (Ansible's `forks`), and the surface's
    # sample (issue 20): `--forks` and `--sample-seed` set them for one run.
    "forks": _whole,
    "surface_seed": _whole,
    "surface_full_scan": lambda value: None if isinstance(value, bool) else "is not true or false",
    "svn_url": _pattern(
        _URL, "is not a plain URL: give http(s):// or svn:// and a path without quotes or spaces"
    ),
}  # fmt: skip


def shown(value: object, limit: int = 60) -> str:
    """A value as a message may show it: escaped (no newline or ESC reaches the console), short."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def place(parent: str, key: object) -> str:
    """`all.vars.release_tag`, or `all.children.app.hosts["stubing;x"]` for an odd key."""
    if isinstance(key, str) and re.fullmatch(r"[A-Za-z0-9_-]+", key):
        return f"{parent}.{key}"
    return f"{parent}[{json.dumps(key if isinstance(key, str) else str(key))}]"


def check_inventory(data: dict) -> None:
    """ValueError naming the place and the fix for the first value of the wrong shape."""
    _no_templates(data, "")
    _group(data["all"], "all")


def _no_templates(tree: object, where: str) -> None:
    if isinstance(tree, dict):
        for key, value in tree.items():
            here = place(where, key).lstrip(".")
            _no_templates(key, here)
            _no_templates(value, here)
    elif isinstance(tree, list):
        for i, value in enumerate(tree):
            _no_templates(value, f"{where}[{i}]")
    elif isinstance(tree, str) and any(mark in tree for mark in TEMPLATE_MARKS):
        raise ValueError(
            f"{where} {shown(tree)} holds a Jinja2 template mark ({', '.join(TEMPLATE_MARKS)}), "
            "which Ansible would evaluate and the runbook would not: write the value out"
        )


def _group(body: object, where: str) -> None:
    if not isinstance(body, dict):
        return  # the inventory's loader names the wrong structure
    _vars(body.get("vars"), f"{where}.vars")
    hosts = body.get("hosts")
    if isinstance(hosts, dict):
        for name, own in hosts.items():
            here = place(f"{where}.hosts", name)
            if not isinstance(name, str) or not _HOST.fullmatch(name) or ".." in name:
                raise ValueError(
                    f"{here} is not a host name: give letters, digits, `-`, `_` and `.`, "
                    "starting with a letter or digit"
                )
            _vars(own, here)
    children = body.get("children")
    if isinstance(children, dict):
        for name, child in children.items():
            here = place(f"{where}.children", name)
            if not identifier(name):
                raise ValueError(
                    f"{here} is not a group name (Ansible's rule): give letters, digits and `_`, "
                    "starting with a letter or `_`"
                )
            _group(child, here)


def _vars(mapping: object, where: str) -> None:
    if not isinstance(mapping, dict):
        return
    for key, value in mapping.items():
        here = place(where, key)
        if not identifier(key):
            raise ValueError(
                f"{here} is not a variable name (Ansible's rule): give letters, digits and `_`"
            )
        rule = RULES.get(key)
        why = rule(value) if rule else None
        if why:
            # A mapping or list names its own wrong part: the whole would only hide it.
            whole = "" if isinstance(value, (dict, list)) else f" {shown(value)}"
            raise ValueError(f"{here}{whole} {why}")


def text(value: str, what: str, limit: int = TEXT_LIMIT) -> str | None:
    """None for printable text of at most `limit` characters; else the one line naming the fix."""
    if len(value) > limit:
        return f"{what} is {len(value)} characters long: give at most {limit}"
    if not value.isprintable():
        return (
            f"{what} {shown(value)} holds a control character (a newline, an escape): "
            "give printable text on one line"
        )
    return None
