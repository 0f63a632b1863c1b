"""What the lab is made of: its hosts, their addresses, and where its state lives.

    >>> lab = Lab(ipaddress.ip_network("198.51.100.0/24"), app_nodes=2)
    >>> lab.address("caje")
    '198.51.100.21'
    >>> [h.name for h in lab.hosts if h.role == "app"]
    ['stubing', 'walton']

Production paths (/ucd/opt/sakai/..., /afs/..., /var/lib/mysql) exist only inside the hosts' private
mount namespaces; on the machine they are folders under STATE/hosts/<host>/.
"""

from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

STATE = Path(os.environ.get("LAB_STATE", "/var/lib/smartsite-lab"))
DEFAULT_SUBNET = "198.51.100.0/24"
BRIDGE = "smlab0"
NS_PREFIX = "smlab-"
REPO = Path(__file__).resolve().parent.parent
VENV_PYTHON = REPO / ".venv" / "bin" / "python"

# Paths inside the hosts (equal to production's, see inventories/production.yml).
TOMCAT_HOME = "/usr/share/tomcat10"
TOMCAT_BASE = "/ucd/opt/sakai/tomcat"
SAKAI_HOME = "/ucd/opt/sakai/tomcat/sakai/"
SRC_DIR = "/ucd/opt/sakai/src"
RELEASES_DIR = "/ucd/opt/sakai/releases"
STAGING = "/afs/.ucdavis.edu/app/sakai/staging/config"
BACKUP_DIR = "/var/backups/sakai"
SVN_TAGS = "https://mware.ucdavis.edu/svn/ucd-sakai/sakai/tags"
RELEASES = {"sakai_2-4-x-prod-002": "2.4.0", "sakai_2-4-x-prod-003": "2.4.1"}
PROD_TAG = "sakai_2-4-x-prod-002"  # what runs before the window
BACKUP_DISK_MB = 64  # /var/backups/sakai on caje: small enough to fill as a fault

# Fixed hosts: name, last octet, role. Extra app nodes (--app-nodes 3..16) are app3.. at .13...,
# app10.. at .110.. (.20 on is taken by caje and the rest).
FIXED = [
    ("caje", 21, "db"),
    ("mware", 31, "svn"),
    ("mail", 41, "mail"),
    ("irc", 42, "irc"),
    ("adminws1", 51, "vantage"),
    ("adminws2", 52, "vantage"),
    ("public", 61, "vantage"),
]
APP_NAMES = ["stubing", "walton"]


class LabError(Exception):
    """A one-line error for the operator, naming the fix."""


@dataclass(frozen=True)
class LabHost:
    name: str
    address: str
    role: str

    @property
    def ns(self) -> str:
        return NS_PREFIX + self.name

    @property
    def veth(self) -> str:
        return "smv-" + self.name  # root-side end; interface names are at most 15 characters

    @property
    def dir(self) -> Path:
        return STATE / "hosts" / self.name


@dataclass
class Lab:
    subnet: ipaddress.IPv4Network
    app_nodes: int = 2
    hosts: list[LabHost] = field(init=False)

    def __post_init__(self):
        names = APP_NAMES + [f"app{i}" for i in range(3, self.app_nodes + 1)]
        spec = [
            (n, 11 + i if i < 9 else 101 + i, "app") for i, n in enumerate(names[: self.app_nodes])
        ] + FIXED
        self.hosts = [LabHost(n, str(self.subnet.network_address + o), r) for n, o, r in spec]

    @property
    def operator(self) -> str:
        return str(self.subnet.network_address + 1)

    def host(self, name: str) -> LabHost:
        for h in self.hosts:
            if h.name == name:
                return h
        known = ", ".join(h.name for h in self.hosts)
        raise LabError(f"no lab host `{name}`: use one of {known}")

    def address(self, name: str) -> str:
        return self.host(name).address

    def role(self, role: str) -> list[LabHost]:
        return [h for h in self.hosts if h.role == role]

    def save(self) -> None:
        STATE.mkdir(parents=True, exist_ok=True)
        data = {"subnet": str(self.subnet), "app_nodes": self.app_nodes}
        (STATE / "lab.json").write_text(json.dumps(data) + "\n")


def parse_subnet(text: str, source: str = "--subnet") -> ipaddress.IPv4Network:
    """The lab's subnet from `text`; `source` (--subnet or $LAB_SUBNET) is what the fix names."""
    try:
        net = ipaddress.ip_network(text.strip(), strict=True)
    except ValueError:
        raise LabError(
            f"subnet `{text}` is not a network like {DEFAULT_SUBNET}: fix {source}"
        ) from None
    if net.version != 4 or net.prefixlen != 24:
        raise LabError(f"subnet {text} must be an IPv4 /24 (like {DEFAULT_SUBNET}): fix {source}")
    return net


def chosen(subnet: str | None, app_nodes: int | None) -> Lab:
    """The lab asked for: options first, then $LAB_SUBNET, then what the last `up` recorded."""
    saved = recorded()
    nodes = app_nodes or (saved.app_nodes if saved else 2)
    if not 1 <= nodes <= 16:
        raise LabError(f"--app-nodes {nodes} is out of range: use 1 to 16")
    if subnet:
        return Lab(parse_subnet(subnet), nodes)
    if os.environ.get("LAB_SUBNET"):
        return Lab(parse_subnet(os.environ["LAB_SUBNET"], "LAB_SUBNET"), nodes)
    return Lab(saved.subnet if saved else parse_subnet(DEFAULT_SUBNET), nodes)


def recorded() -> Lab | None:
    """The lab that the last `up` built (its subnet and size), if any."""
    try:
        data = json.loads((STATE / "lab.json").read_text())
        return Lab(ipaddress.ip_network(data["subnet"]), int(data["app_nodes"]))
    except (OSError, ValueError, KeyError):
        return None
