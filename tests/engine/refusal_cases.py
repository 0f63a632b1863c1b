"""Bad inputs an operator can give, and the one line the runbook answers each with.

    python tests/engine/refusal_cases.py --write    # regenerate docs/refusals.md from the cases

Each case breaks one thing in a copy of this project (the inventory, the known issues, an option,
the environment) and runs `pytest runbook/ -k upgrade` on it for real, in a subprocess, with a fake
`ssh` first on PATH that records every call: testinfra's ssh backend runs the `ssh` binary, so a
refusal that came after a connection would show in that record. tests/engine/test_refusals.py
runs every case and fails when docs/refusals.md no longer says what the cases print.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "refusals.md"
# What a copy of the project needs to run the upgrade procedure.
COPIED = ("runbook", "sql", "pytest.ini", "conftest.py")
FAKE_SSH = '#!/bin/sh\necho "ssh $*" >> "$FAKE_SSH_LOG"\nexit 255\n'


def _vars(d: dict) -> dict:
    return d["all"]["vars"]


def _hosts(d: dict, group: str) -> dict:
    return d["all"]["children"][group]["hosts"]


def _set(**values) -> Callable[[dict], None]:
    return lambda d: _vars(d).update(values)


def _host(group: str, name: str, value) -> Callable[[dict], None]:
    return lambda d: _hosts(d, group).__setitem__(name, value)


@dataclass(frozen=True)
class Case:
    id: str
    # What the operator did, as the doc says it.
    what: str
    # Key words the message must hold (the place and the fix).
    expect: tuple[str, ...]
    # Edit of the parsed lab inventory (written back as YAML), or of its text.
    edit: Callable[[dict], None] | None = None
    text: Callable[[str], str] | None = None
    # Edit of runbook/known-issues.yml's text.
    known: Callable[[str], str] | None = None
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)


def _date(text: str) -> str:
    return text.replace("expires: 2027-06-30", "expires: 2027-02-30", 1)


CASES = [
    # The inventory file.
    Case(
        "no-file",
        "`--inventory` names a file that does not exist",
        ("nope.yml", "not found", "--inventory"),
        args=("--inventory", "nope.yml"),
    ),
    Case(
        "yaml-syntax",
        "a YAML syntax error (an unclosed bracket)",
        ("lab.yml:", "not valid YAML", "fix"),
        text=lambda t: t.replace("sql/SAK-878.sql]", "sql/SAK-878.sql", 1),
    ),
    Case("empty-file", "an empty inventory file", ("lab.yml", "`all:`"), text=lambda t: ""),
    Case(
        "top-list",
        "the file is a list, not a mapping",
        ("lab.yml", "`all:`"),
        text=lambda t: "- all\n",
    ),
    Case(
        "vars-list",
        "`all.vars` given as a list",
        ("all.vars", "mapping"),
        edit=lambda d: d["all"].__setitem__("vars", ["tomcat_home"]),
    ),
    Case(
        "group-list",
        "a group given as a list of hosts",
        ("`app`", "mapping"),
        edit=lambda d: d["all"]["children"].__setitem__("app", ["stubing", "walton"]),
    ),
    Case(
        "hosts-list",
        "a group's `hosts` given as a list",
        ("`app`", "hosts", "mapping"),
        edit=lambda d: d["all"]["children"]["app"].__setitem__("hosts", ["stubing", "walton"]),
    ),
    Case(
        "host-string",
        "a host whose value is its address",
        ("walton", "ansible_host"),
        edit=_host("app", "walton", "198.51.100.12"),
    ),
    Case(
        "no-address",
        "a host without `ansible_host`",
        ("walton", "ansible_host"),
        edit=_host("app", "walton", {}),
    ),
    Case(
        "empty-address",
        "a host with an empty `ansible_host`",
        ("walton", "ansible_host"),
        edit=_host("app", "walton", {"ansible_host": ""}),
    ),
    Case(
        "bad-address",
        "an address that is neither an IP address nor a host name",
        ("walton", "198.51.100.312"),
        edit=_host("app", "walton", {"ansible_host": "198.51.100.312"}),
    ),
    Case(
        "same-address",
        "two hosts with one address",
        ("walton", "stubing", "198.51.100.11"),
        edit=_host("app", "walton", {"ansible_host": "198.51.100.11"}),
    ),
    Case(
        "two-roles",
        "one host in two roles (app and db)",
        ("caje", "`app`", "`db`"),
        edit=lambda d: _hosts(d, "app").__setitem__("caje", {"ansible_host": "198.51.100.21"}),
    ),
    Case(
        "window-malformed",
        "the window's start not in HH:MM form",
        ("window.start", "HH:MM"),
        edit=_set(window={"start": "8am", "end": "12:00"}),
    ),
    Case(
        "window-unquoted",
        "the window's end written 12:00 without quotes (YAML reads 720)",
        ("window.end", "quote"),
        text=lambda t: t.replace('end: "12:00"', "end: 12:00"),
    ),
    Case(
        "window-backwards",
        "the window ends before it starts",
        ("window", "end", "after"),
        edit=_set(window={"start": "08:00", "end": "07:00"}),
    ),
    Case(
        "window-string",
        "the window given as one string",
        ("window", "start", "end"),
        edit=_set(window="08:00-12:00"),
    ),
    # What the upgrade needs from the inventory.
    Case(
        "missing-var",
        "a required variable missing",
        ("release_tag", "all.vars"),
        edit=lambda d: _vars(d).pop("release_tag"),
    ),
    Case("empty-tag", "the release tag left empty", ("release_tag",), edit=_set(release_tag="")),
    Case(
        "serial-zero",
        "a rolling batch of no nodes (`serial: 0`)",
        ("serial", "0", "1 or more"),
        edit=_set(serial=0),
    ),
    Case(
        "port-text",
        "a port that is not a number",
        ("ssh_port", "22a", "number"),
        edit=_set(ssh_port="22a"),
    ),
    Case(
        "port-range",
        "a port out of range",
        ("https_port", "70000", "1 to 65535"),
        edit=_set(https_port=70000),
    ),
    Case(
        "port-collision",
        "two services on one port",
        ("ssh_port", "collides"),
        edit=_set(ssh_port=8443),
    ),
    Case(
        "no-app",
        "no host in `app`",
        ("`app`", "no host"),
        edit=lambda d: d["all"]["children"]["app"].__setitem__("hosts", {}),
    ),
    Case(
        "no-head",
        "no host marked `head: true`",
        ("head: true",),
        edit=lambda d: _hosts(d, "app")["stubing"].pop("head"),
    ),
    Case(
        "two-heads",
        "`head: true` on two hosts",
        ("head: true", "walton"),
        edit=lambda d: _hosts(d, "app")["walton"].__setitem__("head", True),
    ),
    Case(
        "no-db",
        "no host in `db`",
        ("`db`", "no host"),
        edit=lambda d: d["all"]["children"]["db"].__setitem__("hosts", {}),
    ),
    Case(
        "no-public",
        "no vantage host off the allow-lists",
        ("`outsiders`",),
        edit=lambda d: d["all"]["children"]["vantage"]["children"]["outsiders"].__setitem__(
            "hosts", {}
        ),
    ),
    Case(
        "allow-no-address",
        "an allow-list entry without its address",
        ("allow_8443[1]", "address"),
        edit=lambda d: _vars(d)["allow_8443"][1].pop("address"),
    ),
    Case(
        "allow-string",
        "an allow-list given as one string",
        ("allow_9000", "list"),
        edit=_set(allow_9000="198.51.100.1"),
    ),
    Case(
        "allow-bad-address",
        "an allow-list address that is not an address",
        ("allow_8443[2]", "198.51.100.520"),
        edit=lambda d: _vars(d)["allow_8443"][2].update(address="198.51.100.520"),
    ),
    Case(
        "allow-covers-public",
        "an allow-list network that contains the public vantage host",
        ("public", "allow_8443"),
        edit=lambda d: _vars(d)["allow_8443"].append({"address": "198.51.100.0/24", "name": "lab"}),
    ),
    Case(
        "sql-string",
        "sql_scripts given as one string",
        ("sql_scripts", "list"),
        edit=_set(sql_scripts="sql/SAK-869.sql"),
    ),
    Case(
        "sql-missing",
        "an SQL script that does not exist",
        ("sql_scripts", "SAK-999.sql"),
        edit=_set(sql_scripts=["sql/SAK-869.sql", "sql/SAK-878.sql", "sql/SAK-999.sql"]),
    ),
    Case(
        "sql-twice",
        "an SQL script listed twice",
        ("sql_scripts", "SAK-869.sql", "twice"),
        edit=_set(sql_scripts=["sql/SAK-869.sql", "sql/SAK-869.sql", "sql/SAK-878.sql"]),
    ),
    Case(
        "sql-order",
        "the SQL scripts out of the seed's order",
        ("sql_scripts", "SAK-869", "SAK-878"),
        edit=_set(sql_scripts=["sql/SAK-878.sql", "sql/SAK-869.sql"]),
    ),
    Case(
        "sql-traversal",
        "an SQL script outside sql/ (`..`)",
        ("sql_scripts", "sql/"),
        edit=_set(sql_scripts=["sql/SAK-869.sql", "sql/../pytest.ini"]),
    ),
    Case(
        "sql-absolute",
        "an SQL script given as an absolute path",
        ("sql_scripts", "/etc/passwd", "sql/"),
        edit=_set(sql_scripts=["sql/SAK-869.sql", "sql/SAK-878.sql", "/etc/passwd"]),
    ),
    Case(
        "mail-string",
        "the mail settings given as one address",
        ("mail", "smtp_host"),
        edit=_set(mail="joncarlo@smartsite.lab"),
    ),
    Case(
        "step-group",
        "a group a step acts on missing (`mailhost`, for u16)",
        ("mailhost", "u16"),
        edit=lambda d: d["all"]["children"].pop("mailhost"),
    ),
    # The known-issues file.
    Case(
        "known-date",
        "an impossible date in known-issues.yml",
        ("known-issues.yml", "2027-02-30", "YYYY-MM-DD"),
        known=_date,
    ),
    Case(
        "known-expired",
        "an expired known issue",
        ("known-issues.yml", "expired", "renew or delete"),
        known=lambda t: t.replace("expires: 2027-06-30", "expires: 2007-08-18", 1),
    ),
    Case(
        "known-syntax",
        "a YAML syntax error in known-issues.yml",
        ("known-issues.yml", "YAML"),
        known=lambda t: t + "- id: [unclosed\n",
    ),
    Case(
        "known-regex",
        "a pattern that does not compile",
        ("known-issues.yml", "pattern"),
        known=lambda t: t.replace(
            "pattern: '^ERROR: Unsuccessful", "pattern: '(^ERROR: Unsuccessful", 1
        ),
    ),
    Case(
        "known-host",
        "a known issue for a host the inventory does not have (a typo)",
        ("known-issues.yml", "stubbing", "head, app"),
        known=lambda t: t.replace("hosts: head", "hosts: stubbing", 1),
    ),
    # Options and the environment.
    Case(
        "approve-action",
        "`--approve` naming a step that is not manual",
        ("--approve", "u05", "u15"),
        args=("--operator", "jon", "--approve", "u05"),
    ),
    Case(
        "approve-unknown",
        "`--approve` naming no step",
        ("--approve", "u99", "u15"),
        args=("--operator", "jon", "--approve", "u99"),
    ),
    Case(
        "approve-no-operator",
        "`--approve` without `--operator`",
        ("--operator",),
        args=("--approve", "u15"),
    ),
    Case(
        "operator-blank", "a blank operator name", ("--operator", "name"), args=("--operator", "  ")
    ),
    Case(
        "window-start",
        "a bad `--window-start`",
        ("--window-start", "25:00", "HH:MM"),
        args=("--window-start", "25:00"),
    ),
    Case(
        "reports-unwritable",
        "`--reports` where nothing can be written",
        ("--reports", "lab.yml", "writable"),
        args=("--reports", "lab.yml/reports"),
    ),
    Case(
        "lab-subnet",
        "a bad LAB_SUBNET",
        ("LAB_SUBNET", "198.51.100.0/33"),
        env={"LAB_SUBNET": "198.51.100.0/33"},
    ),
    # Issue 17 (engineer "lock"): a production inventory must pin its hosts' keys.
    Case(
        "production-unpinned",
        "a production inventory that names no known hosts file",
        ("production", "not pinned", "stubing", "-o UserKnownHostsFile=PATH"),
        edit=_set(production=True),
        args=("--confirm-target", "lab"),
    ),
    Case(
        "production-known-hosts-missing",
        "a production inventory whose known hosts file does not exist",
        ("production", "not pinned", "/nonexistent/known_hosts", "does not exist"),
        edit=_set(
            production=True,
            ansible_ssh_common_args="-F /var/lib/smartsite-lab/ssh/config "
            "-o UserKnownHostsFile=/nonexistent/known_hosts",
        ),
        args=("--confirm-target", "lab"),
    ),
]


@dataclass
class Outcome:
    rc: int
    stdout: str
    stderr: str
    # Every ssh command line the run started (the fake ssh's record).
    ssh: list[str]

    @property
    def errors(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


def make_project(path: Path) -> Path:
    """A copy of the project's procedures, with the lab inventory and a fake ssh."""
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, path / name)
    shutil.copy(ROOT / "inventories" / "lab.yml", path / "lab.yml")
    (path / "bin").mkdir()
    (path / "bin" / "ssh").write_text(FAKE_SSH)
    (path / "bin" / "ssh").chmod(0o755)
    return path


def prepare(case: Case, project: Path) -> tuple[list[str], dict[str, str | None]]:
    """Break what the case breaks in `project`; the pytest arguments and the environment (None:
    unset) to run it with."""
    inventory = project / "lab.yml"
    original = (ROOT / "inventories" / "lab.yml").read_text()
    if case.edit:
        data = yaml.safe_load(original)
        case.edit(data)
        inventory.write_text(yaml.safe_dump(data, sort_keys=False))
    else:
        inventory.write_text(case.text(original) if case.text else original)
    known = (ROOT / "runbook" / "known-issues.yml").read_text()
    (project / "runbook" / "known-issues.yml").write_text(
        case.known(known) if case.known else known
    )
    (project / "ssh.log").unlink(missing_ok=True)
    env: dict[str, str | None] = {"LAB_SUBNET": None, "PYTEST_ADDOPTS": None, **case.env}
    env["FAKE_SSH_LOG"] = str(project / "ssh.log")
    env["PATH"] = f"{project / 'bin'}{os.pathsep}{os.environ['PATH']}"
    chosen = case.args if "--inventory" in case.args else ("--inventory", "lab.yml", *case.args)
    args = ["runbook", "-k", "upgrade", "-p", "no:cacheprovider", "--reports", "reports"]
    return [*args, *chosen], env


def ssh_calls(project: Path) -> list[str]:
    """The ssh command lines the run started (the fake ssh's record)."""
    log = project / "ssh.log"
    return log.read_text().splitlines() if log.exists() else []


def shown(text: str, project: Path) -> str:
    """Paths as the operator in the project's folder would see them."""
    return text.replace(str(project) + os.sep, "")


def run(case: Case, project: Path) -> Outcome:
    """The case, run in a subprocess of pytest in `project`."""
    args, changes = prepare(case, project)
    env = {k: v for k, v in {**os.environ, **changes}.items() if v is not None}
    out = subprocess.run(
        [sys.executable, "-m", "pytest", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return Outcome(out.returncode, out.stdout, shown(out.stderr, project), ssh_calls(project))


HEADER = """\
# What is refused, and why

Generated by `python tests/engine/refusal_cases.py --write` from the cases that
`tests/engine/test_refusals.py` runs (and that fails when this page no longer says what they
print). Each case is a copy of this project with one thing broken, run as
`pytest runbook/ -k upgrade --inventory lab.yml`. Each is refused before any host is contacted
(the test puts a fake `ssh` first on PATH and proves it was never started), with exit status 4
(pytest's usage error) and exactly this one line on stderr, no traceback.

Why refuse rather than start: a run on bad input stops halfway through the window (the site
closed, the database half upgraded) or acts on the wrong host; a line that names the file, the
place and the fix costs the operator a minute before the window opens.

| case | the operator gave | the runbook says |
| --- | --- | --- |
"""


def row(case: Case, message: str) -> str:
    escaped = message.replace("|", "\\|")  # a | would end the table's cell
    # A double-backtick code span, since the messages themselves quote with backticks.
    return f"| {case.id} | {case.what} | `` {escaped} `` |"


def table(messages: dict[str, str]) -> str:
    """docs/refusals.md: every case and the exact line it gets."""
    return HEADER + "".join(row(case, messages[case.id]) + "\n" for case in CASES)


def message(line: str) -> str:
    """The message of pytest's usage error line."""
    return line.removeprefix("ERROR: ")


def main(argv: list[str]) -> int:
    import tempfile

    messages = {}
    for case in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            outcome = run(case, make_project(Path(tmp)))
        line = outcome.errors[0] if outcome.errors else f"(accepted, exit {outcome.rc})"
        messages[case.id] = message(line)
        print(f"{case.id}: exit {outcome.rc}, {len(outcome.ssh)} ssh, {line}")
    if "--write" in argv:
        DOC.parent.mkdir(exist_ok=True)
        DOC.write_text(table(messages))
        print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
