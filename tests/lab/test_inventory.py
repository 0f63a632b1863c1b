"""The inventory a lab of any size writes for itself (no lab needed): made from
inventories/lab.yml, whose groups, names and variables it keeps, with the running app nodes."""

import ipaddress
from pathlib import Path

import yaml

from lab import lifecycle
from lab.config import Lab

REPO = Path(__file__).resolve().parents[2]
LAB_YML = (REPO / "inventories" / "lab.yml").read_text()


def built(app_nodes: int, text: str = LAB_YML, subnet: str = "198.51.100.0/24") -> dict:
    lab = Lab(ipaddress.ip_network(subnet), app_nodes)
    return yaml.safe_load(lifecycle.inventory_for(lab, text))


def test_eight_nodes_replace_the_app_group_and_keep_everything_else():
    given, found = yaml.safe_load(LAB_YML), built(8)
    app = found["all"]["children"]["app"]["hosts"]
    assert list(app) == ["stubing", "walton"] + [f"app{i}" for i in range(3, 9)]
    assert app["stubing"].get("head") is True
    assert not any(v.get("head") for n, v in app.items() if n != "stubing")
    assert app["app8"]["ansible_host"] == "198.51.100.18"
    assert found["all"]["vars"] == given["all"]["vars"]
    others = {k: v for k, v in found["all"]["children"].items() if k != "app"}
    assert others == {k: v for k, v in given["all"]["children"].items() if k != "app"}


def test_a_renamed_group_and_host_vars_carry_over():
    text = LAB_YML.replace(
        "        outsiders:\n          hosts:\n            public:",
        "        outside:\n          hosts:\n            outsider:",
    )
    assert text != LAB_YML
    text = text.replace(
        "walton: {ansible_host: 198.51.100.12}",
        "walton: {ansible_host: 198.51.100.12, ansible_user: root}",
    )
    found = built(3, text)
    vantage = found["all"]["children"]["vantage"]["children"]
    assert "outside" in vantage and "outsider" in vantage["outside"]["hosts"]
    assert "outsiders" not in vantage
    assert found["all"]["children"]["app"]["hosts"]["app3"] == {
        "ansible_host": "198.51.100.13",
        "ansible_user": "root",
    }


def test_addresses_move_to_the_lab_subnet():
    found = built(2, subnet="203.0.113.0/24")
    assert found["all"]["vars"]["lab_subnet"] == "203.0.113.0/24"
    assert found["all"]["children"]["db"]["hosts"]["caje"]["ansible_host"] == "203.0.113.21"
    assert "198.51.100." not in yaml.safe_dump(found)


def test_writing_the_lab_inventory_leaves_inventories_lab_yml_alone(tmp_path, monkeypatch):
    monkeypatch.setattr(lifecycle, "INVENTORY", tmp_path / "inventory.yml")
    lifecycle.write_inventory(Lab(ipaddress.ip_network("198.51.100.0/24"), 4))
    assert (REPO / "inventories" / "lab.yml").read_text() == LAB_YML
    assert (
        len(
            yaml.safe_load((tmp_path / "inventory.yml").read_text())["all"]["children"]["app"][
                "hosts"
            ]
        )
        == 4
    )


def test_with_ipv6_each_host_and_allow_listed_address_has_its_ipv6_twin():
    lab = Lab(ipaddress.ip_network("198.51.100.0/24"), 2, ipv6=True)
    found = yaml.safe_load(lifecycle.inventory_for(lab, LAB_YML))
    assert found["all"]["children"]["db"]["hosts"]["caje"]["ansible_host6"] == "fd5a:6c61:6273::21"
    assert found["all"]["children"]["app"]["hosts"]["walton"]["ansible_host6"].endswith("::12")
    allow = found["all"]["vars"]["allow_8443"]
    assert {"address": "fd5a:6c61:6273::1", "name": "operator"} in allow
    assert {"address": "fd5a:6c61:6273::51", "name": "adminws1"} in allow
    # The lab's JMX listens on IPv4 only: 9000 is allowed over IPv4 only, as in lab.yml.
    assert all(":" not in e["address"] for e in found["all"]["vars"]["allow_9000"])
    assert "ansible_host6" not in yaml.safe_dump(built(2))  # IPv4 only: as before
