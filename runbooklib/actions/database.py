"""The Sakai database on the db host: verified backup, checksums, upgrade scripts, restore.

    >>> backup(caje)                 # mariadb-dump --single-transaction, then restored and compared
    Outcome(host='caje', what='database backup', changed=True, ...)
    >>> run_scripts(caje, ["sql/SAK-869.sql", "sql/SAK-878.sql"])
    >>> restore(caje)                # from the verified backup; checksums equal those recorded

Everything runs on the db host with the `mariadb` clients, which read their credentials from
/root/.my.cnf there: no password ever appears on a command line. A backup counts only once it has
been restored into a scratch server (a throwaway `mariadbd` on the db host, so no extra grant is
needed) and its table checksums and row counts equal those of the live database.
Applied scripts are recorded in RUNBOOK_SCRIPT_LOG, a table of our own, so a re-run skips them.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from runbooklib.actions.common import ActionError, Outcome, put_file, q, sha256
from runbooklib.remote import Host
from runbooklib.transcript import transcript, verification

LOG_TABLE = "RUNBOOK_SCRIPT_LOG"
# The backup the fallback restores: a symlink to the verified dump taken before the scripts.
PRE_UPGRADE = "pre-upgrade.sql.gz"
SCRIPT_DIR = "/tmp/smartsite-runbook-sql"


def _sql(host: Host, query: str, *, timeout: float = 120, changes: bool = False) -> list[list[str]]:
    """Rows of a query in the inventory's database (tab-separated, no headers)."""
    db = host.vars["db_name"]
    cmd = f"mariadb --batch --skip-column-names {q(db)} -e {q(query)}"
    out = host.run(cmd, timeout=timeout, changes=changes).stdout
    return [line.split("\t") for line in out.splitlines() if line]


def tables(host: Host) -> list[str]:
    rows = _sql(
        host,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() "
        "AND table_type = 'BASE TABLE' ORDER BY table_name",
    )
    return [r[0] for r in rows if r[0] != LOG_TABLE]


def checksums(host: Host) -> dict[str, dict]:
    """CHECKSUM TABLE and row count of every table (our own log table excepted)."""
    names = tables(host)
    if not names:
        raise ActionError(f"{host}: database {host.vars['db_name']} has no tables")
    return _checksum_query(host, names, lambda sql: _sql(host, sql, timeout=300))


def _checksum_query(host: Host, names: list[str], run) -> dict[str, dict]:
    sums = {r[0].split(".", 1)[1]: r[1] for r in run("CHECKSUM TABLE " + ", ".join(names))}
    counts_sql = " UNION ALL ".join(f"SELECT '{t}', COUNT(*) FROM `{t}`" for t in names)
    counts = {r[0]: int(r[1]) for r in run(counts_sql)}
    return {t: {"checksum": sums[t], "rows": counts[t]} for t in names}


def applied_scripts(host: Host) -> dict[str, dict]:
    exists = _sql(
        host,
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() "
        f"AND table_name = '{LOG_TABLE}'",
    )
    if exists[0][0] == "0":
        return {}
    rows = _sql(host, f"SELECT script, sha256, applied_at, backup FROM {LOG_TABLE}")
    return {r[0]: {"sha256": r[1], "applied_at": r[2], "backup": r[3]} for r in rows}


def backup(host: Host) -> Outcome:
    """A consistent dump, verified by restoring it; kept as the pre-upgrade backup.

    Skipped when the pre-upgrade backup exists and still describes the database, or when scripts
    were already applied after it (a re-run must not replace the backup the fallback needs).
    """
    bdir = host.vars["db_backup_dir"]
    link = f"{bdir}/{PRE_UPGRADE}"
    existing = _manifest(host, link)
    if existing:
        applied = applied_scripts(host)
        if any(a["backup"] == existing["backup"] for a in applied.values()):
            return Outcome(
                host.name, "database backup", False, f"{existing['backup']} precedes the scripts"
            )
        if checksums(host) == existing["checksums"]:
            transcript.artifact("db-backup", f"{host}:{existing['backup']}", **_public(existing))
            return Outcome(host.name, "database backup", False, f"{existing['backup']} is current")

    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    dump = f"{bdir}/sakai-{stamp}.sql.gz"
    db = host.vars["db_name"]
    host.run(f"mkdir -p {q(bdir)} && chmod 700 {q(bdir)}")
    before = checksums(host)
    script = (
        f"set -o pipefail; mariadb-dump --single-transaction --routines --triggers --events "
        f"--hex-blob {q(db)} | gzip -1 > {q(dump)}.part && mv {q(dump)}.part {q(dump)}"
    )
    try:
        host.run(f"bash -c {q(script)}", timeout=1800)
    except Exception:
        host.run(f"rm -f {q(dump)}.part", check=False)
        raise
    after = checksums(host)
    if before != after:
        raise ActionError(f"{host}: the database changed during the dump: stop every writer first")
    digest = host.run(f"sha256sum {q(dump)}").stdout.split()[0] if not transcript.dry_run else ""
    verified = verify(host, dump, after)
    manifest = {"backup": dump, "sha256": digest, "checksums": after, "verified": verified}
    put_file(host, f"{dump}.json", json.dumps(manifest, indent=1, sort_keys=True), mode="0600")
    host.run(f"ln -sfn {q(Path(dump).name)} {q(link)}")
    transcript.artifact("db-backup", f"{host}:{dump}", **_public(manifest))
    return Outcome(host.name, "database backup", True, f"{dump} verified by a test restore")


def _public(manifest: dict) -> dict:
    return {
        "sha256": manifest["sha256"],
        "tables": len(manifest["checksums"]),
        "rows": sum(t["rows"] for t in manifest["checksums"].values()),
        "checksums": manifest["checksums"],
    }


def _manifest(host: Host, dump_or_link: str) -> dict | None:
    out = host.probe(
        f'f=$(readlink -f {q(dump_or_link)}) && test -f "$f" && cat "$f.json" || true'
    ).stdout
    return json.loads(out) if out.strip() else None


def verify(host: Host, dump: str, expected: dict[str, dict]) -> str:
    """Restore `dump` into a throwaway mariadbd on the host and compare checksums and row counts."""
    names = list(expected)
    check = (
        "CHECKSUM TABLE "
        + ", ".join(names)
        + "; "
        + " UNION ALL ".join(f"SELECT '{t}', COUNT(*) FROM `{t}`" for t in names)
    )
    script = f"""set -euo pipefail
d=$(mktemp -d /tmp/smartsite-verify.XXXXXX)
c="mariadb --no-defaults --socket=$d/sock --batch --skip-column-names"
cleanup() {{
  mariadb-admin --no-defaults --socket=$d/sock shutdown >/dev/null 2>&1 || true; rm -rf "$d"
}}
trap cleanup EXIT
mariadb-install-db --no-defaults --datadir="$d/data" --user=root --skip-test-db >/dev/null 2>&1
mariadbd --no-defaults --datadir="$d/data" --socket="$d/sock" --pid-file="$d/pid" --user=root \
  --skip-networking --skip-grant-tables --innodb-buffer-pool-size=64M --log-error="$d/err" &
for i in $(seq 120); do
  mariadb-admin --no-defaults --socket=$d/sock ping >/dev/null 2>&1 && break; sleep 0.5
done
$c -e 'CREATE DATABASE scratch'
gunzip -c {q(dump)} | $c scratch
$c scratch -e {q(check)}
"""
    out = host.run(f"bash -c {q(script)}", timeout=1800, changes=True).stdout
    if transcript.dry_run:
        return "dry run"
    lines = [line.split("\t") for line in out.splitlines() if line]
    got_sums = {r[0].split(".", 1)[1]: r[1] for r in lines[: len(names)]}
    got_rows = {r[0]: int(r[1]) for r in lines[len(names) :]}
    bad = [
        t
        for t in names
        if got_sums.get(t) != expected[t]["checksum"] or got_rows.get(t) != expected[t]["rows"]
    ]
    if bad:
        raise ActionError(
            f"{host}: backup {dump} does not restore to the same data: {', '.join(bad)}"
        )
    return f"restored into a scratch server: {len(names)} tables equal"


def run_scripts(host: Host, scripts: list[str], repo: Path) -> Outcome:
    """Run the SQL scripts in order, each once, stopping at the first error.

    The checksums of every table are recorded (artifact `db-checksums`) before the first script.
    """
    manifest = _manifest(host, f"{host.vars['db_backup_dir']}/{PRE_UPGRADE}")
    if not manifest and not transcript.dry_run:
        raise ActionError(
            f"{host}: no verified backup in {host.vars['db_backup_dir']}: run u04 first"
        )
    applied = applied_scripts(host)
    todo = []
    for name in scripts:
        path = repo / name
        if not path.is_file():
            raise ActionError(f"SQL script {path} not found: fix `sql_scripts` in the inventory")
        text = path.read_text()
        done = applied.get(path.name)
        if done and done["sha256"] != sha256(text):
            raise ActionError(
                f"{path.name} was applied at {done['applied_at']} with other contents"
            )
        if not done:
            todo.append((path.name, text))
    if not todo:
        return Outcome(host.name, "database scripts", False, "all applied earlier")
    transcript.artifact("db-checksums", f"{host}:{host.vars['db_name']}", checksums=checksums(host))
    _sql(
        host,
        f"CREATE TABLE IF NOT EXISTS {LOG_TABLE} (script VARCHAR(200) PRIMARY KEY, "
        "sha256 CHAR(64) NOT NULL, applied_at DATETIME NOT NULL, backup VARCHAR(500) NOT NULL)",
        changes=True,
    )
    host.run(f"mkdir -p {SCRIPT_DIR}")
    db = host.vars["db_name"]
    for name, text in todo:
        remote = f"{SCRIPT_DIR}/{name}"
        put_file(host, remote, text)
        # The client stops at the first failing statement and exits non-zero (no --force).
        host.run(f"mariadb --batch {q(db)} < {q(remote)}", timeout=1800)
        backup_path = manifest["backup"] if manifest else ""
        _sql(
            host,
            f"INSERT INTO {LOG_TABLE} VALUES ('{name}', '{sha256(text)}', NOW(), '{backup_path}')",
            changes=True,
        )
        transcript.artifact("db-script", f"{host}:{remote}", sha256=sha256(text))
    return Outcome(host.name, "database scripts", True, "applied " + ", ".join(n for n, _ in todo))


def restore(host: Host) -> Outcome:
    """Load the verified pre-upgrade backup; afterwards the checksums equal those recorded."""
    manifest = _manifest(host, f"{host.vars['db_backup_dir']}/{PRE_UPGRADE}")
    if not manifest:
        raise ActionError(f"{host}: no verified pre-upgrade backup in {host.vars['db_backup_dir']}")
    dump = manifest["backup"]
    if (
        checksums(host) == manifest["checksums"]
        and not applied_scripts(host)
        and set(tables(host)) == set(manifest["checksums"])
    ):
        return Outcome(host.name, "database restore", False, f"already equal to {dump}")
    host.run(f"echo '{manifest['sha256']}  {dump}' | sha256sum -c --quiet")
    db = q(host.vars["db_name"])
    drop = (
        "SELECT CONCAT('DROP TABLE IF EXISTS `', table_name, '`;') FROM information_schema.tables "
        "WHERE table_schema = DATABASE()"
    )
    script = (
        "set -o pipefail; "
        "(echo 'SET FOREIGN_KEY_CHECKS=0;'; "
        f"mariadb --batch --skip-column-names {db} -e {q(drop)}) "
        f"| mariadb {db} && gunzip -c {q(dump)} | mariadb {db}"
    )
    host.run(f"bash -c {q(script)}", timeout=1800)
    transcript.artifact("db-restore", f"{host}:{dump}", sha256=manifest["sha256"])
    return Outcome(host.name, "database restore", True, f"loaded {dump}")


@verification
def assert_checksums_equal_backup(host: Host) -> None:
    manifest = _manifest(host, f"{host.vars['db_backup_dir']}/{PRE_UPGRADE}")
    assert manifest, f"{host}: no pre-upgrade backup"
    now = checksums(host)
    then = manifest["checksums"]
    differ = [t for t in then if now.get(t) != then[t]] or sorted(set(now) ^ set(then))
    assert not differ, f"{host}: tables differ from the pre-upgrade backup: {differ}"


@verification
def assert_backup_verified(host: Host) -> None:
    manifest = _manifest(host, f"{host.vars['db_backup_dir']}/{PRE_UPGRADE}")
    assert manifest and manifest["verified"].startswith("restored"), f"{host}: no verified backup"
    host.probe(f"echo '{manifest['sha256']}  {manifest['backup']}' | sha256sum -c --quiet")


@verification
def assert_scripts_applied(host: Host, scripts: list[str]) -> None:
    applied = applied_scripts(host)
    missing = [Path(s).name for s in scripts if Path(s).name not in applied]
    assert not missing, f"{host}: scripts not applied: {', '.join(missing)}"


_CHANGE = [
    ("table", re.compile(r"create\s+table\s+(?:if\s+not\s+exists\s+)?`?(\w+)`?", re.I)),
    (
        "index",
        re.compile(
            r"create\s+(?:unique\s+)?index\s+(?:if\s+not\s+exists\s+)?`?(\w+)`?\s+on\s+`?(\w+)`?",
            re.I,
        ),
    ),
    (
        "column",
        re.compile(
            r"alter\s+table\s+`?(\w+)`?\s+add\s+(?:column\s+)?(?:if\s+not\s+exists\s+)?`?(\w+)`?",
            re.I,
        ),
    ),
]


def schema_changes(sql: str) -> list[tuple[str, str, str]]:
    """What a conversion script adds: ("table", T, ""), ("index", T, I), ("column", T, C).

    >>> schema_changes("ALTER TABLE SAKAI_SITE ADD COLUMN CUSTOM_PAGE_ORDERED CHAR(1);")
    [('column', 'SAKAI_SITE', 'CUSTOM_PAGE_ORDERED')]
    """
    sql = re.sub(r"--[^\n]*|/\*.*?\*/", " ", sql, flags=re.S)
    found = []
    for statement in sql.split(";"):
        for kind, pattern in _CHANGE:
            m = pattern.search(statement)
            if not m:
                continue
            if kind == "table":
                found.append(("table", m.group(1), ""))
            elif kind == "index":
                found.append(("index", m.group(2), m.group(1)))
            elif m.group(2).lower() not in (
                "constraint",
                "index",
                "key",
                "unique",
                "primary",
                "foreign",
            ):
                found.append(("column", m.group(1), m.group(2)))
            break
    return found


def missing_changes(host: Host, scripts: list[str], repo: Path) -> list[str]:
    """The schema changes of the scripts that the database does not carry."""
    changes = [c for s in scripts for c in schema_changes((repo / s).read_text())]
    if not changes:
        raise ActionError(f"no schema change recognised in {', '.join(scripts)}")
    have_tables = {
        r[0].lower()
        for r in _sql(
            host, "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()"
        )
    }
    have_cols = {
        (r[0].lower(), r[1].lower())
        for r in _sql(
            host,
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = DATABASE()",
        )
    }
    have_idx = {
        (r[0].lower(), r[1].lower())
        for r in _sql(
            host,
            "SELECT table_name, index_name FROM information_schema.statistics "
            "WHERE table_schema = DATABASE()",
        )
    }
    missing = []
    for kind, table, name in changes:
        ok = {
            "table": table.lower() in have_tables,
            "column": (table.lower(), name.lower()) in have_cols,
            "index": (table.lower(), name.lower()) in have_idx,
        }[kind]
        if not ok:
            missing.append(f"{kind} {table}{'.' + name if name else ''}")
    return missing


@verification
def assert_schema(host: Host, scripts: list[str], repo: Path) -> None:
    missing = missing_changes(host, scripts, repo)
    assert not missing, f"{host}: schema lacks {', '.join(missing)}"


def size_bytes(host: Host) -> int:
    rows = _sql(
        host,
        "SELECT COALESCE(SUM(data_length + index_length), 0) FROM information_schema.tables "
        "WHERE table_schema = DATABASE()",
    )
    return int(rows[0][0])


def free_bytes(host: Host) -> int:
    bdir = host.vars["db_backup_dir"]
    out = host.probe(f"df -B1 --output=avail {q(bdir)} | tail -n 1").stdout.strip()
    return int(out)
