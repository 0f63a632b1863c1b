"""The side-by-side listing (`python -m runbooklib.seedmap`): every seed line is carried by a step
or sub-step, in the seed's order; a missing or misplaced line fails, naming it."""

from __future__ import annotations

import textwrap

import pytest

from runbooklib import seedmap

SEED = """\
Maintenance Window
Upgrade Process
- (08:00 Joncarlo) Prevent any client access to SmartSite via iptables
- PORT 8443:
- 169.237.11.246 (thomas)
- (09:15 Thomas) Backup all configuration files in production staging area
mkdir /afs/config/config-2-4-0.bak
- Edit sakai.properties on stubing
- Check catalina.out for DB errors. There is one known issue where hibernate warns:
- (12:00 Joncarlo) Adjust iptables on all nodes to allow public access
- (11:45 Thomas) Send mail to Joncarlo if we are ready to switch iptables
Fallback Procedure (If needed)
- (12:00 Joncarlo) Shutdown all application servers
Post Upgrade TODOs:
- not a procedure line
"""

UPGRADE = '''
"""The upgrade."""
from runbooklib.engine import step, substep

@step("u01", at="08:00", owner="Joncarlo", hosts="app")
def test_u01(hosts):
    """Prevent any client access to SmartSite via iptables"""

@step("u06", at="09:15", owner="Thomas", hosts="app[0]")
def test_u06(hosts):
    """Backup all configuration files in production staging area

    mkdir /afs/config/config-2-4-0.bak
    """
    with substep("Edit sakai.properties on stubing"):
        pass
    with substep("Check catalina.out for DB errors"):
        pass

@step("u16", at="11:45", owner="Thomas", hosts="app")
def test_u16(hosts):
    """Send mail to Joncarlo if we are ready to switch iptables"""

@step("u17", at="12:00", owner="Joncarlo", hosts="app")
def test_u17(hosts):
    """Adjust iptables on all nodes to allow public access"""
'''

FALLBACK = '''
"""The fallback."""
from runbooklib.engine import step

@step("f02", at="12:01", owner="Thomas", hosts="app")
def test_f02(hosts):
    """Shutdown all application servers"""
'''

PRODUCTION = """\
all:
  vars:
    allow_8443:
      - {address: 169.237.11.246, name: thomas}
"""


@pytest.fixture
def project(tmp_path):
    """A seed, a runbook folder and a production inventory; returns a runner of the script."""
    (tmp_path / "runbook").mkdir()
    (tmp_path / "seed.txt").write_text(SEED)
    (tmp_path / "production.yml").write_text(PRODUCTION)
    (tmp_path / "runbook" / "test_upgrade.py").write_text(textwrap.dedent(UPGRADE))
    (tmp_path / "runbook" / "test_fallback.py").write_text(textwrap.dedent(FALLBACK))

    def run(upgrade: str = UPGRADE) -> int:
        (tmp_path / "runbook" / "test_upgrade.py").write_text(textwrap.dedent(upgrade))
        return seedmap.main(
            [
                "--seed",
                str(tmp_path / "seed.txt"),
                "--runbook",
                str(tmp_path / "runbook"),
                "--inventory",
                str(tmp_path / "production.yml"),
            ]
        )

    return run


def test_every_line_is_listed_beside_its_step_or_substep(project, capsys):
    assert project() == 0

    out = capsys.readouterr().out
    assert "u06 > Check catalina.out for DB errors" in out
    assert "u06 > Edit sakai.properties on stubing" in out
    assert "production inventory allow_8443" in out  # the address under PORT 8443
    assert "u06 docstring" in out  # the seed's mkdir, quoted by u06
    assert "not a procedure line" not in out


def test_the_seed_times_order_its_items_where_its_listing_disagrees(project, capsys):
    assert project() == 0

    lines = capsys.readouterr().out.splitlines()
    mail = next(i for i, line in enumerate(lines) if "Send mail" in line)
    iptables = next(i for i, line in enumerate(lines) if "Adjust iptables" in line)
    assert mail < iptables
    assert "moved up" in lines[mail]


def test_a_line_no_substep_carries_fails_naming_it(project, capsys):
    without = UPGRADE.replace('substep("Check catalina.out for DB errors")', 'substep("Look")')

    assert project(without) == 1

    err = capsys.readouterr().err
    assert "missing or out of order: 'Check catalina.out for DB errors. There is one" in err


def test_substeps_out_of_the_seed_order_fail_naming_the_line(project, capsys):
    swapped = (
        UPGRADE.replace("Edit sakai.properties on stubing", "@@")
        .replace("Check catalina.out for DB errors", "Edit sakai.properties on stubing")
        .replace("@@", "Check catalina.out for DB errors")
    )

    assert project(swapped) == 1

    assert "missing or out of order: 'Check catalina.out" in capsys.readouterr().err


def test_a_seed_command_the_step_does_not_quote_fails(project, capsys):
    unquoted = UPGRADE.replace("    mkdir /afs/config/config-2-4-0.bak\n", "")

    assert project(unquoted) == 1

    assert "not carried: 'mkdir /afs/config/config-2-4-0.bak'" in capsys.readouterr().err


def test_the_runbook_carries_every_line_of_the_2007_plan(capsys):
    assert seedmap.main([]) == 0, capsys.readouterr().err


SHARED_SEED = seedmap.REPO.parent / "shared" / "seed" / seedmap.SEED.name


@pytest.mark.skipif(not SHARED_SEED.is_file(), reason=f"no shared seed at {SHARED_SEED}")
def test_the_repo_keeps_the_seed_word_for_word():
    assert seedmap.SEED.read_bytes() == SHARED_SEED.read_bytes()
