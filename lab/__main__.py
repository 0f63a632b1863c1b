"""python -m lab up|down|status|reset|exec|fault|inventory (as root; see lab/README.md)."""

from __future__ import annotations

import argparse
import os
import sys

from lab import netns
from lab.config import LabError, chosen, recorded


def running():
    """The lab that `up` built ($LAB_SUBNET only says what the next `up` should build)."""
    return recorded() or chosen(None, None)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lab", description="The SmartSite rehearsal lab.")
    sub = p.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="build (first time) and start the lab; idempotent")
    up.add_argument("--subnet", help="lab subnet, a /24 (default $LAB_SUBNET or 198.51.100.0/24)")
    up.add_argument("--app-nodes", type=int, help="number of app nodes (default 2)")
    up.add_argument(
        "--ipv6",
        action=argparse.BooleanOptionalAction,
        help="both address families on every host (default $LAB_IPV6, else as last built)",
    )
    up.add_argument("--rows", type=int, default=20000, help="seed size of the database (first up)")
    down = sub.add_parser("down", help="stop everything; leaves nothing but the state folder")
    down.add_argument("--purge", action="store_true", help="also delete the state folder")
    sub.add_parser("status", help="what runs where, what is unhealthy (exit 1 if anything is)")
    rs = sub.add_parser("reset", help="back to the pre-upgrade state (2.4.0 everywhere, no faults)")
    rs.add_argument(
        "--db-password-file",
        help="run with the DB password in this file until the next plain reset (tests)",
    )
    ex = sub.add_parser("exec", help="run a command inside a host: exec HOST -- CMD...")
    ex.add_argument("host")
    ex.add_argument("command", nargs=argparse.REMAINDER)
    fl = sub.add_parser(
        "fault", help="fault NAME [HOST] | clear | list (the names and what each does)"
    )
    fl.add_argument("name")
    fl.add_argument("host", nargs="?")
    sub.add_parser("inventory", help="print the path of the inventory of the lab as built")
    args = p.parse_args(argv)

    try:
        if args.cmd == "exec":
            command = args.command[1:] if args.command[:1] == ["--"] else args.command
            prefix = netns.enter(running().host(args.host))
            env = {**netns.HOST_ENV, "TERM": os.environ.get("TERM", "dumb")}
            os.execvpe(prefix[0], prefix + (command or ["bash", "-l"]), env)
        # Not at the top: `exec` needs only netns and the tests run it hundreds of times, while
        # lifecycle pulls in the whole lab (0.2 s of imports).
        from lab import faults, lifecycle, status

        if args.cmd == "up":
            lifecycle.up(chosen(args.subnet, args.app_nodes, args.ipv6), rows=args.rows)
        elif args.cmd == "down":
            removed = lifecycle.down(purge=args.purge)
            left = lifecycle.leftovers()
            if removed:
                print(f"removed mountpoint folders {' '.join(removed)}")
            print("lab down" + (f"; LEFT: {', '.join(left)}" if left else ": nothing left running"))
            return 1 if left else 0
        elif args.cmd == "status":
            text, healthy = status.status(running())
            print(text)
            return 0 if healthy else 1
        elif args.cmd == "reset":
            password = None
            if args.db_password_file:
                with open(args.db_password_file, encoding="utf-8") as f:
                    password = f.read().strip()
                if not password:
                    raise LabError(f"{args.db_password_file} is empty: write the password there")
            lifecycle.reset(running(), db_password=password)
        elif args.cmd == "fault":
            lab = running()
            if args.name == "clear":
                done = faults.clear(lab)
                print("cleared: " + (", ".join(done) if done else "no active fault"))
            elif args.name == "list":
                for name, f in faults.FAULTS.items():
                    print(f"{name:17} {f.help} (default host {f.default})")
                print("active: " + (", ".join(faults.active()) or "none"))
            else:
                print(faults.apply(lab, args.name, args.host))
        elif args.cmd == "inventory":
            if not lifecycle.INVENTORY.exists():
                raise LabError("no lab inventory: run `python -m lab up` first")
            print(lifecycle.INVENTORY)
    except LabError as exc:
        print(f"lab: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
