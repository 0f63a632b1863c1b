"""The Sakai-like app on a real MariaDB and Tomcat 10: what the upgrade plan relies on.

Each test loads the schema it needs, deploys a tag with `ant clean build deploy`, starts Tomcat,
reads only the part of catalina.out that the start wrote, and stops Tomcat again.
"""

import re
import socket
import time
from contextlib import contextmanager
from pathlib import Path

import requests

from lab.db import TABLES as SEED_TABLES
from lab.db import write_seed_sql

SQL = Path(__file__).resolve().parents[2] / "sql"
OLD, NEW = "sakai_2-4-x-prod-002", "sakai_2-4-x-prod-003"
# A Sakai log line: "%p: %m (%d %t_%c)".
SAKAI_LINE = re.compile(
    r"^(INFO|WARN|ERROR): .* \(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \S+_[\w.]+\)$"
)
BAD = re.compile(r"ERROR|SEVERE|Exception")
TABLES = ["MFR_MESSAGE_T", "SAM_ASSESSMENTGRADING_T"]


def prepare(app, tag, *, scripts=(), auto_ddl=False):
    """Database at 2.4.0 plus `scripts`, the release `tag` deployed, auto.ddl set."""
    app.db.load(app.seed)
    for script in scripts:
        result = app.db.client(SQL / script)
        assert result.returncode == 0, f"{script}: {result.stderr}"
    app.tomcat.deploy(app.sources[tag])
    app.tomcat.set_property("auto.ddl", "true" if auto_ddl else "false")


@contextmanager
def running(tomcat):
    """Tomcat started (yields the new part of catalina.out), stopped whatever happens."""
    try:
        yield tomcat.start()
    finally:
        tomcat.stop()


def get(tomcat, path, **kwargs):
    return requests.get(tomcat.url + path, timeout=30, **kwargs)


def bad_lines(log):
    return [line for line in log.splitlines() if BAD.search(line)]


def schema_of(db):
    return {table: db.query(f"SHOW CREATE TABLE {table}")[0][1] for table in TABLES}


def test_240_on_240_schema_starts_clean_and_serves_pages(app):
    prepare(app, OLD)
    marker = (app.tomcat.base / "sakai-release.properties").read_text()
    assert "release.tag=sakai_2-4-x-prod-002" in marker
    assert "release.version=2.4.0" in marker
    assert re.search(r"^build.time=\d{4}-\d\d-\d\dT", marker, re.M)

    with running(app.tomcat) as log:
        assert bad_lines(log) == []
        sakai = [line for line in log.splitlines() if SAKAI_LINE.match(line)]
        home = app.tomcat.sakai_home
        assert any(f"INFO: loaded properties file: {home}/sakai.properties (" in s for s in sakai)
        assert any(f"INFO: loaded properties file: {home}/local.properties (" in s for s in sakai)
        assert any(
            "INFO: init(): vendor: mysql autoDDL: false deadlockRetries: 5 (" in s for s in sakai
        )
        assert any("main_org.sakaiproject.db.impl.BasicSqlService)" in s for s in sakai)
        assert any(
            "INFO: init: refresh: 60 expired: 600 ghostingPercent: 100 (" in s for s in sakai
        )

        portal = get(app.tomcat, "/portal")
        assert portal.status_code == 200
        assert "Sakai 2.4.0" in portal.text
        assert f"serverId: {socket.gethostname()}" in portal.text
        assert "database: ok" in portal.text
        assert get(app.tomcat, "/portal/site/!gateway").status_code == 200
        assert 'url=/portal"' in get(app.tomcat, "/").text

        health = get(app.tomcat, "/portal/health", headers={"Accept": "application/json"})
        assert health.status_code == 200
        info = health.json()
        assert (info["status"], info["version"], info["tag"]) == ("ok", "2.4.0", OLD)
        assert info["db"] == "ok"
        assert "version=2.4.0\n" in get(app.tomcat, "/portal/health").text

        login = get(app.tomcat, "/portal/xlogin")
        assert login.status_code == 200
        assert '<form id="loginForm" method="post"' in login.text
        good = requests.post(
            app.tomcat.url + "/portal/xlogin", data={"eid": "admin", "pw": "admin"}
        )
        assert good.status_code == 200 and "Logged in: admin" in good.text
        bad = requests.post(app.tomcat.url + "/portal/xlogin", data={"eid": "admin", "pw": "x"})
        assert bad.status_code == 401

        rows = app.db.query("SELECT SERVER_ID FROM SAKAI_CLUSTER")
        assert rows == [(info["serverIdInstance"],)]
        assert re.fullmatch(rf"{re.escape(socket.gethostname())}-\d{{13}}", rows[0][0])
    # A clean shutdown removes the node's row.
    assert app.db.query("SELECT SERVER_ID FROM SAKAI_CLUSTER") == []


def test_clean_stop_leaves_no_warnings(app):
    prepare(app, OLD)
    app.tomcat.start()
    stop_log = app.tomcat.stop()
    assert "Stopping service [Catalina]" in stop_log
    assert [line for line in stop_log.splitlines() if "WARN" in line or "SEVERE" in line] == []


def test_241_without_the_scripts_logs_errors_and_portal_fails(app):
    prepare(app, NEW)
    with running(app.tomcat) as log:
        errors = [line for line in log.splitlines() if line.startswith("ERROR: ")]
        assert any("Unknown column 'DELETED'" in line for line in errors)
        assert any("Key 'SAM_ASSGRAD_AID_PUBASSEID_T' doesn't exist" in line for line in errors)
        portal = get(app.tomcat, "/portal")
        assert portal.status_code == 500
        assert "Sakai 2.4.1" in portal.text
        health = get(app.tomcat, "/portal/health?format=json")
        assert health.status_code == 500
        assert health.json()["status"] == "error"
        assert "DELETED" in health.json()["db"]


def test_241_with_auto_ddl_logs_the_known_issue_and_upgrades_like_the_scripts(app):
    prepare(app, NEW, auto_ddl=True)
    with running(app.tomcat) as log:
        errors = [line for line in log.splitlines() if BAD.search(line)]
        # Exactly the hbm2ddl pair: the ALTER, then the database's own refusal.
        assert len(errors) == 2, errors
        assert re.match(
            r"ERROR: Unsuccessful: alter table MFR_MESSAGE_T add constraint FK\w+ foreign key "
            r"\(surrogateKey\) references MFR_TOPIC_T \(ID\) \(.* main_org\.hibernate\.tool"
            r"\.hbm2ddl\.SchemaUpdate\)$",
            errors[0],
        )
        assert "Duplicate key on write or update" in errors[1]
        assert errors[1].startswith("ERROR: ") and errors[1].endswith("hbm2ddl.SchemaUpdate)")
        lines = log.splitlines()
        assert lines.index(errors[1]) == lines.index(errors[0]) + 1
        assert get(app.tomcat, "/portal").status_code == 200
    by_auto_ddl = schema_of(app.db)

    # The plan's next step: auto.ddl=false, start again; only then is the log clean.
    app.tomcat.set_property("auto.ddl", "false")
    with running(app.tomcat) as log:
        assert bad_lines(log) == []

    app.db.load(app.seed)
    for script in ("SAK-869.sql", "SAK-878.sql"):
        assert app.db.client(SQL / script).returncode == 0
    assert schema_of(app.db) == by_auto_ddl


def test_241_after_the_scripts_starts_clean(app):
    prepare(app, NEW, scripts=["SAK-869.sql", "SAK-878.sql"])
    with running(app.tomcat) as log:
        assert bad_lines(log) == []
        assert "INFO: init(): vendor: mysql autoDDL: false" in log
        portal = get(app.tomcat, "/portal")
        assert portal.status_code == 200
        assert "Sakai 2.4.1" in portal.text
        assert get(app.tomcat, "/portal/xlogin").status_code == 200
        assert len(app.db.query("SELECT SERVER_ID FROM SAKAI_CLUSTER")) == 1


def test_240_runs_on_the_upgraded_schema(app):
    """Fallback to 2.4.0 works even before the database is restored: the changes are additive."""
    prepare(app, OLD, scripts=["SAK-869.sql", "SAK-878.sql"])
    with running(app.tomcat) as log:
        assert bad_lines(log) == []
        portal = get(app.tomcat, "/portal")
        assert portal.status_code == 200 and "Sakai 2.4.0" in portal.text


def test_scripts_refuse_a_second_run(app):
    app.db.load(app.seed)
    for script, message in [
        ("SAK-869.sql", "Duplicate column name 'DELETED'"),
        ("SAK-878.sql", "Duplicate key name 'SAM_ASSGRAD_AID_PUBASSEID_T'"),
    ]:
        assert app.db.client(SQL / script).returncode == 0
        again = app.db.client(SQL / script)
        assert again.returncode != 0
        assert message in again.stderr


def test_injected_startup_error(app):
    prepare(app, OLD)
    marker = app.tomcat.sakai_home / "inject-startup-error"
    marker.touch()
    try:
        with running(app.tomcat) as log:
            lines = log.splitlines()
            error = [i for i, line in enumerate(lines) if line.startswith("ERROR: ")]
            assert len(error) == 1
            assert "main_org.sakaiproject.component.impl.SpringCompMgr)" in lines[error[0]]
            assert "java.lang.IllegalStateException" in lines[error[0] + 1]
            assert "inject-startup-error" in lines[error[0] + 1]
            assert lines[error[0] + 2].startswith("\tat sakailab.")
            assert get(app.tomcat, "/portal").status_code == 200
        assert marker.exists()
    finally:
        marker.unlink(missing_ok=True)


def test_unreachable_database_gives_errors_and_500(app):
    prepare(app, OLD)
    url_key = "url@javax.sql.BaseDataSource"
    good = [x for x in app.tomcat.properties.read_text().splitlines() if x.startswith(url_key)]
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    app.tomcat.set_property(url_key, f"jdbc:mariadb://127.0.0.1:{closed}/sakai")
    try:
        with running(app.tomcat) as log:
            assert "ERROR: init(): cannot reach the database" in log
            assert get(app.tomcat, "/portal").status_code == 500
            health = get(app.tomcat, "/portal/health?format=json")
            assert health.status_code == 500 and health.json()["db"].startswith("error: ")
            assert get(app.tomcat, "/portal/xlogin").status_code == 500
    finally:
        app.tomcat.set_property(url_key, good[0].split("=", 1)[1])


def test_cluster_row_is_refreshed_reopened_and_ghosts_removed(app):
    prepare(app, OLD)
    app.tomcat.set_property("refresh@org.sakaiproject.cluster.api.ClusterService", "1")
    offset = app.tomcat.catalina_out.stat().st_size
    try:
        with running(app.tomcat) as log:
            assert "INFO: init: refresh: 1 expired: 600" in log
            [(me, first)] = app.db.query("SELECT SERVER_ID, UPDATE_TIME FROM SAKAI_CLUSTER")
            _wait(lambda: app.db.query("SELECT UPDATE_TIME FROM SAKAI_CLUSTER")[0][0] > first)
            app.db.query(
                "INSERT INTO SAKAI_CLUSTER VALUES ('walton-1187448000000', NOW() - INTERVAL 1 HOUR)"
            )
            app.db.query("DELETE FROM SAKAI_CLUSTER WHERE SERVER_ID = %s", me)
            _wait(lambda: app.db.query("SELECT SERVER_ID FROM SAKAI_CLUSTER") == [(me,)])
            out = app.tomcat.log_since(offset)
            assert f"WARN: run(): server has been closed in cluster table, reopened: {me}" in out
            assert f"WARN: run(): ghost-busting server: walton-1187448000000 from : {me}" in out
    finally:
        app.tomcat.set_property("refresh@org.sakaiproject.cluster.api.ClusterService", "60")


def _wait(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.2)


def test_default_seed_loads_about_20000_rows(app, tmp_path):
    seed = tmp_path / "seed.sql"
    write_seed_sql(seed)
    app.db.load(seed)
    exact = sum(app.db.query(f"SELECT COUNT(*) FROM {t}")[0][0] for t in SEED_TABLES)
    assert abs(exact - 20000) <= 20
    assert app.db.query("SELECT COUNT(*) FROM SAKAI_CLUSTER") == [(0,)]
    # Loading it again over the data returns to the same state (it drops and recreates).
    app.db.load(seed)
    assert sum(app.db.query(f"SELECT COUNT(*) FROM {t}")[0][0] for t in SEED_TABLES) == exact
