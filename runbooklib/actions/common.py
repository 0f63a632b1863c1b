"""What every action shares: its outcome, writing a file to a host, and running on many hosts.

    >>> outcome = Outcome(host, "firewall maintenance", changed=True, detail="rules applied")
    >>> outcome.changed
    True

Every verb looks first, changes only what differs and returns an `Outcome` saying whether it
changed anything (Ansible's `changed`), which it also notes in the journal.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import shlex
from dataclasses import dataclass

from runbooklib.inventory import Inventory
from runbooklib.remote import CommandFailed, Host, Result
from runbooklib.transcript import carried, transcript
from runbooklib.values import FORKS


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


# The exit status of a command that found a folder it must not use (see `closed_folder`).
REFUSED_FOLDER = 86


def closed_folder(folder: str) -> str:
    """Shell: go on only if `folder` is a real folder (not a symlink) owned by root that no
    group or other user can write to; else exit REFUSED_FOLDER. Where root writes a file under
    a name others could guess, nobody else may create, swap or link that name first."""
    return (
        f"find {q(folder)} -maxdepth 0 -type d -user 0 ! -perm /022 2>/dev/null | grep -q . "
        f"|| exit {REFUSED_FOLDER}"
    )


def private_folder(folder: str) -> str:
    """Shell: make `folder` root's own 0700 folder (its parents as `mkdir -p` does); exit
    REFUSED_FOLDER when it is a symlink, not a folder, or owned by someone else. A root-owned
    one is closed to 0700 (only root could have opened it)."""
    f = q(folder)
    return (
        f"if test -L {f}; then exit {REFUSED_FOLDER}; fi; "
        f"if ! test -e {f}; then mkdir -p -- {q(posixpath.dirname(folder.rstrip('/')) or '/')} "
        f"&& mkdir -m 700 -- {f} || exit 1; fi; "
        f"find {f} -maxdepth 0 -type d -user 0 | grep -q . || exit {REFUSED_FOLDER}; "
        f"chmod 700 -- {f}"
    )


def run_in(host: Host, folders: list[str], command: str, **kwargs) -> Result:
    """`host.run(command)` for a command that starts with `closed_folder`/`private_folder`
    checks of `folders`: a refusal is one line naming the folders and the fix."""
    check = kwargs.pop("check", True)
    result = host.run(command, check=False, **kwargs)
    if result.rc == REFUSED_FOLDER:
        raise ActionError(
            f"{host}: refused to write in {' or '.join(folders)}: it must be a folder (not a "
            "symlink) owned by root that no group or other user can write to; fix its owner "
            "and mode (chown root: ...; chmod go-w ...), or move it away, then run again"
        )
    if check and result.rc != 0:
        raise CommandFailed(result)
    return result


def put_file(host: Host, path: str, content: bytes | str, mode: str = "0644") -> None:
    """Write `content` to `path` on the host (atomically: a temporary file, then a rename).

    The bytes go over the ssh connection's stdin, so no command line (the host's process list,
    the journal, testinfra's log) ever holds them; the journal gets their size and sha256. The
    temporary file is made by `mktemp` (a fresh name, 0600, never an existing file or symlink)
    in the target's own folder, which must be root's and closed to others (`closed_folder`);
    `mv -T` replaces a symlink at `path` rather than writing through it.
    """
    if isinstance(content, str):
        content = content.encode()
    if not re.fullmatch(r"[0-7]{3,4}", mode):
        raise ActionError(f"file mode {mode!r} is not octal")
    folder = posixpath.dirname(path) or "."
    run_in(
        host,
        [folder],
        f"{closed_folder(folder)}; umask 077 && t=$(mktemp {q(folder + '/.runbook.XXXXXXXX')}) "
        f'&& {{ cat > "$t" && chmod {mode} "$t" && mv -fT "$t" {q(path)} || '
        f'{{ rm -f "$t"; exit 1; }}; }}',
        stdin=content,
    )


def replace_file(path: str, produce: str, like: str, keep_times: bool = False) -> str:
    """Shell: replace `path` atomically with what the shell command `produce` prints, with the
    owner and mode of `like` (`path` itself, or the file it comes from; `keep_times`: its
    times too), through a `mktemp` file in `path`'s folder (checked like put_file's): neither a
    symlink at `path` nor a guessable temporary name is ever followed."""
    folder = posixpath.dirname(path) or "."
    r = q(like)
    return (
        f"{closed_folder(folder)}; umask 077 && "
        f"t=$(mktemp {q(folder + '/.runbook.XXXXXXXX')}) && "
        f'{{ {produce} > "$t" && chown --reference={r} -- "$t" && '
        f'chmod --reference={r} -- "$t" && '
        + (f'touch --reference={r} -- "$t" && ' if keep_times else "")
        + f'mv -fT -- "$t" {q(path)} || {{ rm -f -- "$t"; exit 1; }}; }}'
    )


def path_part(host: Host, value: str, what: str) -> str:
    """`value`, which names one file or folder inside another: never empty, `.`, `..` or a
    path of its own (quoting keeps it one word; this keeps it in its folder)."""
    if not value or "/" in value or value in (".", "..") or "\0" in value:
        raise ActionError(f"{host}: {what} {value!r} cannot name a file: fix the inventory")
    return value


def operand(host: Host, value: str, what: str) -> str:
    """`value` where a command expects an operand that it cannot take after `--` (nmap's
    targets): a leading `-` would make it an option."""
    if not value or value.startswith("-"):
        raise ActionError(f"{host}: {what} {value!r} would be read as an option: fix the inventory")
    return value


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
    `max_failures` hosts failed, so that a bad release never reaches the whole cluster.

    A failure tolerated (within `max_failures`) is never dropped: each one is a warning, on the
    console, in the journal (with its host and error; the journal adds the step) and in the
    record, the moment it happens; a halt names every host that failed."""
    results, failures = [], []
    for host in hosts:
        try:
            results.append(action(host))
        except Exception as exc:  # noqa: BLE001 - recorded, then tolerated or re-raised below
            error = _first_line(host, exc)
            failures.append(f"{host.name}: {error}")
            if len(failures) > max_failures:
                raise ActionError("; ".join(failures)) from exc
            transcript.emit(
                "warning",
                text=f"{host.name}: failure tolerated ({len(failures)} of at most "
                f"{max_failures}), going on with the next host: {error}",
                host=host.name,
                error=str(exc),
                tolerated=True,
            )
    return results


def _first_line(host: Host, exc: Exception) -> str:
    """The error in one line (its first), without the host's name when it leads already."""
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else repr(exc)).removeprefix(f"{host.name}: ")


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
        done = list(pool.map(carried(one), batch))
    failures = [error for _, error in done if error is not None]
    if failures:
        raise ActionError("; ".join(failures))
    return [result for result, _ in done]


def forks(hosts: list[Host]) -> int:
    """The fan-out bound: the hosts' `forks` (the inventory var, or `--forks`, which the engine
    hands to every host), else Ansible's default of 10."""
    value = hosts[0].vars.get("forks", FORKS) if hosts else FORKS
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ActionError(f"forks is {value!r}: give a whole number of hosts, 1 or more")
    return value


def fan_out(items: list, work, bound: int, name=str) -> list[tuple[object, str | None]]:
    """`work(item)` for every item, at most `bound` at once, in the items' order: (result,
    None), or (None, the first line of what it raised, prefixed with `name(item)`)."""
    from concurrent.futures import ThreadPoolExecutor

    def one(item):
        try:
            return work(item), None
        except Exception as exc:  # noqa: BLE001 - reported with the item, never swallowed
            lines = str(exc).strip().splitlines()
            first = lines[0] if lines else repr(exc)
            who = name(item)
            return None, first if first.startswith(f"{who}:") else f"{who}: {first}"

    if not items:
        return []
    with ThreadPoolExecutor(max_workers=min(bound, len(items))) as pool:
        return list(pool.map(carried(one), items))


def in_parallel(hosts: list[Host], check) -> list[str]:
    """Run a read-only `check(host)` on every host at once, `forks` of them at a time (Ansible's
    bound); the failures, one line per host.

    Read-only checks do not depend on order, so they need not wait for each other (DESIGN, Scale).
    """
    return [error for _, error in fan_out(hosts, check, forks(hosts)) if error]
