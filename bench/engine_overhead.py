"""P6: the step engine's own cost per step, against plain pytest running the same no-op tests.

    python -m bench.engine_overhead 100 1000 2000

For each N, a throwaway project in a temporary folder holds N no-op steps (one procedure, plan
times spread over the window, the run lock on this machine) and the same N tests without the
engine; both are run by `pytest` in a fresh interpreter, and the difference divided by N is the
engine's cost per step: wall time, and CPU time (user + system of the pytest process), which a
busy machine disturbs less. Each is the best of `rounds` runs. Needs no lab: the lock's host is
this machine (`local` connection).
"""

from __future__ import annotations

import os
import resource
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


def _cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _pytest(folder: Path, *args: str) -> tuple[float, float]:
    """Wall and CPU seconds of one `pytest` in a fresh interpreter; raises if it did not pass."""
    cpu = _cpu_of_children()
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=1200,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    elapsed, cpu = time.perf_counter() - start, _cpu_of_children() - cpu
    if done.returncode != 0:
        raise RuntimeError(
            f"pytest {' '.join(args)} in {folder}: exit {done.returncode}\n"
            f"{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    return elapsed, cpu


def measure(n_steps: int, rounds: int = 3) -> dict:
    """Seconds (wall and CPU, best of `rounds`) of N no-op steps with the engine and of N plain
    tests without it, and the engine's cost per step in milliseconds."""
    with tempfile.TemporaryDirectory(prefix="engine-overhead-") as tmp:
        folder = Path(tmp)
        (folder / "pytest.ini").write_text(INI.format(lock=folder / "runbook.lock"))
        (folder / "lab.yml").write_text(INVENTORY)
        (folder / "runbook").mkdir()
        (folder / "runbook" / "test_upgrade.py").write_text(_steps(n_steps))
        (folder / "plain").mkdir()
        (folder / "plain" / "test_plain.py").write_text(_plain(n_steps))
        engine = [_pytest(folder, "runbook") for _ in range(rounds)]
        plain = [_pytest(folder, "plain") for _ in range(rounds)]
    wall, cpu = min(w for w, _ in engine), min(c for _, c in engine)
    plain_wall, plain_cpu = min(w for w, _ in plain), min(c for _, c in plain)
    return {
        "steps": n_steps,
        "engine_s": round(wall, 3),
        "plain_s": round(plain_wall, 3),
        "ms_per_step": round((wall - plain_wall) * 1000 / n_steps, 3),
        "engine_cpu_s": round(cpu, 3),
        "plain_cpu_s": round(plain_cpu, 3),
        "ms_per_step_cpu": round((cpu - plain_cpu) * 1000 / n_steps, 3),
    }


def main(argv: list[str]) -> int:
    sizes = [int(a) for a in argv] or [100, 1000, 2000]
    print("steps  engine s  plain s  ms/step | engine cpu s  plain cpu s  cpu ms/step  (goal <= 5)")
    for n in sizes:
        r = measure(n)
        print(
            f"{r['steps']:>5}  {r['engine_s']:>8.2f}  {r['plain_s']:>7.2f}  "
            f"{r['ms_per_step']:>7.2f} | {r['engine_cpu_s']:>12.2f}  {r['plain_cpu_s']:>11.2f}  "
            f"{r['ms_per_step_cpu']:>11.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
