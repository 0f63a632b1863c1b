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

    @classmethod
    def load(cls, path: str | os.PathLike) -> Inventory:
        path = Path(path)
        if not path.is_file():
            raise InventoryError(
                f"inventory {path} not found: name an existing file with --inventory"
            )
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f":{mark.line + 1}" if mark else ""
            raise InventoryError(
                f"inventory {path}{where} is not valid YAML: fix the syntax"
            ) from None
        if not isinstance(data, dict) or not isinstance(data.get("all"), dict):
            raise InventoryError(f"inventory {path} must start with a top-level `all:` group")
        inv = cls(name=path.stem, path=path, vars=dict(data["all"].get("vars") or {}))
        host_vars: dict[str, dict] = {}
        inv._walk("all", data["all"], [], host_vars)
        ssh_config = inv.vars.get("ssh_config")
        if ssh_config:
            ssh_config = str((path.parent / os.path.expanduser(ssh_config)).resolve())
        relocate = _relocation(inv.vars)
        inv.vars = relocate(inv.vars)
        for name, hvars in host_vars.items():
            merged = relocate({**inv.vars, **hvars})
            address = str(merged.setdefault("ansible_host", name))
            inv.hosts[name] = Host(
                name,
                address,
                merged,
                ssh_config=ssh_config,
                user=merged.get("ansible_user", "root"),
            )
        return inv

    def _walk(self, group: str, body: dict, outer: list[dict], host_vars: dict) -> None:
        if not isinstance(body, dict):
            raise InventoryError(f"inventory {self.path}: group `{group}` must be a mapping")
        scope = [*outer, body.get("vars") or {}] if group != "all" else outer
        members = self.groups.setdefault(group, [])
        for name, own in (body.get("hosts") or {}).items():
            merged: dict = {}
            for layer in scope:
                merged.update(layer)
            merged.update(host_vars.get(name, {}))
            merged.update(own or {})
            host_vars[name] = merged
            if name not in members:
                members.append(name)
        for child, child_body in (body.get("children") or {}).items():
            self._walk(child, child_body or {}, scope, host_vars)
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
        raise InventoryError(f"inventory {self.path}: no group or host `{name}` (groups: {known})")

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
    old, new = ipaddress.ip_network(default), ipaddress.ip_network(chosen)
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
