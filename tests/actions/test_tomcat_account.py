"""Tomcat's account (runbooklib.actions.tomcat.account), asked of a real `id` through a local
framed shell: no lab. Root, under any name, is refused; so is a missing account, naming the fix."""

from __future__ import annotations

import os
import pwd

import pytest

from runbooklib.actions import tomcat
from runbooklib.actions.common import ActionError
from runbooklib.remote import Host


def local(user: str) -> Host:
    return Host("here", "127.0.0.1", vars={"ansible_connection": "local", "tomcat_user": user})


def test_an_unprivileged_account_gives_its_ids_and_commands_run_as_it():
    nobody = pwd.getpwnam("nobody")
    host = local("nobody")
    try:
        assert tomcat.account(host) == (nobody.pw_uid, nobody.pw_gid)
        if os.geteuid() == 0:  # setpriv may change the uid only as root
            out = host.probe(tomcat.as_tomcat(host, "id -u; id -g; echo $HOME"))
            assert out.stdout.split() == [str(nobody.pw_uid), str(nobody.pw_gid), nobody.pw_dir]
    finally:
        host.disconnect()


def test_a_missing_account_is_refused_naming_the_fix():
    host = local("no-such-tomcat-user")
    try:
        with pytest.raises(ActionError, match=r"no user no-such-tomcat-user .*useradd --system"):
            tomcat.account(host)
    finally:
        host.disconnect()


def test_root_under_any_name_is_refused():
    host = local(pwd.getpwuid(0).pw_name)
    try:
        with pytest.raises(ActionError, match=r"has uid 0, root's: give Tomcat an unprivileged"):
            tomcat.account(host)
    finally:
        host.disconnect()
