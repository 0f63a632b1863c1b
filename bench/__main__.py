"""`make bench` (`python -m bench`): P1..P7, each against its floor or peer, in one run.

Prints a table (measured, floor, ratio, goal, holds) and writes reports/bench-<stamp>.json with
the machine described. Order: P6 (offline), then on the lab, holding /tmp/lab-dev.lock: a reset,
P1 per command, P7 (one command on every host, beside Ansible), P3 upgrade, P1 go/no-go after it,
P3 fallback, P5, P4 (stops Tomcat, loads `--db-gb` of generated rows), P2 with `--scale` (2, 8 and
16 app nodes); a lab reset at the end puts the lab back.
About 5 minutes with the defaults on a 2-core machine; P4 grows with `--db-gb`.
Timings live here, never in tests.
"""

from __future__ import annotations

import argparse
import fcntl
import time
from contextlib import contextmanager
from pathlib import Path

from bench import harness, measures
from runbooklib.inventory import Inventory

LOCK = "/tmp/lab-dev.lock"
ALL = ("P1", "P2", "P3", "P4", "P5", "P6", "P7")


@contextmanager
def lab_lock(take: bool):
    if not take:
        yield
        return
    with open(LOCK, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # said only when someone holds it: the wait is theirs
            print(f"waiting for {LOCK}: someone else is using the lab...", flush=True)
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def attempt(name: str, measure, *args) -> list[harness.Entry]:
    """The entries `measure(*args)` returns; a measure that fails is reported, not fatal."""
    try:
        found = measure(*args)
    except Exception as exc:  # noqa: BLE001 - one broken measure must not lose the others
        first = (str(exc).strip().splitlines() or [repr(exc)])[0]
        return [harness.not_measured(name, f"failed: {type(exc).__name__}: {first[:150]}")]
    return list(found) if isinstance(found, (list, tuple)) else [found]


def reset() -> None:
    done = measures.lab("reset")
    if done.returncode != 0:
        raise SystemExit(f"ERROR: python -m lab reset failed: {done.stderr.strip()[-300:]}")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", default="inventories/lab.yml")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--db-gb", type=float, default=0.2, help="rows generated for P4 (GB)")
    parser.add_argument("--log-gb", type=float, default=1.0, help="old catalina.out for P5 (GB)")
    parser.add_argument("--only", default=",".join(ALL), help="entries to measure, e.g. P1,P5")
    parser.add_argument(
        "--scale", action="store_true", help="P2: rebuild the lab with 8 and 16 app nodes (long)"
    )
    parser.add_argument("--no-lock", action="store_true", help=f"the caller already holds {LOCK}")
    parser.add_argument("--reports", default="reports")
    args = parser.parse_args()
    only = {x.strip().upper() for x in args.only.split(",")}
    if only - set(ALL) or args.db_gb <= 0 or args.log_gb <= 0:
        parser.error(f"--only takes some of {','.join(ALL)}; --db-gb and --log-gb must be > 0")
    described = harness.machine()
    started = time.monotonic()
    entries: list[harness.Entry] = []
    if "P6" in only:
        entries += measures.p6_engine()
    inv = Inventory.load(args.inventory)
    # The runs' own reports and journals, kept for a look at where the time went.
    work = Path(args.reports) / time.strftime("bench-%Y%m%dT%H%M%SZ-runs", time.gmtime())
    with lab_lock(not args.no_lock):
        reset()
        try:
            if "P1" in only:
                entries += attempt("P1 remote command", measures.p1_command, inv, args.rounds)
            if "P7" in only:
                entries += attempt(
                    "P7 beside Ansible", measures.p7_peer, args.inventory, args.rounds
                )
            if "P3" in only:
                found = attempt("P3 upgrade and fallback", measures.p3_procedures, inv, work)
                entries += [e for e in found if "P1" in only or not e.name.startswith("P1")]
            elif "P1" in only:
                entries += attempt("P1 go/no-go", measures.p1_go_no_go, inv, work, "fallback")
            if "P5" in only:
                entries += attempt("P5", measures.p5_catalina, inv, args.log_gb, args.rounds)
            if "P4" in only:
                entries += attempt("P4", measures.p4_database, inv, args.db_gb)
            if "P2" in only:
                if not measures.p2_supported():
                    entries.append(harness.not_measured("P2 scale", "needs lab up --app-nodes"))
                elif not args.scale:
                    entries.append(
                        harness.not_measured("P2 scale", "run with --scale (rebuilds the lab)")
                    )
                else:
                    entries += attempt("P2 scale", measures.p2_scale, args.inventory, work)
        finally:
            for host in inv.hosts.values():
                host.disconnect()
            reset()
    print(harness.table(entries))
    seconds = time.monotonic() - started
    path = harness.write(entries, Path(args.reports), described, seconds)
    print(f"machine: {described}")
    print(f"{seconds:.0f}s; written {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
