"""docs/recovery.md's table, from what the any-point tests saw (reports/any-point.json).

python -m tests.e2e.any_point_table > docs/recovery.md
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[2] / "reports" / "any-point.json"


def short(notes: str) -> str:
    """Each host's verdict in an action's own words, cut to its first clause:
    `stubing: install X: unchanged. no snapshot: no deploy ran (...)` -> `stubing unchanged:
    no snapshot`."""
    said = []
    for note in (n for n in notes.split(" / ") if n):
        host, _, rest = note.partition(": ")
        verdict, _, why = rest.partition(": ")[2].partition(". ")
        why = why.split(";")[0].split(" (")[0].split(": ")[0]
        said.append(f"{host} {verdict}: {why[:48]}".replace("|", "/"))
    return "<br>".join(dict.fromkeys(said))


def table(results: dict) -> str:
    rows = [
        "| stopped in | how | fallback | go/no-go after it | f03 database | f04 release | "
        "f05 config | resume | go/no-go after it |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    steps = sorted({r["step"] for r in results.values()})
    for step in steps:
        fb = next((r for r in results.values() if r["step"] == step and "fallback" in r), None)
        rs = next((r for r in results.values() if r["step"] == step and "resume" in r), None)
        did = fb["did"] if fb else {}
        rows.append(
            "| "
            + " | ".join(
                [
                    step,
                    fb["how"] if fb else "",
                    ("PASSED" if fb["fallback"] == 0 else f"exit {fb['fallback']}") if fb else "",
                    fb["verdict"][:40] if fb else "",
                    short(did.get("f03", "")),
                    short(did.get("f04", "")),
                    short(did.get("f05", "").split(" / ")[0]),
                    ("PASSED" if rs["resume"] == 0 else f"exit {rs['resume']}") if rs else "-",
                    rs["verdict"][:40] if rs else "-",
                ]
            )
            + " |"
        )
    return "\n".join(rows) + "\n"


def main() -> int:
    if not RESULTS.exists():
        print(f"{RESULTS} not found: run pytest tests/e2e/test_any_point.py first", file=sys.stderr)
        return 1
    print(
        "# Recovery from any point of the upgrade\n\n"
        "Made by `python -m tests.e2e.any_point_table` from what tests/e2e/test_any_point.py saw "
        "on the lab: for each step the upgrade was stopped in (a failure, or SIGKILL of the run "
        "after the step's first change), what the fallback did and the go/no-go after it, and "
        "whether `--resume` finished the upgrade after a SIGKILL in that step.\n"
    )
    print(table(json.loads(RESULTS.read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
