"""Recovery from any point of the upgrade, for real.

For every upgrade step: stop the upgrade inside it (a failure, or SIGKILL of the run), then
- the fallback passes, go/no-go `--expect fallback` says GO, the public gets 2.4.0 on every node,
  and the database, staging config, node configs and releases equal what they were before;
- separately, after a SIGKILL in the step, `--resume` finishes the upgrade and go/no-go says GO.
Each case starts from `lab reset`. Each result is written to reports/any-point.json, from
which `python -m tests.e2e.any_point_table` makes the README's table.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from runbooklib.inventory import Inventory

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
INV = Inventory.load(REPO / "inventories/lab.yml")
V = INV.vars
NODES = INV.group("app")
CA = V["ca_bundle"]
RESULTS = REPO / "reports" / "any-point.json"
UPGRADE = ["runbook/", "-k", "upgrade", "--operator", "e2e", "--approve", "all"]
FALLBACK = ["runbook/", "-k", "fallback", "--operator", "e2e", "--approve", "all"]
CORE_TABLES = ("SAKAI_SITE", "SAKAI_USER", "SAKAI_REALM", "CONTENT_RESOURCE", "MFR_MESSAGE_T")


def _upgrade_steps() -> list[tuple[str, str]]:
    sys.path.insert(0, str(REPO))
    import runbook.test_upgrade as upgrade

    metas = [getattr(f, "runbook_step", None) for f in vars(upgrade).values()]
    return [(m.id, m.kind) for m in metas if m]


STEPS = _upgrade_steps()


def run(args: list[str], reports: Path, stop: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "RUNBOOK_STOP"}
    if stop:
        env["RUNBOOK_STOP"] = stop
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "tests.e2e.stopper"]
        + [*args, "--reports", str(reports)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    print(f"$ pytest {' '.join(args)} (RUNBOOK_STOP={stop}) -> {proc.returncode}")
    print(proc.stdout[-4000:], proc.stderr[-1500:])
    return proc


def journal(reports: Path) -> list[dict]:
    newest = sorted(reports.glob("*.jsonl"), key=lambda p: p.stat().st_mtime)[-1]
    return [json.loads(line) for line in newest.read_text().splitlines() if line.strip()]


def fingerprint(lab) -> dict:
    """What the fallback must give back, read inside the hosts: core tables' checksums, the
    schema, the staging files, each node's config files and deployed release."""
    tables = ", ".join(CORE_TABLES)
    db = lab.exec("caje", f"mariadb -N -B sakai -e 'CHECKSUM TABLE {tables}'").stdout
    schema = lab.exec(
        "caje",
        'mariadb -N -B -e "SELECT table_name, column_name FROM information_schema.columns '
        "WHERE table_schema='sakai' ORDER BY 1, 2; SELECT DISTINCT table_name, index_name FROM "
        "information_schema.statistics WHERE table_schema='sakai' ORDER BY 1, 2\"",
    ).stdout
    staging = lab.exec(
        NODES[0].name,
        f"cd {V['staging_config']} && find . -maxdepth 1 -type f | sort | xargs sha256sum",
    ).stdout
    found = {"db": db, "schema": schema, "staging": staging}
    home, base = V["sakai_home"], V["tomcat_base"]
    for node in NODES:
        found[node.name] = lab.exec(
            node.name,
            f"sha256sum {home}sakai.properties {home}local.properties {base}/bin/setenv.sh "
            f"{base}/sakai-release.properties {base}/webapps/*.war",
        ).stdout
    return found


def public_sees(lab, node) -> str:
    out = lab.exec(
        "public",
        f"curl -sS --max-time 10 --cacert {CA} -w '\\n%{{http_code}}' "
        f"https://{node.address}:{V['https_port']}/portal/health || true",
        check=False,
    ).stdout
    body, _, code = out.rpartition("\n")
    fields = dict(line.split("=", 1) for line in body.splitlines() if "=" in line)
    return fields.get("version", "") if code == "200" else f"HTTP {code}"


def go(args: list[str], reports: Path) -> str:
    proc = run(["checks/", *args], reports)
    lines = [x for x in proc.stdout.splitlines() if x.startswith(("GO", "NO-GO"))]
    return lines[-1] if lines else f"no verdict (exit {proc.returncode})"


def what_each_step_did(events: list[dict]) -> dict[str, str]:
    """Step id -> its actions' own words: changed/unchanged and why (the notes of Outcome)."""
    said: dict[str, list[str]] = {}
    current = None
    for e in events:
        if e.get("event") == "step_start":
            current = e["step"]
        elif e.get("event") == "note" and "changed" in e and current:
            said.setdefault(current, []).append(e["text"])
    return {k: " / ".join(v) for k, v in said.items()}


def record(case: str, **result) -> None:
    RESULTS.parent.mkdir(exist_ok=True)
    found = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    found[case] = result
    RESULTS.write_text(json.dumps(found, indent=1, sort_keys=True))


def stop_upgrade(step: str, how: str, reports: Path) -> subprocess.CompletedProcess:
    proc = run(UPGRADE, reports, stop=f"{step}:{how}:1")
    assert proc.returncode != 0, "the upgrade was not stopped"
    events = journal(reports)
    ended = {e["step"]: e["outcome"] for e in events if e.get("event") == "step_end"}
    started = [e["step"] for e in events if e.get("event") == "step_start"]
    # Killed: its start is the journal's last word; failed: it is the step that failed.
    stopped = [s for s in started if ended.get(s, "killed") in ("killed", "failed")]
    assert stopped == [step], f"stopped in {stopped}, not {step}"
    return proc


@pytest.mark.parametrize("step", [i for i, _ in STEPS])
def test_the_fallback_gets_the_site_back_after_a_halt_in(step, lab, tmp_path):
    lab.cli("reset", timeout=900)
    before = fingerprint(lab)
    how = "kill" if [i for i, _ in STEPS].index(step) % 2 else "fail"
    stop_upgrade(step, how, tmp_path / "upgrade")

    fallback = run(FALLBACK, tmp_path / "fallback")
    verdict = go(["--expect", "fallback"], tmp_path / "checks")
    seen = {n.name: public_sees(lab, n) for n in NODES}
    record(
        f"fallback after {how} in {step}",
        step=step,
        how=how,
        fallback=fallback.returncode,
        verdict=verdict,
        public=seen,
        did=what_each_step_did(journal(tmp_path / "fallback")),
    )

    assert fallback.returncode == 0
    assert verdict.startswith("GO"), verdict
    assert set(seen.values()) == {V["fallback_version"]}, seen
    after = fingerprint(lab)
    assert after == before, {k: (before[k], after[k]) for k in before if before[k] != after[k]}


@pytest.mark.parametrize("step", [i for i, _ in STEPS])
def test_the_resume_finishes_the_upgrade_after_a_kill_in(step, lab, tmp_path):
    lab.cli("reset", timeout=900)
    stop_upgrade(step, "kill", tmp_path / "r")

    resume = run([*UPGRADE, "--resume"], tmp_path / "r")
    verdict = go([], tmp_path / "checks")
    seen = {n.name: public_sees(lab, n) for n in NODES}
    record(
        f"resume after kill in {step}",
        step=step,
        how="kill",
        resume=resume.returncode,
        verdict=verdict,
        public=seen,
        did=what_each_step_did(journal(tmp_path / "r")),
    )

    assert resume.returncode == 0
    assert verdict.startswith("GO"), verdict
    assert set(seen.values()) == {V["release_version"]}, seen


def test_a_fallback_after_reopening_names_the_rows_it_would_lose_and_keeps_them(lab, tmp_path):
    lab.cli("reset", timeout=900)
    assert run([*UPGRADE, "--until", "u17"], tmp_path / "up").returncode == 0
    # The public is back in and writes: a new user and a forum message.
    lab.exec(
        "caje",
        'mariadb sakai -e "INSERT INTO SAKAI_USER (USER_ID, EMAIL, FIRST_NAME, LAST_NAME, '
        "CREATEDBY, MODIFIEDBY, CREATEDON, MODIFIEDON) VALUES ('after-u17-writer', "
        "'w@example.edu', 'Late', 'Writer', 'admin', 'admin', NOW(), NOW())\"",
    )

    refused = run(FALLBACK, tmp_path / "fb")
    steps = {e["step"]: e.get("outcome") for e in journal(tmp_path / "fb") if "outcome" in e}
    assert refused.returncode != 0 and steps["f03"] == "failed", steps
    said = refused.stdout
    assert "loses the rows written since the backup" in said and "SAKAI_USER" in said, said[-3000:]
    assert "--approve f03" in said
    kept = [
        e["where"].split(":", 1)[1]
        for e in journal(tmp_path / "fb")
        if e.get("event") == "artifact" and e.get("kind") == "db-kept"
    ]
    assert kept, "no dump of the database as it was"
    # Nothing was restored: the row is still in the live database.
    count = lab.exec(
        "caje",
        'mariadb -N -B sakai -e "SELECT COUNT(*) FROM SAKAI_USER WHERE USER_ID = '
        "'after-u17-writer'\"",
    )
    assert count.stdout.strip() == "1"

    approved = run([*FALLBACK, "--resume", "--approve", "f03"], tmp_path / "fb")
    assert approved.returncode == 0
    approvals = [e for e in journal(tmp_path / "fb") if e.get("event") == "approval"]
    assert any(a["step"] == "f03" and "SAKAI_USER" in a.get("what", "") for a in approvals)
    gone = lab.exec(
        "caje",
        'mariadb -N -B sakai -e "SELECT COUNT(*) FROM SAKAI_USER WHERE USER_ID = '
        "'after-u17-writer'\"",
    )
    assert gone.stdout.strip() == "0"
    in_dump = lab.exec("caje", f"zcat {kept[-1]} | grep -c after-u17-writer", check=False)
    assert in_dump.stdout.strip() not in ("", "0"), "the kept dump lacks the row"


def test_a_dry_run_on_an_untouched_cluster_lists_the_changes_and_makes_none(lab, tmp_path):
    lab.cli("reset", timeout=900)
    before = fingerprint(lab)
    rules = {n.name: lab.exec(n.name, "iptables -S; iptables -t nat -S").stdout for n in NODES}

    dry = run([*UPGRADE, "--dry-run"], tmp_path / "dry")

    assert fingerprint(lab) == before
    after = {n.name: lab.exec(n.name, "iptables -S; iptables -t nat -S").stdout for n in NODES}
    assert after == rules
    said = dry.stdout
    for expected in (
        "stubing: firewall maintenance: would change",
        "walton: firewall maintenance: would change",
        "caje: database scripts: would change",
        "SAK-869.sql",
        "stubing: deploy sakai_2-4-x-prod-003: would change",
    ):
        assert expected in said, expected


def scripts_logged(lab) -> list[str]:
    out = lab.exec(
        "caje",
        "mariadb -N -B sakai -e 'SELECT script FROM RUNBOOK_SCRIPT_LOG "
        "WHERE applied_at IS NOT NULL ORDER BY script'",
    ).stdout
    return out.split()


def test_a_kill_between_a_script_and_its_record_is_resumed_without_running_it_twice(lab, tmp_path):
    lab.cli("reset", timeout=900)
    # The first script's statements go to the client's stdin: SAK-869 runs first.
    up = run(UPGRADE, tmp_path / "r", stop="u05:kill:match=^mariadb( --sandbox)? --batch -- sakai$")
    assert up.returncode != 0

    resume = run([*UPGRADE, "--resume"], tmp_path / "r")

    assert resume.returncode == 0
    assert "Duplicate column" not in resume.stdout
    assert scripts_logged(lab) == ["SAK-869.sql", "SAK-878.sql"]
    notes = [e.get("text", "") for e in journal(tmp_path / "r") if e.get("event") == "note"]
    assert any("SAK-869.sql: every statement had taken effect" in n for n in notes), notes


def test_a_statement_applied_by_hand_is_not_run_again_by_the_resume(lab, tmp_path):
    lab.cli("reset", timeout=900)
    assert run([*UPGRADE, "--until", "u04"], tmp_path / "r").returncode == 0
    lab.exec(
        "caje",
        "mariadb sakai -e 'alter table MFR_MESSAGE_T add DELETED bit not null default false'",
    )

    resume = run([*UPGRADE, "--resume"], tmp_path / "r")

    assert resume.returncode == 0, resume.stdout[-2000:]
    notes = [e.get("text", "") for e in journal(tmp_path / "r") if e.get("event") == "note"]
    assert any("not run again: column MFR_MESSAGE_T.DELETED" in n for n in notes), notes
    assert scripts_logged(lab) == ["SAK-869.sql", "SAK-878.sql"]
    assert go([], tmp_path / "c").startswith("GO")
