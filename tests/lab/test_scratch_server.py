"""The backup's test restore (database.scratch_restore) on the lab's db host, beside the live
server: the throwaway mariadbd must leave the live server's temporary tables alone. A mariadbd
deletes every `#sql*` file in its tmpdir as it starts; in a shared /tmp those are the live
server's, and a live query failed so at u04 ("Error on delete of '/tmp/#sql-temptable-….MAI'").
Needs only the lab up; it writes only its own scratch files in caje's /tmp."""

from __future__ import annotations

import os
import uuid

import pytest

from runbooklib.actions import database
from runbooklib.inventory import Inventory
from runbooklib.remote import Host

pytestmark = pytest.mark.lab


@pytest.fixture
def caje() -> Host:
    if os.geteuid() != 0 or not os.path.exists("/var/lib/smartsite-lab/ssh/config"):
        pytest.fail("needs root and the lab up: flock /tmp/lab-dev.lock python -m lab up")
    found = Inventory.load("inventories/lab.yml").hosts["caje"]
    yield found
    found.disconnect()


def test_the_test_restore_leaves_the_live_servers_temporary_tables(caje):
    tag = uuid.uuid4().hex[:12]
    live_temp = f"/tmp/#sql-temptable-{tag}.MAI"  # named as the live server names them
    dump = f"/tmp/scratch-test-{tag}.sql.gz"
    sql = "CREATE TABLE probe (a INT); INSERT INTO probe VALUES (1), (2), (3);"
    try:
        caje.run(f"touch '{live_temp}' && echo '{sql}' | gzip > {dump}")
        found = database.scratch_restore(caje, dump, ["probe"])
        assert found["probe"]["rows"] == 3, found
        assert caje.probe(f"test -e '{live_temp}' && echo kept || echo deleted").stdout == (
            "kept\n"
        )
    finally:
        caje.run(f"rm -f '{live_temp}' {dump}")
