"""App nodes: one Tomcat 10 instance each (CATALINA_BASE /ucd/opt/sakai/tomcat), 2.4.0 from svn.

The first `up` makes the instance (tomcat10-instance-create), an HTTPS-only server.xml (8443, the
lab CA's certificate for the node; shutdown port 8005 on 127.0.0.1), takes the 2.4.0 config from
the AFS staging area, checks out sakai_2-4-x-prod-002 from mware and runs
`ant clean build deploy`, exactly as an operator would; then it keeps a copy of /ucd/opt/sakai
(STATE/hosts/<node>/pristine) that `reset` puts back.
"""

from __future__ import annotations

import shutil
import subprocess
import time

import requests

from lab import hosts, netns, pki
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
<!-- Written by `python -m lab up`: HTTPS on 8443 only, shutdown port on loopback. -->
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
      <Host name="localhost" appBase="webapps" unpackWARs="true" autoDeploy="false" />
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


def install_jmx_auth(host: LabHost) -> None:
    """conf/jmxremote.password and conf/jmxremote.access (setenv.sh names them), 0600 and owned by
    Tomcat's user (root in the lab: the JVM refuses a password file others can read)."""
    user, password = pki.ensure_jmx_password()
    conf = ucd(host) / "tomcat" / "conf"
    for name, text in (
        ("jmxremote.password", f"{user} {password}\n"),
        ("jmxremote.access", f"{user} readwrite\n"),
    ):
        path = conf / name
        path.touch(mode=0o600)
        path.chmod(0o600)
        path.write_text(text)


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
    netns.sh(host, f"CATALINA_BASE={TOMCAT_BASE} setsid {TOMCAT_HOME}/bin/startup.sh", timeout=60)
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
