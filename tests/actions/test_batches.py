"""Ansible's `serial` for the nodes after the head: batches in order, the nodes of a batch at
once, a failed batch named whole and the batches after it never started."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest

from runbooklib.actions.common import ActionError, batches, in_batch


@dataclass(frozen=True)
class Node:
    name: str

    def __str__(self) -> str:
        return self.name


NODES = [Node(f"app{i}") for i in range(1, 8)]


def test_batches_keep_the_order_and_the_last_one_takes_the_rest():
    assert [[n.name for n in b] for b in batches(NODES, 3)] == [
        ["app1", "app2", "app3"],
        ["app4", "app5", "app6"],
        ["app7"],
    ]
    assert [len(b) for b in batches(NODES, 1)] == [1] * 7


@pytest.mark.parametrize("serial", [0, -1, "2", 1.5, True])
def test_serial_that_is_not_a_positive_whole_number_is_refused(serial):
    with pytest.raises(ActionError, match="give a whole number of hosts, 1 or more"):
        batches(NODES, serial)


def test_the_nodes_of_a_batch_run_at_the_same_time():
    batch = NODES[:3]
    together = threading.Barrier(len(batch), timeout=5)  # breaks unless all three wait at once

    assert in_batch(batch, lambda node: (together.wait(), node.name)[1]) == ["app1", "app2", "app3"]


def test_a_failed_batch_names_every_failed_node_and_stops_the_next_batches():
    started = []

    def install(node):
        started.append(node.name)
        if node.name in ("app2", "app3"):
            raise RuntimeError("ant deploy failed")

    with pytest.raises(ActionError) as failed:
        for batch in batches(NODES, 3):
            in_batch(batch, install)

    assert str(failed.value) == "app2: ant deploy failed; app3: ant deploy failed"
    assert sorted(started) == ["app1", "app2", "app3"]
