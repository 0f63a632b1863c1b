"""`python -m runbooklib.mark_applied` goes through the start sequence of every procedure.

The lab inventory is copied with its db host (caje) on Ansible's `local` connection, so the
cluster lock's shell and the step's `mariadb` run on this machine; the `mariadb` first on PATH is
a fake that records its calls and answers with an empty schema, so the script is found not
finished and nothing is marked. What is proven: the lock is taken (a held one refuses), a
production inventory needs its confirmation, and a journal and a record are left.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from runbook_project import NOTE, free, wait_until

ROOT = Path(__file__).resolve().parents[2]
FAKE_MARIADB = '#!/bin/sh\necho "mariadb $*" >> "$FAKE_MARIADB_LOG"\n'


@pytest.fixture
def project(tmp_path: Path) -> Path:
    data = yaml.safe_load((ROOT / "inventories" / "lab.yml").read_text())
    data["all"]["children"]["db"]["hosts"]["caje"] = {
        "ansible_host": "127.0.0.1",
        "ansible_connection": "local",
    }
    (tmp_path / "lab.yml").write_text(yaml.safe_dump(data, sort_keys=False))
    data["all"]["vars"]["production"] = True
    # Production pins its host keys (the lab's ssh config, plus the known hosts checked).
    (tmp_path / "known_hosts").write_text("")
    data["all"]["vars"]["ansible_ssh_common_args"] += (
        f" -o UserKnownHostsFile={tmp_path}/known_hosts"
    )
    (tmp_path / "prod.yml").write_text(yaml.safe_dump(data, sort_keys=False))
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "mariadb").write_text(FAKE_MARIADB)
    (tmp_path / "bin" / "mariadb").chmod(0o755)
    return tmp_path


def mark(project: Path, *args: str, inventory: str = "lab.yml") -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PATH": f"{project / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "FAKE_MARIADB_LOG": str(project / "mariadb.log"),
        "SMARTSITE_DB_PASSWORD": "a-password-long-enough-to-redact",
    }
    env.pop("PYTEST_ADDOPTS", None)
    command = [sys.executable, "-m", "runbooklib.mark_applied", "SAK-869.sql"]
    command += ["--inventory", inventory, "--reports", "reports", "-p", "no:cacheprovider"]
    command += ["-o", f"runbook_lock_file={lock(project)}", *args]
    return subprocess.run(
        command, cwd=project, env=env, capture_output=True, text=True, timeout=120
    )


def lock(project: Path) -> Path:
    return project / "cluster" / "runbook.lock"


def mariadb_calls(project: Path) -> list[str]:
    log = project / "mariadb.log"
    return log.read_text().splitlines() if log.exists() else []


def errors(out: subprocess.CompletedProcess) -> list[str]:
    return [line for line in out.stderr.splitlines() if line.strip()]


def test_it_takes_the_lock_and_leaves_a_journal_and_a_record(project):
    out = mark(project, "--operator", "jon")

    assert out.returncode == pytest.ExitCode.TESTS_FAILED, out.stdout + out.stderr
    assert "SAK-869.sql is not finished: the schema lacks" in out.stdout
    assert mariadb_calls(project), "the step never asked the database"
    (journal,) = (project / "reports").glob("*-mark_applied-lab.jsonl")
    events = [json.loads(line) for line in journal.read_text().splitlines()]
    assert any(e.get("operator") == "jon" for e in events), events[:2]
    assert any("m01" in json.dumps(e) for e in events)
    assert list((project / "reports").glob("*-mark_applied-lab.html"))
    assert free(lock(project))  # released at the end


def test_it_is_refused_while_another_run_holds_the_lock(project):
    lock(project).parent.mkdir(mode=0o700)
    lock(project).write_text(json.dumps(NOTE) + "\n")
    # A live holder's fresh heartbeat (engine/lock.py): its lock is never taken over.
    lock(project).with_name("runbook.lock.beat").write_text(f"{int(time.time())}\n")
    holder = subprocess.Popen(["flock", str(lock(project)), "sleep", "120"])
    try:
        assert wait_until(lambda: not free(lock(project)))
        out = mark(project, "--operator", "jon")
    finally:
        holder.kill()
        holder.wait()

    assert out.returncode == pytest.ExitCode.USAGE_ERROR
    assert len(errors(out)) == 1 and "is in use by thomas" in errors(out)[0], out.stderr
    assert mariadb_calls(project) == []
    assert not (project / "reports").exists()


def test_production_is_refused_without_its_confirmation(project):
    out = mark(project, "--operator", "jon", inventory="prod.yml")

    assert out.returncode == pytest.ExitCode.USAGE_ERROR
    assert errors(out) == [
        "ERROR: inventory prod is production and was not confirmed: give --confirm-target prod"
    ]
    assert mariadb_calls(project) == [] and not lock(project).exists()
    assert not (project / "reports").exists()


def test_production_confirmed_goes_on_to_the_lock_and_the_step(project):
    out = mark(project, "--operator", "jon", "--confirm-target", "prod", inventory="prod.yml")

    assert out.returncode == pytest.ExitCode.TESTS_FAILED, out.stdout + out.stderr
    assert mariadb_calls(project)
    assert list((project / "reports").glob("*-mark_applied-prod.jsonl"))


@pytest.mark.parametrize(
    "argv, message",
    [
        (["SAK-999.sql"], "SAK-999.sql is not in sql_scripts of inventory"),
        (["x;id.sql"], "'x;id.sql' is not a script's file name"),
        (["--inventory", "lab.yml"], "name the script first"),
    ],
)
def test_a_bad_script_is_refused_in_one_line_before_any_host(project, argv, message):
    env = {**os.environ, "SMARTSITE_DB_PASSWORD": "a-password-long-enough-to-redact"}
    command = [sys.executable, "-m", "runbooklib.mark_applied", *argv]
    command += (
        ["--reports", "reports", "-p", "no:cacheprovider"] if argv[0] == "SAK-999.sql" else []
    )
    out = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=60)

    assert out.returncode == pytest.ExitCode.USAGE_ERROR
    assert len(errors(out)) == 1 and message in errors(out)[0], out.stderr
    assert "Traceback" not in out.stderr
    assert not (project / "reports").exists()
