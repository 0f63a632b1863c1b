"""mware: the Subversion server, apache2 + mod_dav_svn over HTTPS, anonymous read-only.

    https://mware.ucdavis.edu/svn/ucd-sakai/sakai/tags/sakai_2-4-x-prod-002   (2.4.0)
    https://mware.ucdavis.edu/svn/ucd-sakai/sakai/tags/sakai_2-4-x-prod-003   (2.4.1)

apache2 runs from the lab's own config (STATE/hosts/mware/apache2.conf), not the machine's
/etc/apache2; the repository is imported once from the release trees that lab/app writes.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from lab import app, hosts, netns, pki
from lab.config import RELEASES, LabError, LabHost

MODULES = "/usr/lib/apache2/modules"


def repo(host: LabHost) -> Path:
    return host.dir / "svn" / "ucd-sakai"


def ensure_repo(host: LabHost) -> None:
    """Create the repository and import each release as a tag (once)."""
    done = host.dir / "svn" / ".imported"
    if done.exists():
        return
    shutil.rmtree(host.dir / "svn", ignore_errors=True)
    repo(host).parent.mkdir(parents=True)
    subprocess.run(["svnadmin", "create", str(repo(host))], check=True)
    url = f"file://{repo(host)}"
    subprocess.run(
        [
            "svn",
            "mkdir",
            "-q",
            "--parents",
            "-m",
            "layout",
            f"{url}/sakai/tags",
            f"{url}/sakai/trunk",
        ],
        check=True,
    )
    with tempfile.TemporaryDirectory(dir=host.dir / "tmp") as tmp:
        for tag, version in RELEASES.items():
            tree = Path(tmp) / tag
            app.write_release(tag, version, tree)
            subprocess.run(
                ["svn", "import", "-q", "-m", f"Release {version} ({tag})", str(tree),
                 f"{url}/sakai/tags/{tag}"],
                check=True,
            )  # fmt: skip
    done.touch()


def write_config(host: LabHost) -> Path:
    tls = pki.ensure_cert(host)
    d = host.dir
    conf = d / "apache2.conf"
    mods = ["mpm_event", "authz_core", "dav", "dav_svn", "ssl", "socache_shmcb"]
    loads = "\n".join(f"LoadModule {m}_module {MODULES}/mod_{m}.so" for m in mods)
    conf.write_text(
        f"""# Written by `python -m lab up` (the machine's /etc/apache2 is not used).
ServerRoot /etc/apache2
{loads}
ServerName mware.ucdavis.edu
Listen {host.address}:443
PidFile {d}/run/apache2.pid
DefaultRuntimeDir {d}/run
Mutex file:{d}/run default
ErrorLog {d}/logs/apache2-error.log
LogLevel warn
User www-data
Group www-data
StartServers 1
ServerLimit 2
ThreadsPerChild 16
MaxRequestWorkers 32
MinSpareThreads 4
MaxSpareThreads 32
SSLSessionCache shmcb:{d}/run/ssl_scache(512000)
<VirtualHost {host.address}:443>
    SSLEngine on
    SSLCertificateFile {tls}/cert.pem
    SSLCertificateKeyFile {tls}/key.pem
    <Location /svn/ucd-sakai>
        DAV svn
        SVNPath {repo(host)}
        # Anonymous read-only: the methods svn reads with, nothing that writes.
        Require method GET HEAD PROPFIND OPTIONS REPORT
    </Location>
</VirtualHost>
"""
    )
    return conf


def pid(host: LabHost) -> int | None:
    p = hosts.read_pid(host.dir / "run" / "apache2.pid")
    return p if netns.in_host(host, p) else None


def start(host: LabHost) -> None:
    if pid(host) and hosts.port_open(host.address, 443):
        return
    conf = write_config(host)
    for p in netns.host_pids(host, str(conf)):  # a half-dead apache of an earlier run
        netns.end_pids([p])
    netns.spawn(
        host, ["apache2", "-f", str(conf), "-DFOREGROUND"], host.dir / "logs" / "apache2.out"
    )
    try:
        hosts.wait_port(host, 443, "apache2", bound=20)
    except LabError:
        tail = (host.dir / "logs" / "apache2.out").read_text()[-300:].replace("\n", " | ")
        raise LabError(f"mware: apache2 did not start: {tail}") from None
