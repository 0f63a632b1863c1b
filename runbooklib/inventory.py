"""Inventories in Ansible's YAML format: groups, hosts and variables, read without Ansible.

    >>> inv = Inventory.load("inventories/lab.yml")
    >>> [h.name for h in inv.select("app[0:1]:caje")]   # Ansible's host patterns
    ['stubing', 'walton', 'caje']
    >>> inv.vars["tomcat_base"]
    '/ucd/opt/sakai/tomcat'

Variables merge the way Ansible merges them for a host: `all`, then each group from the outside
in, then the host's own. Hosts are reached with Ansible's variables (`ansible_user`,
`ansible_ssh_private_key_file`, `ansible_ssh_common_args: -F FILE`), so Ansible and testinfra's
`ansible://` reach them from the same file. A bad file or pattern is an `InventoryError` with one
line that names the fix. tests/inventory/ compares all of it with ansible-core's own reading.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from runbooklib import values
from runbooklib.files import FileRefused, read_text
from runbooklib.remote import Host
from runbooklib.timeofday import minutes


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
        if not path.exists():
            raise InventoryError(
                f"inventory {shown} not found: name an existing file with --inventory"
            )
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", path.stem):
            # The name goes into the report's and journal's file names and onto the console.
            raise InventoryError(
                f"inventory {values.shown(shown)}: its file name is not a plain name: rename it "
                "with letters, digits, `.`, `_` and `-` (like production.yml)"
            )
        data = read_yaml(path, f"inventory {shown}", InventoryError)
        if not isinstance(data, dict) or not isinstance(data.get("all"), dict):
            raise InventoryError(f"inventory {shown} must start with a top-level `all:` group")
        try:
            # Before anything is read out of it: names, templates, variables that reach a command.
            values.check_inventory(data)
        except ValueError as exc:
            raise InventoryError(f"inventory {shown}: {exc}") from None
        inv = cls(name=path.stem, path=path, vars={})
        inv.vars = dict(inv._mapping(data["all"].get("vars"), "all.vars"))
        host_vars: dict[str, dict] = {}
        inv._walk("all", data["all"], [], host_vars, {})
        # Ansible's implicit group: the hosts listed under `all` itself, second as in Ansible.
        direct = list(inv._mapping(data["all"].get("hosts"), "all.hosts"))
        inv.groups = {"all": inv.groups.pop("all"), "ungrouped": direct, **inv.groups}
        for name in host_vars:
            if name in inv.groups:
                raise InventoryError(
                    f"inventory {inv.where}: `{name}` is both a host and a group (Ansible warns, "
                    "and a pattern cannot tell them apart): rename one of them"
                )
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
            ssh_config, known_hosts = _ssh_config(inv, name, merged)
            inv.hosts[name] = Host(
                name,
                address,
                merged,
                ssh_config=ssh_config,
                known_hosts=known_hosts,
                identity_file=_path(inv, name, merged, "ansible_ssh_private_key_file"),
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

    def select(self, pattern: str) -> list[Host]:
        """The hosts that Ansible's host `pattern` names, in Ansible's order.

        `app`, `caje`, `all`, `ungrouped`; subscripts with both ends included: `app[0]`,
        `app[-1]`, `app[1:]`, `app[0:1]` (two hosts); `*` globs and `~regex`; `a:b` or `a,b`
        (union), `a:&b` (intersection), `a:!b` (exclusion), applied as Ansible does: the unions,
        then the intersections, then the exclusions, whatever their order in the pattern.
        A pattern that Ansible would read differently, or warn about and ignore, is an
        `InventoryError` that names the fix.
        """
        terms = self._terms(pattern)
        unions = [t for t in terms if t[0] not in "&!"] or ["all"]
        hosts: list[str] = []
        for term in unions + [t for t in terms if t[0] == "&"] + [t for t in terms if t[0] == "!"]:
            names = self._match(term[1:] if term[0] in "&!" else term, pattern)
            if term[0] == "&":
                hosts = [h for h in hosts if h in names]
            elif term[0] == "!":
                hosts = [h for h in hosts if h not in names]
            else:
                hosts += [h for h in names if h not in hosts]
        return [self.hosts[h] for h in hosts]

    # The name all callers used before host patterns: the same as `select`.
    group = select

    def host(self, name: str) -> Host:
        return self.select(name)[0]

    def _refuse(self, pattern: str, why: str) -> InventoryError:
        return InventoryError(f"inventory {self.where}: host pattern `{pattern}`: {why}")

    def _terms(self, pattern: str) -> list[str]:
        """Ansible's split of a pattern into terms (`,` if there is one, else `:` outside [])."""
        text = pattern.strip() if isinstance(pattern, str) else ""
        if not text:
            raise self._refuse(pattern, "it is empty: name a group or host")
        if "," in text:
            terms = [t.strip() for t in text.split(",")]
            if any(":" in re.sub(r"\[[^\]]*\]", "", t) for t in terms):
                # Ansible splits on the commas only: `app:db,svn` would look for a host `app:db`.
                raise self._refuse(pattern, "it mixes `,` and `:`: use one separator, like a:b:c")
        else:
            terms = re.findall(r"(?:[^\s:\[\]]|\[[^\]]*\])+", text)
        terms = [t for t in terms if t]
        if any(re.search(r"\s", t) for t in terms) or ("," not in text and re.search(r"\s", text)):
            # Ansible would take `app db` for `app:db`, and `app, d b` for a host `d b`.
            raise self._refuse(pattern, "it has a space: separate its parts with `:`")
        for term in terms:
            if term.isdigit():
                # Ansible would read `caje:22` as a host and a port, and match nothing.
                raise self._refuse(pattern, f"`{term}` is not a name: no ports in a pattern")
            if term in "&!":
                raise self._refuse(pattern, f"`{term}` stands alone: write :{term}NAME")
        return terms

    def _match(self, term: str, pattern: str) -> list[str]:
        """The names of the hosts of one term (without its & or !), subscript applied."""
        expr, subscript = term, None
        match = _SUBSCRIPT.fullmatch(term) if not term.startswith("~") else None
        if match:
            expr, index, start, end = match.groups()
            subscript = (int(index), None) if index is not None else (int(start), end)
        elif not term.startswith("~") and re.search(r"\[[^\]]*\]$", term):
            raise self._refuse(
                pattern,
                f"`{term}` is none of Ansible's subscripts (Ansible reads it as a glob or an old "
                "form): write [N], [-N], [N:] or [N:M] (M included, N and M not negative)",
            )
        names = self._enumerate(expr, pattern)
        if subscript is None:
            return names
        start, end = subscript
        if end is None:
            if not -len(names) <= start < len(names):
                raise self._refuse(
                    pattern,
                    f"`{expr}` has {len(names)} hosts, no [{start}]: "
                    f"use an index from 0 to {len(names) - 1} (or -1 to -{len(names)})",
                )
            return [names[start]]
        stop = len(names) - 1 if end == "" else int(end)
        if stop < start:
            # Ansible's own reading of [1:0] is a single host, of [2:1] none.
            raise self._refuse(pattern, f"the end {stop} is before the start {start}: swap them")
        return names[start : stop + 1]

    def _enumerate(self, expr: str, pattern: str) -> list[str]:
        """Ansible's matching: group names first, host names when no group matched or the
        expression is a glob or regex."""
        try:
            regex = re.compile(expr[1:] if expr.startswith("~") else fnmatch.translate(expr))
        except re.error as exc:
            raise self._refuse(
                pattern, f"`{expr}` is not a valid regular expression ({exc})"
            ) from None
        names: list[str] = []
        groups = [g for g in self.groups if regex.match(g)]
        for group in groups:
            names += [h for h in self.groups[group] if h not in names]
        if not groups or expr.startswith("~") or any(c in expr for c in ".?*["):
            names += [h for h in self.hosts if regex.match(h) and h not in names]
        if not names and not groups:
            known = ", ".join(sorted(self.groups))
            raise InventoryError(
                f"inventory {self.where}: no group or host `{expr}` (groups: {known})"
            )
        return names


# Ansible's subscript: [N] or [-N], or [N:] or [N:M] with M included (inventory/manager.py).
_SUBSCRIPT = re.compile(r"(.+)\[(?:(-?[0-9]+)|([0-9]+):([0-9]*))\]")


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


# Ansible's ssh settings that the runbook's own ssh (testinfra's, the lock's) does not read.
_UNSHARED_SSH = ("ansible_port", "ansible_ssh_port", "ansible_ssh_extra_args", "ansible_ssh_args")


def _ssh_config(inv: Inventory, name: str, vars: dict) -> tuple[str | None, str | None]:
    """(FILE, PATH) of `ansible_ssh_common_args: -F FILE -o UserKnownHostsFile=PATH`, the ssh
    settings the runbook shares with Ansible and testinfra (either may be left out): everything
    else (ProxyJump and the like) goes in the ssh config."""
    for key in _UNSHARED_SSH:
        if key in vars:
            raise InventoryError(
                f"inventory {inv.where}: host {name} sets {key}, which the runbook's ssh does not "
                "read: put it in the ssh config of `ansible_ssh_common_args: -F FILE` instead"
            )
    common_args = vars.get("ansible_ssh_common_args")
    if not common_args:
        return None, None
    words = shlex.split(str(common_args))
    config = known = None
    understood = len(words) % 2 == 0
    for flag, value in zip(words[::2], words[1::2], strict=False):
        if flag == "-F" and config is None:
            config = value
        elif flag == "-o" and value.startswith("UserKnownHostsFile=") and known is None:
            known = value.removeprefix("UserKnownHostsFile=")
        else:
            understood = False
    if not understood or known == "":
        raise InventoryError(
            f"inventory {inv.where}: host {name} has ansible_ssh_common_args {common_args!r}: "
            "give only `-F FILE` and `-o UserKnownHostsFile=PATH`, and put the other ssh "
            "settings in that file"
        )
    # ssh reads `~` in UserKnownHostsFile itself, and so does Ansible's ssh.
    known_hosts = os.path.expanduser(known) if known else None
    return (
        _path(inv, name, {"-F": config}, "-F"),
        _path(inv, name, {"UserKnownHostsFile": known_hosts}, "UserKnownHostsFile"),
    )


def _path(inv: Inventory, name: str, vars: dict, key: str) -> str | None:
    """An absolute path (Ansible passes it to ssh as it is, so a relative one would depend on
    where the operator stands)."""
    value = vars.get(key)
    if value is None:
        return None
    why = values.path(value)
    if why:
        raise InventoryError(
            f"inventory {inv.where}: host {name} has {key} {values.shown(value)} {why}"
        )
    return str(value)


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
    """YAML without timestamps and without aliases.

    A date stays text, so an impossible one (2027-02-30) becomes a message naming its entry
    instead of a ValueError from deep inside the parser. An alias (`*name`, `<<: *name`) is
    refused: a few lines of them expand to billions of values (the "billion laughs"), and an
    inventory's values are written out.
    """

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None,
                None,
                "an alias (*name): write the value out instead",
                self.peek_event().start_mark,
            )
        return super().compose_node(parent, index)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_yaml(path: Path, what: str, error: type[Exception]) -> Any:
    """The parsed file; a file that is not one (see runbooklib.files) or a syntax error is
    `error`, one line naming the line and the fix."""
    try:
        text = read_text(path, what)
    except FileRefused as exc:
        raise error(str(exc)) from None
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader
    except RecursionError:
        raise error(f"{what} is nested too deep to be an inventory: fix the file") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise error(f"{what}{where} is not valid YAML ({problem}): fix the syntax") from None
