"""Hostile values that got past validation run nothing on the real lab (issue 16, item 2).

The read-only probes and the dry-run paths of several verbs run against the lab's own hosts with
a hostile value in one variable (a host name, db_backup_dir, release_tag, paths): each value
would create a marker file `pwn-N` if a shell ever ran a part of it. Then every lab host is
searched for a marker where it could have been made (/tmp, /, root's home, the cwd of the run's
shell). The search itself is proven first: a marker made on purpose is found.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from pathlib import Path

import pytest

from runbooklib.actions import config, database, firewall, release, tomcat
from runbooklib.actions.common import ActionError
from runbooklib.inventory import Inventory
from runbooklib.remote import CommandFailed, Host

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
LAB_HOSTS = ["stubing", "walton", "caje", "mware", "mail", "irc", "adminws1", "adminws2", "public"]
WHERE = "/tmp/pwn* /pwn* /root/pwn* ~/pwn* /var/backups/pwn*"


def hostile(n: int) -> list[str]:
    """Values that each make the marker pwn-N (in /tmp, or relative: the shell's cwd) if run."""
    return [
        f"x;touch /tmp/pwn-{n}a",
        f"$(touch /tmp/pwn-{n}b)",
        f"`touch /tmp/pwn-{n}c`",
        f"a';touch /tmp/pwn-{n}d;'",
        f'a";touch /tmp/pwn-{n}e;"',
        f"a\ntouch /tmp/pwn-{n}f",
        f"x;touch pwn-{n}g",
        f"$(touch pwn-{n}h)",
    ]


def markers(lab) -> dict[str, str]:
    found = {}
    for host in LAB_HOSTS:
        for how in (lab.ssh, lambda h, s: lab.exec(h, s, check=False)):
            out = how(host, f"ls -d {WHERE} 2>/dev/null; true").stdout.strip()
            if out:
                found[host] = out
    return found


@pytest.fixture
def inventory(lab):
    return Inventory.load(lab.inventory)


def dry(host: Host, **changes) -> Host:
    """`host` in check mode with some of its values replaced (past every inventory check)."""
    name = changes.pop("name", host.name)
    return replace(host, name=name, vars={**host.vars, **changes}, check_mode=True)


def attempt(verb, *args, **kwargs) -> None:
    """Run a verb; a refusal or a failed command is fine here: only markers count."""
    with contextlib.suppress(ActionError, CommandFailed, AssertionError, KeyError, ValueError):
        verb(*args, **kwargs)


def test_the_marker_search_finds_a_marker(lab):
    lab.ssh("caje", "touch /tmp/pwn-control")
    try:
        assert "caje" in markers(lab)
    finally:
        lab.ssh("caje", "rm -f /tmp/pwn-control")
    assert markers(lab) == {}, "markers left on the lab before the test"


def test_no_hostile_value_runs_on_any_host(lab, inventory):
    stubing, caje = inventory.group("app")[0], inventory.group("db")[0]
    tried = 0
    for value in hostile(1):
        app = [
            dry(stubing, name=f"stubing{value}"),
            dry(stubing, release_tag=value),
            dry(stubing, tomcat_base=f"/ucd/opt/sakai/tomcat{value}"),
            dry(stubing, catalina_out=f"/tmp/catalina{value}"),
            dry(stubing, staging_config=f"/afs/staging{value}"),
            dry(stubing, src_dir=f"/ucd/opt/sakai/src{value}"),
            dry(stubing, releases_dir=f"/ucd/opt/sakai/releases{value}"),
        ]
        for host in app:
            tag = host.vars["release_tag"]
            attempt(firewall.rollback_armed, host)
            attempt(firewall.apply, host, "maintenance")
            attempt(release.tag_exists, host, tag)
            attempt(release.checkout, host, tag)
            attempt(release.snapshot, host, before=tag)
            attempt(release.install_snapshot, host, f"sakai-core-{value}")
            attempt(tomcat.pid, host)
            attempt(tomcat.problem_lines, host)
            attempt(config.staging_files, host)
            attempt(config.sync_from_staging, host)
            tried += 10
        db = [
            dry(caje, name=f"caje{value}"),
            dry(caje, db_backup_dir=f"/var/backups/sakai{value}"),
            dry(caje, db_name=value),
        ]
        for host in db:
            attempt(database.free_bytes, host)
            attempt(database.assert_backup_verified, host)
            attempt(database.backup, host)
            attempt(database.mark_applied, host, f"{value}.sql", "text")
            tried += 4
        for host in app + db:
            host.disconnect()
    assert tried > 100
    assert markers(lab) == {}
