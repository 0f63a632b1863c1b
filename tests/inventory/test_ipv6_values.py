"""An inventory's `ansible_host6` is an IPv6 address, or the load names the fix (no host needed)."""

import pytest

from runbooklib.values import check_inventory


def inventory(value) -> dict:
    return {"all": {"children": {"app": {"hosts": {"n1": {"ansible_host6": value}}}}}}


@pytest.mark.parametrize("bad", ["10.0.0.1", "[2001:db8::1]", "2001:db8::/64", "fd00::1; id"])
def test_ansible_host6_must_be_an_ipv6_address(bad):
    with pytest.raises(ValueError, match=r"ansible_host6 .* is not an IPv6 address: give one"):
        check_inventory(inventory(bad))


def test_an_ipv6_address_is_taken():
    check_inventory(inventory("fd5a:6c61:6273::11"))
