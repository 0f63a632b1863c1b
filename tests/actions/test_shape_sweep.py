"""No value changes a command's shape (issue 16, item 2): the line behind the input checks.

Every action verb runs against a recording host (its `run`/`probe` record the command and
answer with a canned, plausible result), first with benign values, then with a hostile value in
place of one variable: an inventory path or name, an argument, or a table or column name that a
probe "read from the database". Each recorded command must split into the same words as with
the benign value; the words that carry the value must differ only by the value, which must be
quoted there (single quotes or backslashes: no `$`, backquote, `;` or blank of it is seen by the
shell), after `--` where it could pass for an option, and only through PyMySQL's escaping inside
SQL. Inner scripts (`sh -c`, `bash -c`) are split and held to the same. A verb may instead refuse
the value with an ActionError (an identifier read from the database, `..` as a host name).

The verbs are called directly: the inventory's checks (engineer "inputs") are bypassed, so this
holds even if they are loosened. Every public function of the swept modules is either swept or
listed in NO_COMMAND with the reason: a new verb fails `test_every_verb_is_swept`.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import json
import pkgutil
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pymysql.converters import escape_string

import runbooklib.actions
from runbooklib.actions import (
    common,
    config,
    database,
    firewall,
    reach,
    release,
    surface,
    tomcat,
)
from runbooklib.actions.common import ActionError
from runbooklib.remote import CommandFailed, Host, Result
from runbooklib.transcript import transcript

# Modules that read only the operator's own files and send no command to a host.
NO_HOST = {
    "inputs": "checks the inventory and files before any host",
    "known_issues": "loads and checks the allow-list of log lines",
    "secrets": "reads the passwords to redact them",
}
# Every action module but those: a new module is swept (or listed above) without anyone asking.
MODULES = [
    importlib.import_module(f"runbooklib.actions.{m.name}")
    for m in pkgutil.iter_modules(runbooklib.actions.__path__)
    if m.name not in NO_HOST
]

HOSTILE = [
    "x;touch /tmp/pwn",
    "$(id)",
    "`id`",
    "a'b",
    'a"b',
    "a b",
    "a\nb",
    "--opt",
    "../../etc",
]


def mark(i: int) -> str:
    """A benign value no other value contains (and a valid identifier, host and file name)."""
    return f"Bn{i:02d}q"


# Each variable that can reach a command, and its benign value built around its mark.
SHAPES = {
    "host name": "{}",
    "address": "{}",
    "db_name": "{}",
    "db_backup_dir": "/srv/{}/backups",
    "tomcat_base": "/srv/{}/tomcat",
    "tomcat_home": "/srv/{}/tomcat-home",
    "tomcat_user": "{}",
    "sakai_home": "/srv/{}/sakai/",
    "catalina_out": "/srv/{}/catalina.out",
    "catalina_pid": "/srv/{}/tomcat.pid",
    "src_dir": "/srv/{}/src",
    "releases_dir": "/srv/{}/releases",
    "staging_config": "/srv/{}/staging",
    "config_backup": "/srv/{}/staging-bak",
    "svn_url": "https://svn.example/{}/tags",
    "ca_bundle": "/srv/{}/ca.pem",
    "jmx_probe": "/srv/{}/JmxProbe.class",
    "jmx_password_file": "/srv/{}/jmx.pw",
    "tag": "sakai_{}",
    "snapshot": "sakai-core-{}",
    "path": "/srv/{}/file",
    "script": "{}.sql",
    "staged file": "{}.txt",
    "table": "{}",
    "column": "{}",
}
BENIGN = {var: SHAPES[var].format(mark(i)) for i, var in enumerate(SHAPES)}
# Values that are file names (made as files here, listed by hosts): no `/` in them.
FILE_NAMES = {"script", "staged file"}
INVENTORY_VARS = [v for v in SHAPES if v not in ("host name", "address") and "_" in v]


def values(var: str | None = None, hostile: str | None = None) -> dict[str, str]:
    out = dict(BENIGN)
    if var:
        out[var] = BENIGN[var].replace(mark(list(SHAPES).index(var)), hostile)
    return out


def batch(text: str) -> str:
    """A value as `mariadb --batch` prints it (it escapes these)."""
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")


class FakeInfra:
    """testinfra's modules as the verifications use them (testinfra quotes its own commands)."""

    def __init__(self, host: Recorder):
        self.host = host

    @property
    def iptables(self):
        rules = firewall.render(self.host.answers_mode, self.host.vars)
        hooks = firewall.hooks(self.host.vars)

        class Rules:
            def rules(_, table, version=4):
                return [hooks[table][1], *rules[table]]

        return Rules()

    def file(self, path):
        return type("F", (), {"exists": True})()

    def socket(self, spec):
        return type("S", (), {"is_listening": True})()


@dataclass
class Recorder(Host):
    """A Host that records each command and answers from `answers` (regex -> text or callable),
    in order; the first match wins, its answer is one string, or a list consumed per call."""

    log: list = field(default_factory=list)
    answers: list = field(default_factory=list)
    answers_mode: str = "maintenance"
    state: dict = field(default_factory=dict)

    @property
    def testinfra(self):  # type: ignore[override]
        return FakeInfra(self)

    def run(self, command, *, timeout=60, changes=True, check=True, stdin=None):
        self.log.append(command)
        rc, out = 0, ""
        for pattern, answer in self.answers:
            # Matched as read, with shlex.quote's `'"'"'` for a quote inside quotes undone.
            if re.search(pattern, command.replace("'\"'\"'", "'"), re.S):
                if isinstance(answer, list):
                    answer = answer.pop(0) if len(answer) > 1 else answer[0]
                if callable(answer):
                    answer = answer(self)
                rc, out = answer if isinstance(answer, tuple) else (0, answer)
                break
        result = Result(self.name, command, rc, out, "", 0.0)
        if check and rc:
            raise CommandFailed(result)
        return result


def make_host(v: dict, answers: list, mode: str = "maintenance") -> Recorder:
    lab = {
        "ssh_port": 22,
        "https_port": 8443,
        "jmx_port": 9000,
        "maintenance_port": 8089,
        "allow_8443": [{"address": "198.51.100.51", "name": "adminws1"}],
        "allow_9000": [{"address": "198.51.100.51", "name": "adminws1"}],
        "head": True,
    }
    hvars = {**lab, **{k: v[k] for k in INVENTORY_VARS}}
    # Tomcat's account, asked before any command run as it (tomcat.account).
    answers = [*answers, (r"^id -u -- ", "8443\n8443")]
    return Recorder(v["host name"], v["address"], vars=hvars, answers=answers, answers_mode=mode)


# --- canned answers ------------------------------------------------------------------------


def manifest(h: Recorder) -> str:
    table, column = h.state["v"]["table"], h.state["v"]["column"]
    sums = {"SAKAI_SITE": {"checksum": "1", "rows": 5}, table: {"checksum": "2", "rows": 6}}
    return json.dumps(
        {
            "backup": f"{h.vars['db_backup_dir']}/sakai-20070818T080000Z.sql.gz",
            "sha256": "ab" * 32,
            "checksums": sums,
            "columns": {"SAKAI_SITE": ["SITE_ID"], table: [column]},
            "contents": {"SAKAI_SITE": {"rows": 4, "crc": "7"}, table: {"rows": 6, "crc": "8"}},
            "verified": "restored into a scratch server: 2 tables equal",
        }
    )


def db_answers(log_rows: str = "", with_manifest: bool = True) -> list:
    def t(h):
        return batch(h.state["v"]["table"])

    def c(h):
        return batch(h.state["v"]["column"])

    return [
        (
            r"smartsite-verify",
            lambda h: f"scratch.SAKAI_SITE\t1\nscratch.{t(h)}\t2\nSAKAI_SITE\t5\n{t(h)}\t6\n",
        ),
        (r"mariadb --help", "1"),
        (r"readlink -f", manifest if with_manifest else ""),
        (r"table_type = 'BASE TABLE'", lambda h: f"SAKAI_SITE\n{t(h)}\n"),
        (r"^mariadb.* -e 'CHECKSUM TABLE", lambda h: f"sakai.SAKAI_SITE\t1\nsakai.{t(h)}\t2\n"),
        (r"CRC32", lambda h: f"SAKAI_SITE\t5\t9\n{t(h)}\t6\t8\n"),
        (r"COUNT\(\*\) FROM `", lambda h: f"SAKAI_SITE\t5\n{t(h)}\t6\n"),
        (
            r"information_schema.columns.*table_name IN",
            lambda h: f"SAKAI_SITE\tSITE_ID\n{t(h)}\t{c(h)}\n",
        ),
        (r"COUNT\(\*\) FROM information_schema.tables", "1"),
        (r"FROM RUNBOOK_SCRIPT_LOG", lambda h: log_rows.format(**h.state["v"])),
        (r"SELECT table_name FROM information_schema.tables", "sakai_site\n"),
        (r"COALESCE\(SUM\(data_length", "1000"),
        (r"^df ", "5000"),
        (r"mariadb-dump", "deadbeef  -"),
        (r"^cat .*restore-in-progress", ""),
    ]


def sha_line(name: str) -> str:
    """A line of `sha256sum` for `name` (it escapes a newline or a backslash in a name)."""
    if "\n" in name or "\\" in name:
        return "\\aa  " + name.replace("\\", "\\\\").replace("\n", "\\n") + "\n"
    return f"aa  {name}\n"


RELEASE = "release.tag=sakai_old\nrelease.version=2.4.0\n"


def deployed_as(key: str):
    def answer(h):
        return h.state.get(key, RELEASE)

    return answer


# --- the verbs -----------------------------------------------------------------------------


@dataclass
class Verb:
    call: object  # (host, values, tmp_path) -> None
    answers: object = list  # () -> answers
    mode: str = "maintenance"


def sql_repo(tmp: Path, v: dict) -> tuple[Path, list[str]]:
    (tmp / "sql").mkdir(exist_ok=True)
    name = v["script"]
    (tmp / "sql" / name).write_text("ALTER TABLE SAKAI_SITE ADD COLUMN NEWCOL CHAR(1);\n")
    return tmp, [f"sql/{name}"]


def db_restore(h, v, tmp):
    repo, scripts = sql_repo(tmp, v)
    database.restore(h, scripts, repo, allow_loss=lambda text: None)


def properties_text(h):
    return "auto.ddl=false\n"


CONFIG = [
    (
        r"^find .* -printf",
        lambda h: f"sakai.properties\0local.properties\0setenv.sh\0{h.state['v']['staged file']}\0",
    ),
    (r"^test -d", (1, "")),
    (r"sha256sum --quiet -c", (0, "")),
    (
        r"MANIFEST.sha256",
        lambda h: f"aa  sakai.properties\n{sha_line(h.state['v']['staged file'])}",
    ),
    (r"^test -f .*sha256sum", ["aa  x", "bb  x"]),
    (r"^if test -e|^awk", ["auto.ddl=false\n", "auto.ddl=true\n"]),
]

VERBS = {
    # common
    "common.put_file": Verb(lambda h, v, t: common.put_file(h, v["path"], "text", mode="0600")),
    "common.file_sha256": Verb(lambda h, v, t: common.file_sha256(h, v["path"])),
    # firewall
    "firewall.apply": Verb(
        lambda h, v, t: firewall.apply(h, "maintenance"),
        lambda: [(r"^test -s", (0, "")), (r"iptables -w 5 -t", ""), (r"^sha256sum", "ab  f")],
    ),
    "firewall.current": Verb(lambda h, v, t: firewall.current(h, h.vars)),
    "firewall.families": Verb(lambda h, v, t: firewall.families(h)),
    "firewall.save": Verb(lambda h, v, t: firewall.save(h, v["path"])),
    "firewall.assert_mode": Verb(
        lambda h, v, t: firewall.assert_mode(h, "maintenance"), lambda: [(r"^test -s", (1, ""))]
    ),
    "firewall.rollback_armed": Verb(lambda h, v, t: firewall.rollback_armed(h)),
    # database
    "database.client": Verb(lambda h, v, t: database.client(h), db_answers),
    "database.tables": Verb(lambda h, v, t: database.tables(h), db_answers),
    "database.checksums": Verb(lambda h, v, t: database.checksums(h), db_answers),
    "database.columns": Verb(
        lambda h, v, t: database.columns(h, ["SAKAI_SITE", v["table"]]), db_answers
    ),
    "database.contents": Verb(
        lambda h, v, t: database.contents(h, {v["table"]: [v["column"], "B"]}), db_answers
    ),
    "database.applied_scripts": Verb(
        lambda h, v, t: database.applied_scripts(h),
        lambda: db_answers("{script}\tab\t2007-08-18\t/b\n"),
    ),
    "database.backup": Verb(
        lambda h, v, t: database.backup(h), lambda: db_answers(with_manifest=False)
    ),
    "database.dump_verified": Verb(lambda h, v, t: database.dump_verified(h, "sakai"), db_answers),
    "database.verify": Verb(
        lambda h, v, t: database.verify(
            h,
            v["path"],
            {"SAKAI_SITE": {"checksum": "1", "rows": 5}, v["table"]: {"checksum": "2", "rows": 6}},
        ),
        db_answers,
    ),
    "database.scratch_restore": Verb(
        lambda h, v, t: database.scratch_restore(h, v["path"], ["SAKAI_SITE", v["table"]]),
        db_answers,
    ),
    "database.run_scripts": Verb(
        lambda h, v, t: database.run_scripts(h, *reversed(sql_repo(t, v))), db_answers
    ),
    "database.statements_to_run": Verb(
        lambda h, v, t: database.statements_to_run(h, v["script"], "DELETE FROM X;", False),
        db_answers,
    ),
    "database.mark_applied": Verb(
        lambda h, v, t: database.mark_applied(h, v["script"], "text"), db_answers
    ),
    "database.writes_since_backup": Verb(
        lambda h, v, t: database.writes_since_backup(h, json.loads(manifest(h))), db_answers
    ),
    "database.restore": Verb(db_restore, db_answers),
    "database.assert_as_before_window": Verb(
        lambda h, v, t: database.assert_as_before_window(h, *reversed(sql_repo(t, v))),
        lambda: db_answers(with_manifest=False),
    ),
    "database.assert_checksums_equal_backup": Verb(
        lambda h, v, t: database.assert_checksums_equal_backup(h), db_answers
    ),
    "database.assert_backup_verified": Verb(
        lambda h, v, t: database.assert_backup_verified(h), db_answers
    ),
    "database.assert_scripts_applied": Verb(
        lambda h, v, t: database.assert_scripts_applied(h, [f"sql/{v['script']}"]),
        lambda: db_answers("{script}\tab\t2007-08-18\t/b\n"),
    ),
    "database.missing_changes": Verb(
        lambda h, v, t: database.missing_changes(h, *reversed(sql_repo(t, v))), db_answers
    ),
    "database.assert_schema": Verb(
        lambda h, v, t: pytest.raises(
            AssertionError, database.assert_schema, h, *reversed(sql_repo(t, v))
        ),
        db_answers,
    ),
    "database.size_bytes": Verb(lambda h, v, t: database.size_bytes(h), db_answers),
    "database.free_bytes": Verb(lambda h, v, t: database.free_bytes(h), db_answers),
    # config
    "config.read": Verb(lambda h, v, t: config.read(h, v["path"], missing_ok=True)),
    "config.staging_files": Verb(lambda h, v, t: config.staging_files(h), lambda: list(CONFIG)),
    "config.backup_staging": Verb(lambda h, v, t: config.backup_staging(h), lambda: list(CONFIG)),
    "config.backup_manifest": Verb(lambda h, v, t: config.backup_manifest(h), lambda: list(CONFIG)),
    "config.sync_from_staging": Verb(
        lambda h, v, t: config.sync_from_staging(h),
        lambda: [(r"^test -f .*sha256sum", ["aa  x", "bb  x"])],
    ),
    "config.set_properties": Verb(
        lambda h, v, t: config.set_properties(h, {"auto.ddl": "true"}), lambda: list(CONFIG)
    ),
    "config.properties": Verb(lambda h, v, t: config.properties(h, where="staging")),
    "config.restore_staging": Verb(
        lambda h, v, t: config.restore_staging(h),
        lambda: [(r"^test -d", (0, ""))] + [a for a in CONFIG if a[0] != r"^test -d"],
    ),
    "config.assert_backup_matches": Verb(
        lambda h, v, t: pytest.raises(AssertionError, config.assert_backup_matches, h),
        lambda: list(CONFIG),
    ),
    "config.assert_node_equals": Verb(
        lambda h, v, t: config.assert_node_equals(h), lambda: [(r"sha256sum", "aa  x")]
    ),
    "config.assert_staging_equals_backup": Verb(
        lambda h, v, t: config.assert_staging_equals_backup(h),
        lambda: [(r"^test -d", (0, "")), (r"MANIFEST", "aa  a\n"), (r"sha256sum", "aa  x")],
    ),
    "config.assert_property": Verb(
        lambda h, v, t: config.assert_property(h, "auto.ddl", "false"), lambda: list(CONFIG)
    ),
    "config.staging_problems": Verb(
        lambda h, v, t: config.staging_problems(h), lambda: list(CONFIG)
    ),
    "config.staging_file_problems": Verb(
        lambda h, v, t: config.staging_file_problems(h), lambda: list(CONFIG)
    ),
    "config.staging_jmx_problems": Verb(
        lambda h, v, t: config.staging_jmx_problems(h), lambda: list(CONFIG)
    ),
    "config.assert_staging_ready": Verb(
        lambda h, v, t: pytest.raises(AssertionError, config.assert_staging_ready, h),
        lambda: list(CONFIG),
    ),
    "config.assert_staging_files": Verb(
        lambda h, v, t: pytest.raises(AssertionError, config.assert_staging_files, h),
        lambda: list(CONFIG),
    ),
    "config.assert_staging_jmx": Verb(
        lambda h, v, t: pytest.raises(AssertionError, config.assert_staging_jmx, h),
        lambda: list(CONFIG),
    ),
    # release
    "release.deployed_files": Verb(lambda h, v, t: release.deployed_files(h)),
    "release.deployed": Verb(
        lambda h, v, t: release.deployed(h), lambda: [(r"sakai-release", RELEASE)]
    ),
    "release.tag_exists": Verb(lambda h, v, t: release.tag_exists(h, v["tag"])),
    "release.checkout": Verb(
        lambda h, v, t: release.checkout(h, v["tag"]), lambda: [(r"revision", "42")]
    ),
    "release.snapshot": Verb(
        lambda h, v, t: release.snapshot(h, before=v["tag"]),
        lambda: [(r"^cat .*sakai-release", RELEASE), (r"sha256sum --quiet -c", (1, ""))],
    ),
    "release.deploy": Verb(
        lambda h, v, t: release.deploy(h, v["tag"]),
        lambda: [
            (r"^cat .*sakai-release", deployed_as("after")),
            (
                r"^cd .* && ant ",
                lambda h: h.state.update(after=f"release.tag={h.state['v']['tag']}\n") or "",
            ),
        ],
    ),
    "release.install_snapshot": Verb(
        lambda h, v, t: release.install_snapshot(h, v["snapshot"]),
        lambda: [
            (r"\.files$", "aa  webapps/x.war\n"),
            (r"xargs -r", deployed_as("files")),
            (
                r"tar -xzOf",
                lambda h: (
                    "release.tag=sakai_" + h.state["v"]["snapshot"].removeprefix("sakai-core-")
                ),
            ),
            (r"tar -xzf", lambda h: h.state.update(files="aa  webapps/x.war\n") or ""),
        ],
    ),
    "release.assert_deployed": Verb(
        lambda h, v, t: release.assert_deployed(h, "sakai_old", "2.4.0"),
        lambda: [(r"sakai-release", RELEASE)],
    ),
    "release.assert_checkout": Verb(
        lambda h, v, t: release.assert_checkout(h, v["tag"]),
        lambda: [(r"svn info", lambda h: f"{h.vars['svn_url']}/{h.state['v']['tag']}")],
    ),
    "release.assert_snapshot": Verb(lambda h, v, t: release.assert_snapshot(h, v["snapshot"])),
    # tomcat
    "tomcat.pid": Verb(lambda h, v, t: tomcat.pid(h), lambda: [(r"cmdline", "4242")]),
    "tomcat.stop": Verb(
        lambda h, v, t: tomcat.stop(h), lambda: [(r"cmdline", "4242"), (r"seq", "graceful")]
    ),
    "tomcat.start": Verb(lambda h, v, t: tomcat.start(h), lambda: [(r"Server startup in", "up")]),
    "tomcat.check_account": Verb(lambda h, v, t: tomcat.check_account(h)),
    "tomcat.account": Verb(lambda h, v, t: tomcat.account(h)),
    "tomcat.check_start_log": Verb(lambda h, v, t: tomcat.check_start_log(h, [], start="first")),
    "tomcat.problem_lines": Verb(lambda h, v, t: tomcat.problem_lines(h, latest=True)),
    "tomcat.scan": Verb(lambda h, v, t: tomcat.scan(h, [])),
    "tomcat.assert_running": Verb(
        lambda h, v, t: tomcat.assert_running(h), lambda: [(r"cmdline", "4242")]
    ),
    "tomcat.assert_stopped": Verb(lambda h, v, t: tomcat.assert_stopped(h)),
    "tomcat.assert_jmx_configured": Verb(
        lambda h, v, t: tomcat.assert_jmx_configured(h),
        lambda: [
            (r"cmdline", "4242"),
            (
                r"ManagementAgent.status",
                "jmxremote.port = 9000\njmxremote.rmi.port = 9000\njmxremote.authenticate = true"
                "\njmxremote.ssl = true\njmxremote.registry.ssl = true",
            ),
        ],
    ),
    "tomcat.assert_clean_log": Verb(lambda h, v, t: tomcat.assert_clean_log(h, [])),
    # reach and surface: the host is the client, its own vars stand for the node's too
    "reach.https_from": Verb(
        lambda h, v, t: reach.https_from(h, h), lambda: [(r"^curl", "ok\n200")]
    ),
    "reach.https_from_each": Verb(
        lambda h, v, t: reach.https_from_each(h, [h, h]), lambda: [(r"^curl", "ok\n200")]
    ),
    "reach.port_states": Verb(lambda h, v, t: reach.port_states(h, [h], "jmx_port")),
    "reach.jmx_probe": Verb(lambda h, v, t: reach.jmx_probe(h, h)),
    "reach.jmx_from": Verb(lambda h, v, t: reach.jmx_from(h, h)),
    "reach.jmx_probes": Verb(
        lambda h, v, t: reach.jmx_probes(h, h, {}, {"login": False}, {"tls": False})
    ),
    "surface.open_ports": Verb(
        lambda h, v, t: surface.open_ports(h, h),
        lambda: [(r"^nmap", lambda h: f"Host: {h.address} ()\tPorts: 22/open/tcp//ssh///\n")],
    ),
    "surface.probe_from": Verb(
        lambda h, v, t: surface.probe_from(h, [h], {22, 8443}),
        lambda: [(r"^nmap", lambda h: f"Host: {h.address} ()\tPorts: 22/open/tcp//ssh///\n")],
    ),
    "surface.read": Verb(lambda h, v, t: surface.read(h)),
    "surface.probe_addresses": Verb(
        lambda h, v, t: surface.probe_addresses(h, {h.address: h}, {22}),
        lambda: [(r"^nmap", lambda h: f"Host: {h.address} ()\tPorts: 22/open/tcp//ssh///\n")],
    ),
    "surface.source6": Verb(lambda h, v, t: surface.source6(h, v["address"])),
}

# Public functions of the swept modules that run no command of their own, and why.
NO_COMMAND = {
    "common.sha256": "a digest, computed here",
    "common.q": "the quoting itself",
    "notify.pieces": "cuts a text into IRC messages, computed here",
    "common.closed_folder": "builds a check swept inside put_file, replace_file's callers",
    "common.private_folder": "builds a check swept inside firewall.apply, dump_verified",
    "common.replace_file": "builds a command swept inside config.sync_from_staging & co",
    "common.run_in": "runs the command it is given (swept through its callers)",
    "common.path_part": "a check of a value, no command",
    "common.operand": "a check of a value, no command",
    "common.app_nodes": "orders hosts",
    "common.rolling": "runs a given action per host",
    "common.batches": "splits hosts",
    "common.in_batch": "runs a given action per host",
    "common.in_parallel": "runs a given check per host",
    "common.fan_out": "runs a given function per item",
    "common.forks": "an int of the inventory",
    "firewall.state_dir": "a path, swept where it is used (apply, rollback_armed)",
    "firewall.now_stamp": "the time now, as the firewall names its files",
    "firewall.allow_list": "validates addresses with ipaddress",
    "firewall.render": "rules text (addresses validated by ipaddress, ports int)",
    "firewall.reachable_ports": "a set of ints",
    "firewall.hooks": "rules text, ports int",
    "firewall.restore_text": "a file's content (goes over stdin, never a command line)",
    "database.ident": "the identifier check (unit-tested below)",
    "database.lit": "the SQL literal (unit-tested below)",
    "database.compare_restored": "compares two dicts",
    "database.statements": "parses SQL text",
    "database.effect": "parses SQL text",
    "database.schema_changes": "parses SQL text",
    "config.targets": "paths, swept where used",
    "config.readable_by_tomcat": "builds a command swept inside config.sync_from_staging",
    "tomcat.as_tomcat": "builds a command swept inside tomcat.start, stop, problem_lines",
    "config.mask": "masks text here",
    "config.diff": "a diff of texts",
    "config.edit_properties": "edits text here",
    "config.line_edits": "edits text here",
    "release.files_manifest": "builds a command swept in deployed_files and snapshot",
    "release.snapshot_name": "a name, swept where used (install_snapshot, snapshot)",
    "http.url": "a URL for requests, no shell",
    "http.parse_health": "parses text",
    "http.health": "HTTPS with requests, no shell",
    "http.wait_healthy": "HTTPS with requests, no shell",
    "http.assert_healthy": "HTTPS with requests, no shell",
    "notify.mail": "SMTP with smtplib, no shell",
    "notify.announce": "IRC with the irc package, no shell",
    "reach.vantage": "hosts of a group",
    "reach.is_ip": "parses an address",
    "reach.matching_entry": "compares networks",
    "reach.allowed": "compares networks",
    "reach.clients": "hosts of a group",
    "reach.each_answer": "https_from_each per client (swept)",
    "reach.parse_answers": "parses text",
    "reach.parse_probes": "parses text",
    "reach.assert_outage_page": "https_from_each per client (swept)",
    "reach.assert_admins_reach_app": "https_from_each per client (swept)",
    "reach.port_state_in": "parses text",
    "reach.assert_jmx_allow_list": "jmx_probes, port_states (swept)",
    "reach.assert_public_app": "https_from, assert_jmx_allow_list (swept)",
    "reach.assert_every_client_gets": "https_from_each per client (swept)",
    "reach.ask_each": "https_from_each per client (swept)",
    "reach.judged": "judges answers",
    "reach.observe_https": "https_from_each per client (swept)",
    "reach.observe_jmx": "jmx_probes, port_states (swept)",
    "surface.observe": "read, probe_from, probe_addresses, source6 (swept)",
    "surface.parse_listeners": "parses text",
    "surface.nat_ports": "parses text",
    "surface.parse_view": "parses text",
    "surface.parse_addresses6": "parses text",
    "surface.sample_ports": "a set of ints",
    "surface.declared": "ints of the inventory",
    "surface.plan": "sets of ints",
    "surface.problems": "compares sets of ints",
    "surface.assert_surfaces": "read, probe_from (swept)",
    "access.close_to_public": "firewall.apply, assert_mode, reach (swept)",
    "access.open_to_public": "firewall.apply, assert_mode, reach (swept)",
    "access.mail_ready_to_switch": "http.health, notify.mail: no shell",
    "rollout.install": "tomcat.stop, release.checkout/snapshot/deploy, config.sync (swept)",
    "rollout.start_and_test": "tomcat.start, check_start_log, http (swept)",
    "completion.upgrade_complete": "release.deployed, tomcat.pid, firewall.current, "
    "database.applied_scripts (swept)",
}


def public_functions() -> set[str]:
    found = set()
    for module in MODULES:
        short = module.__name__.rsplit(".", 1)[1]
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ == module.__name__ and not name.startswith("_"):
                found.add(f"{short}.{name}")
    return found


def test_every_verb_is_swept():
    known = set(VERBS) | set(NO_COMMAND)
    missing = sorted(public_functions() - known)
    assert not missing, f"verbs neither swept nor listed in NO_COMMAND: {missing}"
    stale = sorted(known - public_functions())
    assert not stale, f"listed but no longer public functions: {stale}"


# --- the shape of a command ----------------------------------------------------------------

OPERATORS = set(";&|()<>\n")
# What the shell never expands even unquoted (shlex.quote leaves such a value as it is).
SAFE = re.compile(r"[\w@%+=:,./-]", re.ASCII)


@dataclass
class Word:
    text: str = ""
    literal: list = field(default_factory=list)  # per character: quoted, hence not expanded
    op: bool = False


def words(script: str) -> list[Word]:
    """A shell script split as sh does into words and operators, each character of a word
    marked literal (single-quoted, backslash-escaped, or a plain character inside double
    quotes) or not (seen by the shell: expansions, blanks, globs)."""
    out: list[Word] = []
    cur: Word | None = None
    i, n = 0, len(script)

    def add(ch: str, literal: bool) -> None:
        nonlocal cur
        if cur is None:
            cur = Word()
        cur.text += ch
        cur.literal.append(literal)

    def end() -> None:
        nonlocal cur
        if cur is not None:
            out.append(cur)
            cur = None

    while i < n:
        c = script[i]
        if c in " \t":
            end()
            i += 1
        elif c in OPERATORS:
            end()
            out.append(Word(c, [False], op=True))
            i += 1
        elif c == "'":
            j = script.index("'", i + 1)
            if cur is None:
                cur = Word()
            for ch in script[i + 1 : j]:
                add(ch, True)
            i = j + 1
        elif c == '"':
            if cur is None:
                cur = Word()
            i += 1
            while script[i] != '"':
                if script[i] == "\\" and script[i + 1] in '$`"\\\n':
                    add(script[i + 1], True)
                    i += 2
                else:
                    add(script[i], script[i] not in "$`\\")
                    i += 1
            i += 1
        elif c == "\\":
            add(script[i + 1], True)
            i += 2
        elif c == "#" and cur is None:
            while i < n and script[i] != "\n":
                i += 1
        else:
            add(c, False)
            i += 1
    end()
    return out


def same_shape(benign: str, hostile: str, value_mark: str, value: str, where: str) -> None:
    """`hostile` is `benign` with `value` in place of `value_mark`, quoted wherever it is."""
    b, h = words(benign), words(hostile)
    shown = f"{where}\n  benign:  {benign!r}\n  hostile: {hostile!r}"
    assert len(b) == len(h), f"{len(b)} words became {len(h)}: {shown}"
    since_op = 0
    for k, (bw, hw) in enumerate(zip(b, h, strict=True)):
        if bw.op or hw.op:
            assert bw.op and hw.op and bw.text == hw.text, f"operator {bw.text!r}: {shown}"
            since_op = k + 1
            continue
        if value_mark not in bw.text:
            assert bw.text == hw.text, f"word {bw.text!r} became {hw.text!r}: {shown}"
            continue
        if k >= 2 and b[k - 1].text == "-c" and b[k - 2].text in ("sh", "bash"):
            same_shape(bw.text, hw.text, value_mark, value, f"{where} (inner script)")
            continue
        sql = k > 0 and b[k - 1].text == "-e" and b[since_op].text in ("mariadb", "$c")
        enc = escape_string(value) if sql else value
        assert bw.text.replace(value_mark, enc) == hw.text, (
            f"word {bw.text!r} became {hw.text!r}, not the value{' SQL-escaped' if sql else ''}:"
            f" {shown}"
        )
        at = hw.text.find(enc)
        while at >= 0 and enc:
            seen = [
                not (literal or SAFE.fullmatch(ch))
                for ch, literal in zip(
                    hw.text[at : at + len(enc)], hw.literal[at : at + len(enc)], strict=True
                )
            ]
            assert not any(seen), f"the value is not quoted: {shown}"
            if at == 0 and enc.startswith("-"):
                assert "--" in [w.text for w in h[since_op:k]], f"the value is an option: {shown}"
            at = hw.text.find(enc, at + 1)


# --- the sweep -----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _fixed_clock(monkeypatch):
    """Every run of a verb names its files alike (stamps), and no real connection is made."""
    monkeypatch.setattr(
        time, "gmtime", lambda *a: time.struct_time((2007, 8, 18, 8, 0, 0, 5, 230, 0))
    )
    monkeypatch.setattr(firewall, "_tcp_open", lambda *a, **k: True)
    monkeypatch.setattr(time, "sleep", lambda s: None)
    # The dump's test restore runs beside the second reading: here in turn, for one order.
    monkeypatch.setattr(database, "ThreadPoolExecutor", InTurn)
    yield
    transcript.listeners.clear()


class InTurn:
    """A ThreadPoolExecutor that runs each task at once, in the caller's thread."""

    def __init__(self, *args, **kwargs):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def submit(self, fn, *args, **kwargs):
        from concurrent.futures import Future

        future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - handed to whoever asks for the result
            future.set_exception(exc)
        return future


def record(name: str, v: dict, tmp: Path) -> tuple[list[str], Exception | None]:
    verb = VERBS[name]
    database._SANDBOX.clear()
    host = make_host(v, copy.deepcopy(verb.answers()), verb.mode)
    host.state["v"] = v
    try:
        verb.call(host, v, tmp)
    except (ActionError, AssertionError) as exc:
        # A refusal, or a verification that found the canned answers odd: either way, the
        # commands sent up to it are what is compared.
        return host.log, exc
    return host.log, None


def test_the_benign_run_of_every_verb_runs_commands_and_passes(tmp_path):
    problems = []
    for name in VERBS:
        try:
            log, refused = record(name, values(), tmp_path)
        except Exception as exc:  # noqa: BLE001 - every verb's problem at once
            problems.append(f"{name}: {exc!r}"[:300])
            continue
        if refused is not None:
            problems.append(f"{name}: refused benign values: {refused}")
        elif not log:
            problems.append(f"{name} ran no command: list it in NO_COMMAND")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("var", list(SHAPES))
def test_no_hostile_value_changes_a_command(var, tmp_path):
    reached = []
    for name in VERBS:
        benign, _ = record(name, values(), tmp_path)
        value_mark = mark(list(SHAPES).index(var))
        if not any(value_mark in c for c in benign):
            continue
        reached.append(name)
        for hostile in HOSTILE:
            if var in FILE_NAMES and "/" in hostile:
                continue  # not a file name
            got, refused = record(name, values(var, hostile), tmp_path)
            where = f"{name} with {var} = {hostile!r}"
            if refused is not None:
                assert len(got) <= len(benign), f"{where}: refused after other commands"
            else:
                assert len(got) == len(benign), f"{where}: {len(benign)} commands became {len(got)}"
            for i, (b, h) in enumerate(zip(benign, got, strict=False)):
                same_shape(b, h, value_mark, hostile, f"{where}, command {i + 1}")
    assert reached, f"{var} reaches no command of any verb: a stale variable in SHAPES"


def test_identifiers_and_literals():
    host = Host("caje", "192.0.2.250")
    assert database.ident(host, "SAKAI_SITE") == "`SAKAI_SITE`"
    assert database.ident(host, "a$1") == "`a$1`"
    for bad in ["1234", "a`b", "a b", "x" * 65, "", "a-b", "t;DROP"]:
        with pytest.raises(ActionError, match="not a plain identifier"):
            database.ident(host, bad)
    assert database.lit("a'b\\") == "'a\\'b\\\\'"
