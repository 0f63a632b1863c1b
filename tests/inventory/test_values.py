"""The shape rules where values enter (runbooklib.values) and the checked file reader
(runbooklib.files): pure logic and local files, no host involved."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from ansible import constants as ansible_constants
from ansible.utils.vars import isidentifier

from runbooklib import values
from runbooklib.files import FileRefused, read_text
from runbooklib.inventory import Inventory, InventoryError

REPO = Path(__file__).resolve().parents[2]

GROUP_NAMES = ["app", "db", "_x", "vantage2", "app;id", "web nodes", "2app", "app-1", "é", "if"]


@pytest.mark.parametrize("name", GROUP_NAMES)
def test_group_names_follow_ansibles_own_rule(name):
    # Ansible keeps a group name only if it has no invalid character and is an identifier.
    ansible_keeps = not ansible_constants.INVALID_VARIABLE_NAMES.findall(name) and isidentifier(
        name
    )
    assert values.identifier(name) == ansible_keeps


@pytest.mark.parametrize(
    "value, ok",
    [
        ("/ucd/opt/sakai/tomcat", True),
        ("/ucd/opt/sakai/tomcat/sakai/", True),
        ("/", True),
        ("/ucd/opt/../../etc", False),
        ("/ucd/./opt", False),
        ("//ucd", False),
        ("ucd/opt", False),
        ("~/x", False),
        ("/a b", False),
        ("/a'b", False),
        ('/a"b', False),
        ("/a\nb", False),
        ("/a\0b", False),
        ("/a;b", False),
        ("/a$(id)", False),
        (42, False),
    ],
)
def test_paths_are_absolute_normalised_and_plain(value, ok):
    assert (values.path(value) is None) == ok


def test_secret_files_may_start_in_the_operators_home():
    assert values.path("~/.smartsite/db_password", home=True) is None
    assert values.path("~/../etc/shadow", home=True) is not None
    assert values.path("~root/x", home=True) is not None


@pytest.mark.parametrize(
    "key, value",
    [
        ("release_tag", "sakai_2-4-x-prod-003"),
        ("release_version", "2.4.1"),
        ("db_name", "sakai"),
        ("ansible_user", "root"),
        ("tomcat_user", "sakai"),
        ("tomcat_user", "tomcat10"),
        ("svn_url", "https://mware.ucdavis.edu/svn/ucd-sakai/sakai/tags"),
        ("db_volatile_tables", ["SAKAI_CLUSTER"]),
    ],
)
def test_the_seeds_values_pass(key, value):
    assert values.RULES[key](value) is None


@pytest.mark.parametrize(
    "key, value",
    [
        ("release_tag", "x; touch /tmp/x"),
        ("release_tag", "-rHEAD"),
        ("release_tag", 3),
        ("release_version", "2.4.1 "),
        ("db_name", "sakai`"),
        ("db_name", "a" * 65),
        ("ansible_user", "-oProxyCommand=id"),
        ("ansible_user", "Root"),
        ("tomcat_user", "root"),
        ("tomcat_user", "sakai;id"),
        ("tomcat_user", "-u0"),
        ("tomcat_user", ""),
        ("tomcat_user", 0),
        ("svn_url", "file:///etc"),
        ("svn_url", "https://x/y z"),
        ("db_volatile_tables", "SAKAI_CLUSTER"),
        ("db_password_env", "A-B"),
    ],
)
def test_hostile_values_are_refused(key, value):
    assert values.RULES[key](value)


def test_every_text_variable_that_reaches_a_command_has_a_rule():
    from runbooklib.actions import inputs

    shapeless = [k for k in inputs.TEXTS if k not in values.RULES]
    assert shapeless == []


@pytest.mark.parametrize(
    "tree, place",
    [
        ({"all": {"vars": {"x": "{{ 1 }}"}}}, "all.vars.x"),
        ({"all": {"vars": {"x": [{"y": "a{%b"}]}}}, "all.vars.x[0].y"),
        (
            {"all": {"children": {"app": {"hosts": {"h": {"n": "{#"}}}}}},
            "all.children.app.hosts.h.n",
        ),
    ],
)
def test_a_template_mark_at_any_depth_is_refused_naming_its_place(tree, place):
    with pytest.raises(ValueError, match=rf"^{re.escape(place)} .*Jinja2"):
        values.check_inventory(tree)


@pytest.mark.parametrize(
    "text, ok",
    [
        ("Jon Carlo", True),
        ("José Ñúñez", True),
        ("evil\n\x1b[32mGO", False),
        ("a\rb", False),
        ("bidi\u202eevil", False),
        ("x" * 64, True),
        ("x" * 65, False),
    ],
)
def test_operator_text_is_printable_and_bounded(text, ok):
    assert (values.text(text, "--operator") is None) == ok


def test_the_two_inventories_pass_the_shape_rules():
    for name in ("lab", "production"):
        Inventory.load(REPO / "inventories" / f"{name}.yml")


def test_read_text_reads_a_small_utf8_file(tmp_path):
    (tmp_path / "f").write_text("héllo\n")
    assert read_text(tmp_path / "f", "f") == "héllo\n"


def test_read_text_never_waits_on_a_fifo(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(FileRefused, match="fifo is not a regular file"):
        read_text(tmp_path / "fifo", "fifo")


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p.mkdir(), "is a folder"),
        (lambda p: p.write_bytes(b"\xff"), "not UTF-8 text \\(byte 0xff at offset 0\\)"),
        (lambda p: p.write_bytes(b"x" * 11), "larger than 10 bytes"),
        (lambda p: None, "not found"),
    ],
)
def test_read_text_refuses_what_is_no_small_text_file(tmp_path, make, message):
    make(tmp_path / "f")
    with pytest.raises(FileRefused, match=message):
        read_text(tmp_path / "f", "f", limit=10)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_read_text_refuses_an_unreadable_file(tmp_path):
    (tmp_path / "f").write_text("x")
    (tmp_path / "f").chmod(0)
    with pytest.raises(FileRefused, match="cannot read it"):
        read_text(tmp_path / "f", "f")


def test_an_alias_bomb_is_refused_before_it_expands(tmp_path):
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    (tmp_path / "bomb.yml").write_text("\n".join(lines) + "\n")
    with pytest.raises(InventoryError, match=r"bomb.yml:2 is not valid YAML \(an alias"):
        Inventory.load(tmp_path / "bomb.yml")


@pytest.mark.parametrize(
    "key, value",
    [
        ("chat", {"nick": "runbook\r\nQUIT :bye"}),
        ("chat", {"channel": "#ucdsakai extra"}),
        ("mail", {"to": ["joncarlo@ucdavis.edu", "x@y\nRCPT TO:<z@w>"]}),
        ("mail", {"sender": "a b@c"}),
    ],
)
def test_a_notification_setting_is_one_plain_word(key, value):
    assert "not one plain word" in values.RULES[key](value)
