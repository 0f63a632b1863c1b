"""The 2.4.0 configuration of the AFS staging area: sakai.properties, local.properties, setenv.sh.

    >>> write_config(Path("/afs/.ucdavis.edu/app/sakai/staging/config"), db_host="caje",
    ...              db_password=password)

The app nodes copy these files into /ucd/opt/sakai/tomcat/sakai/ (the properties) and
/ucd/opt/sakai/tomcat/bin/ (setenv.sh). One folder serves every node, so nothing in it names a node:
serverId defaults to the hostname and the JMX address is looked up when Tomcat starts.
"""

import re
from pathlib import Path

import javaproperties

SAKAI_HOME = "/ucd/opt/sakai/tomcat/sakai/"
TOMCAT_BASE = "/ucd/opt/sakai/tomcat"

SAKAI_PROPERTIES = """\
# SmartSite sakai.properties (Sakai 2.4.0), staging copy: {staging}
# Synchronized to ${{sakai.home}} on every app node. Holds the database password: keep it 0600.

# ---- identity (serverId is left out: each node defaults it to its hostname)
serverUrl=https://smartsite.ucdavis.edu
serverName=smartsite.ucdavis.edu
ui.institution=UC Davis
ui.service=SmartSite
force.url.secure=8443

# ---- DATABASE: MySQL vendor, MariaDB's JDBC driver
# auto.ddl stays off in production; the conversion scripts change the schema.
auto.ddl=false
vendor@org.sakaiproject.db.api.SqlService=mysql
driverClassName@javax.sql.BaseDataSource=org.mariadb.jdbc.Driver
hibernate.dialect=org.hibernate.dialect.MySQLInnoDBDialect
url@javax.sql.BaseDataSource=jdbc:mariadb://{db_host}:3306/sakai?useUnicode=true&characterEncoding=UTF-8
username@javax.sql.BaseDataSource=sakai
{password_line}
validationQuery@javax.sql.BaseDataSource=select 1 from DUAL
defaultTransactionIsolationString@javax.sql.BaseDataSource=TRANSACTION_READ_COMMITTED
hibernate.show_sql=false

# ---- cluster (SAKAI_CLUSTER): Sakai's defaults, written out
refresh@org.sakaiproject.cluster.api.ClusterService=60
expired@org.sakaiproject.cluster.api.ClusterService=600
ghostingPercent@org.sakaiproject.cluster.api.ClusterService=100

# ---- email
smtp@org.sakaiproject.email.api.EmailService=mail.ucdavis.edu
smtp.enabled=false

# ---- login and sessions
top.login=true
container.login=false
loggedOutUrl=/portal
inactiveInterval@org.sakaiproject.tool.api.SessionManager=3600
"""

LOCAL_PROPERTIES = """\
# SmartSite local.properties (Sakai 2.4.0): read after sakai.properties, overrides it.
# Kept for node-level tweaks; empty of overrides in the staging copy.
display.users.present=true
"""

SETENV_SH = """\
# setenv.sh for SmartSite (Sakai 2.4.0) Tomcat, sourced by catalina.sh; staging copy.
# Debian's tomcat10 finds Java this way; its script turns on `set -e`, which would make
# `shutdown.sh 20 -force` give up silently, so it is turned off again.
if [ -r /usr/libexec/tomcat10/tomcat-locate-java.sh ]; then
  . /usr/libexec/tomcat10/tomcat-locate-java.sh
  set +e
fi

CATALINA_PID={tomcat_base}/temp/tomcat.pid
# UTF-8 whatever the locale of the shell that starts Tomcat (an ssh session may have none): the
# JDBC driver encodes the DB password with the JVM's default charset, so a non-ASCII letter of
# it would otherwise reach MariaDB as '?' and the login be refused.
JAVA_OPTS="-server -Xms128m -Xmx256m -Djava.awt.headless=true -Dfile.encoding=UTF-8 \\
  -Dsakai.home={sakai_home}"
# The rehearsal lab runs up to nine Tomcats on two shared cores, and starts each several times a
# rehearsal: the quick compiler only and one GC thread start the JVM in about half the time.
JAVA_OPTS="$JAVA_OPTS -XX:TieredStopAtLevel=1 -XX:+UseSerialGC"

# JMX for JConsole on port 9000 only, bound to this node's own address, with a password
# (conf/jmxremote.password and conf/jmxremote.access, readable only by Tomcat's user), over TLS
# on the RMI server and the registry alike, so that the password never crosses in clear: the
# node's certificate in the keystore that conf/jmxremote.ssl names (0600, Tomcat's user). The
# registry and the RMI server share 9000, and the server advertises this node's own address,
# looked up now so that one file serves every node.
# Not with -Dcom.sun.management.jmxremote.port: that also opens the agent's local connector, an
# RMI port picked at random and bound to 0.0.0.0 (JDK 17 cannot bind it elsewhere). The remote
# agent alone is started, as `jcmd PID ManagementAgent.start` does, through the JVM's attach
# socket (a Unix socket, opened at startup by -XX:+StartAttachListener) by a job of its own that
# waits for the JVM; it writes to logs/jmx-agent.log.
# Only for start/run: catalina.sh also applies JAVA_OPTS to `stop`.
case "$1" in
  start|run)
    node_address=$(hostname -i | cut -d' ' -f1)
    case "$node_address" in 127.*|::1|"") node_address=$(hostname -I | cut -d' ' -f1) ;; esac
    JAVA_OPTS="$JAVA_OPTS -XX:+StartAttachListener -Djava.rmi.server.hostname=$node_address"
    jmx_agent="jmxremote.host=$node_address jmxremote.port=9000 jmxremote.rmi.port=9000 \\
jmxremote.authenticate=true jmxremote.password.file={tomcat_base}/conf/jmxremote.password \\
jmxremote.access.file={tomcat_base}/conf/jmxremote.access \\
jmxremote.ssl=true jmxremote.registry.ssl=true jmxremote.ssl.need.client.auth=false \\
jmxremote.ssl.config.file={tomcat_base}/conf/jmxremote.ssl"
    jcmd=jcmd
    if [ -x "$JAVA_HOME/bin/jcmd" ]; then jcmd="$JAVA_HOME/bin/jcmd"; fi
    setsid -f sh -c 'for i in $(seq 600); do
        pid=$(cat "$0" 2>/dev/null)
        if [ -n "$pid" ] && [ -S "/tmp/.java_pid$pid" ] && kill -0 "$pid"; then
          exec "$1" "$pid" ManagementAgent.start $2
        fi
        sleep 0.3
      done; echo "$(date): no JVM with an attach socket in $0 after 3 minutes: JMX not started"' \\
      "$CATALINA_PID" "$jcmd" "$jmx_agent" </dev/null >>{tomcat_base}/logs/jmx-agent.log 2>&1
    ;;
esac
"""

HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*")


def write_config(dest: Path, *, db_host: str, db_password: str) -> None:
    """Write sakai.properties (mode 0600), local.properties and setenv.sh into `dest`."""
    if not HOST.fullmatch(db_host or ""):
        raise ValueError(f"db_host {db_host!r} is not a host name or address; pass e.g. 'caje'")
    if not db_password:
        raise ValueError("db_password is empty; pass the lab's generated database password")
    dest.mkdir(parents=True, exist_ok=True)
    props = dest / "sakai.properties"
    props.touch(mode=0o600)
    props.chmod(0o600)  # touch keeps the mode of an existing file
    # join_key_value escapes what Java's Properties.load would misread (\\, #, !, leading spaces).
    password_line = javaproperties.join_key_value("password@javax.sql.BaseDataSource", db_password)
    props.write_text(
        SAKAI_PROPERTIES.format(staging=dest, db_host=db_host, password_line=password_line)
    )
    (dest / "local.properties").write_text(LOCAL_PROPERTIES)
    setenv = SETENV_SH.format(tomcat_base=TOMCAT_BASE, sakai_home=SAKAI_HOME)
    (dest / "setenv.sh").write_text(setenv)
    (dest / "setenv.sh").chmod(0o755)
