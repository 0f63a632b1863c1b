"""`python -m bench [--inventory FILE] [--rounds N]`: what the runbook's choices cost.

Prints, for the lab: one SSH command with a warm ControlMaster against a fresh connection each
time; the read-only go/no-go work (a probe per host, catalina.out scan and health per node) run
in parallel across hosts against one host after the other. Timings live here, never in tests.
Needs the lab (hold /tmp/lab-dev.lock while it runs).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time

from runbooklib.actions import http, tomcat
from runbooklib.actions.common import app_nodes, in_parallel
from runbooklib.inventory import Inventory


def timed(fn, rounds: int) -> float:
    """Median seconds of `rounds` calls (the first call warms up and is not counted)."""
    fn()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def ssh(inv: Inventory, host, *options: str) -> None:
    subprocess.run(
        ["ssh", "-F", inv.hosts[host.name].ssh_config, *options, f"root@{host.address}", "true"],
        check=True,
        capture_output=True,
        timeout=30,
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", default="inventories/lab.yml")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    inv = Inventory.load(args.inventory)
    head = app_nodes(inv)[0]
    rows = []

    warm = timed(lambda: ssh(inv, head), args.rounds)
    cold = timed(
        lambda: ssh(inv, head, "-o", "ControlMaster=no", "-o", "ControlPath=none"), args.rounds
    )
    rows.append(("ssh command: fresh connection / ControlMaster warm", cold, warm))

    hosts = [h for g in ("app", "db", "vantage") for h in inv.group(g)]
    probe = lambda h: h.probe("true")  # noqa: E731
    serial = timed(lambda: [probe(h) for h in hosts], args.rounds)
    parallel = timed(lambda: in_parallel(hosts, probe), args.rounds)
    rows.append((f"probe {len(hosts)} hosts: serial / parallel", serial, parallel))

    nodes = app_nodes(inv)

    def node_checks(node):
        tomcat.problem_lines(node)
        http.health(node)

    serial = timed(lambda: [node_checks(n) for n in nodes], args.rounds)
    parallel = timed(lambda: in_parallel(nodes, node_checks), args.rounds)
    rows.append((f"log scan + health on {len(nodes)} nodes: serial / parallel", serial, parallel))

    print(f"{'measure':60} {'A s':>8} {'B s':>8} {'A/B':>6}")
    for name, a, b in rows:
        print(f"{name:60} {a:8.3f} {b:8.3f} {a / b:6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
