"""Pinned host keys (issue 17): every ssh the run starts (the hosts' shells, testinfra's
connection, the lock's session) checks host keys strictly against the inventory's known hosts
file and keeps its master socket in a 0700 folder of the operator's own; the inventory names the
file Ansible's way (`ansible_ssh_common_args: -o UserKnownHostsFile=PATH`)."""

from __future__ import annotations

import os
import stat
import textwrap
from pathlib import Path

import pytest

from runbooklib import remote
from runbooklib.engine import lock
from runbooklib.inventory import Inventory, InventoryError

PRODUCTION = Path(__file__).resolve().parents[2] / "inventories" / "production.yml"


def _options(argv: list[str]) -> dict[str, str]:
    """ssh's `-o KEY=VALUE` options, the first of each key (the one ssh keeps)."""
    found: dict[str, str] = {}
    for flag, value in zip(argv, argv[1:], strict=False):
        if flag == "-o":
            key, _, val = value.partition("=")
            found.setdefault(key, val)
    return found


def test_the_hosts_shells_pin_host_keys_with_a_private_control_path():
    host = remote.Host("stubing", "192.0.2.11", known_hosts="/etc/smartsite/known_hosts")

    options = _options(host.shell_argv())

    assert options["StrictHostKeyChecking"] == "yes" and options["BatchMode"] == "yes"
    assert options["UserKnownHostsFile"] == "/etc/smartsite/known_hosts"
    folder = Path(options["ControlPath"]).parent
    assert options["ControlPath"].endswith("-%C") and folder.is_dir()
    info = folder.stat()
    assert stat.S_IMODE(info.st_mode) == 0o700 and info.st_uid == os.getuid()
    assert not str(folder).startswith("/tmp/smartsite") and "lab" not in str(folder)


def test_a_connection_checked_another_way_is_never_shared():
    """Kept across runs, a master made under other known hosts (or key, or ssh config) for the
    same address must not carry this inventory's commands: its socket has another name."""
    pinned = remote.Host("stubing", "192.0.2.11", known_hosts="/etc/smartsite/known_hosts")
    other = remote.Host("stubing", "192.0.2.11", known_hosts="/home/someone/known_hosts")
    keyed = remote.Host("stubing", "192.0.2.11", known_hosts="/etc/smartsite/known_hosts",
                        identity_file="/root/.ssh/other")  # fmt: skip

    paths = {h.control_path() for h in (pinned, other, keyed)}

    assert len(paths) == 3
    walton = remote.Host("walton", "192.0.2.12", known_hosts="/etc/smartsite/known_hosts")
    assert pinned.control_path() == walton.control_path()  # %C tells the hosts apart


@pytest.mark.parametrize(
    "spoil", ["open to the group", "a symlink", "someone else's", "under no folder"]
)
def test_a_kept_folder_that_is_not_private_is_not_used(tmp_path, monkeypatch, spoil):
    kept = tmp_path / "runbook" / "cp"
    kept.parent.mkdir(mode=0o700)
    if spoil == "open to the group":
        kept.mkdir(mode=0o700)
        kept.chmod(0o770)
    elif spoil == "under no folder":
        kept = tmp_path / "gone" / "runbook" / "cp"
    elif spoil == "a symlink":
        (tmp_path / "elsewhere").mkdir(mode=0o700)
        kept.symlink_to(tmp_path / "elsewhere")
    else:
        kept.mkdir(mode=0o700)
        os.chown(kept, 65534, 65534)  # nobody: the tests run as root
    monkeypatch.setattr(remote, "KEPT", str(kept))
    monkeypatch.setattr(remote, "MAX_FOLDER", len(str(kept)))  # tmp_path is long
    monkeypatch.setattr(remote, "_control_dir", None)

    chosen = remote.control_dir()

    assert chosen != str(kept) and not chosen.startswith(str(tmp_path / "elsewhere"))
    info = os.lstat(chosen)
    assert stat.S_ISDIR(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o700


def test_the_kept_folder_is_made_private_and_used(tmp_path, monkeypatch):
    kept = tmp_path / "runbook" / "cp"
    monkeypatch.setattr(remote, "KEPT", str(kept))
    monkeypatch.setattr(remote, "MAX_FOLDER", len(str(kept)))  # tmp_path is long
    monkeypatch.setattr(remote, "_control_dir", None)

    assert remote.control_dir() == str(kept)
    for folder in (kept.parent, kept):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_testinfra_goes_through_the_hosts_own_pinned_shell():
    host = remote.Host("stubing", "192.0.2.11", known_hosts="/etc/smartsite/known_hosts")

    backend = host.testinfra.backend  # no ssh of its own: its commands are the host's probes

    assert isinstance(backend, remote.Journaled) and backend.runbook_host is host
    pinned, shell = _options(host.pinning_options()), _options(host.shell_argv())
    assert pinned["StrictHostKeyChecking"] == "yes"
    assert {key: shell.get(key) for key in pinned} == pinned


def test_the_locks_session_rides_the_hosts_kept_connection_and_pins_keys_too():
    host = remote.Host("caje", "192.0.2.21", known_hosts="/etc/smartsite/known_hosts")

    options = _options(lock._command(host, "/run/smartsite-runbook/lock", breaking=False))

    assert options["ControlPath"] == host.control_path() and options["ControlMaster"] == "auto"
    assert options["StrictHostKeyChecking"] == "yes"
    assert options["UserKnownHostsFile"] == "/etc/smartsite/known_hosts"
    assert int(options["ServerAliveInterval"]) * int(options["ServerAliveCountMax"]) < (
        lock.DEADLINE
    )  # the holder knows it lost the link before the host frees the lock


def _inventory(tmp_path: Path, common_args: str) -> Path:
    path = tmp_path / "site.yml"
    path.write_text(
        textwrap.dedent(
            f"""\
            all:
              vars:
                window: {{start: "08:00", end: "12:00"}}
                ansible_ssh_common_args: {common_args}
              children:
                app:
                  hosts:
                    stubing: {{ansible_host: 192.0.2.11, head: true}}
                db:
                  hosts:
                    caje: {{ansible_host: 192.0.2.21}}
            """
        )
    )
    return path


def test_the_inventory_names_the_known_hosts_file_beside_its_ssh_config(tmp_path):
    inv = Inventory.load(
        _inventory(tmp_path, "-F /etc/smartsite/ssh_config -o UserKnownHostsFile=~/kh")
    )

    host = inv.host("caje")
    assert host.ssh_config == "/etc/smartsite/ssh_config"
    assert host.known_hosts == os.path.expanduser("~/kh")
    assert remote.unpinned(inv.hosts.values()) == (
        f"host stubing's known hosts file {os.path.expanduser('~/kh')} does not exist: write the "
        "hosts' keys there once you checked their fingerprints"
    )


@pytest.mark.parametrize(
    "args",
    [
        "-o StrictHostKeyChecking=no",
        "-o UserKnownHostsFile=/a -o UserKnownHostsFile=/b",
        "-o UserKnownHostsFile=",
        "-F /etc/smartsite/ssh_config -o",
        "-o UserKnownHostsFile=relative/known_hosts",
    ],
)
def test_other_ssh_arguments_are_refused_naming_what_is_taken(tmp_path, args):
    with pytest.raises(InventoryError, match="give only|give an absolute path"):
        Inventory.load(_inventory(tmp_path, args))


def test_the_production_inventory_pins_its_host_keys():
    inv = Inventory.load(PRODUCTION)

    assert {h.known_hosts for h in inv.hosts.values()} == {
        os.path.expanduser("~/.smartsite/known_hosts")
    }
