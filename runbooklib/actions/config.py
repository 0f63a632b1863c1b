"""Sakai's configuration: the AFS staging area, its backup, the nodes' copies, properties keys.

    >>> backup_staging(head)             # staging/* -> config-2-4-0.bak/ + MANIFEST.sha256
    >>> sync_from_staging(node)          # sakai.properties, local.properties, setenv.sh
    >>> set_properties(node, {"auto.ddl": "true"})
    >>> restore_staging(head)            # byte-identical to the backup

Every change records in the journal its diff and the file's new content, with password values
masked (on the host as it is read, and again here).
"""

from __future__ import annotations

import difflib
import io
import posixpath
import re

import javaproperties

from runbooklib.actions import tomcat
from runbooklib.actions.common import (
    ActionError,
    Outcome,
    closed_folder,
    file_sha256,
    path_part,
    q,
    replace_file,
    run_in,
)
from runbooklib.remote import Host
from runbooklib.transcript import REDACTED, transcript, verification

MANIFEST = "MANIFEST.sha256"
SECRET_KEY = re.compile(r"password|passwd|secret", re.IGNORECASE)


def readable_by_tomcat(host: Host, path: str) -> str:
    """Shell: `path` (a file of sakai home, root's) readable by Tomcat's user through its group
    and by nobody else (0640): the staging copy is root's 0600, and Tomcat does not run as root."""
    _, gid = tomcat.account(host)
    return f"chown -h root:{gid} -- {q(path)} && chmod 0640 -- {q(path)}"


def targets(vars: dict) -> dict[str, str]:
    """Staging file name -> where it belongs on an app node."""
    home = vars["sakai_home"].rstrip("/")
    return {
        "sakai.properties": f"{home}/sakai.properties",
        "local.properties": f"{home}/local.properties",
        "setenv.sh": f"{vars['tomcat_base']}/bin/setenv.sh",
    }


def mask(text: str) -> str:
    """The text of a config file with every password value replaced (diffs, reports), line for
    line: the value of a key naming a password (`key=v`, `key: v`, `key v`, and its continuation
    lines), `password=v` inside a line (a JDBC URL's query, -D options), `user:v@` in a URL.

    The operator's side of the masking that `read` does on the host (MASK_AWK, same rules):
    properties are parsed with javaproperties, so continuation lines are Java's."""
    out = []
    for token in javaproperties.parse(text):
        lines = token.source.splitlines(keepends=True)
        if isinstance(token, javaproperties.KeyValue) and SECRET_KEY.search(token.key):
            head = KEY_HEAD.match(lines[0])
            if head and token.value:
                lines = [head.group() + _masked_line(lines[0], len(lines) > 1)] + [
                    re.match(r"[ \t\f]*", line).group() + _masked_line(line, i < len(lines) - 1)
                    for i, line in enumerate(lines[1:], start=1)
                ]
        out += [_mask_inline(line) for line in lines]
    return "".join(out)


# The key of a properties line (backslash escapes allowed) and its separator.
KEY_HEAD = re.compile(r"[ \t\f]*(?:\\.|[^=:\s\\])+(?:[ \t\f]*[=:][ \t\f]*|[ \t\f]+)")
# `password=value` anywhere in a line, and the password of a URL's `user:password@`.
INLINE_KEY = re.compile(r"((?:password|passwd|secret)[^=&;\s\"'/]*=)[^&;\s\"']+", re.IGNORECASE)
URL_USERINFO = re.compile(r"(://[^/:@\s]*:)[^@/\s]+@")


def _masked_line(line: str, continued: bool) -> str:
    ending = line[len(line.rstrip("\r\n")) :]
    return REDACTED + ("\\" if continued else "") + ending


def _mask_inline(line: str) -> str:
    line = INLINE_KEY.sub(lambda m: m.group(1) + REDACTED, line)
    return URL_USERINFO.sub(lambda m: m.group(1) + REDACTED + "@", line)


# The same rules as `mask`, run by awk on the host (POSIX awk: tolower, match, substr), so that a
# password never leaves the host: a key naming a password gets its value and its continuation
# lines (a value ending in an odd number of backslashes goes on) masked; then `password=v` and
# `user:v@` anywhere in a line. One line out for each line in: set_properties edits by line number.
MASK_AWK = r"""
function odd(s,   n) { n = 0; while (substr(s, length(s) - n, 1) == "\\") n++; return n % 2 }
BEGIN {
  KEY = "^[ \t\f]*[^#! \t\f=:]*(password|passwd|secret)[^ \t\f=:]*"
  KEY = KEY "([ \t\f]*[=:][ \t\f]*|[ \t\f]+)"
}
cont {
  cont = odd($0); match($0, /^[ \t\f]*/)
  print substr($0, 1, RLENGTH) M (cont ? "\\" : ""); next
}
{
  line = $0
  if (match(tolower(line), KEY) && RLENGTH < length(line)) {
    cont = odd(line); print substr(line, 1, RLENGTH) M (cont ? "\\" : ""); next
  }
  out = ""
  while (match(tolower(line), /(password|passwd|secret)[^=&; \t\f"'\/]*=[^&; \t\f"']+/)) {
    m = substr(line, RSTART, RLENGTH)
    out = out substr(line, 1, RSTART - 1) substr(m, 1, index(m, "=")) M
    line = substr(line, RSTART + RLENGTH)
  }
  line = out line; out = ""
  while (match(line, /:\/\/[^\/:@ \t\f]*:[^@\/ \t\f]+@/)) {
    m = substr(line, RSTART, RLENGTH)
    out = out substr(line, 1, RSTART - 1) substr(m, 1, index(substr(m, 4), ":") + 3) M "@"
    line = substr(line, RSTART + RLENGTH)
  }
  print out line
}
"""


def diff(before: str, after: str, name: str) -> str:
    return "".join(
        difflib.unified_diff(
            mask(before).splitlines(keepends=True),
            mask(after).splitlines(keepends=True),
            f"{name} (before)",
            f"{name} (after)",
        )
    )


def edit_properties(text: str, changes: dict[str, str | None]) -> str:
    """`text` with keys set (or removed when None), every other line kept as it was."""
    lines = text.splitlines(keepends=True)
    replace, append = line_edits(text, changes)
    out = []
    for number, line in enumerate(lines, start=1):
        for (first, last), new in replace.items():
            if first <= number <= last:
                if number == first and new is not None:
                    out.append(new + "\n")
                break
        else:
            out.append(line)
    if append and out and not out[-1].endswith("\n"):
        out[-1] += "\n"
    return "".join(out) + "".join(line + "\n" for line in append)


def line_edits(text: str, changes: dict[str, str | None]):
    """Which physical lines (first, last) to replace by which line (None: drop), what to append."""
    replace, seen, number = {}, set(), 1
    for token in javaproperties.parse(io.StringIO(text)):
        count = token.source.count("\n") + (0 if token.source.endswith("\n") else 1)
        first, number = number, number + count
        if isinstance(token, javaproperties.KeyValue) and token.key in changes:
            value = None if token.key in seen else changes[token.key]
            seen.add(token.key)
            replace[(first, first + count - 1)] = (
                None if value is None else javaproperties.join_key_value(token.key, value)
            )
    append = [
        javaproperties.join_key_value(k, v)
        for k, v in changes.items()
        if k not in seen and v is not None
    ]
    return replace, append


def _awk(replace: dict, append: list[str]) -> str:
    def lit(s: str) -> str:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

    rules = []
    for (first, last), new in sorted(replace.items()):
        body = f"if (NR == {first}) print {lit(new)}; " if new is not None else ""
        rules.append(f"NR >= {first} && NR <= {last} {{ {body}next }}")
    rules.append("{ print }")
    if append:
        rules.append("END { " + " ".join(f"print {lit(a)};" for a in append) + " }")
    return "\n".join(rules)


def read(host: Host, path: str, missing_ok: bool = False) -> str:
    """A file's text with password values masked on the host itself: secrets never travel."""
    cmd = f"awk -v M={q(REDACTED)} {q(MASK_AWK)} {q(path)}"
    if missing_ok:
        cmd = f"if test -e {q(path)}; then {cmd}; fi"
    return host.probe(cmd).stdout


def staging_files(host: Host) -> list[str]:
    staging = host.vars["staging_config"]
    # NUL-separated: a file name may hold a space or a newline.
    out = host.probe(f"find {q(staging)} -maxdepth 1 -type f -printf '%f\\0' | sort -z").stdout
    return [n for n in out.split("\0") if n]


def backup_staging(host: Host) -> Outcome:
    """Copy every file of the staging area to `config_backup` with a sha256 manifest."""
    staging, bak = host.vars["staging_config"], host.vars["config_backup"]
    if host.probe(f"test -d {q(bak)}", check=False).ok:
        check = host.probe(f"cd {q(bak)} && sha256sum --quiet -c {MANIFEST}", check=False)
        if not check.ok:
            raise ActionError(
                f"{host}: {bak} exists but does not match its manifest: move it away, then re-run"
            )
        return Outcome(host, "config backup", False, f"{bak} exists and verifies")
    names = staging_files(host)
    if not names:
        raise ActionError(f"{host}: staging area {staging} holds no files")
    tmp = f"{bak}.part"
    files = " ".join(q(n) for n in names)
    # `mkdir` without -p: the folder is new, ours, never one (or a symlink) found in its place.
    parent = posixpath.dirname(bak.rstrip("/")) or "/"
    run_in(
        host,
        [parent],
        f"{closed_folder(parent)}; rm -rf -- {q(tmp)} && mkdir -- {q(tmp)} && "
        f"cd -- {q(staging)} && cp -p -- {files} {q(tmp)}/ && "
        f"cd -- {q(tmp)} && sha256sum -- {files} > {MANIFEST} && mv -T -- {q(tmp)} {q(bak)}",
    )
    manifest = host.probe(f"cat {q(bak)}/{MANIFEST}", check=False).stdout
    transcript.artifact("config-backup", f"{host}:{bak}", manifest=manifest)
    return Outcome(host, "config backup", True, f"{len(names)} files to {bak}")


def backup_manifest(host: Host) -> dict[str, str]:
    """File name -> sha256 in the backup's manifest."""
    out = read(host, f"{host.vars['config_backup']}/{MANIFEST}")
    found = {}
    for line in out.splitlines():
        # sha256sum's `DIGEST  NAME`; a name with a newline or a backslash is escaped, and its
        # line starts with a backslash. A name may hold spaces.
        digest, _, name = line.removeprefix("\\").partition("  ")
        if line.startswith("\\"):
            name = re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), name)
        if digest.strip():
            found[name] = digest
    return found


def sync_from_staging(host: Host, staging: str | None = None) -> Outcome:
    """Copy the staging area's files to their places on the node, recording each diff."""
    staging = staging or host.vars["staging_config"]
    changed = []
    for name, dest in targets(host.vars).items():
        src = f"{staging}/{name}"
        want = file_sha256(host, src)
        if want is None:
            raise ActionError(f"{host}: {src} missing from the staging area")
        if file_sha256(host, dest) == want:
            continue
        before = read(host, dest, missing_ok=True)
        after = read(host, src)
        # The new file gets the source's owner and mode, as a `cp` to a new name did; the
        # properties then Tomcat's group (it reads them, as its own user).
        own = f" && {readable_by_tomcat(host, dest)}" if name.endswith(".properties") else ""
        run_in(
            host,
            [posixpath.dirname(dest)],
            replace_file(dest, f"cat -- {q(src)}", like=src) + own,
        )
        transcript.artifact(
            "config-diff",
            f"{host}:{dest}",
            diff=diff(before, after, name),
            source=src,
            content=mask(after),
        )
        changed.append(name)
    detail = f"updated {', '.join(changed)}" if changed else "equal to the staging area"
    return Outcome(host, "config sync", bool(changed), detail)


def set_properties(
    host: Host, changes: dict[str, str | None], name: str = "sakai.properties"
) -> Outcome:
    """Set (or remove, with None) keys of a properties file in sakai home, recording the diff.

    The edit is an awk program run on the node, so the file (and its password) never travels.
    """
    secret = [k for k in changes if SECRET_KEY.search(k)]
    if secret:
        raise ActionError(f"refusing to set {secret[0]} by the runbook: put it in the staging area")
    path = targets(host.vars)[name]
    before = read(host, path)
    replace, append = line_edits(before, changes)
    after = edit_properties(before, changes)
    if after == before:
        return Outcome(host, f"edit {name}", False, f"{', '.join(changes)} already set")
    run_in(
        host,
        [posixpath.dirname(path)],
        replace_file(path, f"awk {q(_awk(replace, append))} {q(path)}", like=path),
    )
    transcript.artifact(
        "config-diff", f"{host}:{path}", diff=diff(before, after, name), content=mask(after)
    )
    if not host.check_mode:
        now = javaproperties.loads(read(host, path))
        for key, value in changes.items():
            if now.get(key) != value:
                raise ActionError(f"{host}: {path} has {key}={now.get(key)!r} after the edit")
    return Outcome(host, f"edit {name}", True, ", ".join(f"{k}={v}" for k, v in changes.items()))


def properties(host: Host, name: str = "sakai.properties", where: str = "node") -> dict[str, str]:
    path = targets(host.vars)[name] if where == "node" else f"{host.vars['staging_config']}/{name}"
    return javaproperties.loads(read(host, path))


def restore_staging(host: Host) -> Outcome:
    """Put the backup's files back into the staging area, byte-identical (checked by sha256)."""
    staging, bak = host.vars["staging_config"], host.vars["config_backup"]
    # A backup cut short never got its final name: it holds nothing the fallback needs.
    host.run(f"rm -rf {q(bak)}.part")
    if not host.probe(f"test -d {q(bak)}", check=False).ok:
        return Outcome(
            host,
            "config restore",
            False,
            f"no {bak}: the upgrade stopped before its backup (u06), and no step before it "
            "writes to the staging area: nothing to restore",
        )
    host.probe(f"cd {q(bak)} && sha256sum --quiet -c {MANIFEST}")
    manifest = backup_manifest(host)
    changed = []
    for name, digest in manifest.items():
        if file_sha256(host, f"{staging}/{name}") == digest:
            continue
        before = read(host, f"{staging}/{name}", missing_ok=True)
        after = read(host, f"{bak}/{name}")
        path_part(host, name, f"{bak}/{MANIFEST} entry")
        kept, dest = f"{bak}/{name}", f"{staging}/{name}"
        run_in(host, [staging], replace_file(dest, f"cat -- {q(kept)}", kept, keep_times=True))
        transcript.artifact(
            "config-diff",
            f"{host}:{staging}/{name}",
            diff=diff(before, after, name),
            content=mask(after),
        )
        changed.append(name)
    detail = f"restored {', '.join(changed)}" if changed else "staging equals the backup"
    return Outcome(host, "config restore", bool(changed), detail)


@verification
def assert_backup_matches(host: Host) -> None:
    """The backup verifies against its manifest and holds every file of the 2.4.0 staging area."""
    bak = host.vars["config_backup"]
    host.probe(f"cd {q(bak)} && sha256sum --quiet -c {MANIFEST}")
    names = set(backup_manifest(host))
    assert set(targets(host.vars)) <= names, (
        f"{host}: {bak} lacks {set(targets(host.vars)) - names}"
    )


@verification
def assert_node_equals(
    host: Host, source: str | None = None, only: list[str] | None = None
) -> None:
    """Each config file on the node is byte-identical to the staging area's (or `source`'s)."""
    source = source or host.vars["staging_config"]
    for name, dest in targets(host.vars).items():
        if only and name not in only:
            continue
        want, have = file_sha256(host, f"{source}/{name}"), file_sha256(host, dest)
        assert want and have == want, f"{host}: {dest} differs from {source}/{name}"


@verification
def assert_staging_equals_backup(host: Host) -> None:
    staging, bak = host.vars["staging_config"], host.vars["config_backup"]
    if not host.probe(f"test -d {q(bak)}", check=False).ok:
        return  # no backup was made, nor any change: see restore_staging
    for name, digest in backup_manifest(host).items():
        assert file_sha256(host, f"{staging}/{name}") == digest, f"{host}: {staging}/{name} differs"


@verification
def assert_property(host: Host, key: str, value: str) -> None:
    got = properties(host).get(key)
    assert got == value, f"{host}: sakai.properties {key}={got!r}, expected {value!r}"


# What 2.4.1 needs from the staging area before a node may start (seed, 09:35).
REQUIRED_KEYS = (
    "url@javax.sql.BaseDataSource",
    "username@javax.sql.BaseDataSource",
    "password@javax.sql.BaseDataSource",
    "auto.ddl",
)


def staging_problems(host: Host) -> list[str]:
    """What keeps the staging area from serving 2.4.1: missing files, keys, JMX options."""
    return staging_file_problems(host) + staging_jmx_problems(host)


def staging_file_problems(host: Host) -> list[str]:
    """Missing configuration files, and sakai.properties keys 2.4.1 needs (seed, 09:35)."""
    staging = host.vars["staging_config"]
    names = set(staging_files(host))
    problems = [f"{staging}/{n} missing" for n in targets(host.vars) if n not in names]
    if "sakai.properties" in names:
        props = properties(host, where="staging")
        problems += [f"sakai.properties lacks {k}" for k in REQUIRED_KEYS if not props.get(k)]
    return problems


def staging_jmx_problems(host: Host) -> list[str]:
    """setenv.sh's JMX for JConsole: the agent's options (given to `jcmd PID
    ManagementAgent.start`: TLS on both ends, the keystore's file) and the JVM property that
    makes the RMI server advertise the node."""
    staging = host.vars["staging_config"]
    if "setenv.sh" not in staging_files(host):
        return [f"{staging}/setenv.sh missing"]
    setenv = read(host, f"{staging}/setenv.sh")
    port = host.vars["jmx_port"]
    agent = (
        f"jmxremote.port={port}",
        f"jmxremote.rmi.port={port}",
        "jmxremote.authenticate=true",
        # TLS on the RMI server and the registry (issue 18): the password never in clear.
        "jmxremote.ssl=true",
        "jmxremote.registry.ssl=true",
        "jmxremote.ssl.config.file=",
    )
    problems = [f"setenv.sh: the JMX agent's options lack {o}" for o in agent if o not in setenv]
    if "-Djava.rmi.server.hostname=" not in setenv:
        problems.append("setenv.sh: JAVA_OPTS lacks -Djava.rmi.server.hostname=<node address>")
    return problems


@verification
def assert_staging_ready(host: Host) -> None:
    problems = staging_problems(host)
    assert not problems, f"{host}: staging area not ready: {'; '.join(problems)}"


@verification
def assert_staging_files(host: Host) -> None:
    problems = staging_file_problems(host)
    assert not problems, f"{host}: staging area not ready: {'; '.join(problems)}"


@verification
def assert_staging_jmx(host: Host) -> None:
    problems = staging_jmx_problems(host)
    assert not problems, f"{host}: JMX for JConsole not configured: {'; '.join(problems)}"
