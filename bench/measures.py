"""The entries of `python -m bench`, P1..P7, each against its floor or peer.

Each function returns `Entry`s; the lab ones need the lab up and /tmp/lab-dev.lock held (the
harness takes it). Commands the runbook ran are timed from its own journal, so a floor's parts
are measured in the same run as the whole.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from bench.harness import Entry, not_measured
from runbooklib.actions import database, reach, surface, tomcat
from runbooklib.actions.common import app_nodes, in_parallel, q
from runbooklib.inventory import Inventory
from runbooklib.remote import Host

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def clock(fn) -> tuple[float, object]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def median_of(fn, rounds: int) -> float:
    fn()  # warms up; not counted
    return statistics.median(clock(fn)[0] for _ in range(rounds))


def lab(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "-m", "lab", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout
    )


def lab_ok(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """`lab(...)` that must succeed: a failure names the command and the lab's last words."""
    done = lab(*args, timeout=timeout)
    if done.returncode != 0:
        said = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"python -m lab {' '.join(args)} exited {done.returncode}: {said[0]}")
    return done


def pytest_run(args: list[str], reports: Path, timeout: float = 1800) -> dict:
    """A runbook or checks run as the operator starts it; its wall time, exit status, last line
    and journal."""
    reports.mkdir(parents=True, exist_ok=True)
    argv = [
        PYTHON,
        "-m",
        "pytest",
        *args,
        "--reports",
        str(reports),
        "-q",
        "-p",
        "no:cacheprovider",
    ]
    seconds, done = clock(
        lambda: subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    )
    lines = [x for x in done.stdout.splitlines() if x.strip()]
    journals = sorted(reports.glob("*.jsonl"), key=lambda p: p.stat().st_mtime)
    return {
        "seconds": seconds,
        "rc": done.returncode,
        "verdict": next((x for x in reversed(lines) if x.startswith(("GO", "NO-GO"))), ""),
        "last": lines[-1] if lines else "",
        "journal": journals[-1] if journals else None,
    }


def commands(journal: Path | None) -> list[dict]:
    if journal is None:
        return []
    events = (json.loads(line) for line in journal.read_text().splitlines() if line.strip())
    return [e for e in events if e.get("event") == "command" and "duration" in e]


def step_durations(journal: Path | None) -> dict[str, float]:
    if journal is None:
        return {}
    events = (json.loads(line) for line in journal.read_text().splitlines() if line.strip())
    return {e["step"]: e["duration"] for e in events if e.get("event") == "step_end"}


# --- P1 ------------------------------------------------------------------------------------


def p1_command(inv: Inventory, rounds: int) -> Entry:
    """A warm remote command against the same bounded command run inside the host."""
    head = app_nodes(inv)[0]
    n = 50
    warm = median_of(lambda: [head.probe("true") for _ in range(n)], 3) / n
    loop = (
        f"s=$(date +%s%N); for i in $(seq {n}); do timeout --kill-after=5 60 sh -c true "
        "</dev/null; done; echo $(( $(date +%s%N) - s ))"
    )
    inside = statistics.median(
        int(lab("exec", head.name, "--", "bash", "-c", loop).stdout.split()[-1]) / 1e9 / n
        for _ in range(rounds)
    )
    return Entry(
        "P1 remote command, warm (vs inside the host)",
        measured=warm,
        floor=inside,
        goal="<= 0.003 s",
        holds=warm <= 0.003,
        detail={"commands": n, "host": head.name},
    )


def p1_floor(inv: Inventory) -> dict:
    """What no go/no-go can avoid (issue 20): pytest's collection of checks/ (the interpreter
    start included), one parallel round trip to every host, one HTTPS request per node, and one
    targeted nmap from the public vantage host of the declared ports of every node."""
    collect = median_of(
        lambda: subprocess.run(
            [PYTHON, "-m", "pytest", "checks/", "--collect-only", "-q", "-p", "no:cacheprovider"],
            cwd=REPO, capture_output=True, check=True,
        ),
        3,
    )  # fmt: skip
    hosts = [h for g in ("app", "db", "vantage") for h in inv.group(g)]
    trip = median_of(lambda: in_parallel(hosts, lambda h: h.probe("true")), 3)
    nodes = app_nodes(inv)
    ca = inv.vars.get("ca_bundle") or True

    def get(node: Host):
        url = f"https://{node.address}:{node.vars['https_port']}/portal/health"
        return requests.get(url, verify=ca, timeout=10)

    def https():
        with ThreadPoolExecutor(len(nodes)) as pool:
            list(pool.map(get, nodes))

    web = median_of(https, 3)
    public = reach.clients(inv, "allow_8443", on=False)[0]
    ports = set().union(*(surface.declared(n.vars) for n in nodes))
    nmap = median_of(lambda: surface.probe_from(public, nodes, ports), 3)
    return {
        "pytest_collection": collect,
        "round_trip_all_hosts": trip,
        "https_per_node": web,
        "targeted_nmap": nmap,
    }


def p1_go_no_go(inv: Inventory, work: Path, expect: str) -> Entry:
    run = pytest_run(["checks/", "--expect", expect], work / "checks")
    floor = p1_floor(inv)
    total = sum(floor.values())
    return Entry(
        f"P1 go/no-go `pytest checks/` (after {expect})",
        measured=run["seconds"],
        floor=total,
        goal="<= 2x floor",
        holds=run["verdict"].startswith("GO") and run["seconds"] <= 2 * total,
        detail={
            "floor_parts": floor,
            "verdict": run["verdict"],
            "rc": run["rc"],
            "checks": step_durations(run["journal"]),
        },
    )


# --- P3 ------------------------------------------------------------------------------------


def floor_parts(cmds: list[dict], *, copy: str) -> dict:
    """The unavoidable parts of a procedure, from the durations its journal recorded: builds,
    Tomcat starts (startup.sh and the wait for its startup line) and the database copy."""

    def total(test) -> float:
        return sum(c["duration"] for c in cmds if test(c["command"]))

    first_copy = next((c["duration"] for c in cmds if copy in c["command"]), 0.0)
    return {
        "builds": total(lambda c: "ant -noinput" in c),
        "tomcat_starts": total(lambda c: "bin/startup.sh" in c or tomcat.STARTUP_LINE in c),
        "database_copy": first_copy,
    }


def p3_procedures(inv: Inventory, work: Path) -> tuple[Entry, Entry, Entry]:
    """Upgrade, go/no-go after it (P1), fallback: each against its unavoidable parts."""
    base = ["--operator", "bench", "--approve", "all"]
    up = pytest_run(["runbook/", "-k", "upgrade", *base], work / "upgrade")
    go = p1_go_no_go(inv, work, "upgrade")
    down = pytest_run(["runbook/", "-k", "fallback", *base], work / "fallback")
    entries = []
    for name, run, copy in (
        ("P3 upgrade (vs builds + starts + db dump)", up, "mariadb-dump"),
        ("P3 fallback (vs builds + starts + db load)", down, "| mariadb "),
    ):
        parts = floor_parts(commands(run["journal"]), copy=copy)
        floor = sum(parts.values())
        entries.append(
            Entry(
                name,
                measured=run["seconds"],
                floor=floor,
                goal="<= 2x floor",
                holds=run["rc"] == 0 and run["seconds"] <= 2 * floor,
                detail={"floor_parts": parts, "rc": run["rc"], "last": run["last"]},
            )
        )
    return entries[0], go, entries[1]


# --- P4 ------------------------------------------------------------------------------------

EVENTS = """CREATE TABLE IF NOT EXISTS SAKAI_EVENT (
  EVENT_ID BIGINT NOT NULL PRIMARY KEY, EVENT_DATE DATETIME, EVENT VARCHAR(32),
  REF VARCHAR(255), CONTEXT VARCHAR(255), SESSION_ID VARCHAR(163), EVENT_CODE VARCHAR(1),
  KEY IE_SAKAI_EVENT_SESSION_ID (SESSION_ID)) ENGINE=InnoDB"""
# About 200 bytes a row with its index: 5 million rows a GB.
ROWS_PER_GB = 5_000_000
BATCH = 500_000


def load_events(db: Host, gigabytes: float) -> int:
    """Sakai-like event rows (SAKAI_EVENT, the table that grows) generated on the db host."""
    rows = int(gigabytes * ROWS_PER_GB)
    sql = [EVENTS, "TRUNCATE SAKAI_EVENT"]
    for first in range(1, rows + 1, BATCH):
        last = min(first + BATCH - 1, rows)
        sql.append(
            "INSERT INTO SAKAI_EVENT SELECT seq, NOW() - INTERVAL seq SECOND, "
            "ELT(1 + seq % 4, 'content.read', 'site.visit', 'user.login', 'pres.begin'), "
            "CONCAT('/content/group/site-', seq % 5000, '/file-', seq, '.pdf'), "
            "CONCAT('site-', seq % 5000), MD5(seq), ELT(1 + seq % 2, 'r', 'm') "
            f"FROM seq_{first}_to_{last}"
        )
    db.run(
        f"mariadb {q(db.vars['db_name'])}", stdin=(";\n".join(sql) + ";\n").encode(), timeout=7200
    )
    return rows


RAW = """set -e -o pipefail
f={dump}
mariadb-dump --single-transaction --routines --triggers --events --hex-blob {db} | gzip -1 > $f
d=$(mktemp -d)
stop() {{ mariadb-admin --no-defaults --socket=$d/sock shutdown >/dev/null 2>&1 || true; }}
trap 'stop; rm -rf "$d" $f' EXIT
mariadb-install-db --no-defaults --datadir="$d/data" --user=root --skip-test-db >/dev/null 2>&1
mariadbd --no-defaults --datadir="$d/data" --socket="$d/sock" --pid-file="$d/pid" --user=root \\
  --skip-networking >/dev/null 2>&1 &
for i in $(seq 60); do
  mariadb-admin --no-defaults --socket=$d/sock ping >/dev/null 2>&1 && break; sleep 0.5
done
mariadb --no-defaults --socket=$d/sock -e 'CREATE DATABASE scratch'
gunzip -c $f | mariadb --no-defaults --socket=$d/sock scratch
"""


def p4_database(inv: Inventory, gigabytes: float) -> Entry:
    """The runbook's verified backup (dump, then a test restore compared table by table)
    against the same dump and restore typed by hand."""
    db = inv.group("db")[0]
    # Tomcat writes heartbeats: the backup refuses a database that changes under it.
    in_parallel(app_nodes(inv), tomcat.stop)
    loaded, rows = clock(lambda: load_events(db, gigabytes))
    size = database.size_bytes(db)
    raw, _ = clock(
        lambda: db.run(
            "bash",
            stdin=RAW.format(
                dump=f"{db.vars['db_backup_dir']}/bench-raw.sql.gz", db=q(db.vars["db_name"])
            ).encode(),
            timeout=7200,
        )
    )
    runbook, manifest = clock(lambda: database.dump_verified(db, "bench"))
    db.run(f"rm -f {q(manifest['backup'])} {q(manifest['backup'])}.json")
    return Entry(
        f"P4 db backup+verified restore, {size / 1e9:.2f} GB (vs by hand)",
        measured=runbook,
        floor=raw,
        goal="<= 1.2x raw tools",
        holds=runbook <= 1.2 * raw,
        detail={"rows_loaded": rows, "load_seconds": loaded, "database_bytes": size},
    )


# --- P5 ------------------------------------------------------------------------------------


def p5_catalina(inv: Inventory, gigabytes: float, rounds: int) -> Entry:
    """assert_clean_log with `gigabytes` of old log before this start's offset, against none;
    on the head node, in a scratch folder (the real catalina.out is not touched)."""
    head = app_nodes(inv)[0]
    scratch = "/var/tmp/runbook-bench-p5"
    node = Host(
        head.name,
        head.address,
        vars={**head.vars, "tomcat_base": scratch, "catalina_out": f"{scratch}/logs/catalina.out"},
        ssh_config=head.ssh_config,
    )
    start = f"INFO {tomcat.BANNER} Apache Tomcat\\nINFO Server startup in 900 ms\\n"
    old = "2007-08-17 12:00:00 ERROR org.sakaiproject.Old failure of an earlier start"
    size = int(gigabytes * 2**30)

    def prepare(old_bytes: int) -> None:
        node.run(
            f"mkdir -p {scratch}/logs && cd {scratch} && "
            f"yes {q(old)} | head -c {old_bytes} > logs/catalina.out && "
            f"stat -c %s logs/catalina.out > {tomcat.OFFSET_FILE} && "
            f"printf {q(start)} >> logs/catalina.out && sync",
            timeout=600,
        )

    try:
        prepare(0)
        none = median_of(lambda: tomcat.assert_clean_log(node, []), rounds)
        prepare(size)
        big = median_of(lambda: tomcat.assert_clean_log(node, []), rounds)
    finally:
        node.run(f"rm -rf {scratch}")
        node.disconnect()
    return Entry(
        f"P5 catalina.out check, {gigabytes:g} GB old log (vs none)",
        measured=big,
        floor=none,
        goal="added <= 0.050 s",
        holds=big - none <= 0.050,
        detail={"added_seconds": big - none, "old_log_bytes": size},
    )


# --- P6 ------------------------------------------------------------------------------------


def p6_engine() -> list[Entry]:
    """bench/engine_overhead.py: N no-op steps with the engine against N plain tests; the goal is
    at most 5 ms added per step, and linear: the cost per step at 2000 steps not above 1.5x its
    cost at 100 (with 1 ms of slack for noise)."""
    from bench import engine_overhead

    name = "P6 engine overhead per step"
    got = {n: engine_overhead.measure(n) for n in (100, 1000, 2000)}
    added = {n: g["ms_per_step"] for n, g in got.items()}
    linear = added[2000] <= 1.5 * max(added[100], 0) + 1.0
    return [
        Entry(
            f"{name}, {n} steps (vs plain pytest)",
            measured=g["engine_s"] / n,
            floor=g["plain_s"] / n,
            goal="added <= 0.005 s/step, linear",
            holds=added[n] <= 5.0 and linear,
            detail={**g, "linear": linear},
        )
        for n, g in got.items()
    ]


# --- P2 ------------------------------------------------------------------------------------


def p2_supported() -> bool:
    return "--app-nodes" in lab("up", "--help").stdout


def p2_scale(inv_path: str, work: Path, sizes: tuple[int, ...] = (2, 8, 16)) -> list[Entry]:
    """Go/no-go and upgrade with 2, 8 and 16 app nodes; the lab is put back to 2 afterwards. A
    size the lab cannot be built with is named as not measured; the sizes before it still
    count (a lab up that fails at 16 nodes must not lose the figures of 8)."""
    found = {}
    failed: dict[int, str] = {}
    try:
        for nodes in sizes:
            try:
                lab_ok("up", "--app-nodes", str(nodes), timeout=3600)
                lab_ok("reset")
            except RuntimeError as exc:
                failed[nodes] = str(exc)[:200]
                break
            # The lab's own inventory lists all its nodes (inventories/lab.yml only two).
            inventory = ["--inventory", lab("inventory").stdout.strip()]
            up = pytest_run(
                [
                    "runbook/",
                    "-k",
                    "upgrade",
                    "--operator",
                    "bench",
                    "--approve",
                    "all",
                    *inventory,
                ],
                work / f"scale{nodes}-up",
            )
            go = pytest_run(["checks/", *inventory], work / f"scale{nodes}-checks")
            found[nodes] = (go, up)
    finally:
        lab_ok("up", "--app-nodes", "2", timeout=3600)
    if sizes[0] not in found:
        raise RuntimeError(failed.get(sizes[0], f"nothing measured with {sizes[0]} app nodes"))
    base_go, base_up = found[sizes[0]]
    entries = [
        not_measured(f"P2 go/no-go with {nodes} app nodes", why) for nodes, why in failed.items()
    ]
    for nodes in sizes[1:]:
        if nodes not in found:
            continue
        go, up = found[nodes]
        entries.append(
            Entry(
                f"P2 go/no-go with {nodes} app nodes (vs {sizes[0]})",
                measured=go["seconds"],
                floor=base_go["seconds"],
                goal="8 nodes <= 1.3x of 2" if nodes == 8 else "measured",
                # A quick NO-GO proves nothing about speed: only a GO counts.
                holds=(
                    go["verdict"].startswith("GO") and go["seconds"] <= 1.3 * base_go["seconds"]
                    if nodes == 8
                    else None
                ),
                detail={
                    "verdict": go["verdict"],
                    "verdict_2_nodes": base_go["verdict"],
                    "checks": step_durations(go["journal"]),
                    "checks_2_nodes": step_durations(base_go["journal"]),
                },
            )
        )
        entries.append(
            Entry(
                f"P2 upgrade with {nodes} app nodes (vs {sizes[0]})",
                measured=up["seconds"],
                floor=base_up["seconds"],
                goal="grows with batches",
                holds=False if up["rc"] != 0 else None,  # a failed upgrade is no figure
                detail={"rc": up["rc"]},
            )
        )
    return entries


# --- P7 ------------------------------------------------------------------------------------


def one_command(argv: list[str]) -> float:
    """The wall time of one fresh process that runs a command on every host; it must succeed."""
    seconds, done = clock(
        lambda: subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=300)
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv[:4])}... exited {done.returncode}: {done.stdout[-300:]}"
        )
    return seconds


def p7_peer(inv_path: str, rounds: int, command: str = "uname -r") -> list[Entry]:
    """One read-only command on every host of the lab through our transport (a fresh process,
    `forks` 10), side by side with Ansible's `raw` and `command` modules given the same forks."""
    hosts = Inventory.load(inv_path).select("all")
    ours = [PYTHON, "-m", "bench.one_command", inv_path, command]
    ansible = [str(Path(PYTHON).parent / "ansible"), "all", "-i", inv_path, "-f", "10"]
    # Each timed after one warm-up: the ssh masters are up on both sides, as in a window.
    mine = median_of(lambda: one_command(ours), rounds)
    peers = {
        module: median_of(lambda m=module: one_command([*ansible, "-m", m, "-a", command]), rounds)
        for module in ("raw", "command")
    }
    return [
        Entry(
            f"P7 `{command}` on {len(hosts)} hosts (vs ansible -m {module})",
            measured=mine,
            floor=peer,
            goal="beside Ansible: <= 1x",
            holds=mine <= peer,
            detail={"hosts": len(hosts), "forks": 10, "ansible_module": module, "rounds": rounds},
        )
        for module, peer in peers.items()
    ]
