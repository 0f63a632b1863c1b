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
# The lab's IPv6 prefix (a ULA, fd00::/8, random-looking so that it overlaps no site's), on its
# bridge only: each host's address ends as its IPv4 one (caje 198.51.100.21: fd5a:6c61:6273::21).
PREFIX6 = ipaddress.ip_network("fd5a:6c61:6273::/64")
# A new lab has both families, as a current campus network does; a built one keeps its own.
DEFAULT_IPV6 = True
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
    address6: str = ""  # its IPv6 address, "" when the lab runs IPv4 only

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
    ipv6: bool = False  # both families on every host (DEFAULT_IPV6 for a new lab)
    hosts: list[LabHost] = field(init=False)

    def __post_init__(self):
        names = APP_NAMES + [f"app{i}" for i in range(3, self.app_nodes + 1)]
        spec = [
            (n, 11 + i if i < 9 else 101 + i, "app") for i, n in enumerate(names[: self.app_nodes])
        ] + FIXED
        self.hosts = [
            LabHost(n, str(self.subnet.network_address + o), r, self._v6(o)) for n, o, r in spec
        ]

    def _v6(self, host_part: int) -> str:
        # The digits read alike in both families: .21 is ::21 (0x21), for the people reading them.
        return str(PREFIX6.network_address + int(str(host_part), 16)) if self.ipv6 else ""

    @property
    def operator(self) -> str:
        return str(self.subnet.network_address + 1)

    @property
    def operator6(self) -> str:
        """The bridge's IPv6 address ("" without IPv6): the operator's, as `operator` is."""
        return self._v6(1)

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
        data = {"subnet": str(self.subnet), "app_nodes": self.app_nodes, "ipv6": self.ipv6}
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


def parse_ipv6(text: str) -> bool:
    """$LAB_IPV6: 1 (both families) or 0 (IPv4 only)."""
    if text.strip() not in ("0", "1"):
        raise LabError(f"LAB_IPV6 is {text!r}: set it to 1 (IPv6 too) or 0 (IPv4 only)")
    return text.strip() == "1"


def chosen(subnet: str | None, app_nodes: int | None, ipv6: bool | None = None) -> Lab:
    """The lab asked for: options first, then $LAB_SUBNET and $LAB_IPV6, then what the last `up`
    recorded."""
    saved = recorded()
    nodes = app_nodes or (saved.app_nodes if saved else 2)
    if not 1 <= nodes <= 16:
        raise LabError(f"--app-nodes {nodes} is out of range: use 1 to 16")
    if ipv6 is None and os.environ.get("LAB_IPV6"):
        ipv6 = parse_ipv6(os.environ["LAB_IPV6"])
    if ipv6 is None:
        ipv6 = saved.ipv6 if saved else DEFAULT_IPV6
    if subnet:
        return Lab(parse_subnet(subnet), nodes, ipv6)
    if os.environ.get("LAB_SUBNET"):
        return Lab(parse_subnet(os.environ["LAB_SUBNET"], "LAB_SUBNET"), nodes, ipv6)
    return Lab(saved.subnet if saved else parse_subnet(DEFAULT_SUBNET), nodes, ipv6)


def recorded() -> Lab | None:
    """The lab that the last `up` built (its subnet, size and families), if any."""
    try:
        data = json.loads((STATE / "lab.json").read_text())
        return Lab(
            ipaddress.ip_network(data["subnet"]),
            int(data["app_nodes"]),
            bool(data.get("ipv6", False)),
        )
    except (OSError, ValueError, KeyError):
        return None
