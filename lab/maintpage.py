"""The maintenance page on each app node: nginx on HTTPS 8089, 503 + Retry-After + outage text.

The runbook's firewall redirects the public from 8443 to this port during the window.
"""

from __future__ import annotations

from lab import hosts, netns, pki
from lab.config import LabError, LabHost

PORT = 8089
TEXT = (
    "<html><head><title>SmartSite maintenance</title></head><body>"
    "<h1>SmartSite is down for scheduled maintenance</h1>"
    "<p>SmartSite is being upgraded and is unavailable. Please try again later.</p>"
    "</body></html>"
)


def write_config(host: LabHost) -> str:
    tls = pki.ensure_cert(host)
    d = host.dir
    (d / "nginx").mkdir(exist_ok=True)
    conf = d / "nginx.conf"
    listen = f"listen {PORT} ssl;" + (f" listen [::]:{PORT} ssl;" if host.address6 else "")
    conf.write_text(
        f"""# Written by `python -m lab up` (the machine's /etc/nginx is not used).
worker_processes 1;
pid {d}/run/nginx.pid;
error_log {d}/logs/nginx-error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/nginx/body;
    proxy_temp_path {d}/nginx/proxy;
    fastcgi_temp_path {d}/nginx/fastcgi;
    uwsgi_temp_path {d}/nginx/uwsgi;
    scgi_temp_path {d}/nginx/scgi;
    server {{
        {listen}
        ssl_certificate {tls}/cert.pem;
        ssl_certificate_key {tls}/key.pem;
        location / {{
            default_type text/html;
            add_header Retry-After 3600 always;
            return 503 '{TEXT}';
        }}
    }}
}}
"""
    )
    return str(conf)


def pid(host: LabHost) -> int | None:
    p = hosts.read_pid(host.dir / "run" / "nginx.pid")
    return p if netns.in_host(host, p) else None


def start(host: LabHost) -> None:
    both = [host.address] + ([host.address6] if host.address6 else [])
    if pid(host) and all(hosts.port_open(a, PORT) for a in both):
        return
    conf = write_config(host)
    netns.end_pids(netns.host_pids(host, conf))  # one that lost its PID file
    argv = ["nginx", "-e", f"{host.dir}/logs/nginx-error.log", "-c", conf, "-g", "daemon off;"]
    netns.spawn(host, argv, host.dir / "logs" / "nginx.out")
    try:
        hosts.wait_port(host, PORT, "nginx", bound=10)
    except LabError:
        tail = (host.dir / "logs" / "nginx.out").read_text()[-300:].replace("\n", " | ")
        raise LabError(f"{host.name}: nginx did not start: {tail}") from None
