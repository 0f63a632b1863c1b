"""What every action shares: its outcome, writing a file to a host, and running on many hosts.

    >>> outcome = Outcome(host, "firewall maintenance", changed=True, detail="rules applied")
    >>> outcome.changed
    True

Every verb looks first, changes only what differs and returns an `Outcome` saying whether it
changed anything (Ansible's `changed`), which it also notes in the journal.
"""

from __future__ import annotations

import hashlib
import shlex
from dataclasses import dataclass

from runbooklib.inventory import Inventory
from runbooklib.remote import Host
from runbooklib.transcript import transcript


class ActionError(Exception):
    """An action found the host in a state it must not change; the message names the fix."""


@dataclass
class Outcome:
    host: Host
    what: str
    changed: bool
    detail: str = ""

    def __post_init__(self) -> None:
        if self.host.check_mode:
            state = "would change" if self.changed else "unchanged"
        else:
            state = "changed" if self.changed else "unchanged"
        transcript.note(
            f"{self.host}: {self.what}: {state}. {self.detail}".strip(), changed=self.changed
        )


def sha256(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode()
    return hashlib.sha256(data).hexdigest()


def q(value: object) -> str:
    return shlex.quote(str(value))


def put_file(host: Host, path: str, content: bytes | str, mode: str = "0644") -> None:
    """Write `content` to `path` on the host (atomically: a temporary file, then a rename).

    The bytes go over the ssh connection's stdin, so no command line (the host's process list,
    the journal, testinfra's log) ever holds them; the journal gets their size and sha256. The
    temporary file is private (umask 077) until it gets its mode.
    """
    if isinstance(content, str):
        content = content.encode()
    tmp = f"{path}.runbook-tmp"
    host.run(
        f"umask 077 && cat > {q(tmp)} && chmod {mode} {q(tmp)} && mv -f {q(tmp)} {q(path)}",
        stdin=content,
    )


def file_sha256(host: Host, path: str) -> str | None:
    """The file's sha256 on the host, or None when it does not exist."""
    out = host.probe(f"test -f {q(path)} && sha256sum {q(path)} || true").stdout.split()
    return out[0] if out else None


def app_nodes(inventory: Inventory, group: str = "app") -> list[Host]:
    """The group's hosts, the head node (`head: true`) first, then the rest in inventory order."""
    hosts = inventory.group(group)
    return sorted(hosts, key=lambda h: not h.vars.get("head"))


def rolling(hosts: list[Host], action, *, max_failures: int = 0) -> list:
    """Run `action(host)` on each host in order (Ansible's `serial: 1`); halt once more than
    `max_failures` hosts failed, so that a bad release never reaches the whole cluster."""
    results, failures = [], []
    for host in hosts:
        try:
            results.append(action(host))
        except Exception as exc:  # noqa: BLE001 - collected, then re-raised below with every host
            failures.append(f"{host.name}: {exc}")
            if len(failures) > max_failures:
                raise ActionError("; ".join(failures)) from exc
    return results


def batches(hosts: list[Host], serial: int) -> list[list[Host]]:
    """The hosts in batches of `serial` (Ansible's `serial`): [a, b, c] by 2 -> [[a, b], [c]]."""
    if not isinstance(serial, int) or isinstance(serial, bool) or serial < 1:
        raise ActionError(f"serial is {serial!r}: give a whole number of hosts, 1 or more")
    return [hosts[i : i + serial] for i in range(0, len(hosts), serial)]


def in_batch(batch: list[Host], action) -> list:
    """Run `action(host)` on every host of a batch at once; wait for all of them, then raise one
    ActionError naming every host that failed (the next batch must not start)."""
    from concurrent.futures import ThreadPoolExecutor

    def one(host: Host):
        try:
            return action(host), None
        except Exception as exc:  # noqa: BLE001 - re-raised below with every host of the batch
            text = str(exc)
            return None, text if text.startswith(f"{host.name}:") else f"{host.name}: {text}"

    if not batch:
        return []
    with ThreadPoolExecutor(max_workers=len(batch)) as pool:
        done = list(pool.map(one, batch))
    failures = [error for _, error in done if error is not None]
    if failures:
        raise ActionError("; ".join(failures))
    return [result for result, _ in done]


def in_parallel(hosts: list[Host], check, workers: int = 8) -> list[str]:
    """Run a read-only `check(host)` on every host at once; the failures, one line per host.

    Read-only checks do not depend on order, so they need not wait for each other (DESIGN, Scale).
    """
    from concurrent.futures import ThreadPoolExecutor

    def one(host: Host) -> str | None:
        try:
            check(host)
        except Exception as exc:  # noqa: BLE001 - reported with the host, never swallowed
            lines = str(exc).strip().splitlines()
            first = lines[0] if lines else repr(exc)
            return first if first.startswith(f"{host.name}:") else f"{host.name}: {first}"
        return None

    if not hosts:
        return []
    with ThreadPoolExecutor(max_workers=min(workers, len(hosts))) as pool:
        return [r for r in pool.map(one, hosts) if r]
