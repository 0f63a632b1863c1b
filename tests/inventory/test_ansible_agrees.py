"""The runbook reads every inventory as Ansible does: groups, hosts, variables and host patterns.

Ansible's side is ansible-core's own InventoryManager and VariableManager on the same files (pure
file reading, no host contacted). A pattern that Ansible reads otherwise than it looks, warns
about or ignores is refused by the runbook with one line naming the fix.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ansible.errors import AnsibleError
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.vars.manager import VariableManager

from runbooklib.inventory import Inventory, InventoryError

REPO = Path(__file__).resolve().parents[2]
FILES = {
    "lab": REPO / "inventories" / "lab.yml",
    "production": REPO / "inventories" / "production.yml",
    # Shapes the real two lack: a host under `all`, a group with hosts and children, deep nesting.
    "tricky": Path(__file__).with_name("tricky.yml"),
}

# Variables that Ansible adds to every host and that no inventory file sets.
MAGIC = {
    "ansible_config_file",
    "ansible_facts",
    "ansible_playbook_python",
    "ansible_version",
    "group_names",
    "groups",
    "inventory_dir",
    "inventory_file",
    "inventory_hostname",
    "inventory_hostname_short",
    "playbook_dir",
}

# Patterns both inventories of the cluster resolve (their groups and the hosts they share).
CLUSTER = [
    "all",
    "*",
    "ungrouped",
    "app",
    "db",
    "caje",
    "vantage",
    "admins",
    "outsiders",
    "app[0]",
    "app[1]",
    "app[-1]",
    "app[-2]",
    "app[0:0]",
    "app[0:1]",
    "app[1:1]",
    "app[0:]",
    "app[1:]",
    "app[2:5]",
    "app[5:7]",
    "app:db",
    "app,db",
    "app, db",
    "app:db:svn",
    "db:app",
    "app:&db",
    "app:&app[1]",
    "&app",
    "app:!app[0]",
    "app:!caje",
    "vantage:!admins",
    "!db",
    "!db:app",
    "app:!db:caje",
    "app[0]:caje",
    "app[0],caje",
    "app[0:1]:&app[1]",
    "!app[0]:&app",
    "app:!~^w",
    "stub*",
    "s*",
    "*ing",
    "a*",
    "stub*[0]",
    "~a.*",
    "~^(stub|wal)",
    "~(caje|mware)",
]
PATTERNS = {
    "lab": [*CLUSTER, "~.*ws\\d", "adminws?", "public", "vantage[-1]"],
    "production": [*CLUSTER, "zoidberg", "outsiders:app"],
    "tricky": [
        "all",
        "ungrouped",
        "loner",
        "web",
        "web[0:2]",
        "web[-1]",
        "web[1:]",
        "canary",
        "web:!canary",
        "canary:&web",
        "data",
        "sql",
        "sql[1:]",
        "primary:replicas",
        "replicas:primary",
        "data:&replicas:!db3",
        "empty",
        "empty:web",
        "db*",
        "~db[23]",
        "*:!ungrouped",
    ],
}

# What Ansible does with each (its hosts, or the error it raises), and the line the runbook gives.
REFUSED = [
    ("app[:1]", [], "none of Ansible's subscripts"),  # a glob matching nothing, a warning
    ("app[-1:]", [], "none of Ansible's subscripts"),
    ("app[0-1]", ["stubing", "walton"], "none of Ansible's subscripts"),  # removed form, warns
    ("app[5]", AnsibleError, "`app` has 2 hosts, no [5]"),
    ("app[-3]", AnsibleError, "`app` has 2 hosts, no [-3]"),
    ("app[1:0]", ["walton"], "the end 0 is before the start 1"),
    ("app[2:1]", [], "the end 1 is before the start 2"),
    ("app:db,svn", ["mware"], "it mixes `,` and `:`"),  # looks for a host named `app:db`
    ("app db", ["stubing", "walton", "caje"], "it has a space"),
    ("caje:22", [], "`22` is not a name"),  # a host and a port, matching nothing
    ("nope", [], "no group or host `nope`"),  # a warning, then ignored
    ("app:!nope", ["stubing", "walton"], "no group or host `nope`"),
    ("localhost", ["localhost"], "no group or host `localhost`"),  # Ansible's implicit host
    ("~(", AnsibleError, "is not a valid regular expression"),
    ("app:&", IndexError, "`&` stands alone"),  # Ansible crashes
    ("", "all", "it is empty"),
]


@pytest.fixture(autouse=True)
def _default_subnet(monkeypatch):
    # The runbook moves the lab's addresses to $LAB_SUBNET; Ansible reads the file as written.
    monkeypatch.delenv("LAB_SUBNET", raising=False)


def ansible(name: str) -> InventoryManager:
    return InventoryManager(loader=DataLoader(), sources=[str(FILES[name])])


def ansible_hosts(manager: InventoryManager, pattern: str) -> list[str]:
    manager.clear_pattern_cache()
    return [h.name for h in manager.get_hosts(pattern)]


def plain(value):
    """Ansible's YAML types as plain Python, to compare with the runbook's."""
    return json.loads(json.dumps(value))


@pytest.mark.parametrize("name", FILES)
def test_groups_and_their_hosts_are_ansibles(name):
    ours = Inventory.load(FILES[name])
    theirs = {g: [h.name for h in group.get_hosts()] for g, group in ansible(name).groups.items()}
    assert ours.groups == theirs
    assert list(ours.hosts) == list(ansible(name).hosts)


@pytest.mark.parametrize("name", FILES)
def test_every_hosts_variables_are_ansibles(name):
    manager = ansible(name)
    variables = VariableManager(loader=DataLoader(), inventory=manager)
    for host in Inventory.load(FILES[name]).hosts.values():
        theirs = variables.get_vars(host=manager.get_host(host.name), include_hostvars=False)
        assert plain(host.vars) == plain({k: v for k, v in theirs.items() if k not in MAGIC}), (
            host.name
        )


@pytest.mark.parametrize(
    "name, pattern",
    [(name, pattern) for name, patterns in PATTERNS.items() for pattern in patterns],
)
def test_a_host_pattern_names_the_hosts_ansible_names(name, pattern):
    ours = [h.name for h in Inventory.load(FILES[name]).select(pattern)]
    assert ours == ansible_hosts(ansible(name), pattern)


@pytest.mark.parametrize("pattern, ansible_reads, message", REFUSED)
def test_a_pattern_ansible_reads_otherwise_is_refused_naming_the_fix(
    pattern, ansible_reads, message
):
    manager = ansible("lab")
    if isinstance(ansible_reads, type):
        with pytest.raises(ansible_reads):
            ansible_hosts(manager, pattern)
    elif ansible_reads == "all":
        assert ansible_hosts(manager, pattern) == list(manager.hosts)
    else:
        assert ansible_hosts(manager, pattern) == ansible_reads
    with pytest.raises(InventoryError, match="^inventory inventories/lab.yml: ") as refused:
        Inventory.load(FILES["lab"]).select(pattern)
    assert message in str(refused.value)
    assert "\n" not in str(refused.value)


def test_a_host_and_a_group_of_one_name_are_refused(tmp_path):
    path = tmp_path / "clash.yml"
    path.write_text(
        "all:\n  children:\n    web:\n      hosts:\n        web: {ansible_host: 192.0.2.1}\n"
    )
    with pytest.raises(InventoryError, match="`web` is both a host and a group .*: rename one"):
        Inventory.load(path)


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"ansible_ssh_common_args": "-o ProxyJump=bastion"}, "give only `-F FILE`"),
        ({"ansible_ssh_common_args": "-F ssh/config"}, "-F 'ssh/config' is not an absolute path"),
        ({"ansible_ssh_private_key_file": "id_ed25519"}, "give an absolute path"),
        ({"ansible_port": 2222}, "sets ansible_port, which the runbook's ssh does not read"),
        ({"ansible_ssh_extra_args": "-4"}, "sets ansible_ssh_extra_args"),
    ],
)
def test_ssh_settings_the_runbook_cannot_share_with_ansible_are_refused(
    tmp_path, settings, message
):
    path = tmp_path / "ssh.yml"
    host = {"ansible_host": "192.0.2.1", **settings}
    path.write_text(json.dumps({"all": {"hosts": {"web1": host}}}))
    with pytest.raises(InventoryError, match=message):
        Inventory.load(path)


def test_the_lab_hosts_are_reached_with_ansibles_ssh_settings():
    host = Inventory.load(FILES["lab"]).host("stubing")
    assert (host.user, host.ssh_config, host.identity_file) == (
        "root",
        "/var/lib/smartsite-lab/ssh/config",
        "/var/lib/smartsite-lab/ssh/id_ed25519",
    )
