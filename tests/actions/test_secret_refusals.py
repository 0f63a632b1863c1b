"""A configured DB password that cannot be used refuses the run at collection, before any host:
exit status 4 and one line that names the fix, with no ssh started, from the runbook and from the
go/no-go checks alike. And once a password is registered, the checks' outputs never show it.

The runs are real `pytest` subprocesses on the repository's runbook/ and checks/, with a copy of
the lab inventory; `ssh` on their PATH is a tripwire that records any call (none may happen).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from runbooklib.transcript import MIN_SECRET, REDACTED, forms

REPO = Path(__file__).resolve().parents[2]
ENV_NAME = "SMARTSITE_DB_PASSWORD"


@pytest.fixture
def sandbox(tmp_path):
    """A lab inventory whose password file is ours, a reports folder, and an ssh tripwire."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tripwire = tmp_path / "ssh-called"
    ssh = bin_dir / "ssh"
    ssh.write_text(f'#!/bin/sh\necho "$@" >> {tripwire}\nexit 255\n')
    ssh.chmod(0o755)
    password_file = tmp_path / "db_password"
    text = (REPO / "inventories" / "lab.yml").read_text()
    lab_file = "db_password_file: /var/lib/smartsite-lab/secrets/db_password"
    assert lab_file in text, "the lab inventory no longer names its password file"
    inventory = tmp_path / "lab.yml"
    inventory.write_text(text.replace(lab_file, f"db_password_file: {password_file}"))
    env = {k: v for k, v in os.environ.items() if k != ENV_NAME and not k.startswith("PYTEST_")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return {
        "tmp": tmp_path,
        "inventory": inventory,
        "password_file": password_file,
        "reports": tmp_path / "reports",  # whatever the engine records of a refused run
        "tripwire": tripwire,
        "env": env,
    }


def run(sandbox, folder: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    select = ["-k", "upgrade"] if folder == "runbook/" else ["--phase", "preflight"]
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            folder,
            *select,
            "--inventory",
            str(sandbox["inventory"]),
            "--reports",
            str(sandbox["reports"]),
            "--operator",
            "secrets-test",
            *args,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**sandbox["env"], **(env or {})},
        stdin=subprocess.DEVNULL,
    )


SHORT = "x" * (MIN_SECRET - 1)
# (how the password is configured, what the one line must say)
CASES = {
    "file missing": (None, None, "No such file or directory: write the DB password there"),
    "file empty": ("", None, "is empty: write the password"),
    "file too short": (SHORT, None, "too short to redact safely; change it to a longer one"),
    "env empty": ("long-enough-pa55", "", f"${ENV_NAME} is set but empty: unset it or export"),
    "env too short": ("long-enough-pa55", SHORT, "too short to redact safely; change it"),
    "file open to others": ("long-enough-pa55", None, "is open to others (mode 0644): make it "),
}


@pytest.mark.parametrize("folder", ["runbook/", "checks/"])
@pytest.mark.parametrize("case", list(CASES))
def test_an_unusable_password_refuses_the_run_in_one_line(sandbox, folder, case):
    in_file, in_env, fix = CASES[case]
    if in_file is not None:
        sandbox["password_file"].write_text(in_file)
        sandbox["password_file"].chmod(0o644 if case == "file open to others" else 0o600)
    proc = run(sandbox, folder, env=None if in_env is None else {ENV_NAME: in_env})
    assert proc.returncode == 4, proc.stdout[-2000:] + proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("ERROR: ") and fix in lines[0], lines[0]
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "INTERNALERROR" not in proc.stdout + proc.stderr
    assert not sandbox["tripwire"].exists(), "ssh was started: " + sandbox["tripwire"].read_text()


def test_the_checks_reports_and_console_show_no_form_of_the_password(
    pytester, tmp_path, monkeypatch
):
    """A failing go/no-go check whose failure text, output and log records hold the password:
    console (with DEBUG live logs), log file, JUnit XML, report and journal show it nowhere."""
    password = "Sé\\cr\"et'pa55word!"
    pytester.makeini(
        f"""
        [pytest]
        runbook_steps = runbook
        runbook_checks = checks
        runbook_inventory = lab.yml
        runbook_reports = reports
        runbook_locks = reports
        runbook_fallback = fallback
        # The cluster's run lock: a file here, taken through the db host's local connection.
        runbook_lock_file = {pytester.path / "cluster" / "runbook.lock"}
        """
    )
    (pytester.path / "lab.yml").write_text(
        textwrap.dedent(
            """\
            all:
              vars:
                window: {start: "08:00", end: "12:00"}
                db_password_env: CHECKS_TEST_PASSWORD
              children:
                app:
                  hosts:
                    stubing: {ansible_host: 192.0.2.250, head: true}
                db:
                  hosts:
                    caje: {ansible_host: 127.0.0.1, ansible_connection: local}
            """
        )
    )
    checks = pytester.path / "checks"
    checks.mkdir()
    shutil.copy(REPO / "checks" / "conftest.py", checks / "conftest.py")
    (checks / "test_leaky.py").write_text(
        textwrap.dedent(
            """\
            import logging, os, sys
            import pytest

            PASSWORD = os.environ["CHECKS_TEST_PASSWORD"]

            @pytest.mark.after
            def test_config_readable():
                print("stdout:", PASSWORD, repr(PASSWORD), PASSWORD.encode())
                print("stderr:", PASSWORD, file=sys.stderr)
                logging.getLogger("testinfra").debug("RUN %r", PASSWORD)
                logging.getLogger("runbook").warning("read %s", PASSWORD)
                assert PASSWORD == "something else"

            @pytest.mark.after
            def test_config_matches():
                raise RuntimeError(f"url jdbc:mariadb://caje/sakai?password={PASSWORD}")
            """
        )
    )
    log_file = tmp_path / "debug.log"
    monkeypatch.setenv("CHECKS_TEST_PASSWORD", password)
    result = pytester.runpytest_subprocess(
        "checks",
        "-p",
        "no:cacheprovider",
        "--operator",
        "secrets-test",
        "-rA",
        "--log-cli-level=DEBUG",
        f"--log-file={log_file}",
        "--log-file-level=DEBUG",
        "--junitxml",
        str(tmp_path / "junit.xml"),
    )
    console = "\n".join(result.outlines + result.errlines)
    # The checks ran and failed with the password in their failure text: a real test.
    assert "NO-GO" in console, console[-3000:]
    assert REDACTED in console, console[-3000:]
    outputs = {"console": console, "log file": log_file.read_text(errors="replace")}
    assert "DEBUG" in outputs["log file"], "no DEBUG record in the log file"
    outputs["junit"] = (tmp_path / "junit.xml").read_text(errors="replace")
    for path in sorted((pytester.path / "reports").glob("*.*")):
        outputs[path.name] = path.read_text(errors="replace")
    assert any(name.endswith(".jsonl") for name in outputs), sorted(outputs)
    secret_forms = forms(password)
    leaks = {name: sorted(f for f in secret_forms if f in text) for name, text in outputs.items()}
    assert not any(leaks.values()), f"the password leaked: {leaks}"
