"""App nodes: one Tomcat 10 instance each (CATALINA_BASE /ucd/opt/sakai/tomcat), 2.4.0 from svn.

The first `up` makes the instance (tomcat10-instance-create), an HTTPS-only server.xml (8443, the
lab CA's certificate for the node; shutdown port 8005 on 127.0.0.1), takes the 2.4.0 config from
the AFS staging area, checks out sakai_2-4-x-prod-002 from mware and runs
`ant clean build deploy`, exactly as an operator would; then it keeps a copy of /ucd/opt/sakai
(STATE/hosts/<node>/pristine) that `reset` puts back.

Tomcat runs as the service account `sakai` (lab/account.py), as the runbook starts it: before each
start the account is given what Tomcat writes (logs/, work/, temp/) and what it alone reads (its
TLS key, JMX's password, access and TLS files, 0600); the release and conf/ stay root's, and the
properties in sakai home root's with the account's group (0640).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import requests

from lab import account, hosts, netns, pki
from lab.config import (
    PROD_TAG,
    SAKAI_HOME,
    SRC_DIR,
    STAGING,
    STATE,
    SVN_TAGS,
    TOMCAT_BASE,
    TOMCAT_HOME,
    LabError,
    LabHost,
)

BOOTSTRAP = "org.apache.catalina.startup.Bootstrap"
CATALINA_OUT = f"{TOMCAT_BASE}/logs/catalina.out"
STARTED = "Server startup in"
JMX_PORT = 9000

SERVER_XML = """<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by `python -m lab up`: HTTPS on 8443 only, shutdown port on loopback; wars run
     unpacked by nobody (webapps/ is root's, Tomcat runs as its own account). -->
<Server port="8005" address="127.0.0.1" shutdown="SHUTDOWN">
  <Listener className="org.apache.catalina.startup.VersionLoggerListener" />
  <Service name="Catalina">
    <Connector port="8443" protocol="org.apache.coyote.http11.Http11NioProtocol"
               SSLEnabled="true" maxThreads="50">
      <SSLHostConfig>
        <Certificate certificateFile="conf/tls/cert.pem" certificateKeyFile="conf/tls/key.pem"
                     certificateChainFile="conf/tls/ca.pem" type="RSA" />
      </SSLHostConfig>
    </Connector>
    <Engine name="Catalina" defaultHost="localhost">
      <Host name="localhost" appBase="webapps" unpackWARs="false" autoDeploy="false" />
    </Engine>
  </Service>
</Server>
"""


def ucd(host: LabHost):
    return host.dir / "ucd" / "opt" / "sakai"  # = /ucd/opt/sakai inside the node


def pristine(host: LabHost):
    return host.dir / "pristine"


def built(host: LabHost) -> bool:
    return (pristine(host) / "tomcat" / "sakai-release.properties").exists()


def build(host: LabHost) -> None:
    """Instance, server.xml, TLS, staging config, svn checkout and ant build of 2.4.0 (once)."""
    if built(host):
        return
    base = ucd(host) / "tomcat"
    subprocess.run(["rm", "-rf", str(ucd(host)), str(pristine(host))], check=True)
    ucd(host).mkdir(parents=True)
    netns.sh(host, f"tomcat10-instance-create -p 8080 -c 8005 {TOMCAT_BASE} >/dev/null")
    (base / "conf" / "server.xml").write_text(SERVER_XML)
    shutil.copytree(pki.ensure_cert(host), base / "conf" / "tls")
    install_config(host)
    netns.sh(
        host,
        f"""set -e
mkdir -p {SRC_DIR} /ucd/opt/sakai/releases && cd {SRC_DIR}
svn co -q --non-interactive {SVN_TAGS}/{PROD_TAG} {PROD_TAG}
cd {PROD_TAG} && ant -q clean build deploy -Dtomcat.home={TOMCAT_BASE}
""",
        timeout=300,
    )
    # Pre-upgrade state: 2.4.0 deployed, no checkouts left behind.
    subprocess.run(["rm", "-rf", str(ucd(host) / "src" / PROD_TAG)], check=True)
    partial = host.dir / "pristine.partial"
    subprocess.run(["rm", "-rf", str(partial)], check=True)
    subprocess.run(["cp", "-a", str(ucd(host)), str(partial)], check=True)
    partial.rename(pristine(host))


# Ant's own JVM on the nodes (root's ~/.antrc, read by /usr/bin/ant): the upgrade builds the
# release on each node, and on the lab's two shared cores the quick compiler only and one GC
# thread make that build's JVM start and compile sooner.
ANTRC = 'ANT_OPTS="$ANT_OPTS -XX:TieredStopAtLevel=1 -XX:+UseSerialGC"\n'


def install_build_settings(host: LabHost) -> None:
    (host.dir / "root" / ".antrc").write_text("# Written by `python -m lab up`.\n" + ANTRC)


def install_config(host: LabHost) -> None:
    """sakai.properties and local.properties into sakai home, setenv.sh into bin/ (from staging)."""
    staging = STATE / "shared" / "afs" / STAGING.removeprefix("/afs/")
    home = ucd(host) / "tomcat" / SAKAI_HOME.removeprefix(f"{TOMCAT_BASE}/")
    home.mkdir(parents=True, exist_ok=True)
    for name in ("sakai.properties", "local.properties"):
        shutil.copy2(staging / name, home / name)
    shutil.copy2(staging / "setenv.sh", ucd(host) / "tomcat" / "bin" / "setenv.sh")


# JMX's TLS (setenv.sh names this file): the node's keystore, made by lab/pki.py.
JMX_SSL = """\
# Written by `python -m lab up`: JMX's TLS, the node's certificate signed by the lab CA.
javax.net.ssl.keyStore={store}
javax.net.ssl.keyStorePassword={password}
javax.net.ssl.keyStoreType=PKCS12
"""


def install_jmx_auth(host: LabHost) -> None:
    """conf/jmxremote.password, conf/jmxremote.access (role readonly), conf/jmxremote.ssl and the
    keystore it names (setenv.sh names them all), 0600 and owned by Tomcat's user: the JVM
    refuses a password file others can read."""
    user, password = pki.ensure_jmx_password()
    store, store_password = pki.ensure_jmx_keystore(host)
    conf = ucd(host) / "tomcat" / "conf"
    keystore = f"{TOMCAT_BASE}/conf/tls/jmx.p12"
    shutil.copyfile(store, conf / "tls" / "jmx.p12")
    for name, text in (
        ("jmxremote.password", f"{user} {password}\n"),
        ("jmxremote.access", f"{user} readonly\n"),
        ("jmxremote.ssl", JMX_SSL.format(store=keystore, password=store_password)),
    ):
        path = conf / name
        path.touch(mode=0o600)
        path.chmod(0o600)
        path.write_text(text)


# What Tomcat writes, the account's; what only it reads, the account's and 0600 (relative to the
# base). Everything else stays root's.
WRITES = ("logs", "work", "temp")
READS_ALONE = (
    "conf/tls/key.pem", "conf/tls/jmx.p12",
    "conf/jmxremote.password", "conf/jmxremote.access", "conf/jmxremote.ssl",
)  # fmt: skip
PROPERTIES = ("sakai.properties", "local.properties")


def own_files(host: LabHost) -> None:
    """Give the service account what Tomcat writes and reads (idempotent: after a build, a
    restore from the pristine copy or a new config, the same owners)."""
    uid, gid = account.ids(host)
    base = ucd(host) / "tomcat"
    # Here, not only at the build: a pristine copy made before the account has the old one.
    (base / "conf" / "server.xml").write_text(SERVER_XML)
    for name in WRITES:
        (base / name).mkdir(exist_ok=True)
        subprocess.run(["chown", "-R", "--no-dereference", f"{uid}:{gid}", str(base / name)],
                       check=True)  # fmt: skip
    (base / "conf" / "tls").chmod(0o755)  # copied from the state folder's 0700 one
    # Tomcat makes its Host's config folder at each start if missing, which it cannot in root's
    # conf/ (a SEVERE line): there, root's and empty, as Debian's package ships it.
    (base / "conf" / "Catalina" / "localhost").mkdir(parents=True, exist_ok=True)
    for name in READS_ALONE:
        path = base / name
        if path.exists():
            os.chown(path, uid, gid, follow_symlinks=False)
            path.chmod(0o600)
    home = base / SAKAI_HOME.removeprefix(f"{TOMCAT_BASE}/")
    for name in PROPERTIES:
        if (home / name).exists():
            os.chown(home / name, 0, gid, follow_symlinks=False)
            (home / name).chmod(0o640)


def pids(host: LabHost) -> list[int]:
    return netns.host_pids(host, BOOTSTRAP)


def start(host: LabHost) -> int | None:
    """Start Tomcat the way the contract says; returns catalina.out's size before the start
    (None: it was running already)."""
    out = ucd(host) / "tomcat" / "logs" / "catalina.out"
    offset = out.stat().st_size if out.exists() else 0
    if pids(host):
        return None
    # No Tomcat runs in the node, so a PID file left by a killed lab is stale; catalina.sh
    # would refuse to start if that PID now belongs to another process of the machine.
    (ucd(host) / "tomcat" / "temp" / "tomcat.pid").unlink(missing_ok=True)
    install_jmx_auth(host)
    own_files(host)
    # As the runbook starts it: the service account, a clean environment (no root's variables).
    user = account.SERVICE_USER
    netns.sh(
        host,
        f"setsid setpriv --reuid={user} --regid={user} --init-groups --reset-env -- "
        f"env CATALINA_HOME={TOMCAT_HOME} CATALINA_BASE={TOMCAT_BASE} {TOMCAT_HOME}/bin/startup.sh",
        timeout=60,
    )
    return offset


def stop(host: LabHost) -> None:
    found = pids(host)
    if found:
        netns.end_pids(found, bound=30)  # SIGTERM runs Tomcat's own shutdown hook


def health(host: LabHost, timeout: float = 3) -> requests.Response | None:
    try:
        return requests.get(
            f"https://{host.address}:8443/portal/health",
            verify=str(pki.CA / "ca.pem"),
            timeout=timeout,
        )
    except requests.RequestException:
        return None


def wait_ready(host: LabHost, offset: int | None, strict: bool, bound: float = 180) -> None:
    """Until catalina.out shows the startup line (after `offset`, if Tomcat was just started) and
    /portal/health answers: 200 when `strict`, else any HTTP answer (a rehearsal may have left
    a release that fails on purpose: that is the app's state, which `status` reports)."""
    out = ucd(host) / "tomcat" / "logs" / "catalina.out"
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if not pids(host):
            break
        text = out.read_bytes()[offset or 0 :].decode(errors="replace") if out.exists() else ""
        if offset is None or STARTED in text:
            r = health(host)
            # JMX comes up beside Tomcat (setenv.sh starts its agent once the JVM runs).
            jmx = offset is None or hosts.port_open(host.address, JMX_PORT)
            if r is not None and (r.status_code == 200 or not strict) and jmx:
                return
        time.sleep(0.1)  # each poll reads a file and asks once: cheap, and a reset waits on it
    raise LabError(f"{host.name}: Tomcat is not ready (see {out})")


def restore(host: LabHost) -> None:
    """Back to the 2.4.0 of the first `up`: tree from the pristine copy, catalina.out rotated."""
    if not built(host):
        raise LabError(f"{host.name}: no pristine copy: run `python -m lab down --purge` then `up`")
    hosts.kill_now(pids(host))  # its tree is replaced whole: no shutdown hook needed
    subprocess.run(
        ["rsync", "-a", "--delete", "--exclude=/tomcat/logs/",
         f"{pristine(host)}/", f"{ucd(host)}/"],
        check=True,
    )  # fmt: skip
    logs = ucd(host) / "tomcat" / "logs"
    out = logs / "catalina.out"
    if out.exists():
        out.rename(logs / "catalina.out.1")
