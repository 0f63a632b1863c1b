"""The catalina.out check reads only what this start wrote (runbooklib.actions.tomcat), proven on
files in a temporary folder through a local framed shell: no lab, real tail/grep/stat."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from runbooklib.actions import tomcat
from runbooklib.actions.common import ActionError
from runbooklib.remote import Host

OLD = "2007-08-17 ERROR old failure of an earlier start\n"
START = f"2007-08-18 INFO {tomcat.BANNER} Apache Tomcat\n"


@pytest.fixture
def node():
    """A Tomcat base whose log is read as Tomcat's account would read it: as `nobody` (setpriv
    needs root), in a folder under /tmp that it may enter (pytest's own tmp_path is root's 0700)."""
    if os.geteuid() != 0:
        pytest.skip("the log is read as tomcat_user through setpriv: run as root")
    base = Path(tempfile.mkdtemp(prefix="catalina-offset-", dir="/tmp"))
    base.chmod(0o755)
    (base / "logs").mkdir()
    host = Host(
        "here",
        "127.0.0.1",
        vars={
            "ansible_connection": "local",
            "tomcat_base": str(base),
            "catalina_out": str(base / "logs" / "catalina.out"),
            "tomcat_user": "nobody",
        },
    )
    yield host
    host.disconnect()
    shutil.rmtree(base)


def write(node: Host, old: str, new: str) -> None:
    """catalina.out = old + new, with the recorded offset where `new` begins."""
    log = node.vars["catalina_out"]
    with open(log, "w") as f:
        f.write(old + new)
    with open(f"{node.vars['tomcat_base']}/{tomcat.OFFSET_FILE}", "w") as f:
        f.write(f"{len(old.encode())}\n")


def test_old_errors_before_the_offset_are_not_read(node):
    write(node, OLD * 1000, START + "INFO Server startup in 10 ms\n")
    tomcat.assert_clean_log(node, [])
    assert tomcat.problem_lines(node) == []


def test_errors_since_the_offset_fail_the_check(node):
    write(node, OLD, START + "SEVERE new failure\n")
    with pytest.raises(AssertionError, match="1 error line.*SEVERE new failure"):
        tomcat.assert_clean_log(node, [])


def test_a_later_start_outside_the_runbook_moves_the_start(node):
    write(node, OLD, START + "ERROR before the colleague's restart\n" + START + "INFO clean\n")
    assert tomcat.problem_lines(node) == ["ERROR before the colleague's restart"]
    assert tomcat.problem_lines(node, latest=True) == []


def test_a_rotated_log_is_read_from_its_start(node):
    write(node, OLD * 100, "")
    with open(node.vars["catalina_out"], "w") as f:  # rotated: smaller than the offset
        f.write(START + "ERROR after rotation\n")
    assert tomcat.problem_lines(node, latest=True) == ["ERROR after rotation"]


def test_no_recorded_offset_is_an_error_naming_the_fix(node):
    with open(node.vars["catalina_out"], "w") as f:
        f.write(OLD + START)
    with pytest.raises(ActionError, match=r"no .*\.runbook-start-offset.*stat -c %s"):
        tomcat.problem_lines(node, latest=True)
