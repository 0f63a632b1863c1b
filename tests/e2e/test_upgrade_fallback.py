"""The whole window against the lab, for real, proven from outside (issue 4, "Done when").

One module, run in order: reset; the upgrade up to u03 and the window seen from the clients;
the rest of the upgrade and the result seen from outside; a second run that changes nothing;
each go/no-go check broken and named; the fallback and everything restored.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from runbooklib.actions import release, tomcat
from runbooklib.inventory import Inventory

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


@dataclass
class Run:
    rc: int
    out: str
    reports: Path

    def journal(self) -> list[dict]:
        files = sorted(self.reports.glob("*.jsonl"), key=lambda p: p.stat().st_mtime)
        assert files, f"no journal under {self.reports}:\n{self.out[-3000:]}"
        return [json.loads(line) for line in files[-1].read_text().splitlines() if line.strip()]

    def artifacts(self, kind: str) -> list[dict]:
        return [e for e in self.journal() if e.get("event") == "artifact" and e.get("kind") == kind]

    def changed_commands(self) -> list[dict]:
        """Commands that changed a host (not a dry run)."""
        return [
            e
            for e in self.journal()
            if e.get("event") == "command" and e.get("changes") and not e.get("dry_run")
        ]

    @property
    def verdict_line(self) -> str:
        lines = [line for line in self.out.splitlines() if line.startswith(("GO", "NO-GO"))]
        return lines[-1] if lines else ""


def pytest_run(args: list[str], reports: Path, timeout: int = 900) -> Run:
    """`pytest ARGS --reports REPORTS` in the repository, as a separate process."""
    reports.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [PYTHON, "-m", "pytest", "-p", "no:cacheprovider", *args, "--reports", str(reports)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    out = proc.stdout + proc.stderr
    print(out[-6000:])  # shown by pytest when the test fails
    return Run(proc.returncode, out, reports)


# The LAB helper's session fixture `lab` (tests/conftest.py), kept here for the helpers below.
LAB: dict = {}


@pytest.fixture(scope="module", autouse=True)
def _the_lab(lab):
    LAB["lab"] = lab
    return lab


def reset() -> None:
    LAB["lab"].cli("reset", timeout=900)


def on(
    host: str, script: str, check: bool = True, timeout: int = 120
) -> subprocess.CompletedProcess:
    """Run a shell script inside a lab host, through the lab's own door."""
    return LAB["lab"].exec(host, script, check=check, timeout=timeout)


pytestmark = pytest.mark.lab

INV = Inventory.load(REPO / "inventories/lab.yml")
V = INV.vars
NODES = [h.address for h in INV.group("app")]
HEAD = INV.group("app")[0]
CA = V["ca_bundle"]
STATE = Path("/var/lib/smartsite-lab")
CONFIG_FILES = ("sakai.properties", "local.properties", "setenv.sh")
UPGRADE = ["runbook/", "-k", "upgrade", "--operator", "e2e", "--approve", "all"]
FALLBACK = ["runbook/", "-k", "fallback", "--operator", "e2e", "--approve", "all"]
# What earlier tests of this module found, for the later ones (the module runs in order).
seen: dict = {}


def https(client: str, address: str, path: str = "/portal/health") -> tuple[int, str]:
    out = on(
        client,
        f"curl -sS --max-time 10 --cacert {CA} -w '\\n%{{http_code}}' "
        f"https://{address}:{V['https_port']}{path} || true",
        check=False,
    ).stdout
    body, _, code = out.rpartition("\n")
    return int(code or 0), body


def version(client: str, address: str) -> str:
    status, body = https(client, address)
    fields = dict(line.split("=", 1) for line in body.splitlines() if "=" in line)
    return fields.get("version", "") if status == 200 else f"HTTP {status}"


def port_9000(client: str, address: str) -> str:
    out = on(client, f"nmap -Pn -n -p {V['jmx_port']} --max-retries 1 -oG - {address}").stdout
    return out.split("Ports:", 1)[1].split("/")[1] if "Ports:" in out else "unknown"


def jmx(client: str, address: str) -> bool:
    probe = f"{STATE}/tools/JmxProbe.java --ca {CA} --credentials {V['jmx_password_file']}"
    out = on(client, f"java {probe} {address} {V['jmx_port']}", check=False)
    return out.returncode == 0 and "Tomcat" in out.stdout


def sql(query: str) -> list[list[str]]:
    out = on("caje", f'mariadb -N -B -e "{query}"').stdout
    return [line.split("\t") for line in out.splitlines() if line]


def staging_sums(folder: str) -> dict[str, str]:
    out = on(HEAD.name, f"cd {folder} && sha256sum {' '.join(CONFIG_FILES)}").stdout
    return {line.split()[1]: line.split()[0] for line in out.splitlines()}


def node_sums(host: str) -> dict[str, str]:
    home, base = V["sakai_home"], V["tomcat_base"]
    paths = [f"{home}sakai.properties", f"{home}local.properties", f"{base}/bin/setenv.sh"]
    out = on(host, "sha256sum " + " ".join(paths)).stdout
    return {Path(line.split()[1]).name: line.split()[0] for line in out.splitlines()}


def deployed(host: str) -> str:
    return on(
        host, f"grep ^release.version= {V['tomcat_base']}/sakai-release.properties"
    ).stdout.strip()


def test_the_upgrade_opens_the_window_as_the_clients_see_it(tmp_path):
    reset()
    seen["start"] = time.time()
    seen["staging_2_4_0"] = staging_sums(V["staging_config"])
    assert all(version("public", a) == V["fallback_version"] for a in NODES)

    run = pytest_run(["runbook/", "-k", "upgrade and (u01 or u02 or u03)"], tmp_path / "r")
    assert run.rc == 0
    for address in NODES:
        status, body = https("public", address)
        assert status == 503 and "down for scheduled maintenance" in body, (address, status, body)
        retry = on("public", f"curl -sS -D - -o /dev/null --cacert {CA} https://{address}:8443/")
        assert "retry-after: 3600" in retry.stdout.lower()
        assert port_9000("public", address) != "open"
        assert version("adminws1", address) == V["fallback_version"]  # the real app, allow-listed
    assert jmx("adminws1", HEAD.address)
    assert not jmx("public", HEAD.address)

    checks = pytest_run(["checks/", "--phase", "during"], tmp_path / "c")
    assert checks.rc == 0 and checks.verdict_line.startswith("GO"), checks.verdict_line


def test_the_upgrade_completes_and_holds_from_outside(tmp_path):
    run = pytest_run(UPGRADE, tmp_path / "r", timeout=1500)
    assert run.rc == 0
    seen["upgrade"] = run
    for address in NODES:
        assert version("public", address) == V["release_version"]
        assert port_9000("public", address) != "open"
    for node in INV.group("app"):
        assert deployed(node.name) == f"release.version={V['release_version']}"
    # The schema carries SAK-869 and SAK-878.
    assert sql(
        "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema='sakai' "
        "AND table_name='MFR_MESSAGE_T' AND column_name='DELETED'"
    ) == [["1"]]
    indexes = {
        r[0]
        for r in sql(
            "SELECT index_name FROM information_schema.statistics WHERE table_schema='sakai'"
        )
    }
    assert {"MFR_MESSAGE_DELETED_I", "SAM_ASSGRAD_AID_PUBASSEID_T"} <= indexes
    assert {r[0] for r in sql("SELECT script FROM sakai.RUNBOOK_SCRIPT_LOG")} == {
        "SAK-869.sql",
        "SAK-878.sql",
    }
    # The config backup holds the 2.4.0 originals, byte for byte.
    assert staging_sums(V["config_backup"]) == seen["staging_2_4_0"]
    # Mail to Joncarlo and the IRC announcements arrived.
    mails = [
        p for p in (STATE / "mail").rglob("*") if p.is_file() and p.stat().st_mtime >= seen["start"]
    ]
    assert any("ready to switch iptables" in p.read_text(errors="replace") for p in mails), mails
    irc = (STATE / "irc" / "ucdsakai.log").read_text(errors="replace")
    assert "upgrade started on lab" in irc and "open to the public again" in irc
    # catalina.out clean since the last start, and everything else: the go/no-go suite says GO.
    checks = pytest_run(["checks/"], tmp_path / "c")
    assert checks.rc == 0 and checks.verdict_line.startswith("GO"), checks.verdict_line
    # The preflight now refuses a second window on top of this one.
    preflight = pytest_run(["checks/", "--phase", "preflight"], tmp_path / "p")
    assert preflight.verdict_line.startswith("NO-GO"), preflight.verdict_line
    assert "test_database_not_upgraded_yet" in preflight.out, preflight.out[-2000:]
    # The backup of the database was verified by a test restore before the scripts ran.
    backups = run.artifacts("db-backup")
    assert backups and backups[0]["tables"] > 0
    seen["checksums_before_u05"] = run.artifacts("db-checksums")[0]["checksums"]


def test_a_second_upgrade_run_changes_nothing(tmp_path):
    applied = sql("SELECT script, applied_at FROM sakai.RUNBOOK_SCRIPT_LOG ORDER BY script")
    offsets = {
        n.name: on(n.name, f"cat {V['tomcat_base']}/.runbook-start-offset").stdout
        for n in INV.group("app")
    }
    run = pytest_run(UPGRADE, tmp_path / "r")
    assert run.rc == 0
    assert run.changed_commands() == []
    assert "upgrade already complete" in run.out
    assert sql("SELECT script, applied_at FROM sakai.RUNBOOK_SCRIPT_LOG ORDER BY script") == applied
    for node in INV.group("app"):  # no Tomcat was restarted
        assert (
            on(node.name, f"cat {V['tomcat_base']}/.runbook-start-offset").stdout
            == offsets[node.name]
        )


def old_release_on_walton() -> None:
    node = INV.host("walton")
    tomcat.stop(node)
    node.run(
        f"cd {V['tomcat_base']} && tar -czf /root/e2e-release.tgz {' '.join(release.DEPLOYED)}"
    )
    release.install_snapshot(node, V["fallback_snapshot"])
    tomcat.start(node)


def new_release_on_walton() -> None:
    node = INV.host("walton")
    tomcat.stop(node)
    node.run(f"cd {V['tomcat_base']} && rm -rf webapps && tar -xzf /root/e2e-release.tgz")
    tomcat.start(node)


BREAKS = {
    # name of the check that must fail: (break it, repair it)
    "test_jmx_9000_closed_to_public": (
        ("walton", "iptables -I SMARTSITE-IN 1 -p tcp --dport 9000 -j ACCEPT"),
        ("walton", "iptables -D SMARTSITE-IN -p tcp --dport 9000 -j ACCEPT"),
    ),
    "test_catalina_out_clean_since_last_start": (
        (
            "stubing",
            "stat -c %s {log} > /root/e2e-size && "
            "echo 'ERROR: e2e injected (2026-01-01 00:00:00,000 main_e2e)' >> {log}",
        ),
        ("stubing", "truncate -s $(cat /root/e2e-size) {log}"),
    ),
    # The old release really running on walton: its snapshot installed, Tomcat restarted.
    "test_release_on_every_node": (old_release_on_walton, new_release_on_walton),
    "test_schema_upgraded": (
        ("caje", "mariadb -e 'DROP INDEX SAM_ASSGRAD_AID_PUBASSEID_T ON SAM_ASSESSMENTGRADING_T'"),
        (
            "caje",
            "mariadb -e 'CREATE INDEX SAM_ASSGRAD_AID_PUBASSEID_T ON "
            "SAM_ASSESSMENTGRADING_T (AGENTID,PUBLISHEDASSESSMENTID)'",
        ),
    ),
}


def do(action, fill: dict) -> None:
    """A break or a repair: a function, or (host, shell command) run through the lab's door."""
    if callable(action):
        action()
    else:
        on(action[0], action[1].format(**fill))


@pytest.mark.parametrize("check", list(BREAKS))
def test_each_broken_condition_is_a_named_no_go(check, tmp_path):
    breaking, repair = BREAKS[check]
    fill = {"log": V["catalina_out"], "base": V["tomcat_base"]}
    do(breaking, fill)
    try:
        run = pytest_run(["checks/"], tmp_path / "c")
    finally:
        do(repair, fill)
    assert run.rc != 0
    assert run.verdict_line.startswith("NO-GO") and check in run.verdict_line, run.verdict_line


def test_the_repaired_cluster_is_go_again(tmp_path):
    checks = pytest_run(["checks/"], tmp_path / "c")
    assert checks.rc == 0 and checks.verdict_line.startswith("GO"), checks.verdict_line


def test_the_fallback_restores_everything(tmp_path):
    run = pytest_run(FALLBACK, tmp_path / "r", timeout=1500)
    assert run.rc == 0
    # Table checksums equal those recorded before u05 (f03 compared them right after the
    # restore, before any node started). SAKAI_CLUSTER is the running nodes' heartbeat since f06.
    before = seen["checksums_before_u05"]
    names = [t for t in before if t != "SAKAI_CLUSTER"]
    now = {
        r[0].split(".")[1]: r[1]
        for r in sql("CHECKSUM TABLE " + ", ".join(f"sakai.{t}" for t in names))
    }
    assert {t: before[t]["checksum"] for t in names} == now
    steps = {e["step"]: e.get("outcome") for e in run.journal() if e.get("event") == "step_end"}
    assert steps.get("f03") == "passed"
    assert not sql(
        "SELECT table_name FROM information_schema.tables WHERE table_schema='sakai' "
        "AND table_name='RUNBOOK_SCRIPT_LOG'"
    )
    for node in INV.group("app"):
        assert deployed(node.name) == f"release.version={V['fallback_version']}"
        assert node_sums(node.name) == seen["staging_2_4_0"]
    assert staging_sums(V["staging_config"]) == seen["staging_2_4_0"]
    for address in NODES:
        assert version("public", address) == V["fallback_version"]
        assert port_9000("public", address) != "open"
    checks = pytest_run(["checks/", "--expect", "fallback"], tmp_path / "c")
    assert checks.rc == 0 and checks.verdict_line.startswith("GO"), checks.verdict_line
