"""Bad input is refused in one line before any host is touched (no host involved)."""

from pathlib import Path

import pytest
import yaml

from runbooklib.actions import inputs
from runbooklib.actions.common import ActionError
from runbooklib.inventory import Inventory

REPO = Path(__file__).resolve().parents[2]


def test_the_lab_inventory_passes():
    inputs.check(Inventory.load(REPO / "inventories/lab.yml"), REPO)


def test_production_must_name_a_public_vantage_host_first():
    # The seed names no machine outside the allow-lists; the operator adds one before the window.
    with pytest.raises(ActionError, match="add a host off the allow-lists to the `public` group"):
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
