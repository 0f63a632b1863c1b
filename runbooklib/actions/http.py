"""Each node's health over HTTPS 8443, as a browser sees it (requests, the inventory's CA bundle).

    >>> health(node)
    Health(version='2.4.1', server_id='stubing', db='ok', login=True)
    >>> wait_healthy(node, "2.4.1")

`/portal/health` tells version, serverId and the database status; `/portal/xlogin` (the login
page) is the deeper check that the portal dispatches to a tool.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import requests

from runbooklib.actions.common import ActionError
from runbooklib.remote import Host, HostUnreachable
from runbooklib.transcript import transcript, verification

TIMEOUT = 10


@dataclass
class Health:
    version: str
    server_id: str
    db: str
    login: bool

    @property
    def ok(self) -> bool:
        return self.db.lower() in ("ok", "up", "true") and self.login


def url(host: Host, path: str) -> str:
    return f"https://{host.address}:{host.vars['https_port']}{path}"


def parse_health(text: str) -> dict[str, str]:
    """The health page as a dict: JSON, or `key: value` / `key=value` lines."""
    try:
        data = json.loads(text)
        if isinstance(data, dict):
            return {str(k).lower(): str(v) for k, v in data.items()}
    except ValueError:
        pass
    out = {}
    for line in text.splitlines():
        # The first separator of the line splits it: "db=error: schema ..." is key db.
        cut = min((i for i in (line.find("="), line.find(":")) if i > 0), default=-1)
        if cut > 0:
            out[line[:cut].strip().lower()] = line[cut + 1 :].strip()
    return out


def health(host: Host) -> Health:
    verify = host.vars.get("ca_bundle") or True
    # One session: the login page comes over the health page's connection (one TLS handshake).
    # `verify` on each request: a session's own would lose to REQUESTS_CA_BUNDLE (requests#3829).
    with requests.Session() as session:
        page = url(host, "/portal/health?format=json")
        resp = session.get(page, verify=verify, timeout=TIMEOUT)
        if resp.status_code not in (200, 500):  # 500 still carries the health fields
            resp.raise_for_status()
        data = parse_health(resp.text)
        login = session.get(url(host, "/portal/xlogin"), verify=verify, timeout=TIMEOUT)
    return Health(
        version=data.get("version", ""),
        server_id=data.get("serverid", data.get("server_id", "")),
        db=data.get("db", data.get("database", "")),
        login=login.status_code == 200,
    )


def wait_healthy(host: Host, version: str, bound: float = 120) -> Health:
    """Poll until the node answers healthy with `version`, at most `bound` seconds."""
    if host.check_mode:
        transcript.note(f"would wait for {url(host, '/portal/health')} to report {version}")
        return Health(version, host.name, "dry run", True)
    deadline, last = time.monotonic() + bound, "no answer"
    while True:
        try:
            got = health(host)
            if got.ok and got.version == version:
                transcript.note(f"{host}: healthy, version {got.version}, db {got.db}")
                return got
            login = "ok" if got.login else "failing"
            last = f"version {got.version!r}, db {got.db!r}, login page {login}"
        except requests.RequestException as exc:
            last = f"{exc.__class__.__name__}: {exc}"
            # No answer at all: a node that is gone (its link lost) halts the step now, naming
            # it, instead of after the whole bound.
            try:
                host.probe("true", timeout=10)
            except HostUnreachable as lost:
                raise ActionError(
                    f"{host}: lost while waiting to report {version}: {lost}"
                ) from None
        if time.monotonic() > deadline:
            raise ActionError(f"{host}: not healthy on {version} within {bound:g}s: {last}")
        time.sleep(2)


@verification
def assert_healthy(host: Host, version: str) -> Health:
    got = health(host)
    assert got.version == version, f"{host}: serves version {got.version!r}, expected {version}"
    assert got.ok, (
        f"{host}: unhealthy: db {got.db!r}, login page {'ok' if got.login else 'failing'}"
    )
    return got
