"""The run lock lives on the cluster (caje), held by the run's own ssh session; and -n is refused.

It lives in a root-owned 0700 folder: a local user of caje (`nobody`) can neither take, remove,
read nor pre-create it, and the old path in /run/lock (1777) that they may hold blocks no one. A
holder killed, or cut off by its link going down, frees it within 30 s.

A second checkout is a second `--reports` folder: the lock is in neither. The first run is a tiny
procedure against the lab inventory whose one step waits for a file, so it holds the lock for as
long as the test needs, without changing the lab; the second is the real upgrade, refused before
its first step.
"""

from __future__ import annotations

import configparser
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INI = configparser.ConfigParser(interpolation=None)
INI.read(REPO / "pytest.ini")
LOCK = INI["pytest"]["runbook_lock_file"]
FOLDER = LOCK.rsplit("/", 1)[0]
OLD_LOCK = "/run/lock/smartsite-runbook.lock"  # before issue 17: in a folder open to all

HOLD = '''
import os
import time
from pathlib import Path

from runbooklib.engine import step


@step("h01", at="08:00", owner="e2e")
def test_h01_hold(inventory):
    """Hold the run, and so its lock, until told to go on (at most two minutes)."""
    Path("started").write_text("")
    deadline = time.monotonic() + 120
    while os.environ.get("HOLD") and not Path("go-on").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
'''

pytestmark = pytest.mark.lab


@pytest.fixture
def holder_project(tmp_path, lab) -> Path:
    """A checkout-like folder with one step, against the lab's inventory and the real lock."""
    folder = tmp_path / "hold"
    (folder / "runbook").mkdir(parents=True)
    (folder / "runbook" / "test_hold.py").write_text(HOLD)
    (folder / "pytest.ini").write_text(
        "[pytest]\n"
        "runbook_steps = runbook\n"
        f"runbook_inventory = {lab.inventory}\n"
        f"runbook_lock_host = {INI['pytest']['runbook_lock_host']}\n"
        f"runbook_lock_file = {LOCK}\n"
    )
    return folder


def _run(cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_a_second_run_is_refused_naming_the_holder_and_takes_over_once_it_is_killed(
    lab, holder_project, tmp_path
):
    first_reports, second_reports = tmp_path / "first", tmp_path / "second"
    first = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "runbook"]
        + ["--operator", "thomas", "--reports", str(first_reports)],
        cwd=holder_project,
        env={**os.environ, "HOLD": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(600):
            if (holder_project / "started").exists() or first.poll() is not None:
                break
            time.sleep(0.1)
        assert (holder_project / "started").exists(), "the first run never reached its step"

        # The note is on caje, for anyone to read; the flock is held there.
        note = json.loads(lab.ssh("caje", f"cat {LOCK}").stdout)
        assert note["pid"] == first.pid and note["operator"] == "thomas"
        assert lab.ssh("caje", f"flock -n {LOCK} true").returncode == 1

        # The real upgrade, from another checkout: refused before its first step, in one line.
        refused = _run(
            REPO,
            *("runbook/", "-k", "upgrade", "--operator", "sandra", "--approve", "all"),
            *("--reports", str(second_reports)),
        )
        assert refused.returncode == pytest.ExitCode.USAGE_ERROR, refused.stdout[-2000:]
        errors = [line for line in refused.stderr.splitlines() if line.strip()]
        assert len(errors) == 1, errors
        assert errors[0].startswith("ERROR: the cluster of inventory lab is in use by thomas ")
        assert f"pid {first.pid}, reports {first_reports}" in errors[0]
        assert f"lock caje:{LOCK}" in errors[0]
        assert not second_reports.exists()
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)

    # Killed: its session ends, the kernel on caje drops the flock; the next run takes it at once.
    killed = time.monotonic()
    taken = _run(
        holder_project, "runbook", "--operator", "sandra", "--reports", str(second_reports)
    )
    assert taken.returncode == 0, taken.stdout[-2000:] + taken.stderr[-2000:]
    assert time.monotonic() - killed < 30
    assert lab.ssh("caje", f"cat {LOCK}").stdout == ""  # released with its note at the end
    assert lab.ssh("caje", f"flock -n {LOCK} true").returncode == 0


def test_xdist_on_the_upgrade_is_refused_and_the_cluster_is_unchanged(lab, tmp_path):
    def rules() -> dict[str, str]:
        return {
            h: lab.exec(h, "iptables -S; iptables -t nat -S").stdout for h in ("stubing", "walton")
        }

    before = rules()

    result = _run(REPO, "runbook/", "-k", "upgrade", "-n", "1", "--reports", str(tmp_path / "r"))

    assert result.returncode == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.strip().splitlines() == [
        "ERROR: -n 1: the procedures and the go/no-go checks never run under pytest-xdist (its "
        "workers would skip the lock, journal, approvals and record): run without -n 1"
    ]
    assert rules() == before
    assert not (tmp_path / "r").exists()
    assert lab.ssh("caje", f"flock -n {LOCK} true").returncode == 0


def _start_holder(holder_project: Path, reports: Path) -> subprocess.Popen:
    """A run that holds the lock in its one step (until `go-on`, at most two minutes)."""
    first = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "runbook"]
        + ["--operator", "thomas", "--reports", str(reports)],
        cwd=holder_project,
        env={**os.environ, "HOLD": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    for _ in range(600):
        if (holder_project / "started").exists() or first.poll() is not None:
            break
        time.sleep(0.1)
    assert (holder_project / "started").exists(), "the first run never reached its step"
    return first


def _as_nobody(lab, script: str) -> subprocess.CompletedProcess:
    return lab.exec("caje", f"runuser -u nobody -- sh -c {shlex.quote(script)}", check=False)


def _free_on_caje(lab) -> bool:
    # Inside caje's namespace, not over its link: this works while the link is down.
    return lab.exec("caje", f"flock -n {LOCK} true", check=False).returncode == 0


def test_a_local_user_can_neither_take_nor_remove_nor_read_the_lock(lab, holder_project, tmp_path):
    first = _start_holder(holder_project, tmp_path / "first")
    try:
        for script in (
            f"flock -n {LOCK} true",
            f"rm -f {LOCK}",
            f"cat {LOCK}",
            f"touch {FOLDER}/other",
            f"mv {FOLDER} /run/taken",
        ):
            refused = _as_nobody(lab, script)
            assert refused.returncode != 0, f"nobody could `{script}`"
            assert "ermission denied" in refused.stderr, refused.stderr
        assert not _free_on_caje(lab)
        assert json.loads(lab.exec("caje", f"cat {LOCK}").stdout)["pid"] == first.pid
        mode = lab.exec("caje", f"stat -c '%U %a %F' {FOLDER} {LOCK}").stdout.splitlines()
        assert mode == ["root 700 directory", "root 600 regular file"]
    finally:
        first.kill()
        first.wait(timeout=30)


def test_the_old_lock_path_held_by_a_local_user_blocks_no_one(lab, holder_project, tmp_path):
    # Debian's /run/lock (1777: anyone may make the old lock file there); a fresh lab host has none.
    lab.exec("caje", f"mkdir -p -m 1777 /run/lock && chmod 1777 /run/lock; rm -f {OLD_LOCK}")
    assert _as_nobody(lab, f"touch {OLD_LOCK}").returncode == 0  # nobody's own file
    # nobody's own flock on the old path, in a process that is the shell's last exec: $! is it.
    squatter = lab.exec(
        "caje",
        "runuser -u nobody -- sh -c "
        + shlex.quote(f"exec 9>>{OLD_LOCK}; flock 9; exec sleep 120")
        + " >/dev/null 2>&1 & echo $!",
    ).stdout.strip()
    try:
        for _ in range(50):  # until the squatter holds it
            if lab.exec("caje", f"flock -n {OLD_LOCK} true", check=False).returncode == 1:
                break
            time.sleep(0.1)
        assert lab.exec("caje", f"flock -n {OLD_LOCK} true", check=False).returncode == 1
        run = _run(holder_project, "runbook", "--reports", str(tmp_path / "r"))
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    finally:
        lab.exec("caje", f"kill {squatter}; rm -f {OLD_LOCK}", check=False)


def test_a_lock_folder_made_by_someone_else_is_refused_naming_it_and_the_fix(
    lab, holder_project, tmp_path
):
    assert _as_nobody(lab, f"mkdir -m 777 {FOLDER}-nobody").returncode != 0  # /run is root's
    # A host where the folder is someone else's all the same (made before, by another tool).
    lab.exec("caje", f"rm -rf {FOLDER} && mkdir -m 777 {FOLDER} && chown nobody {FOLDER}")
    try:
        refused = _run(holder_project, "runbook", "--reports", str(tmp_path / "r"))
        assert refused.returncode == pytest.ExitCode.USAGE_ERROR, refused.stdout[-2000:]
        assert [line for line in refused.stderr.splitlines() if line.strip()] == [
            f"ERROR: the run lock's folder caje:{FOLDER} is not root's own private folder (nobody "
            f"777 directory): someone else may have made it; remove it as root on caje (rm -rf "
            f"{FOLDER}) and run again"
        ]
        assert lab.exec("caje", f"ls -A {FOLDER}").stdout == ""  # nothing written into it
        assert not (tmp_path / "r").exists()
    finally:
        lab.exec("caje", f"rm -rf {FOLDER}")

    taken = _run(holder_project, "runbook", "--reports", str(tmp_path / "r"))
    assert taken.returncode == 0, taken.stdout[-2000:] + taken.stderr[-2000:]
    assert lab.exec("caje", f"stat -c '%U %a' {FOLDER}").stdout.strip() == "root 700"


def test_a_holder_cut_off_by_its_link_frees_the_lock_within_30_s(lab, holder_project, tmp_path):
    first = _start_holder(holder_project, tmp_path / "first")
    link = "smv-caje"  # the root-side end of caje's link to the lab bridge (lab/config.py)
    cut = time.monotonic()
    subprocess.run(["ip", "link", "set", link, "down"], check=True)
    try:
        while not _free_on_caje(lab) and time.monotonic() - cut < 40:
            time.sleep(0.5)
        freed = time.monotonic() - cut
        assert freed < 30, f"the lock stayed {freed:.0f} s after the link went down"
        out, _ = first.communicate(timeout=30)  # the holder halts by itself, naming the lock
        halted = time.monotonic() - cut
    finally:
        subprocess.run(["ip", "link", "set", link, "up"], check=True)
        first.kill()
        first.wait(timeout=30)
    assert f"lost the cluster lock caje:{LOCK}" in out and "HALTED after h01" in out, out[-3000:]
    assert first.returncode != 0 and halted < 40

    back = time.monotonic()  # a new run gets going once the host is back
    # The app nodes reach the database again too (the module's lab reset restarts Tomcat).
    reach = "timeout 2 bash -c '</dev/tcp/caje/3306'"
    while lab.exec("stubing", reach, check=False).returncode and time.monotonic() - back < 30:
        time.sleep(0.5)
    taken = _run(holder_project, "runbook", "--reports", str(tmp_path / "second"))
    assert taken.returncode == 0, taken.stdout[-2000:] + taken.stderr[-2000:]
    assert time.monotonic() - back < 60
