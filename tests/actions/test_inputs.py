"""Bad input is refused in one line before any host is touched (no host involved)."""

import os
from pathlib import Path

import pytest
import yaml

from runbooklib.actions import inputs, reach
from runbooklib.actions.common import ActionError
from runbooklib.inventory import Inventory

REPO = Path(__file__).resolve().parents[2]


def test_the_lab_inventory_passes():
    inputs.check(Inventory.load(REPO / "inventories/lab.yml"), REPO)


def test_production_must_name_a_public_vantage_host_first():
    # The seed names no machine outside the allow-lists; the operator adds one before the window.
    with pytest.raises(
        ActionError, match="add a host off the allow-lists to the `outsiders` group"
    ):
        inputs.check(Inventory.load(REPO / "inventories/production.yml"), REPO)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d["all"]["vars"].pop("release_tag"), "set release_tag under all.vars"),
        (lambda d: d["all"]["vars"].update(sql_scripts=["sql/SAK-999.sql"]), "SAK-999.sql"),
        (lambda d: d["all"]["vars"].update(ssh_port=8443), "ssh_port 8443 collides"),
        (lambda d: d["all"]["children"]["app"]["hosts"]["stubing"].pop("head"), "head: true"),
    ],
)
def test_bad_input_is_one_line_naming_the_fix(tmp_path, edit, message):
    data = yaml.safe_load((REPO / "inventories/lab.yml").read_text())
    edit(data)
    path = tmp_path / "lab.yml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ActionError, match=message) as err:
        inputs.check(Inventory.load(path), REPO)
    assert "\n" not in str(err.value)


def test_allow_list_membership_is_by_network():
    entries = [
        {"address": "192.0.2.7", "name": "one host"},
        {"address": "198.51.100.0/25", "name": "a network"},
    ]
    assert reach.matching_entry("192.0.2.7", entries) == "192.0.2.7/32"
    assert reach.matching_entry("198.51.100.61", entries) == "198.51.100.0/25"
    # Text that starts like an entry is not membership: .128 is outside the /25.
    assert reach.matching_entry("198.51.100.128", entries) is None
    assert reach.matching_entry("192.0.2.70", entries) is None


def test_a_vantage_host_named_by_dns_cannot_be_judged_against_an_allow_list():
    with pytest.raises(ActionError, match="adminws1.example.org is not an IP address"):
        reach.matching_entry("adminws1.example.org", [{"address": "192.0.2.7", "name": "x"}])


def test_the_vantage_hosts_follow_the_allow_lists_by_membership(tmp_path):
    data = yaml.safe_load((REPO / "inventories/lab.yml").read_text())
    # The admins' network instead of their addresses: they stay allowed, public stays off.
    data["all"]["vars"]["allow_8443"] = [{"address": "198.51.100.48/29", "name": "admins"}]
    path = tmp_path / "lab.yml"
    path.write_text(yaml.safe_dump(data))
    inv = Inventory.load(path)

    assert [h.name for h in reach.clients(inv, "allow_8443")] == ["adminws1", "adminws2"]
    assert [h.name for h in reach.clients(inv, "allow_8443", on=False)] == ["public"]
    inputs.check(inv, REPO)


def _lab(tmp_path, **changes) -> Inventory:
    data = yaml.safe_load((REPO / "inventories/lab.yml").read_text())
    data["all"]["vars"].update(changes)
    path = tmp_path / "lab.yml"
    path.write_text(yaml.safe_dump(data))
    return Inventory.load(path)


def test_a_secret_file_that_is_a_fifo_is_refused_without_waiting(tmp_path):
    os.mkfifo(tmp_path / "db_password")
    inv = _lab(tmp_path, db_password_file=str(tmp_path / "db_password"))
    with pytest.raises(ActionError, match="db_password_file .* is not a regular file"):
        inputs.check_secret_files(inv)


def test_a_secret_file_that_is_large_is_refused(tmp_path):
    (tmp_path / "jmx").write_text("monitorRole " + "x" * inputs.SECRET_MAX_BYTES)
    inv = _lab(tmp_path, jmx_password_file=str(tmp_path / "jmx"))
    with pytest.raises(ActionError, match="jmx_password_file .* is larger than 4096 bytes"):
        inputs.check_secret_files(inv)


def test_a_missing_secret_file_is_left_to_the_secrets_module(tmp_path):
    # The password may come from its environment variable instead (runbooklib.actions.secrets).
    inputs.check_secret_files(_lab(tmp_path, db_password_file=str(tmp_path / "none")))


def test_a_good_secret_file_passes(tmp_path):
    (tmp_path / "db_password").write_text("a-password-long-enough\n")
    inputs.check_secret_files(_lab(tmp_path, db_password_file=str(tmp_path / "db_password")))


def test_an_sql_script_that_is_not_utf8_is_refused(tmp_path):
    repo = tmp_path / "repo"
    (repo / "sql").mkdir(parents=True)
    for name in inputs.SEED_SQL:
        (repo / name).write_text((REPO / name).read_text())
    (repo / "sql" / "extra.sql").write_bytes(b"SELECT '\xe9';\n")
    inv = _lab(tmp_path, sql_scripts=[*inputs.SEED_SQL, "sql/extra.sql"])
    with pytest.raises(ActionError, match=r"sql/extra.sql is not UTF-8 text \(byte 0xe9"):
        inputs.check(inv, repo)
