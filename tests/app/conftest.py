"""A private MariaDB and Tomcat 10 for the app's tests, outside the lab (no namespaces).

Both are started from the Debian packages into a temporary folder, on free ports of 127.0.0.1,
and stopped by the PID they were started with. Nothing else on the machine is touched.
"""

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pymysql
import pytest

from lab.app import write_release
from lab.db import write_seed_sql
from lab.staging import write_config

NEEDED = ["mariadbd", "mariadb-install-db", "mariadb", "tomcat10-instance-create", "ant", "java"]
MISSING = [tool for tool in NEEDED if shutil.which(tool) is None]
MISSING += [p for p in ["/usr/share/tomcat10/bin/startup.sh"] if not Path(p).exists()]
TAGS = {"sakai_2-4-x-prod-002": "2.4.0", "sakai_2-4-x-prod-003": "2.4.1"}
DB_PASSWORD = "lab-test-only-pw"  # a throwaway password of the throwaway database


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(step)
    raise TimeoutError(f"{what} not within {timeout}s")


def stop_pid(pid: int, timeout: float = 20) -> None:
    """SIGTERM the process we started, then SIGKILL it after `timeout`."""
    try:
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: not _alive(pid), timeout, f"pid {pid} exit")
    except ProcessLookupError:
        return
    except TimeoutError:
        os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie child of ours counts as gone once reaped.
    try:
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return Path(f"/proc/{pid}").exists()


@dataclass
class MariaDB:
    """mariadbd on 127.0.0.1:port with its datadir and socket under `root`."""

    root: Path
    port: int
    pid: int = 0

    def start(self) -> None:
        data = self.root / "data"
        subprocess.run(
            ["mariadb-install-db", "--user=root", f"--datadir={data}", "--skip-test-db"],
            check=True,
            capture_output=True,
        )
        proc = subprocess.Popen(
            ["mariadbd", "--no-defaults", "--user=root", f"--datadir={data}"]
            + [f"--socket={self.socket}", f"--pid-file={self.root}/mariadbd.pid"]
            + ["--skip-networking=0", "--bind-address=127.0.0.1", f"--port={self.port}"]
            + [f"--log-error={self.root}/mariadbd.err", "--innodb-buffer-pool-size=64M"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.pid = proc.pid
        wait_for(self.socket.exists, 30, "mariadbd socket")
        self.root_sql(
            "CREATE DATABASE sakai DEFAULT CHARACTER SET utf8;"
            f"CREATE USER 'sakai'@'127.0.0.1' IDENTIFIED BY '{DB_PASSWORD}';"
            "GRANT ALL ON sakai.* TO 'sakai'@'127.0.0.1';"
        )
        # The client reads the password from this file, as the runbook does on caje (~/.my.cnf).
        self.cnf.write_text(
            f"[client]\nuser=sakai\npassword={DB_PASSWORD}\nhost=127.0.0.1\nport={self.port}\n"
        )
        self.cnf.chmod(0o600)

    @property
    def socket(self) -> Path:
        return self.root / "mariadbd.sock"

    @property
    def cnf(self) -> Path:
        return self.root / "sakai.cnf"

    def stop(self) -> None:
        if self.pid:
            stop_pid(self.pid, timeout=30)

    def root_sql(self, sql: str) -> None:
        subprocess.run(
            ["mariadb", f"--socket={self.socket}", "-u", "root"],
            input=sql,
            text=True,
            check=True,
            capture_output=True,
        )

    def client(self, sql_file: Path) -> subprocess.CompletedProcess:
        """Run a file with the mariadb client as the sakai user (how the runbook runs sql/*.sql)."""
        with sql_file.open() as f:
            return subprocess.run(
                ["mariadb", f"--defaults-extra-file={self.cnf}", "sakai"],
                stdin=f,
                text=True,
                capture_output=True,
            )

    def load(self, sql_file: Path) -> None:
        result = self.client(sql_file)
        assert result.returncode == 0, result.stderr

    def query(self, sql: str, *args) -> list[tuple]:
        conn = pymysql.connect(
            host="127.0.0.1",
            port=self.port,
            user="sakai",
            password=DB_PASSWORD,
            database="sakai",
            autocommit=True,
        )
        try:
            with conn.cursor() as cur:
                cur.execute(sql, args)
                return list(cur.fetchall())
        finally:
            conn.close()


@dataclass
class Tomcat:
    """A Tomcat 10 instance (tomcat10-instance-create) on 127.0.0.1:http_port."""

    base: Path
    http_port: int
    shutdown_port: int
    jmx_port: int

    def create(self, db_port: int) -> None:
        subprocess.run(
            ["tomcat10-instance-create", "-p", str(self.http_port), "-c", str(self.shutdown_port)]
            + [str(self.base)],
            check=True,
            capture_output=True,
            stdin=subprocess.DEVNULL,
        )
        server_xml = self.base / "conf/server.xml"
        text = server_xml.read_text()
        text = text.replace(
            f'<Connector port="{self.http_port}" ',
            f'<Connector port="{self.http_port}" address="127.0.0.1" ',
        )
        server_xml.write_text(text)
        # The staging config of the lab, moved to this instance's paths and ports.
        staging = self.base / "staging"
        staging.mkdir()
        write_config(staging, db_host="127.0.0.1", db_password=DB_PASSWORD)
        self.sakai_home.mkdir()
        props = (staging / "sakai.properties").read_text()
        props = props.replace("127.0.0.1:3306/", f"127.0.0.1:{db_port}/")
        self.properties.write_text(props)
        shutil.copy(staging / "local.properties", self.sakai_home / "local.properties")
        setenv = (staging / "setenv.sh").read_text()
        setenv = setenv.replace("/ucd/opt/sakai/tomcat/", f"{self.base}/")
        setenv = setenv.replace("port=9000", f"port={self.jmx_port}")
        # Outside a lab namespace, keep the JMX port off the machine's own interface.
        setenv = setenv.replace("=$node_address", "=127.0.0.1")
        (self.base / "bin/setenv.sh").write_text(setenv)

    @property
    def sakai_home(self) -> Path:
        return self.base / "sakai"

    @property
    def properties(self) -> Path:
        return self.sakai_home / "sakai.properties"

    @property
    def catalina_out(self) -> Path:
        return self.base / "logs/catalina.out"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def set_property(self, key: str, value: str) -> None:
        lines = [
            line
            for line in self.properties.read_text().splitlines()
            if not line.startswith(f"{key}=")
        ]
        self.properties.write_text("\n".join([*lines, f"{key}={value}"]) + "\n")

    def deploy(self, src: Path) -> None:
        result = subprocess.run(
            ["ant", "clean", "build", "deploy", f"-Dtomcat.home={self.base}"],
            cwd=src,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stdout + result.stderr

    def start(self) -> str:
        """Start, wait for Tomcat's startup line; return what catalina.out gained meanwhile."""
        offset = self.catalina_out.stat().st_size if self.catalina_out.exists() else 0
        env = dict(os.environ, CATALINA_BASE=str(self.base))
        subprocess.run(
            ["/usr/share/tomcat10/bin/startup.sh"], env=env, check=True, capture_output=True
        )
        wait_for(lambda: "Server startup in" in self.log_since(offset), 60, "Tomcat startup line")
        return self.log_since(offset)

    def log_since(self, offset: int) -> str:
        if not self.catalina_out.exists():
            return ""
        with self.catalina_out.open(errors="replace") as f:
            f.seek(offset)
            return f.read()

    @property
    def pid(self) -> int:
        path = self.base / "temp/tomcat.pid"
        return int(path.read_text()) if path.exists() else 0

    def stop(self) -> str:
        """shutdown.sh, then SIGTERM/SIGKILL the PID Tomcat wrote if it is still there."""
        pid = self.pid
        if not pid:
            return ""
        offset = self.catalina_out.stat().st_size
        env = dict(os.environ, CATALINA_BASE=str(self.base))
        subprocess.run(["/usr/share/tomcat10/bin/shutdown.sh"], env=env, capture_output=True)
        try:
            wait_for(lambda: not Path(f"/proc/{pid}").exists(), 20, "Tomcat exit")
        except TimeoutError:
            stop_pid(pid)
        (self.base / "temp/tomcat.pid").unlink(missing_ok=True)
        return self.log_since(offset)


@dataclass
class App:
    """What a test of the app gets: the servers, the release sources and the 2.4.0 seed."""

    db: MariaDB
    tomcat: Tomcat
    sources: dict[str, Path]
    seed: Path


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """MariaDB + Tomcat for one test module, stopped by PID at the end; skipped without root."""
    if os.geteuid() != 0:
        pytest.skip("needs root (starts mariadbd and Tomcat)")
    if MISSING:
        pytest.skip(f"missing {', '.join(MISSING)}: run make setup")
    root = tmp_path_factory.mktemp("app")
    db = MariaDB(root / "mariadb", free_port())
    db.root.mkdir()
    tomcat = Tomcat(root / "tomcat", free_port(), free_port(), free_port())
    sources = {}
    for tag, version in TAGS.items():
        sources[tag] = root / "src" / tag
        write_release(tag, version, sources[tag])
    seed = root / "seed-2.4.0.sql"
    write_seed_sql(seed, rows=2000)  # small: each test reloads it
    try:
        db.start()
        tomcat.create(db.port)
        yield App(db, tomcat, sources, seed)
    finally:
        tomcat.stop()
        db.stop()
