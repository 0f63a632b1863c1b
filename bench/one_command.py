"""`python -m bench.one_command INVENTORY COMMAND`: COMMAND on every host of the inventory through
the runbook's own transport (`Host.probe`, `forks` hosts at a time), as
`ansible all -i INVENTORY -m raw -a COMMAND` runs it; one line per host, `HOST | OUTPUT`.

P7's side of the comparison: a fresh process, as Ansible's is. Exit 1 when a host did not answer.
"""

from __future__ import annotations

import sys

from runbooklib.actions.common import fan_out, forks
from runbooklib.inventory import Inventory


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m bench.one_command INVENTORY COMMAND", file=sys.stderr)
        return 4
    hosts = Inventory.load(argv[0]).select("all")
    done = fan_out(hosts, lambda h: h.probe(argv[1], timeout=30).stdout.strip(), forks(hosts))
    for host, (out, error) in zip(hosts, done, strict=True):
        print(f"{host.name} | {out}" if error is None else error)
    return 1 if any(error for _, error in done) else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
