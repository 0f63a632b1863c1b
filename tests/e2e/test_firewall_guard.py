"""The firewall's dead man's switch, for real: a change that cuts the operator off undoes itself.

Like `iptables-apply`: the node arms a job that restores the saved rules unless the operator's
side confirms in time. Here the new rules reject the operator's SSH, so the confirmation cannot
arrive; the node must restore its previous rules by itself and SSH must work again.
"""

from __future__ import annotations

import time

import pytest

from runbooklib.actions import firewall
from runbooklib.actions.common import ActionError, put_file
from runbooklib.inventory import Inventory

pytestmark = pytest.mark.lab
# The whole ruleset without comments and packet counters (traffic changes those).
RULES = r"iptables-save | grep -v '^#' | sed -E 's/\[[0-9]+:[0-9]+\]//'"


def test_a_change_that_cuts_the_operator_off_is_rolled_back(lab):
    inv = Inventory.load(lab.inventory)
    node = inv.group("app")[-1]
    operator = inv.vars["allow_8443"][0]["address"]
    before = lab.exec(node.name, RULES).stdout
    saved = f"{firewall.state_dir(node)}/e2e-guard-saved.rules"
    node.run(f"mkdir -p {firewall.state_dir(node)}")
    firewall.save(node, saved)
    bad = f"{firewall.state_dir(node)}/e2e-guard-bad.rules"
    put_file(
        node,
        bad,
        "*filter\n:E2E-CUT - [0:0]\n-I INPUT 1 -j E2E-CUT\n"
        f"-A E2E-CUT -s {operator}/32 -p tcp -m tcp --dport 22 -j REJECT --reject-with tcp-reset\n"
        "COMMIT\n",
    )
    with pytest.raises((ActionError, Exception)):
        firewall._guarded(node, {4: saved}, [(4, bad)], confirm_seconds=5)
    # The node restores by itself; give it the bound and a margin.
    for _ in range(30):
        time.sleep(1)
        if lab.ssh(node.address, "true", timeout=10).returncode == 0:
            break
    assert lab.ssh(node.address, "true", timeout=10).returncode == 0
    assert lab.exec(node.name, RULES).stdout == before
    assert not firewall.rollback_armed(node)
