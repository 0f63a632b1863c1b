"""P6: the step engine's own cost per step, against plain pytest running the same no-op tests.

    python -m bench.engine_overhead 100 1000 2000

For each N, a throwaway project in a temporary folder holds N no-op steps (one procedure, plan
times spread over the window, the run lock on this machine) and the same N tests without the
engine; both are run by `pytest` in a fresh interpreter, and the difference divided by N is the
engine's cost per step. Needs no lab: the lock's host is this machine (`local` connection).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

INI = """\
[pytest]
addopts = --order-scope=module --fail-all-on-failed-ordering
runbook_steps = runbook
runbook_checks = checks
runbook_inventory = lab.yml
runbook_reports = reports
runbook_fallback = fallback
runbook_lock_file = {lock}
"""
INVENTORY = """\
all:
  vars:
    window: {start: "08:00", end: "12:00"}
  children:
    app: {hosts: {stubing: {ansible_host: 192.0.2.250}}}
    db: {hosts: {caje: {ansible_host: 127.0.0.1, ansible_connection: local}}}
"""


def _steps(n: int) -> str:
    """N no-op steps, planned over 08:00-11:59 in order."""
    lines = ["from runbooklib.engine import step", ""]
    for i in range(n):
        minute = 8 * 60 + i * 240 // n
        lines += [
            f'@step("s{i:04d}", at="{minute // 60:02d}:{minute % 60:02d}", owner="bench")',
            f"def test_s{i:04d}(inventory):",
            f'    """No-op step {i}."""',
            "",
        ]
    return "\n".join(lines)


def _plain(n: int) -> str:
    return "\n".join(f"def test_s{i:04d}():\n    pass\n" for i in range(n))


def _pytest(folder: Path, *args: str) -> float:
    """Wall seconds of one `pytest` in a fresh interpreter; raises if it did not pass."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=1200,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(
            f"pytest {' '.join(args)} in {folder}: exit {done.returncode}\n"
            f"{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    return elapsed


def measure(n_steps: int) -> dict:
    """Seconds of N no-op steps with the engine and of N plain tests without it, and the
    engine's cost per step in milliseconds."""
    with tempfile.TemporaryDirectory(prefix="engine-overhead-") as tmp:
        folder = Path(tmp)
        (folder / "pytest.ini").write_text(INI.format(lock=folder / "runbook.lock"))
        (folder / "lab.yml").write_text(INVENTORY)
        (folder / "runbook").mkdir()
        (folder / "runbook" / "test_upgrade.py").write_text(_steps(n_steps))
        (folder / "plain").mkdir()
        (folder / "plain" / "test_plain.py").write_text(_plain(n_steps))
        engine = _pytest(folder, "runbook")
        plain = _pytest(folder, "plain")
    return {
        "steps": n_steps,
        "engine_s": round(engine, 3),
        "plain_s": round(plain, 3),
        "ms_per_step": round((engine - plain) * 1000 / n_steps, 3),
    }


def main(argv: list[str]) -> int:
    sizes = [int(a) for a in argv] or [100, 1000, 2000]
    print("steps   engine s   plain s   engine ms/step (goal <= 5, linear)")
    for n in sizes:
        r = measure(n)
        s, e, p, ms = r["steps"], r["engine_s"], r["plain_s"], r["ms_per_step"]
        print(f"{s:>5}   {e:>8.2f}   {p:>7.2f}   {ms:>6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
