"""Inventories in Ansible's YAML format: groups, hosts and variables, read without Ansible.

    >>> inv = Inventory.load("inventories/lab.yml")
    >>> [h.name for h in inv.group("app")]
    ['stubing', 'walton']
    >>> inv.vars["tomcat_base"]
    '/ucd/opt/sakai/tomcat'

Variables merge the way Ansible merges them for a host: `all`, then each group from the outside
in, then the host's own. A bad file is an `InventoryError` with one line that names the fix.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from runbooklib.engine.steps import minutes
from runbooklib.remote import Host


class InventoryError(Exception):
    pass


@dataclass
class Inventory:
    name: str
    path: Path
    vars: dict[str, Any]
    # group name -> host names, in file order; "all" holds every host.
    groups: dict[str, list[str]] = field(default_factory=dict)
    hosts: dict[str, Host] = field(default_factory=dict)
    # Ansible's check mode for the whole inventory (--dry-run): see `use_check_mode`.
    check_mode: bool = False

    def use_check_mode(self) -> None:
        """Every host records the commands that would change it and runs none of them."""
        self.check_mode = True
        for host in self.hosts.values():
            host.check_mode = True

    @property
    def where(self) -> str:
        """The file as the operator knows it: relative to where they stand, when it is below."""
        try:
            return str(self.path.resolve().relative_to(Path.cwd()))
        except ValueError:
            return str(self.path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Inventory:
        path = Path(path)
        shown = cls(name=path.stem, path=path, vars={}).where
        if not path.is_file():
            raise InventoryError(
                f"inventory {shown} not found: name an existing file with --inventory"
            )
        data = read_yaml(path, f"inventory {shown}", InventoryError)
        if not isinstance(data, dict) or not isinstance(data.get("all"), dict):
            raise InventoryError(f"inventory {shown} must start with a top-level `all:` group")
        inv = cls(name=path.stem, path=path, vars={})
        inv.vars = dict(inv._mapping(data["all"].get("vars"), "all.vars"))
        host_vars: dict[str, dict] = {}
        inv._walk("all", data["all"], [], host_vars, {})
        ssh_config = inv.vars.get("ssh_config")
        if ssh_config:
            ssh_config = str((path.parent / os.path.expanduser(ssh_config)).resolve())
        relocate = _relocation(inv.vars)
        inv.vars = relocate(inv.vars)
        _check_window(inv)
        by_address: dict[str, str] = {}
        for name, hvars in host_vars.items():
            merged = relocate({**inv.vars, **hvars})
            address = _address(inv, name, merged.get("ansible_host"))
            if address in by_address:
                raise InventoryError(
                    f"inventory {inv.where}: hosts {by_address[address]} and {name} both have "
                    f"ansible_host {address}: give each host its own address"
                )
            by_address[address] = name
            inv.hosts[name] = Host(
                name,
                address,
                merged,
                ssh_config=ssh_config,
                user=merged.get("ansible_user", "root"),
            )
        return inv

    def _mapping(self, value: object, place: str) -> dict:
        """`value` if it is a mapping or empty; else the one line naming the place."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise InventoryError(
                f"inventory {self.where}: `{place}` must be a mapping (key: value lines), "
                f"not a {type(value).__name__}"
            )
        return value

    def _walk(
        self, group: str, body: dict, outer: list[dict], host_vars: dict, listed: dict
    ) -> None:
        if not isinstance(body, dict):
            raise InventoryError(f"inventory {self.where}: group `{group}` must be a mapping")
        own_vars = self._mapping(body.get("vars"), f"{group}.vars")
        scope = [*outer, own_vars] if group != "all" else outer
        members = self.groups.setdefault(group, [])
        hosts = body.get("hosts")
        if isinstance(hosts, list):
            raise InventoryError(
                f"inventory {self.where}: the hosts of group `{group}` are a list: write them as a "
                "mapping, one `name: {ansible_host: ADDRESS}` per line"
            )
        for name, own in self._mapping(hosts, f"{group}.hosts").items():
            if own is not None and not isinstance(own, dict):
                raise InventoryError(
                    f"inventory {self.where}: host {name} in group `{group}` is {own!r}: "
                    f"write `{name}: {{ansible_host: {own}}}`"
                )
            # Ansible would merge the two entries' variables silently; here a host has one role.
            if name in listed and listed[name] != group:
                raise InventoryError(
                    f"inventory {self.where}: host {name} is listed in group `{listed[name]}` "
                    f"and in group `{group}`: a host has one role, remove one of them"
                )
            listed[name] = group
            merged: dict = {}
            for layer in scope:
                merged.update(layer)
            merged.update(host_vars.get(name, {}))
            merged.update(own or {})
            host_vars[name] = merged
            if name not in members:
                members.append(name)
        for child, child_body in self._mapping(body.get("children"), f"{group}.children").items():
            self._walk(child, child_body or {}, scope, host_vars, listed)
            members.extend(h for h in self.groups[child] if h not in members)

    def group(self, name: str) -> list[Host]:
        """The hosts of a group (or the one host of that name), in inventory order.

        Ansible's subscripts work too: `app[0]` is the first host of `app`, `app[1:]` the rest.
        """
        match = re.fullmatch(r"(.+)\[(-?\d*)(:?)(-?\d*)\]", name)
        if match:
            group, start, colon, stop = match.groups()
            hosts = self.group(group)
            if not colon:
                return hosts[int(start or 0) : int(start or 0) + 1 or None]
            return hosts[int(start) if start else None : int(stop) if stop else None]
        if name in self.groups:
            return [self.hosts[h] for h in self.groups[name]]
        if name in self.hosts:
            return [self.hosts[name]]
        known = ", ".join(sorted(self.groups))
        raise InventoryError(f"inventory {self.where}: no group or host `{name}` (groups: {known})")

    def host(self, name: str) -> Host:
        return self.group(name)[0]


def _relocation(vars: dict[str, Any]):
    """The lab's subnet is an option; its inventory is written for the default one.

    Addresses inside `lab_subnet` (host addresses, allow-lists) keep their host part and move to
    $LAB_SUBNET when it is set.
    """
    default, chosen = vars.get("lab_subnet"), os.environ.get("LAB_SUBNET")
    if not default or not chosen or chosen == default:
        return lambda tree: tree
    try:
        old = ipaddress.ip_network(default)
    except ValueError:
        raise InventoryError(f"inventory: lab_subnet {default} is not a network: fix it") from None
    try:
        new = ipaddress.ip_network(chosen)
    except ValueError:
        raise InventoryError(
            f"LAB_SUBNET {chosen} is not a network like {default}: fix or unset LAB_SUBNET"
        ) from None
    if old.prefixlen != new.prefixlen:
        raise InventoryError(f"LAB_SUBNET {chosen} must be a /{old.prefixlen} like {default}")

    def move(address: str) -> str:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return address
        if ip not in old:
            return address
        return str(new.network_address + (int(ip) - int(old.network_address)))

    def relocate(tree):
        if isinstance(tree, dict):
            return {k: relocate(v) for k, v in tree.items()}
        if isinstance(tree, list):
            return [relocate(v) for v in tree]
        return move(tree) if isinstance(tree, str) else tree

    return relocate


# A hostname as DNS has it (RFC 1123): dot-separated labels of letters, digits and inner hyphens.
_HOSTNAME = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?")


def _address(inv: Inventory, name: str, value: object) -> str:
    """The host's address: an IP address or a DNS name, never guessed from its name."""
    if value is None or not str(value).strip():
        raise InventoryError(
            f"inventory {inv.where}: host {name} has no address: give it `ansible_host: ADDRESS`"
        )
    text = str(value).strip()
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    # Digits and dots only looks like an IP address that has a typo; a name has a letter.
    if not _HOSTNAME.fullmatch(text) or re.fullmatch(r"[\d.]+", text):
        raise InventoryError(
            f"inventory {inv.where}: host {name} has ansible_host {text!r}, neither an IP "
            "address nor a host name: fix it"
        )
    return text


def _check_window(inv: Inventory) -> None:
    """window: {start: "HH:MM", end: "HH:MM"}, end after start (the plan's clock, one day)."""
    spec = inv.vars.get("window")
    if spec is None:
        return
    if not isinstance(spec, dict):
        raise InventoryError(
            f'inventory {inv.where}: window must be a mapping like {{start: "08:00", end: "12:00"}}'
        )
    times = {}
    for key in ("start", "end"):
        value = spec.get(key, "08:00" if key == "start" else "12:00")
        if not isinstance(value, str):
            # YAML 1.1 reads an unquoted 12:00 as the number 720 (base 60).
            raise InventoryError(
                f"inventory {inv.where}: window.{key} is {value!r}, not a time: "
                f'quote it, like {key}: "12:00"'
            )
        try:
            times[key] = minutes(value)
        except ValueError:
            raise InventoryError(
                f"inventory {inv.where}: window.{key} {value!r} is not a time of day: give HH:MM"
            ) from None
    if times["end"] <= times["start"]:
        raise InventoryError(
            f"inventory {inv.where}: window ends at {spec['end']}, not after its start "
            f"{spec['start']}: give an end after the start (on the same day)"
        )


class _Loader(yaml.SafeLoader):
    """YAML without timestamps: a date stays text, so an impossible one (2027-02-30) becomes a
    message naming its entry instead of a ValueError from deep inside the parser."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_yaml(path: Path, what: str, error: type[Exception]) -> Any:
    """The parsed file; a syntax error is `error` naming the line and the fix."""
    try:
        return yaml.load(path.read_text(), Loader=_Loader)  # noqa: S506 - a SafeLoader
    except OSError as exc:
        raise error(f"{what}: cannot read it ({exc.strerror}): fix its permissions") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise error(f"{what}{where} is not valid YAML ({problem}): fix the syntax") from None
