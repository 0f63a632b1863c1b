"""The files the APP helper writes for the lab: release tree, seed SQL, staging configuration."""

import re
import stat
import subprocess

import javaproperties
import pytest

from lab.app import write_release
from lab.db import write_seed_sql
from lab.staging import write_config

TRICKY_PASSWORD = "p@ss word=#!:\\x"


def rows_in(sql_text):
    # write_seed_sql puts each row tuple of a multi-row INSERT on a line of its own.
    return sum(1 for line in sql_text.splitlines() if line.startswith("("))


def test_seed_is_deterministic_and_sized(tmp_path):
    a, b, c = tmp_path / "a.sql", tmp_path / "b.sql", tmp_path / "c.sql"
    write_seed_sql(a)
    write_seed_sql(b)
    write_seed_sql(c, rows=1000)
    assert a.read_bytes() == b.read_bytes()
    assert abs(rows_in(a.read_text()) - 20000) <= 20
    assert abs(rows_in(c.read_text()) - 1000) <= 20
    text = a.read_text()
    for table in ["SAKAI_SITE", "SAKAI_USER", "SAKAI_REALM", "CONTENT_RESOURCE", "SAKAI_CLUSTER"]:
        assert f"CREATE TABLE {table} (" in text
    assert "DELETED" not in text  # the 2.4.0 schema predates SAK-869
    assert text.count("ENGINE=InnoDB DEFAULT CHARSET=utf8") == text.count("CREATE TABLE")


def test_seed_rejects_a_silly_size(tmp_path):
    with pytest.raises(ValueError, match="rows=20000"):
        write_seed_sql(tmp_path / "x.sql", rows=5)


def test_release_tree(tmp_path):
    write_release("sakai_2-4-x-prod-003", "2.4.1", tmp_path / "t")
    build = (tmp_path / "t/build.xml").read_text()
    for target in ("clean", "build", "deploy"):
        assert f'<target name="{target}"' in build
    props = (tmp_path / "t/build.properties").read_text()
    assert "release.tag=sakai_2-4-x-prod-003\nrelease.version=2.4.1\n" in props
    mappings = (tmp_path / "t/src/config/sakailab/mappings.txt").read_text()
    assert "column MFR_MESSAGE_T DELETED" in mappings
    assert "index SAM_ASSESSMENTGRADING_T SAM_ASSGRAD_AID_PUBASSEID_T" in mappings
    write_release("sakai_2-4-x-prod-002", "2.4.0", tmp_path / "o")
    assert "DELETED" not in (tmp_path / "o/src/config/sakailab/mappings.txt").read_text()


@pytest.mark.parametrize(
    "tag, version, message",
    [
        ("trunk", "2.4.1", "use e.g. sakai_2-4-x-prod-003"),
        ("sakai_2-4-x-prod-003", "2.5.0", "use one of 2.4.0, 2.4.1"),
    ],
)
def test_release_rejects_bad_input(tmp_path, tag, version, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        write_release(tag, version, tmp_path / "t")
    assert not (tmp_path / "t").exists()


def test_staging_config(tmp_path):
    write_config(tmp_path, db_host="caje", db_password=TRICKY_PASSWORD)
    props_file = tmp_path / "sakai.properties"
    assert stat.S_IMODE(props_file.stat().st_mode) == 0o600
    with props_file.open(encoding="iso-8859-1") as f:
        props = javaproperties.load(f)
    assert props["password@javax.sql.BaseDataSource"] == TRICKY_PASSWORD
    assert props["url@javax.sql.BaseDataSource"].startswith("jdbc:mariadb://caje:3306/sakai?")
    assert props["username@javax.sql.BaseDataSource"] == "sakai"
    assert props["driverClassName@javax.sql.BaseDataSource"] == "org.mariadb.jdbc.Driver"
    assert props["vendor@org.sakaiproject.db.api.SqlService"] == "mysql"
    assert props["auto.ddl"] == "false"
    assert "serverId" not in props  # shared by all nodes: each defaults to its hostname
    assert (tmp_path / "local.properties").exists()
    assert TRICKY_PASSWORD not in (tmp_path / "setenv.sh").read_text()


def java_opts(setenv, command):
    """JAVA_OPTS and CATALINA_PID as catalina.sh would have them after sourcing setenv.sh."""
    script = f'set -- {command}; . "{setenv}"; echo "$JAVA_OPTS"; echo "$CATALINA_PID"'
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True)
    return out.stdout.splitlines()


def test_setenv_sets_jmx_for_start_only(tmp_path):
    write_config(tmp_path, db_host="caje", db_password="x")
    opts, pid = java_opts(tmp_path / "setenv.sh", "start")
    assert pid == "/ucd/opt/sakai/tomcat/temp/tomcat.pid"
    assert "-Dsakai.home=/ucd/opt/sakai/tomcat/sakai/" in opts
    assert re.search(r"-Xmx\d+m", opts)
    # Whatever the locale of the shell: the JDBC driver encodes the password in this charset.
    assert "-Dfile.encoding=UTF-8" in opts.split()
    # No -Dcom.sun.management.jmxremote.*: they would open the agent's random local RMI port.
    assert "jmxremote" not in opts and "-XX:+StartAttachListener" in opts.split()
    agent = (tmp_path / "setenv.sh").read_text()
    for flag in ["port=9000", "rmi.port=9000", "authenticate=true", "host=$node_address"]:
        assert f"jmxremote.{flag} " in agent
    # TLS on the RMI server and the registry: the password never in clear (issue 18).
    for flag in ["ssl=true", "registry.ssl=true", "ssl.need.client.auth=false"]:
        assert f"jmxremote.{flag} " in agent
    assert "jmxremote.ssl.config.file=/ucd/opt/sakai/tomcat/conf/jmxremote.ssl" in agent
    assert "ssl=false" not in agent
    assert "/ucd/opt/sakai/tomcat/conf/jmxremote.password " in agent
    address = re.search(r"-Djava\.rmi\.server\.hostname=(\S+)", opts).group(1)
    assert not address.startswith("127.")
    stop_opts, _ = java_opts(tmp_path / "setenv.sh", "stop")
    assert "-Dsakai.home=/ucd/opt/sakai/tomcat/sakai/" in stop_opts
    assert "jmxremote" not in stop_opts


@pytest.mark.parametrize("host", ["", "caje; rm -rf /", "caje\nx"])
def test_staging_rejects_bad_host(tmp_path, host):
    with pytest.raises(ValueError, match="pass e.g. 'caje'"):
        write_config(tmp_path, db_host=host, db_password="x")
    assert not (tmp_path / "sakai.properties").exists()
