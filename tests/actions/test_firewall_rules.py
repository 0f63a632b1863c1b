"""Pure logic of the firewall: allow-lists and the rules of each mode (no host involved)."""

import pytest

from runbooklib.actions import firewall
from runbooklib.inventory import Inventory

VARS = {
    "ssh_port": 22,
    "https_port": 8443,
    "jmx_port": 9000,
    "maintenance_port": 8089,
    "allow_8443": [{"address": "10.0.0.1", "name": "a"}, {"address": "10.0.0.2", "name": "b"}],
    "allow_9000": [{"address": "10.0.0.1", "name": "a"}],
}


def test_maintenance_redirects_all_but_the_allow_list():
    rules = firewall.render("maintenance", VARS)
    assert rules["nat"] == [
        "-A SMARTSITE-PRE -s 10.0.0.1/32 -j RETURN",
        "-A SMARTSITE-PRE -s 10.0.0.2/32 -j RETURN",
        "-A SMARTSITE-PRE -p tcp -j REDIRECT --to-ports 8089",
    ]
    assert "-A SMARTSITE-IN -s 10.0.0.1/32 -p tcp -m tcp --dport 9000 -j ACCEPT" in rules["filter"]
    assert (
        "-A SMARTSITE-IN -p tcp -m tcp --dport 8443 -j REJECT --reject-with tcp-reset"
        in rules["filter"]
    )
    # The page is reached through the redirect (DNAT), directly only from the allow-list.
    assert (
        "-A SMARTSITE-IN -p tcp -m tcp --dport 8089 -m conntrack --ctstate DNAT -j ACCEPT"
        in rules["filter"]
    )


def test_public_opens_8443_but_keeps_9000_closed():
    rules = firewall.render("public", VARS)
    assert rules["nat"] == []
    assert [r for r in rules["filter"] if "8443" in r] == [
        "-A SMARTSITE-IN -p tcp -m tcp --dport 8443 -j ACCEPT"
    ]
    assert (
        "-A SMARTSITE-IN -p tcp -m tcp --dport 9000 -j REJECT --reject-with tcp-reset"
        in rules["filter"]
    )


@pytest.mark.parametrize("mode", firewall.MODES)
def test_every_undeclared_port_refused_last_in_both_modes(mode):
    filt = firewall.render(mode, VARS)["filter"]
    assert filt[-1] == "-A SMARTSITE-IN -p tcp -j REJECT --reject-with tcp-reset"
    # Every ACCEPT before it names a declared port, loopback or an established connection.
    for rule in filt[:-1]:
        if rule.endswith("-j ACCEPT"):
            assert any(f"--dport {p} " in rule for p in (22, 8443, 9000, 8089)) or (
                "-i lo" in rule or "RELATED,ESTABLISHED" in rule
            ), rule


@pytest.mark.parametrize(
    "mode, client, ports",
    [
        ("maintenance", None, {22, 8443}),
        ("public", None, {22, 8443}),
        ("maintenance", "10.0.0.1", {22, 8443, 8089, 9000}),
        ("public", "10.0.0.2", {22, 8443, 8089}),
        ("public", "10.0.0.9", {22, 8443}),
    ],
)
def test_reachable_ports_follow_the_allow_lists(mode, client, ports):
    assert firewall.reachable_ports(mode, VARS, client) == ports


@pytest.mark.parametrize("mode", firewall.MODES)
def test_ssh_accepted_before_anything_is_rejected(mode):
    filt = firewall.render(mode, VARS)["filter"]
    assert filt[0] == "-A SMARTSITE-IN -p tcp -m tcp --dport 22 -j ACCEPT"
    assert all("--dport 22 " not in r or r.endswith("ACCEPT") for r in filt)
    # tcp-reset needs -p tcp in the same rule (iptables-restore refuses it otherwise).
    assert all("-p tcp" in r for r in filt if "tcp-reset" in r)


def test_ssh_port_colliding_is_refused():
    with pytest.raises(firewall.ActionError, match="ssh_port"):
        firewall.render("public", {**VARS, "ssh_port": 9000})


def test_restore_text_declares_the_chain_and_hooks_it_first():
    text = firewall.restore_text(
        "nat",
        ["-A SMARTSITE-PRE -p tcp -j REDIRECT --to-ports 8089"],
        firewall.hooks(VARS)["nat"][1],
    )
    assert text.splitlines() == [
        "*nat",
        ":SMARTSITE-PRE - [0:0]",
        "-A SMARTSITE-PRE -p tcp -j REDIRECT --to-ports 8089",
        "-I PREROUTING 1 -p tcp -m tcp --dport 8443 -j SMARTSITE-PRE",
        "COMMIT",
    ]


@pytest.mark.parametrize(
    "entries, message",
    [
        ([], "non-empty list"),
        ([{"address": "10.0.0.300", "name": "x"}], "not an IP address"),
        ([{"address": "10.0.0.1"}], "must have `address` and `name`"),
        ([{"address": "0.0.0.0/0", "name": "all"}], "would allow everyone"),
        # Host bits set: a typo for one host or for the network? The inventory says which.
        ([{"address": "10.0.0.1/24", "name": "x"}], "not an IP address"),
        ([{"address": "2001:db8::1/64", "name": "x"}], "not an IP address"),
        ([{"address": "::/0", "name": "all"}], "would allow everyone"),
    ],
)
def test_bad_allow_lists_are_refused_naming_the_entry(entries, message):
    with pytest.raises(firewall.AllowListError, match=message):
        firewall.allow_list(entries, "allow_8443")


def test_the_inventories_allow_lists_are_well_formed():
    for name in ("lab", "production"):
        inv = Inventory.load(f"inventories/{name}.yml")
        assert len(firewall.allow_list(inv.vars["allow_8443"], "allow_8443")) >= 3
        firewall.render("maintenance", inv.vars)
    prod = Inventory.load("inventories/production.yml")
    assert "169.237.11.246/32" in firewall.allow_list(prod.vars["allow_8443"], "allow_8443")


DUAL = {
    **VARS,
    "allow_8443": [
        *VARS["allow_8443"],
        {"address": "2001:db8::a", "name": "a"},
        {"address": "2001:db8:1::/48", "name": "lab"},
    ],
    "allow_9000": [{"address": "10.0.0.1", "name": "a"}, {"address": "2001:db8::a", "name": "a"}],
}


def test_allow_lists_take_ipv6_addresses_and_networks():
    assert firewall.allow_list(DUAL["allow_8443"], "allow_8443") == [
        "10.0.0.1/32",
        "10.0.0.2/32",
        "2001:db8::a/128",
        "2001:db8:1::/48",
    ]


@pytest.mark.parametrize("mode", firewall.MODES)
def test_each_entry_goes_to_the_family_of_its_address(mode):
    v4, v6 = firewall.render(mode, DUAL, 4), firewall.render(mode, DUAL, 6)
    assert v4 == firewall.render(mode, VARS, 4)  # the IPv6 entries change nothing in IPv4
    assert not any(":" in rule for rule in v4["filter"] + v4["nat"])
    assert not any("10.0.0." in rule for rule in v6["filter"] + v6["nat"])
    assert "-A SMARTSITE-IN -s 2001:db8::a/128 -p tcp -m tcp --dport 9000 -j ACCEPT" in v6["filter"]
    assert (
        "-A SMARTSITE-IN -s 2001:db8:1::/48 -p tcp -m tcp --dport 9000 -j ACCEPT"
        not in (v6["filter"])
    )


@pytest.mark.parametrize("mode", firewall.MODES)
def test_ipv6_has_the_same_rules_as_ipv4_but_for_the_addresses(mode):
    """The same mode logic in both families: strip the sources and the rules are the same."""

    def shape(rules):
        return [r for r in rules if " -s " not in r]

    v4, v6 = firewall.render(mode, DUAL, 4), firewall.render(mode, DUAL, 6)
    for table in ("filter", "nat"):
        assert shape(v4[table]) == shape(v6[table])
    assert v6["filter"][-1] == "-A SMARTSITE-IN -p tcp -j REJECT --reject-with tcp-reset"


def test_maintenance_over_ipv6_redirects_all_but_the_ipv6_allow_list():
    nat = firewall.render("maintenance", DUAL, 6)["nat"]
    assert nat == [
        "-A SMARTSITE-PRE -s 2001:db8::a/128 -j RETURN",
        "-A SMARTSITE-PRE -s 2001:db8:1::/48 -j RETURN",
        "-A SMARTSITE-PRE -p tcp -j REDIRECT --to-ports 8089",
    ]


def test_an_ipv6_only_allow_list_leaves_ipv4_closed_to_all():
    only6 = {**VARS, "allow_9000": [{"address": "2001:db8::a", "name": "a"}]}
    filt = firewall.render("public", only6, 4)["filter"]
    assert [r for r in filt if "9000" in r] == [
        "-A SMARTSITE-IN -p tcp -m tcp --dport 9000 -j REJECT --reject-with tcp-reset"
    ]


@pytest.mark.parametrize(
    "client, ports", [("2001:db8::a", {22, 8089, 8443, 9000}), ("::1", {22, 8443})]
)
def test_reachable_ports_of_an_ipv6_client(client, ports):
    assert firewall.reachable_ports("maintenance", DUAL, client) == ports
