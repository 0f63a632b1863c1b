"""The bench's table: entries measured against a floor or peer, printed and written as JSON.

    >>> entry = Entry("P5 catalina.out check, 1 GB old log", measured=0.031, floor=0.027,
    ...               goal="added <= 0.050 s", holds=True)
    >>> entry.ratio
    1.15

Timings live here and in reports/bench-<stamp>.json, never as assertions in tests.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Entry:
    name: str
    measured: float | None = None  # seconds (or what `unit` says)
    floor: float | None = None  # the floor or peer it is compared with
    goal: str = ""
    holds: bool | None = None  # None: not measured
    unit: str = "s"
    detail: dict = field(default_factory=dict)
    why_not: str = ""  # set when not measured

    @property
    def ratio(self) -> float | None:
        if self.measured is None or not self.floor:
            return None
        return round(self.measured / self.floor, 2)

    def as_json(self) -> dict:
        return {**asdict(self), "ratio": self.ratio}


def not_measured(name: str, why: str) -> Entry:
    return Entry(name, why_not=why)


def machine() -> dict:
    """What the figures were measured on."""
    mem = next(
        (line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
         if line.startswith("MemTotal:")),
        "0",
    )  # fmt: skip
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )  # fmt: skip
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "ram_gb": round(int(mem) / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_1min_at_start": round(os.getloadavg()[0], 2),
    }


def table(entries: list[Entry]) -> str:
    head = f"{'entry':52} {'measured':>10} {'floor':>10} {'ratio':>6}  {'goal':24} holds"
    rows = [head, "-" * len(head)]
    for e in entries:
        if e.why_not:
            rows.append(f"{e.name:52} not measured: {e.why_not}")
            continue
        ratio = f"{e.ratio:6.2f}" if e.ratio is not None else f"{'-':>6}"
        floor = f"{e.floor:10.4f}" if e.floor is not None else f"{'-':>10}"
        holds = {True: "yes", False: "NO", None: "-"}[e.holds]
        rows.append(f"{e.name:52} {e.measured:10.4f} {floor} {ratio}  {e.goal:24} {holds}")
    return "\n".join(rows)


def write(entries: list[Entry], reports: Path, described: dict, seconds: float) -> Path:
    reports.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = reports / f"bench-{stamp}.json"
    path.write_text(
        json.dumps(
            {
                "machine": described,
                "seconds": round(seconds, 1),
                "entries": [e.as_json() for e in entries],
            },
            indent=1,
        )
    )
    return path
