"""caje: MariaDB with the 2.4.0 schema and data, user `sakai` (ALL on sakai.*, no SUPER).

The first `up` loads the seed (lab/db) and keeps a copy of the stopped datadir
(STATE/hosts/caje/mysql-pristine); `reset` puts that copy back, which is faster than reloading.
The lab's own statements go in as root over the unix socket, through stdin: no password is ever on
a command line.
"""

from __future__ import annotations

import shutil
import subprocess

from lab import db, hosts, netns, pki
from lab.config import BACKUP_DIR, LabError, LabHost

SOCKET = "/run/mysqld/mysqld.sock"
ROOT_CLIENT = "mariadb --no-defaults -uroot --socket=" + SOCKET  # unix_socket auth as root


def _dirs(host: LabHost):
    return host.dir / "mysql", host.dir / "mysql-pristine", host.dir / "my.cnf"


def write_config(host: LabHost) -> None:
    logs = host.dir / "logs"
    shutil.chown(logs, "mysql", "mysql")  # mariadbd runs as mysql and writes its error log there
    _dirs(host)[2].write_text(
        f"""# Written by `python -m lab up`.
[mysqld]
user = mysql
datadir = /var/lib/mysql
socket = {SOCKET}
pid-file = /run/mysqld/mysqld.pid
bind-address = {host.address}
port = 3306
skip-name-resolve
log-error = {logs}/mariadb.err
performance_schema = off
innodb_buffer_pool_size = 64M
innodb_log_file_size = 16M
"""
    )


def sql(host: LabHost, statements: str, timeout: float = 120) -> str:
    return netns.sh(host, ROOT_CLIENT, stdin=statements, timeout=timeout).stdout


def pid(host: LabHost) -> int | None:
    found = netns.host_pids(host, "mariadbd")
    return min(found) if found else None


def running(host: LabHost) -> bool:
    return bool(pid(host)) and hosts.port_open(host.address, 3306)


def start(host: LabHost) -> None:
    if running(host):
        return
    cnf = _dirs(host)[2]
    netns.spawn(host, ["mariadbd", f"--defaults-file={cnf}"], host.dir / "logs" / "mariadbd.out")
    try:
        hosts.wait_port(host, 3306, "MariaDB", bound=60)
    except LabError:
        tail = (host.dir / "logs" / "mariadb.err").read_text()[-400:].replace("\n", " | ")
        raise LabError(f"caje: MariaDB did not start: {tail}") from None


def stop(host: LabHost) -> None:
    p = pid(host)
    if p:
        netns.end_pids([p], bound=30)  # SIGTERM is mariadbd's clean shutdown


def write_my_cnf(host: LabHost, password: str) -> None:
    """/root/.my.cnf on caje: the clients connect as sakai with no password on the command line."""
    cnf = host.dir / "root" / ".my.cnf"
    cnf.touch(mode=0o600)
    cnf.chmod(0o600)
    # Quoted, with backslash and quote escaped, as MariaDB's option files read a value.
    quoted = '"' + password.replace("\\", "\\\\").replace('"', '\\"') + '"'
    # `database` goes to the mariadb client only: mariadb-dump rejects it under [client].
    cnf.write_text(
        f"[client]\nuser=sakai\npassword={quoted}\n\n[mysql]\ndatabase=sakai\n", encoding="utf-8"
    )


def set_password(host: LabHost, password: str) -> None:
    """The sakai account's password changed (over stdin, as root) and /root/.my.cnf with it."""
    literal = "'" + password.replace("\\", "\\\\").replace("'", "\\'") + "'"
    sql(
        host,
        "SET NAMES utf8mb4;\n"
        f"ALTER USER 'sakai'@'%' IDENTIFIED BY {literal};\n"
        f"ALTER USER 'sakai'@'localhost' IDENTIFIED BY {literal};\nFLUSH PRIVILEGES;\n",
    )
    write_my_cnf(host, password)


def ensure(host: LabHost, rows: int) -> None:
    """Build the database once (datadir, seed, user, pristine copy); then just start it."""
    datadir, pristine, _ = _dirs(host)
    write_config(host)
    password = pki.ensure_db_password()
    write_my_cnf(host, password)
    if pristine.exists():
        start(host)
        return
    # Empty the datadir, not replace it: caje's /var/lib/mysql is a bind mount of this very folder.
    subprocess.run(["find", str(datadir), "-mindepth", "1", "-delete"], check=True)
    netns.sh(
        host,
        "mariadb-install-db --no-defaults --user=mysql --datadir=/var/lib/mysql "
        "--auth-root-authentication-method=socket --skip-test-db >/dev/null",
        timeout=120,
    )
    start(host)
    seed = host.dir / "tmp" / "seed.sql"  # /tmp/seed.sql inside caje
    db.write_seed_sql(seed, rows=rows)
    sql(host, "CREATE DATABASE IF NOT EXISTS sakai CHARACTER SET utf8;")
    netns.sh(host, f"{ROOT_CLIENT} sakai < /tmp/seed.sql", timeout=300)
    seed.unlink()
    sql(
        host,
        f"CREATE USER IF NOT EXISTS 'sakai'@'%' IDENTIFIED BY '{password}';\n"
        f"ALTER USER 'sakai'@'%' IDENTIFIED BY '{password}';\n"
        "GRANT ALL PRIVILEGES ON sakai.* TO 'sakai'@'%';\n"
        f"CREATE USER IF NOT EXISTS 'sakai'@'localhost' IDENTIFIED BY '{password}';\n"
        "GRANT ALL PRIVILEGES ON sakai.* TO 'sakai'@'localhost';\nFLUSH PRIVILEGES;\n",
    )
    stop(host)
    partial = pristine.with_name("mysql-pristine.partial")
    subprocess.run(["rm", "-rf", str(partial)], check=True)
    subprocess.run(["cp", "-a", str(datadir), str(partial)], check=True)
    partial.rename(pristine)  # only a complete copy counts as built
    start(host)


def restore(host: LabHost) -> None:
    """Back to the 2.4.0 database of the first `up`; the backup disk emptied."""
    datadir, pristine, _ = _dirs(host)
    if not pristine.exists():
        raise LabError(
            "caje: no pristine database copy: run `python -m lab down --purge` then `up`"
        )
    # Killed, not stopped: its datadir is replaced whole, so a clean shutdown buys nothing.
    hosts.kill_now(netns.host_pids(host, "mariadbd"))
    subprocess.run(["rsync", "-a", "--delete", f"{pristine}/", f"{datadir}/"], check=True)
    netns.sh(host, f"rm -rf {BACKUP_DIR}/* {BACKUP_DIR}/.[!.]* 2>/dev/null; true")
    start(host)
