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


def test_p2_keeps_the_sizes_measured_before_a_lab_that_cannot_be_built(monkeypatch, tmp_path):
    """The lab's commands and the runs stand in (pure logic: which entries P2 gives)."""
    from bench import measures

    asked = []

    def lab_ok(*args, timeout=900):
        asked.append(" ".join(args))
        if args == ("up", "--app-nodes", "16"):
            raise RuntimeError("python -m lab up --app-nodes 16 exited 1: openssl failed")

    def pytest_run(args, reports, timeout=1800):
        nodes = reports.name.removeprefix("scale").split("-")[0]
        go = "checks" in reports.name
        return {"seconds": {"2": 2.0, "8": 2.5}[nodes] * (1 if go else 10), "rc": 0,
                "verdict": "GO (after): all 10 checks passed" if go else "", "last": "",
                "journal": None}  # fmt: skip

    monkeypatch.setattr(measures, "lab_ok", lab_ok)
    monkeypatch.setattr(measures, "lab", lambda *a, **k: type("Done", (), {"stdout": "inv.yml"}))
    monkeypatch.setattr(measures, "pytest_run", pytest_run)
    entries = {e.name: e for e in measures.p2_scale("inv.yml", tmp_path)}
    assert entries["P2 go/no-go with 16 app nodes"].why_not.endswith("openssl failed")
    eight = entries["P2 go/no-go with 8 app nodes (vs 2)"]
    assert (eight.measured, eight.floor, eight.ratio, eight.holds) == (2.5, 2.0, 1.25, True)
    # Built with 2, then 8; 16 fails; the lab is put back to 2 nodes.
    ups = [a for a in asked if a.startswith("up")]
    assert ups == [f"up --app-nodes {n}" for n in ("2", "8", "16", "2")], asked
