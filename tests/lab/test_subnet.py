"""A bad lab subnet ($LAB_SUBNET or --subnet) is one line naming the fix (no lab needed)."""

import pytest

from lab import config


@pytest.mark.parametrize(
    "text, message",
    [
        ("198.51.100.0/33", "is not a network like 198.51.100.0/24: fix LAB_SUBNET"),
        ("198.51.100.7/24", "is not a network like"),  # host bits set: a typo for .0
        ("lab", "is not a network like"),
        ("198.51.0.0/16", "must be an IPv4 /24"),
        ("2001:db8::/120", "must be an IPv4 /24"),
    ],
)
def test_bad_subnet_is_refused_in_one_line(monkeypatch, text, message):
    monkeypatch.setenv("LAB_SUBNET", text)
    with pytest.raises(config.LabError, match=message) as err:
        config.chosen(None, None)
    assert "\n" not in str(err.value)


def test_inventory_refuses_a_bad_lab_subnet(monkeypatch):
    from runbooklib.inventory import Inventory, InventoryError

    monkeypatch.setenv("LAB_SUBNET", "10.9.8.0/24x")
    with pytest.raises(InventoryError, match="LAB_SUBNET 10.9.8.0/24x is not a network"):
        Inventory.load(config.REPO / "inventories" / "lab.yml")


def test_the_option_is_named_when_it_is_the_option():
    with pytest.raises(config.LabError, match="fix --subnet"):
        config.chosen("10.0.0.0/8", None)


def test_ipv6_is_an_opt_in_named_by_its_variable(monkeypatch):
    monkeypatch.setenv("LAB_IPV6", "yes")
    with pytest.raises(config.LabError, match="set it to 1 .* or 0"):
        config.chosen(None, None)
    monkeypatch.setenv("LAB_IPV6", "1")
    lab = config.chosen("203.0.113.0/24", 2)
    assert lab.ipv6 and lab.address("caje") == "203.0.113.21"
    assert lab.host("caje").address6 == "fd5a:6c61:6273::21"
    assert config.chosen("203.0.113.0/24", 2, ipv6=False).host("caje").address6 == ""
