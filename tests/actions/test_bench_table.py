"""The bench's table and JSON (bench/harness.py): pure logic, no timing asserted."""

from __future__ import annotations

import json

from bench.harness import Entry, machine, not_measured, table, write


def test_ratio_against_the_floor_and_none_without_one():
    assert Entry("x", measured=3.0, floor=2.0).ratio == 1.5
    assert Entry("x", measured=3.0).ratio is None
    assert not_measured("P2 scale", "needs lab up --app-nodes").ratio is None


def test_table_says_what_was_not_measured_and_why():
    shown = table(
        [
            Entry("P5 log", measured=0.04, floor=0.03, goal="added <= 0.050 s", holds=True),
            not_measured("P2 scale", "needs lab up --app-nodes"),
        ]
    )
    assert "P2 scale" in shown and "not measured: needs lab up --app-nodes" in shown
    assert "1.33" in shown and shown.splitlines()[2].endswith("yes")


def test_json_carries_the_machine_and_every_entry(tmp_path):
    path = write([Entry("P1", measured=1.0, floor=0.5, holds=True)], tmp_path, machine(), 12.3)
    data = json.loads(path.read_text())
    assert path.name.startswith("bench-") and path.suffix == ".json"
    assert {"cores", "ram_gb", "kernel"} <= set(data["machine"])
    assert data["entries"][0]["ratio"] == 2.0 and data["entries"][0]["holds"] is True
