"""Neighbours (issue 17, item 1): an unprivileged user on the db host and on an app node prepares
every predictable path the runbook once wrote to, then the full upgrade runs.

On caje, `nobody` makes the old SQL folder (/tmp/smartsite-runbook-sql, mode 0777) with a hostile
SAK-869.sql in it (a table of theirs and a `\\!` shell escape) and symlinks at the old temporary
names pointing at a file root must not touch; on stubing the same folder and links. Names in
root's own folders (sakai home, Tomcat's bin) that the runbook once used for its `.part` and
`.runbook-tmp` files hold symlinks to that file too (a neighbour cannot make those, but a run
must not follow a link it did not make). The upgrade passes; nothing of theirs is used, run or
written to.

On caje `nobody` also holds the old lock path (/run/lock/smartsite-runbook.lock: on Debian
/run/lock is 1777, so anyone could) for the whole run: the lock is root's private folder now,
so it blocks no one. The run's records come out private (0600 in a 0700 folder).
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from runbooklib.inventory import Inventory

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
INV = Inventory.load(REPO / "inventories/lab.yml")
V = INV.vars
UPGRADE = ["runbook/", "-k", "upgrade", "--operator", "e2e", "--approve", "all"]
AS_NOBODY = "setpriv --reuid=65534 --regid=65534 --clear-groups"
OLD_SQL = "/tmp/smartsite-runbook-sql"
OLD_LOCK = "/run/lock/smartsite-runbook.lock"
HOLDER_PID = "/root/old-lock-holder.pid"
# A file root must never write to: a copy of /etc/passwd that the links point at.
VICTIM = "/root/passwd-copy"
HOME, BIN = V["sakai_home"].rstrip("/"), f"{V['tomcat_base']}/bin"
ROOT_LINKS = [
    f"{HOME}/sakai.properties.part",
    f"{HOME}/sakai.properties.runbook-tmp",
    f"{HOME}/local.properties.part",
    f"{HOME}/local.properties.runbook-tmp",
    f"{BIN}/setenv.sh.part",
    f"{BIN}/setenv.sh.runbook-tmp",
]
HOSTILE_SQL = "CREATE TABLE sakai.pwned_by_nobody (x INT);\n\\! touch /tmp/pwn-sql\n"
NEIGHBOUR = f"""set -e
mkdir -m 0777 {OLD_SQL}
cd {OLD_SQL}
printf '%s' '{HOSTILE_SQL}' > SAK-869.sql
cp SAK-869.sql SAK-878.sql
ln -s {VICTIM} SAK-869.sql.runbook-tmp
ln -s {VICTIM} SAK-878.sql.runbook-tmp
"""
# Everything a neighbour left, as it is: type, owner, mode, mtime, link target, content digest.
SNAPSHOT = (
    "for f in {paths}; do stat -c '%n %F %U %a %Y %N' \"$f\"; "
    '[ -f "$f" ] && ! [ -L "$f" ] && sha256sum "$f"; done; true'
)


def ssh(lab, host: str, script: str, check: bool = True) -> subprocess.CompletedProcess:
    out = lab.ssh(host, script, timeout=120)
    if check:
        assert out.returncode == 0, f"{host}: `{script}` exited {out.returncode}: {out.stderr}"
    return out


def snapshot(lab, host: str, paths: list[str]) -> str:
    return ssh(lab, host, SNAPSHOT.format(paths=" ".join(paths))).stdout


def upgrade(reports: Path) -> subprocess.CompletedProcess:
    reports.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *UPGRADE, "--reports", reports],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1500,
    )


@pytest.fixture
def neighbours(lab):
    lab.cli("reset", timeout=900)
    for host in ("caje", "stubing"):
        ssh(
            lab, host, f"rm -rf {OLD_SQL} /tmp/pwn-sql; cp /etc/passwd {VICTIM}; chmod 644 {VICTIM}"
        )
        ssh(lab, host, f"{AS_NOBODY} sh -c {shlex.quote(NEIGHBOUR)}")
    ssh(lab, "stubing", " && ".join(f"ln -sfn {VICTIM} {link}" for link in ROOT_LINKS))
    # Debian's /run/lock is 1777 (a fresh lab host has none): nobody makes the old lock file.
    ssh(
        lab,
        "caje",
        f"mkdir -p -m 1777 /run/lock && chmod 1777 /run/lock && rm -f {OLD_LOCK} && "
        f"{AS_NOBODY} touch {OLD_LOCK} && "
        f"{{ {AS_NOBODY} flock -n {OLD_LOCK} sleep 1200 </dev/null >/dev/null 2>&1 & "
        f"echo $! > {HOLDER_PID}; }}",
    )
    ssh(lab, "caje", f"sleep 0.5; ! flock -n {OLD_LOCK} true")  # nobody holds it
    yield
    ssh(lab, "caje", f"kill $(cat {HOLDER_PID}); rm -f {HOLDER_PID} {OLD_LOCK}", check=False)
    for host in ("caje", "stubing"):
        ssh(lab, host, f"rm -rf {OLD_SQL} {VICTIM} /tmp/pwn-sql {' '.join(ROOT_LINKS)}")
    ssh(lab, "caje", "mariadb -e 'DROP TABLE IF EXISTS sakai.pwned_by_nobody'")


def test_nothing_of_a_neighbour_is_used_run_or_written_to(lab, neighbours, tmp_path):
    theirs = [OLD_SQL, *(f"{OLD_SQL}/{n}" for n in ("SAK-869.sql", "SAK-878.sql")), VICTIM]
    theirs += [f"{OLD_SQL}/SAK-869.sql.runbook-tmp", f"{OLD_SQL}/SAK-878.sql.runbook-tmp"]
    before = {
        "caje": snapshot(lab, "caje", theirs),
        "stubing": snapshot(lab, "stubing", [*theirs, *ROOT_LINKS]),
    }
    assert "nobody" in before["caje"] and "777" in before["caje"], before["caje"]
    assert before["stubing"].count(f"-> '{VICTIM}'") == 8, before["stubing"]

    reports = tmp_path / "r"
    run = upgrade(reports)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    assert ssh(lab, "caje", f"! flock -n {OLD_LOCK} true").returncode == 0  # held throughout

    assert reports.stat().st_mode & 0o777 == 0o700
    records = [p for p in reports.iterdir() if p.is_file()]
    assert any(p.suffix == ".html" for p in records) and any(p.suffix == ".jsonl" for p in records)
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in records} == {
        p.name: oct(0o600) for p in records
    }

    after = {
        "caje": snapshot(lab, "caje", theirs),
        "stubing": snapshot(lab, "stubing", [*theirs, *ROOT_LINKS]),
    }
    assert after == before
    for host in ("caje", "stubing"):
        listing = ssh(lab, host, f"ls -A {OLD_SQL}").stdout.split()
        assert sorted(listing) == sorted(
            ["SAK-869.sql", "SAK-878.sql", "SAK-869.sql.runbook-tmp", "SAK-878.sql.runbook-tmp"]
        ), f"{host}: root wrote into the neighbour's folder: {listing}"
        assert ssh(lab, host, "ls /tmp/pwn-sql", check=False).returncode != 0
    tables = ssh(
        lab,
        "caje",
        'mariadb -N -B -e "SELECT COUNT(*) FROM information_schema.tables '
        "WHERE table_schema='sakai' AND table_name='pwned_by_nobody'\"",
    ).stdout.strip()
    assert tables == "0", "the neighbour's SQL ran"
    # The scripts did run, from the runbook's own copy.
    applied = ssh(lab, "caje", "mariadb -N -B -e 'SELECT script FROM sakai.RUNBOOK_SCRIPT_LOG'")
    assert set(applied.stdout.split()) == {"SAK-869.sql", "SAK-878.sql"}
