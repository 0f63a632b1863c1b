"""The surface proof's pure parts (issue 20, item 1): what a node's `ss` and NAT tables say, which
ports are probed, and what is a NO-GO; and the `forks` bound of the fan-out (item 2)."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from runbooklib.actions import surface
from runbooklib.actions.common import ActionError, fan_out, forks, in_parallel
from runbooklib.actions.surface import Listener, Plan, View
from runbooklib.inventory import Inventory, InventoryError

REPO = Path(__file__).resolve().parents[2]
LAB = Inventory.load(REPO / "inventories/lab.yml")
STUBING = LAB.host("stubing").vars

SS = """\
tcp LISTEN 0 511 0.0.0.0:8089 0.0.0.0:* users:(("nginx",pid=23642,fd=5),("nginx",pid=23638,fd=5))
tcp LISTEN 0 128 198.51.100.11:22 0.0.0.0:* users:(("sshd",pid=23587,fd=4))
tcp LISTEN 0 1 127.0.0.1:8005 0.0.0.0:* users:(("java",pid=17970,fd=48))
tcp LISTEN 0 5 *:47124 *:* users:(("python3",pid=901,fd=3))
tcp LISTEN 0 5 [::]:47125 [::]:* users:(("socat",pid=902,fd=5))
tcp LISTEN 0 5 [::1]:631 [::]:* users:(("cupsd",pid=903,fd=7))
udp UNCONN 0 0 0.0.0.0:5353 0.0.0.0:* users:(("avahi",pid=904,fd=12))
udp UNCONN 0 0 127.0.0.53%lo:53 0.0.0.0:*
"""
LAB_NAT = [
    "-P PREROUTING ACCEPT",
    "-N SMARTSITE-PRE",
    "-A PREROUTING -p tcp -m tcp --dport 8443 -j SMARTSITE-PRE",
    "-A SMARTSITE-PRE -s 198.51.100.51/32 -j RETURN",
    "-A SMARTSITE-PRE -p tcp -j REDIRECT --to-ports 8089",
]


def test_ss_rows_of_both_families_and_protocols_are_read_with_their_process():
    found = surface.parse_listeners(SS)
    assert Listener("tcp", 8089, "0.0.0.0", "nginx", 23642) in found
    assert Listener("tcp", 47124, "*", "python3", 901) in found
    assert Listener("tcp", 47125, "[::]", "socat", 902) in found
    assert Listener("udp", 5353, "0.0.0.0", "avahi", 904) in found
    assert Listener("udp", 53, "127.0.0.53%lo", "?", 0) in found
    loopback = {x.port for x in found if x.loopback}
    assert loopback == {8005, 631, 53}


def test_the_lab_redirect_maps_8443_only_through_its_jump():
    assert surface.nat_ports(LAB_NAT) == {8443}
    # The chain alone, never jumped to from PREROUTING, maps nothing.
    assert surface.nat_ports(LAB_NAT[3:]) == set()


@pytest.mark.parametrize(
    ("rules", "mapped"),
    [
        (["-A PREROUTING -p tcp -m multiport --dports 80,443,8000:8002 -j DNAT "
          "--to-destination 10.0.0.5"], {80, 443, 8000, 8001, 8002}),
        (["-A PREROUTING -p udp -m udp --dport 53 -j DNAT --to-destination 10.0.0.5"], set()),
        (["-A OUTPUT -p tcp --dport 25 -j REDIRECT --to-ports 2525"], set()),
        (["-A PREROUTING -p tcp -j A", "-A A -p tcp --dport 10:12 -j B",
          "-A B -p tcp --dport 11:20 -j REDIRECT --to-ports 80"], {11, 12}),
    ],
)  # fmt: skip
def test_nat_ports_follow_ports_protocols_and_chains(rules, mapped):
    assert surface.nat_ports(rules) == mapped


def test_a_nat_rule_without_a_port_or_with_a_negated_one_maps_every_port():
    every = surface.nat_ports(["-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.5"])
    assert every == set(surface.ALL_PORTS)
    negated = surface.nat_ports(["-A PREROUTING -p tcp ! --dport 22 -j REDIRECT --to-ports 80"])
    assert negated == set(surface.ALL_PORTS)
    # ...so the plan falls back to a full scan.
    view = View(nat=every)
    assert surface.plan({"stubing": view}, {"stubing": STUBING}, False, 7).ports is None


def test_the_view_reads_both_nat_tables_and_a_kernel_without_ipv6_nat():
    text = f"{SS}{surface.NAT4}\n" + "\n".join(LAB_NAT) + f"\n{surface.NAT6}\n"
    v6 = "-A PREROUTING -p tcp --dport 2222 -j REDIRECT --to-ports 22\n"
    assert surface.parse_view(text + v6).nat == {8443, 2222}
    missing = f"ip6tables v1.8.9: can't initialize ip6tables table `nat'\n{surface.NO_NAT6}\n"
    assert surface.parse_view(text + missing).nat == {8443}
    with pytest.raises(AssertionError, match="cannot read the IPv6 NAT table: .*lock"):
        surface.parse_view(text + f"Another app is holding the xtables lock\n{surface.NO_NAT6}")


def test_the_sample_is_the_same_for_the_same_seed_and_avoids_the_targeted_ports():
    targeted = {22, 8089, 8443, 9000}
    one = surface.sample_ports(targeted, seed=12345)
    assert one == surface.sample_ports(targeted, seed=12345)
    assert one != surface.sample_ports(targeted, seed=54321)
    assert len(one) == surface.SAMPLE and not one & targeted


def test_the_plan_probes_listeners_nat_and_declared_ports_of_every_node_plus_a_sample():
    views = {
        "stubing": View(surface.parse_listeners(SS), {8443}),
        "walton": View([Listener("tcp", 31000, "0.0.0.0", "nc", 5)], set()),
    }
    plan = surface.plan(views, {"stubing": STUBING, "walton": STUBING}, False, 99)
    assert {22, 8089, 8443, 9000, 8005, 47124, 47125, 631, 31000} == plan.targeted
    assert 5353 not in plan.targeted  # UDP: named from the inside, not probed over TCP
    assert len(plan.sampled) == surface.SAMPLE and plan.ports == plan.targeted | plan.sampled
    assert surface.plan(views, {"stubing": STUBING, "walton": STUBING}, True, 99).ports is None


def test_every_stray_listener_is_a_problem_named_with_its_process():
    view = View(surface.parse_listeners(SS), {8443})
    plan = Plan({22, 8443}, {40000}, 77)
    found = {"public": ("198.51.100.61", {22, 8443})}
    lines = surface.problems("stubing", STUBING, "public", view, found, plan)
    assert lines == [
        "stubing:5353 has a listener the inventory does not declare (avahi pid 904 on 0.0.0.0 "
        "(udp))",
        "stubing:47124 has a listener the inventory does not declare (python3 pid 901 on * (tcp))",
        "stubing:47125 has a listener the inventory does not declare (socat pid 902 on [::] (tcp))",
    ]


def test_an_open_port_is_named_with_its_process_and_a_sampled_one_with_its_seed():
    view = View(surface.parse_listeners(SS.splitlines()[0]), set())
    plan = Plan({22, 8089, 8443, 9000}, {40000}, 77)
    found = {"public": ("198.51.100.61", {8089, 40000})}
    lines = surface.problems("stubing", STUBING, "public", view, found, plan)
    assert lines == [
        "public finds stubing:8089 open (nginx pid 23642 on 0.0.0.0 (tcp)), not declared for "
        "it in public mode",
        "public finds stubing:40000 open (no listener on the node), a sampled port (seed 77: "
        "--sample-seed 77 replays it), not declared for it in public mode",
        "public finds stubing:22 closed, which the inventory opens to it in public mode",
        "public finds stubing:8443 closed, which the inventory opens to it in public mode",
    ]


def test_what_the_inventory_lets_each_vantage_host_reach_is_no_problem():
    view = View(surface.parse_listeners(SS.splitlines()[0]), set())
    found = {
        "public": ("198.51.100.61", {22, 8443}),
        "adminws1": ("198.51.100.51", {22, 8089, 8443, 9000}),
    }
    assert surface.problems("stubing", STUBING, "public", view, found, Plan(set(), set(), 1)) == []


@dataclass
class Node:
    name: str
    vars: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return self.name


@pytest.mark.parametrize("value", [0, -1, "4", 2.5, True])
def test_forks_that_is_not_a_positive_whole_number_is_refused(value):
    with pytest.raises(ActionError, match="forks is .*: give a whole number of hosts, 1 or more"):
        forks([Node("a", {"forks": value})])


def test_forks_defaults_to_ansibles_ten_and_bounds_the_fan_out():
    assert forks([Node("a")]) == 10 and forks([]) == 10
    busy, most, lock = [0], [0], threading.Lock()

    def work_with(barrier: threading.Barrier):
        def work(node):
            with lock:
                busy[0] += 1
                most[0] = max(most[0], busy[0])
            # Only `parties` hosts at once let every one of them through: fewer time out.
            barrier.wait(timeout=10)
            with lock:
                busy[0] -= 1
            if node.name == "n3":
                raise RuntimeError("boom\nsecond line")
            return node.name

        return work

    nodes = [Node(f"n{i}", {"forks": 3}) for i in range(12)]
    failures = in_parallel(nodes, work_with(threading.Barrier(3)))
    assert most[0] == 3 and failures == ["n3: boom"]
    done = fan_out(nodes, work_with(threading.Barrier(12)), 12)
    assert most[0] == 12 and done[0] == ("n0", None) and done[3] == (None, "n3: boom")


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("forks: 0", "all.vars.forks 0 is not a whole number, 1 or more: give one like 10"),
        ("forks: ten", "all.vars.forks 'ten' is not a whole number, 1 or more"),
        ("surface_seed: yes", "all.vars.surface_seed True is not a whole number"),
        ("surface_full_scan: 1", "all.vars.surface_full_scan 1 is not true or false"),
    ],
)
def test_a_bad_forks_seed_or_full_scan_in_the_inventory_is_refused_at_its_load(tmp_path, line, why):
    text = (
        (REPO / "inventories/lab.yml").read_text().replace("  vars:\n", f"  vars:\n    {line}\n", 1)
    )
    (tmp_path / "lab.yml").write_text(text)
    with pytest.raises(InventoryError, match=re.escape(why)):
        Inventory.load(tmp_path / "lab.yml")


def test_the_forks_option_reaches_every_host_and_a_bad_one_is_refused(pytester):
    lab = REPO / "inventories/lab.yml"
    pytester.makepyfile(
        """
        def test_vars(inventory):
            assert {h.vars["forks"] for h in inventory.hosts.values()} == {3}
            assert inventory.vars["surface_seed"] == 42 and inventory.vars["surface_full_scan"]
        """
    )
    ok = pytester.runpytest(
        "--inventory",
        lab,
        "--forks",
        "3",
        "--sample-seed",
        "42",
        "--full-scan",
        "-p",
        "no:cacheprovider",
    )
    ok.assert_outcomes(passed=1)
    bad = pytester.runpytest("--inventory", lab, "--forks", "0")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*--forks: '0' is not a whole number, 1 or more*"])


def test_the_view_carries_the_nodes_ipv6_addresses_for_the_probes():
    text = (
        'tcp LISTEN 0 100 *:8443 *:* users:(("java",pid=42,fd=3))\n'
        f"{surface.NAT4}\n{surface.NAT6}\n{surface.ADDR6}\n"
        "2: eth0    inet6 fd5a:6c61:6273:0:0::11/64 scope global nodad\\       valid_lft forever\n"
        "2: eth0    inet6 2001:db8::11/64 scope global dynamic\n"
    )
    view = surface.parse_view(text)
    assert view.addresses6 == ["fd5a:6c61:6273::11", "2001:db8::11"]
    assert view.tcp_ports() == {8443}
    assert surface.parse_view(text.split(surface.ADDR6)[0]).addresses6 == []
