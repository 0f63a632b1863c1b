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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pymysql.converters import escape_string

from runbooklib.actions.common import (
    ActionError,
    Outcome,
    private_folder,
    put_file,
    q,
    run_in,
    sha256,
)
from runbooklib.remote import Host
from runbooklib.transcript import carried, transcript, verification

LOG_TABLE = "RUNBOOK_SCRIPT_LOG"
# The backup the fallback restores: a symlink to the verified dump taken before the scripts.
PRE_UPGRADE = "pre-upgrade.sql.gz"
# MariaDB's unquoted identifier: what a table or column name must be before the runbook puts it
# into SQL (backquoted), even one read back from the database: the Sakai user creates tables.
IDENTIFIER = re.compile(r"[0-9A-Za-z$_]{1,64}")
# Whether each db host's `mariadb` client has --sandbox (no `\!` shell escapes, no file access:
# MariaDB 10.5.25, 10.6.18, 10.11.8 and later), asked once per host.
_SANDBOX: dict[tuple[str, str], bool] = {}


def ident(host: Host, name: str) -> str:
    """`name` backquoted for SQL, once it is a plain MariaDB identifier; else the step stops."""
    if not IDENTIFIER.fullmatch(name) or name.isdigit():
        raise ActionError(
            f"{host}: the database holds a table or column named {name!r}, not a plain "
            "identifier ([0-9A-Za-z$_], at most 64): rename it before the runbook reads it"
        )
    return "`" + name.replace("`", "``") + "`"


def lit(value: object) -> str:
    """`value` as an SQL string literal (PyMySQL's escaping)."""
    return "'" + escape_string(str(value)) + "'"


def client(host: Host, first: str = "") -> str:
    """`mariadb`, with --sandbox where this host's client has it (after `first`: an option
    such as --no-defaults that must come first)."""
    key = (host.name, host.address)
    if key not in _SANDBOX:
        out = host.probe("mariadb --help 2>/dev/null | grep -c -e --sandbox || true")
        _SANDBOX[key] = out.stdout.strip() not in ("", "0")
    return " ".join(["mariadb", *([first] if first else []), *(["--sandbox"] * _SANDBOX[key])])


def _sql(host: Host, query: str, *, timeout: float = 120, changes: bool = False) -> list[list[str]]:
    """Rows of a query in the inventory's database (tab-separated, no headers)."""
    db = host.vars["db_name"]
    cmd = f"{client(host)} --batch --skip-column-names -e {q(query)} -- {q(db)}"
    out = host.run(cmd, timeout=timeout, changes=changes).stdout
    return [line.split("\t") for line in out.splitlines() if line]


def tables(host: Host) -> list[str]:
    rows = _sql(
        host,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() "
        "AND table_type = 'BASE TABLE' ORDER BY table_name",
    )
    names = [r[0] for r in rows if r[0] != LOG_TABLE]
    for name in names:
        ident(host, name)
    return names


def checksums(host: Host) -> dict[str, dict]:
    """CHECKSUM TABLE and row count of every table (our own log table excepted)."""
    names = tables(host)
    if not names:
        raise ActionError(f"{host}: database {host.vars['db_name']} has no tables")
    return _checksum_query(host, names, lambda sql: _sql(host, sql, timeout=300))


def _checksum_query(host: Host, names: list[str], run) -> dict[str, dict]:
    quoted = [ident(host, t) for t in names]
    sums = {r[0].split(".", 1)[1]: r[1] for r in run("CHECKSUM TABLE " + ", ".join(quoted))}
    counts_sql = " UNION ALL ".join(
        f"SELECT {lit(t)}, COUNT(*) FROM {ident(host, t)}" for t in names
    )
    counts = {r[0]: int(r[1]) for r in run(counts_sql)}
    return {t: {"checksum": sums[t], "rows": counts[t]} for t in names}


def columns(host: Host, names: list[str]) -> dict[str, list[str]]:
    """The columns of each table, in their order."""
    listed = ", ".join(lit(t) for t in names)
    rows = _sql(
        host,
        "SELECT table_name, column_name FROM information_schema.columns "
        f"WHERE table_schema = DATABASE() AND table_name IN ({listed}) "
        "ORDER BY table_name, ordinal_position",
    )
    found: dict[str, list[str]] = {t: [] for t in names}
    for table, column in rows:
        ident(host, column)
        found.setdefault(table, []).append(column)
    return found


def contents(host: Host, cols: dict[str, list[str]]) -> dict[str, dict]:
    """Row count and a checksum of every row over the given columns only, table by table.

    Unlike CHECKSUM TABLE it does not change when the upgrade adds a column or an index, so it
    tells rows written since the backup apart from the upgrade's own schema changes.
    """
    present = [t for t, c in cols.items() if c]
    if not present:
        return {}

    def row(table: str) -> str:
        fields = ", ".join(f"IFNULL(HEX({ident(host, c)}), 'NULL')" for c in cols[table])
        return (
            f"SELECT {lit(table)}, COUNT(*), COALESCE(SUM(CRC32(CONCAT_WS('|', {fields}))), 0) "
            f"FROM {ident(host, table)}"
        )

    out = _sql(host, " UNION ALL ".join(row(t) for t in present), timeout=600)
    return {r[0]: {"rows": int(r[1]), "crc": r[2]} for r in out}


def applied_scripts(host: Host) -> dict[str, dict]:
    """Scripts recorded as applied (a started one that never finished is not)."""
    return {n: e for n, e in _script_log(host).items() if e["applied_at"]}


def backup(host: Host) -> Outcome:
    """A consistent dump, verified by restoring it; kept as the pre-upgrade backup.

    Skipped when the pre-upgrade backup exists and still describes the database, or when scripts
    were already applied after it (a re-run must not replace the backup the fallback needs).
    """
    bdir = host.vars["db_backup_dir"]
    link = f"{bdir}/{PRE_UPGRADE}"
    existing = _manifest(host, link)
    if existing:
        # Started scripts count: a backup taken after one began is no pre-upgrade backup.
        if any(a["backup"] == existing["backup"] for a in _script_log(host).values()):
            return Outcome(
                host, "database backup", False, f"{existing['backup']} precedes the scripts"
            )
        if checksums(host) == existing["checksums"]:
            transcript.artifact("db-backup", f"{host}:{existing['backup']}", **_public(existing))
            return Outcome(host, "database backup", False, f"{existing['backup']} is current")

    manifest = dump_verified(host, "sakai")
    host.run(f"ln -sfn -- {q(Path(manifest['backup']).name)} {q(link)}")
    transcript.artifact("db-backup", f"{host}:{manifest['backup']}", **_public(manifest))
    if host.check_mode:  # nothing was dumped: the words say what a real run would do
        return Outcome(
            host,
            "database backup",
            True,
            f"would save {manifest['backup']} and would verify it by a test restore",
        )
    return Outcome(
        host, "database backup", True, f"{manifest['backup']} verified by a test restore"
    )


def dump_verified(host: Host, prefix: str) -> dict:
    """`<db_backup_dir>/<prefix>-<UTC>.sql.gz`, consistent and verified by a test restore, with
    its manifest beside it (`.json`: sha256, table checksums, columns, row contents)."""
    bdir = host.vars["db_backup_dir"]
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    dump = f"{bdir}/{prefix}-{stamp}.sql.gz"
    db = host.vars["db_name"]
    # A dump killed half-way left only its `.part`: nothing refers to it.
    run_in(host, [bdir], f"{private_folder(bdir)} && rm -f -- {q(bdir)}/*.part")
    before = checksums(host)
    # The digest is taken as the dump is written: no second read of the file.
    script = (
        f"set -o pipefail; umask 077; mariadb-dump --single-transaction --routines --triggers "
        f"--events --hex-blob -- {q(db)} | gzip -1 | tee {q(dump + '.part')} | sha256sum && "
        f"mv -fT {q(dump + '.part')} {q(dump)}"
    )
    try:
        digest = host.run(f"bash -c {q(script)}", timeout=1800).stdout.split()[:1]
    except Exception:
        host.run(f"rm -f {q(dump + '.part')}", check=False)
        raise
    # The test restore into the scratch server and the second reading of the live database are
    # independent: side by side, the backup costs about the dump plus the longer of the two.
    with ThreadPoolExecutor(max_workers=2) as pool:
        restored = pool.submit(carried(scratch_restore), host, dump, list(before))
        after = checksums(host)
        cols = columns(host, list(after))
        rows = contents(host, cols)
        found = restored.result()
    if before != after:
        raise ActionError(f"{host}: the database changed during the dump: stop every writer first")
    verified = compare_restored(host, dump, after, found)
    manifest = {
        "backup": dump,
        "sha256": digest[0] if digest and not host.check_mode else "",
        "checksums": after,
        "columns": cols,
        "contents": rows,
        "verified": verified,
    }
    put_file(host, f"{dump}.json", json.dumps(manifest, indent=1, sort_keys=True), mode="0600")
    return manifest


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
    return compare_restored(host, dump, expected, scratch_restore(host, dump, list(expected)))


def scratch_restore(host: Host, dump: str, names: list[str]) -> dict[str, dict] | None:
    """`dump` restored into a throwaway mariadbd on the host: CHECKSUM TABLE and row count of
    each of `names` there (None in a dry run). The scratch server is thrown away after, so it
    needs no durability: no flush at each commit, no doublewrite, a buffer pool that holds the
    data being loaded. Nor does it need system tables (`--skip-grant-tables` serves an empty
    datadir: no mariadb-install-db, 1-4 s on a loaded machine) or a clean shutdown (SIGKILL,
    not the second of `mariadb-admin shutdown`'s flush). Its tmpdir is its own: a mariadbd
    deletes every `#sql*` file in its tmpdir as it starts, and in /tmp those are the live
    server's temporary tables (a live query failed so at u04). A fresh InnoDB now and then waits
    a second for its page cleaner as it starts (4-8 of 40 starts on the lab's MariaDB 10.11): a
    second server starts when the first has not answered in 0.3 s, and the first to answer
    takes the restore (40 starts: none slow, the second used twice)."""
    check = (
        "CHECKSUM TABLE "
        + ", ".join(ident(host, t) for t in names)
        + "; "
        + " UNION ALL ".join(f"SELECT {lit(t)}, COUNT(*) FROM {ident(host, t)}" for t in names)
    )
    script = f"""set -euo pipefail
d=$(mktemp -d /tmp/smartsite-verify.XXXXXX)
servers=
cleanup() {{
  for p in $servers; do {{ kill -9 "$p"; wait "$p"; }} 2>/dev/null || true; done
  rm -rf "$d"
}}
trap cleanup EXIT
start() {{
  mkdir "$d/$1" "$d/$1/data" "$d/$1/tmp"
  mariadbd --no-defaults --datadir="$d/$1/data" --socket="$d/$1/sock" --pid-file="$d/$1/pid" \
    --user=root --tmpdir="$d/$1/tmp" --skip-networking --skip-grant-tables \
    --innodb-buffer-pool-size=512M --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 \
    --log-error="$d/$1/err" &
  servers="$servers $!"
}}
start a
sock=
for i in $(seq 1200); do
  for s in "$d"/*/sock; do
    if mariadb-admin --no-defaults --socket="$s" ping >/dev/null 2>&1; then sock=$s; break 2; fi
  done
  if [ "$i" = 6 ]; then start b; fi
  sleep 0.05
done
c="{client(host, "--no-defaults")} --socket=$sock --batch --skip-column-names"
$c -e 'CREATE DATABASE scratch'
gunzip -c {q(dump)} | $c scratch
$c scratch -e {q(check)}
"""
    out = host.run(f"bash -c {q(script)}", timeout=1800, changes=True).stdout
    if host.check_mode:
        return None
    lines = [line.split("\t") for line in out.splitlines() if line]
    sums = {r[0].split(".", 1)[1]: r[1] for r in lines[: len(names)]}
    counts = {r[0]: int(r[1]) for r in lines[len(names) :]}
    return {t: {"checksum": sums.get(t), "rows": counts.get(t)} for t in names}


def compare_restored(
    host: Host, dump: str, expected: dict[str, dict], found: dict[str, dict] | None
) -> str:
    if found is None:
        return "dry run"
    bad = [t for t in expected if found.get(t) != expected[t]]
    if bad:
        raise ActionError(
            f"{host}: backup {dump} does not restore to the same data: {', '.join(bad)}"
        )
    return f"restored into a scratch server: {len(expected)} tables equal"


def run_scripts(host: Host, scripts: list[str], repo: Path) -> Outcome:
    """Run the SQL scripts in order, each once, stopping at the first error.

    Crash-safe: a script is marked started before it runs and applied after; each statement's
    effect on the schema is known before it runs, so a script that a crash cut short is
    completed with exactly the statements whose effect is missing, never one that took effect.
    The checksums of every table are recorded (artifact `db-checksums`) before the first script.
    """
    manifest = _manifest(host, f"{host.vars['db_backup_dir']}/{PRE_UPGRADE}")
    if not manifest and not host.check_mode:
        raise ActionError(
            f"{host}: no verified backup in {host.vars['db_backup_dir']}: run u04 first"
        )
    logged = _script_log(host)
    todo = []
    for name in scripts:
        path = repo / name
        if not path.is_file():
            raise ActionError(f"SQL script {path} not found: fix `sql_scripts` in the inventory")
        text = path.read_text()
        done = logged.get(path.name)
        if done and done["sha256"] != sha256(text):
            raise ActionError(
                f"{path.name} was applied at {done['applied_at']} with other contents"
            )
        if not done or not done["applied_at"]:
            todo.append((path.name, text, bool(done)))
    if not todo:
        return Outcome(host, "database scripts", False, "all applied earlier")
    transcript.artifact("db-checksums", f"{host}:{host.vars['db_name']}", checksums=checksums(host))
    _sql(
        host,
        f"CREATE TABLE IF NOT EXISTS {LOG_TABLE} (script VARCHAR(200) PRIMARY KEY, "
        "sha256 CHAR(64) NOT NULL, applied_at DATETIME NULL, backup VARCHAR(500) NOT NULL)",
        changes=True,
    )
    db, backup_path = host.vars["db_name"], manifest["backup"] if manifest else ""
    did = []
    for name, text, started in todo:
        remaining = statements_to_run(host, name, text, started)
        if started and not remaining:
            transcript.note(
                f"{name}: every statement had taken effect; only its record was missing"
            )
        _sql(
            host,
            f"INSERT IGNORE INTO {LOG_TABLE} VALUES ({lit(name)}, {lit(sha256(text))}, NULL, "
            f"{lit(backup_path)})",
            changes=True,
        )
        if remaining:
            # The statements go to the client's standard input over the connection: no file on
            # the host that anyone could swap between its writing and its reading. The client
            # stops at the first failing statement and exits non-zero (no --force).
            host.run(
                f"{client(host)} --batch -- {q(db)}",
                timeout=1800,
                stdin=(";\n".join(remaining) + ";\n").encode(),
            )
            transcript.artifact(
                "db-script", f"{host}:{db}:{name}", sha256=sha256(text), statements=remaining
            )
        _sql(
            host,
            f"UPDATE {LOG_TABLE} SET applied_at = NOW() WHERE script = {lit(name)}",
            changes=True,
        )
        count = f"{len(remaining)} of {len(statements(text))} statements"
        did.append(f"{name} ({count}{', after an interruption' if started else ''})")
    return Outcome(host, "database scripts", True, ", ".join(did))


def statements_to_run(host: Host, name: str, text: str, started: bool) -> list[str]:
    """The statements of a script still to run, judged from the schema before it runs.

    A statement whose effect the schema already shows (a run cut short by a crash, or a hand)
    is never run again. When a statement's effect cannot be seen in the schema and the script
    may have begun, nobody can tell whether it ran: the operator decides (one line: what exists,
    what is missing, the two ways out).
    """
    stmts = statements(text)
    effects = [effect(s) for s in stmts]
    have = _schema(host)
    present = [e is not None and _has(have, e) for e in effects]
    blind = [s for s, e in zip(stmts, effects, strict=True) if e is None]
    if not any(present) and not (started and blind):
        return stmts
    if blind:
        exist = [_describe(e) for e, p in zip(effects, present, strict=True) if p]
        missing = [_describe(e) for e, p in zip(effects, present, strict=True) if e and not p]
        raise ActionError(
            f"{host}: {name} was cut short: present {', '.join(exist) or 'nothing'}; missing "
            f"{', '.join(missing) or 'nothing visible'}; `{_short(blind[0])}` leaves no trace in "
            f"the schema, so nobody can tell whether it ran. Either finish {name} by hand, then "
            f"mark it applied: python -m runbooklib.mark_applied {name}; or fall back: "
            "pytest runbook/ -k fallback"
        )
    done = [_describe(e) for e, p in zip(effects, present, strict=True) if p]
    transcript.note(f"{host}: {name}: already in the schema, not run again: {', '.join(done)}")
    return [s for s, p in zip(stmts, present, strict=True) if not p]


def _short(statement: str) -> str:
    one = " ".join(statement.split())
    return one if len(one) <= 60 else one[:57] + "..."


def _describe(change: tuple[str, str, str]) -> str:
    kind, table, name = change
    return f"{kind} {table}{'.' + name if name else ''}"


def mark_applied(host: Host, name: str, text: str) -> Outcome:
    """Record a script as applied after an operator finished it by hand."""
    _sql(
        host,
        f"CREATE TABLE IF NOT EXISTS {LOG_TABLE} (script VARCHAR(200) PRIMARY KEY, "
        "sha256 CHAR(64) NOT NULL, applied_at DATETIME NULL, backup VARCHAR(500) NOT NULL)",
        changes=True,
    )
    manifest = _manifest(host, f"{host.vars['db_backup_dir']}/{PRE_UPGRADE}") or {}
    _sql(
        host,
        f"INSERT INTO {LOG_TABLE} VALUES ({lit(name)}, {lit(sha256(text))}, NOW(), "
        f"{lit(manifest.get('backup', ''))}) ON DUPLICATE KEY UPDATE applied_at = NOW()",
        changes=True,
    )
    return Outcome(host, f"mark {name} applied", True, "by hand")


def writes_since_backup(host: Host, manifest: dict) -> dict[str, str]:
    """Tables whose rows differ from the backup's, over the backup's own columns: what a
    restore would lose. Tables the running nodes rewrite (`db_volatile_tables`) do not count."""
    volatile = set(host.vars.get("db_volatile_tables") or [])
    then, cols = manifest["contents"], manifest["columns"]
    now = contents(host, {t: c for t, c in cols.items() if t not in volatile})
    lost = {}
    for table, was in then.items():
        if table in volatile:
            continue
        rows = now.get(table, {}).get("rows", 0)
        if now.get(table) != was:
            lost[table] = f"{table}: {was['rows']} rows in the backup, {rows} now"
    return lost


RESTORING = "restore-in-progress"


def restore(host: Host, scripts: list[str], repo: Path, allow_loss) -> Outcome:
    """Bring the database back to the pre-upgrade backup, only if the upgrade changed it.

    "Unchanged" is proven, never assumed: no script recorded, none of their schema changes
    present, and every table's rows equal to the backup's. Before a restore, the database as it
    is gets a verified dump of its own (nothing is destroyed without a copy); rows written since
    the backup are named and `allow_loss(text)` decides (it raises to stop).
    """
    bdir = host.vars["db_backup_dir"]
    manifest = _manifest(host, f"{bdir}/{PRE_UPGRADE}")
    present = _present_changes(host, scripts, repo)
    marker = f"{bdir}/{RESTORING}"
    interrupted = host.probe(f"cat {q(marker)} 2>/dev/null || true").stdout.strip()
    if not manifest:
        if present or applied_scripts(host):
            raise ActionError(
                f"{host}: the schema carries {', '.join(present)} but no pre-upgrade backup "
                f"exists in {bdir}: restore the last nightly backup by hand"
            )
        _drop_empty_log(host)
        return Outcome(
            host,
            "database restore",
            False,
            "no backup was taken and no script was applied (the schema carries none of their "
            "changes): the database is as before the window, nothing to restore",
        )
    dump = manifest["backup"]
    if not interrupted:
        lost = writes_since_backup(host, manifest)
        same_tables = set(tables(host)) == set(manifest["checksums"])
        if not lost and not present and not _script_log(host) and same_tables:
            _drop_empty_log(host)
            return Outcome(
                host,
                "database restore",
                False,
                f"no script was applied and every table's rows equal {dump}: nothing to restore",
            )
        kept = dump_verified(host, "before-fallback")
        transcript.artifact("db-kept", f"{host}:{kept['backup']}", **_public(kept))
        if lost:
            allow_loss(
                f"restoring {dump} loses the rows written since the backup ("
                + "; ".join(lost.values())
                + f"); they are kept in {kept['backup']}: replay them from there after the fallback"
            )
        put_file(host, marker, kept["backup"] + "\n", mode="0600")
    else:
        transcript.note(
            f"finishing a restore that was cut short; the database before it: {interrupted}"
        )
    host.run(f"printf '%s  %s\\n' {q(manifest['sha256'])} {q(dump)} | sha256sum -c --quiet")
    db, mariadb = q(host.vars["db_name"]), client(host)
    # The names are the database's own: backquoted here, any backquote in them doubled.
    drop = (
        "SELECT CONCAT('DROP TABLE IF EXISTS `', REPLACE(table_name, '`', '``'), '`;') "
        "FROM information_schema.tables WHERE table_schema = DATABASE()"
    )
    script = (
        "set -o pipefail; "
        "(echo 'SET FOREIGN_KEY_CHECKS=0;'; "
        f"{mariadb} --batch --skip-column-names -e {q(drop)} -- {db}) "
        f"| {mariadb} -- {db} && gunzip -c -- {q(dump)} | {mariadb} -- {db}"
    )
    host.run(f"bash -c {q(script)}", timeout=1800)
    host.run(f"rm -f {q(marker)}")
    transcript.artifact("db-restore", f"{host}:{dump}", sha256=manifest["sha256"])
    if host.check_mode:  # nothing was saved or loaded: the words say what a real run would do
        return Outcome(
            host, "database restore", True, f"would save the database as it is, then load {dump}"
        )
    return Outcome(host, "database restore", True, f"loaded {dump}")


def _drop_empty_log(host: Host) -> None:
    """u05 creates our log table before its first script: with no script in it, it goes."""
    exists = _sql(
        host,
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() "
        f"AND table_name = {lit(LOG_TABLE)}",
    )
    if exists[0][0] != "0":
        _sql(host, f"DROP TABLE {LOG_TABLE}", changes=True)
        did = "would drop" if host.check_mode else "dropped"
        transcript.note(f"{host}: {did} the empty {LOG_TABLE} that u05 had created")


def _present_changes(host: Host, scripts: list[str], repo: Path) -> list[str]:
    have = _schema(host)
    changes = [c for s in scripts for c in schema_changes((repo / s).read_text())]
    return [_describe(c) for c in changes if _has(have, c)]


def _script_log(host: Host) -> dict[str, dict]:
    """Every script the log knows, started (applied_at empty) or applied."""
    exists = _sql(
        host,
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() "
        f"AND table_name = {lit(LOG_TABLE)}",
    )
    if exists[0][0] == "0":
        return {}
    rows = _sql(host, f"SELECT script, sha256, IFNULL(applied_at, ''), backup FROM {LOG_TABLE}")
    return {r[0]: {"sha256": r[1], "applied_at": r[2], "backup": r[3]} for r in rows}


@verification
def assert_as_before_window(host: Host, scripts: list[str], repo: Path) -> None:
    """No upgrade script's change in the schema, none recorded, and, when a backup was taken,
    every table's checksum equal to the backup's."""
    present = _present_changes(host, scripts, repo)
    assert not present, f"{host}: the schema still carries {', '.join(present)}"
    assert not _script_log(host), f"{host}: {LOG_TABLE} still records scripts"
    if _manifest(host, f"{host.vars['db_backup_dir']}/{PRE_UPGRADE}"):
        assert_checksums_equal_backup(host)


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
    host.probe(
        f"printf '%s  %s\\n' {q(manifest['sha256'])} {q(manifest['backup'])} | sha256sum -c --quiet"
    )


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


_NOT_A_COLUMN = ("constraint", "index", "key", "unique", "primary", "foreign")


def statements(sql: str) -> list[str]:
    """The statements of a script, comments removed, without their `;`."""
    sql = re.sub(r"--[^\n]*|/\*.*?\*/", " ", sql, flags=re.S)
    return [s.strip() for s in sql.split(";") if s.strip()]


def effect(statement: str) -> tuple[str, str, str] | None:
    """What one statement adds to the schema, or None when the schema cannot show it."""
    for kind, pattern in _CHANGE:
        m = pattern.search(statement)
        if not m:
            continue
        if kind == "table":
            return ("table", m.group(1), "")
        if kind == "index":
            return ("index", m.group(2), m.group(1))
        if m.group(2).lower() not in _NOT_A_COLUMN:
            return ("column", m.group(1), m.group(2))
        return None
    return None


def schema_changes(sql: str) -> list[tuple[str, str, str]]:
    """What a conversion script adds: ("table", T, ""), ("index", T, I), ("column", T, C).

    >>> schema_changes("ALTER TABLE SAKAI_SITE ADD COLUMN CUSTOM_PAGE_ORDERED CHAR(1);")
    [('column', 'SAKAI_SITE', 'CUSTOM_PAGE_ORDERED')]
    """
    return [e for e in map(effect, statements(sql)) if e]


def _schema(host: Host) -> dict[str, set]:
    """Tables, (table, column) and (table, index) pairs of the database, lower case."""
    tables_ = _sql(
        host, "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()"
    )
    cols = _sql(
        host,
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = DATABASE()",
    )
    idx = _sql(
        host,
        "SELECT table_name, index_name FROM information_schema.statistics "
        "WHERE table_schema = DATABASE()",
    )
    return {
        "table": {r[0].lower() for r in tables_},
        "column": {(r[0].lower(), r[1].lower()) for r in cols},
        "index": {(r[0].lower(), r[1].lower()) for r in idx},
    }


def _has(schema: dict[str, set], change: tuple[str, str, str]) -> bool:
    kind, table, name = change
    key = table.lower() if kind == "table" else (table.lower(), name.lower())
    return key in schema[kind]


def missing_changes(host: Host, scripts: list[str], repo: Path) -> list[str]:
    """The schema changes of the scripts that the database does not carry."""
    changes = [c for s in scripts for c in schema_changes((repo / s).read_text())]
    if not changes:
        raise ActionError(f"no schema change recognised in {', '.join(scripts)}")
    have = _schema(host)
    return [_describe(c) for c in changes if not _has(have, c)]


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
    out = host.probe(f"df -B1 --output=avail -- {q(bdir)} | tail -n 1").stdout.strip()
    return int(out)
