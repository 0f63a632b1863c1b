"""The static record and the runs' index, made from journal lines alone (pure functions)."""

from __future__ import annotations

import datetime as dt
import json
import os
import re

from runbooklib.engine import rebuild, report
from runbooklib.engine.report_index import write_index


def _run(procedure="upgrade", verdict="PASSED: 2 of 2 steps done", argv=(), end=True, t0="08:00"):
    day = "2007-08-18T"
    start = {
        "t": f"{day}{t0}:01+00:00",
        "event": "run_start",
        "procedure": procedure,
        "inventory": "lab",
        "inventory_path": "inventories/lab.yml",
        "operator": "thomas",
        "argv": list(argv),
        "revision": "abc123",
        "window_start": f"{day}08:00:00+00:00",
        "window_end": f"{day}12:00:00+00:00",
        "window": "08:00-12:00 (plan 08:00-12:00)",
        "steps": [
            {
                "step": "u01",
                "procedure": procedure,
                "title": "Block the clients",
                "owner": "Joncarlo",
                "kind": "action",
                "planned": f"{day}08:00:00+00:00",
            },
            {
                "step": "u02",
                "procedure": procedure,
                "title": "Back up the DB",
                "owner": "Prabhu",
                "kind": "action",
                "planned": f"{day}08:10:00+00:00",
            },
        ],
    }
    events = [
        start,
        {
            "t": f"{day}08:00:02+00:00",
            "event": "record_window",
            "fallback_latest": f"{day}10:00:00+00:00",
        },
        {
            "t": f"{day}08:00:02+00:00",
            "event": "record_known_issues",
            "issues": [
                {
                    "id": "hbm2ddl",
                    "justification": "hibernate's first start",
                    "expires": "2007-12-31",
                }
            ],
        },
        {"t": f"{day}08:00:03+00:00", "event": "step_start", "step": "u01"},
        {
            "t": f"{day}08:00:04+00:00",
            "event": "command",
            "step": "u01",
            "host": "stubing",
            "command": "iptables -w 5 -t filter -S",
            "rc": 0,
            "stdout": "-P INPUT ACCEPT\n",
        },
        {
            "t": f"{day}08:00:05+00:00",
            "event": "command",
            "step": "u01",
            "host": "stubing",
            "command": "cat > /var/b/smartsite-maintenance-filter-2007T.rules.runbook-tmp",
            "rc": 0,
            "stdin": "*filter\n-A SMARTSITE-IN -j DROP\nCOMMIT\n",
        },
        {
            "t": f"{day}08:00:06+00:00",
            "event": "substep_start",
            "step": "u01",
            "name": "Scan the log",
        },
        {
            "t": f"{day}08:00:06+00:00",
            "event": "command",
            "step": "u01",
            "host": "walton",
            "command": "tail -c +8030 /logs/catalina.out",
            "rc": 0,
            "stdout": "".join(f"line {n}\n" for n in range(100)),
        },
        {
            "t": f"{day}08:00:07+00:00",
            "event": "substep_end",
            "step": "u01",
            "name": "Scan the log",
            "outcome": "passed",
            "duration": 1.0,
        },
        {
            "t": f"{day}08:00:07+00:00",
            "event": "artifact",
            "step": "u01",
            "kind": "log-scan",
            "where": "walton:/logs/catalina.out",
            "offset": 8030,
            "allowed": ["hbm2ddl: ERROR: Unsuccessful: alter table"],
            "errors": [],
        },
        {
            "t": f"{day}08:00:08+00:00",
            "event": "artifact",
            "step": "u01",
            "kind": "config-diff",
            "where": "stubing:sakai.properties",
            "diff": "--- a (before)\n+++ a (after)\n@@ -1 +1 @@\n-auto.ddl=false\n+auto.ddl=true\n",
        },
        {"t": f"{day}08:00:09+00:00", "event": "todo", "step": "u01", "text": "turn auto.ddl off"},
        {
            "t": f"{day}08:00:10+00:00",
            "event": "step_end",
            "step": "u01",
            "outcome": "passed",
            "duration": 7.0,
        },
        {"t": f"{day}08:10:00+00:00", "event": "step_start", "step": "u02"},
        {
            "t": f"{day}08:10:01+00:00",
            "event": "approval",
            "step": "u02",
            "operator": "kirk",
            "how": "terminal",
            "at": f"{day}08:10:01+00:00",
        },
        {
            "t": f"{day}08:10:02+00:00",
            "event": "artifact",
            "step": "u02",
            "kind": "db-backup",
            "where": "caje:/var/backups/sakai/s.sql.gz",
            "sha256": "ab12",
            "tables": 11,
        },
        {
            "t": f"{day}08:10:30+00:00",
            "event": "step_end",
            "step": "u02",
            "outcome": "passed",
            "duration": 30.0,
            "hash": "feedbeef",
        },
    ]
    if end:
        events.append({"t": f"{day}08:10:31+00:00", "event": "run_end", "verdict": verdict})
    return events


def test_banner_facts_and_steps_in_plan_order():
    page = report.record_html(_run())

    assert '<div class="rb-banner rb-ok" id="verdict"><b>PASSED</b>' in page
    assert (
        "<th>Operator</th><td>thomas</td>" in page
        and "<th>Git revision</th><td>abc123</td>" in page
    )
    assert "<th>Latest fallback start</th><td>10:00</td>" in page
    assert "<code>line 17: feedbeef</code>" in page  # the journal chain's head
    steps = page[page.index('<table id="steps">') :]
    assert steps.index("Block the clients") < steps.index("Back up the DB")
    assert "Approved u02 by kirk (terminal) at 2007-08-18T08:10:01+00:00" in page


def test_timeline_has_a_bar_per_step_the_window_end_and_the_marks():
    svg = report.timeline_svg(report.parse(_run()))

    assert svg.count('class="planned"') == 2 and svg.count('class="actual"') == 2
    assert 'class="window-end"' in svg and "window end 12:00" in svg
    assert "latest fallback start 10:00" in svg
    assert svg.count('class="approval"') == 1
    assert "<script" not in svg


def test_halt_stop_and_interrupted_banners():
    halted = _run(verdict="upgrade HALTED after u02")
    halted[-2].update(outcome="failed", reason="AssertionError: no dump")
    word, cls, line = report.verdict_of(report.parse(halted))
    assert (word, cls) == ("HALTED after u02", "rb-bad") and "u02: AssertionError: no dump" in line
    assert "&#x2716; halted" in report.timeline_svg(report.parse(halted))

    stopped = report.verdict_of(
        report.parse(_run(verdict="STOPPED as asked (--until): upgrade after u01"))
    )
    assert stopped[:2] == ("STOPPED", "rb-warn")
    assert report.verdict_of(report.parse(_run(end=False)))[0] == "INTERRUPTED"
    killed = _run(verdict="DRY RUN, nothing changed: INTERRUPTED during u02; not run: -")
    assert report.verdict_of(report.parse(killed))[:2] == ("DRY RUN: INTERRUPTED", "rb-bad")


def test_artifacts_are_readable_blocks():
    page = report.record_html(_run())

    assert '<span class="diff-del">-auto.ddl=false</span>' in page
    assert '<span class="diff-add">+auto.ddl=true</span>' in page
    assert "\\n" not in page  # no JSON with literal newlines
    assert "<td>hbm2ddl</td>" in page and "<td>hibernate&#39;s first start</td>" in page
    assert "<td>2007-12-31</td>" in page
    assert "<td>-P INPUT ACCEPT</td>" not in page and "-A SMARTSITE-IN -j DROP" in page
    assert "<th>sha256</th><td>ab12</td>" in page
    assert "<li>Scan the log: passed 1.0 s</li>" in page
    assert '<b class="sub">Scan the log</b>' in page
    assert "<li>turn auto.ddl off" in page
    assert (
        "<li>fix the cause of known issue hbm2ddl before 2007-12-31 "
        "(allowed in catalina.out on walton)" in page
    )


def test_long_outputs_are_bounded_and_commands_collapsed_per_host():
    page = report.record_html(_run())

    assert "line 0\n" in page and "line 99" in page and "line 50\n" not in page
    left = 100 - report.HEAD - report.TAIL
    assert f"{left} lines left out (100 in all)" in page
    assert re.search(r"<details><summary>commands on walton \(1\)</summary>", page)


def test_checks_say_go_or_no_go_with_the_phase():
    ok = _run(procedure="checks", argv=["checks/", "--phase", "during"])
    assert report.verdict_of(report.parse(ok))[:2] == ("GO (during)", "rb-ok")

    narrowed = _run(procedure="checks", argv=["checks/", "-k", "ports"])
    word, cls, line = report.verdict_of(report.parse(narrowed))
    assert (word, cls) == ("NO-GO (after)", "rb-bad") and "not proven" in line

    failed = _run(procedure="checks")
    failed[-2].update(outcome="failed", reason="port 9000 open to the public")
    assert "u02: port 9000 open to the public" in report.verdict_of(report.parse(failed))[2]


def test_compare_with_the_rehearsal_durations_and_shapes():
    production = _run()
    rehearsal = _run()
    for e in production:
        if e.get("event") == "command" and e["host"] == "walton":
            e["host"] = "walton-prod"
    assert report.compare(production, [("r.jsonl", rehearsal)])["u01"].differs == []

    rehearsal[4]["command"] = "iptables -w 5 -t filter -L"
    differs = report.compare(production, [("r.jsonl", rehearsal)])["u01"].differs
    assert "only here: iptables -w N -t filter -S" in differs
    page = report.record_html(production, rehearsal=[("r.jsonl", rehearsal)])
    assert "commands differ in shape (2)" in page and "<td>7.0 s" in page


def test_rebuild_and_index_from_journals(tmp_path):
    older, newer = _run(), _run(t0="09:00", verdict="upgrade HALTED after u02")
    newer[-2].update(outcome="failed", reason="AssertionError: no dump")
    for name, events in (
        ("20070818T080001Z-upgrade-lab", older),
        ("20070818T090001Z-upgrade-lab", newer),
    ):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))

    out = rebuild.rebuild(tmp_path / "20070818T090001Z-upgrade-lab.jsonl")

    page = out.read_text()
    assert "<b>HALTED after u02</b>" in page
    assert "20070818T080001Z-upgrade-lab.jsonl" in page  # each step compared with it
    index = (tmp_path / "index.html").read_text()
    assert index.index("20070818T090001Z-upgrade-lab") < index.index("20070818T080001Z-upgrade-lab")
    assert '<a href="20070818T090001Z-upgrade-lab.rebuilt.html">' in index
    assert "<td>thomas</td>" in index and "<b>PASSED</b>" in index
    assert write_index(tmp_path).name == "index.html"


def test_the_index_reads_again_only_the_journals_that_changed(tmp_path):
    def write(name, events):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))

    older, newer = "20070818T080001Z-upgrade-lab", "20070818T090001Z-upgrade-lab"
    write(older, _run())
    write(newer, _run(t0="09:00", end=False))
    index = (write_index(tmp_path)).read_text()
    assert index.count("<td>thomas</td>") == 2 and "no record" in index
    assert oct((tmp_path / ".index-rows.json").stat().st_mode & 0o777) == "0o600"

    # The older journal as it was (same size, same time): its row is the one kept, unread.
    journal = tmp_path / f"{older}.jsonl"
    was = journal.stat()
    journal.write_text(journal.read_text().replace('"thomas"', '"kirk12"'))
    os.utime(journal, ns=(was.st_atime_ns, was.st_mtime_ns))
    # The newer one grew (its run ended), and a record of it was rebuilt: made again, both.
    write(newer, [{**e, "operator": "sandra"} if e["event"] == "run_start" else e for e in _run()])
    rebuild.rebuild(tmp_path / f"{newer}.jsonl")

    index = (tmp_path / "index.html").read_text()
    assert "<td>thomas</td>" in index and "kirk12" not in index
    assert "<td>sandra</td>" in index and f'<a href="{newer}.rebuilt.html">' in index
    assert "no record" in index  # the older still has none


def test_no_python_repr_and_every_list_item_shown():
    events = _run()
    tables = {f"T{n}": {"checksum": str(1000 + n), "rows": n} for n in range(11)}
    events.insert(
        -1,
        {
            "t": "2007-08-18T08:10:20+00:00",
            "event": "artifact",
            "step": "u02",
            "kind": "db-checksums",
            "where": "caje:sakai",
            "checksums": tables,
            "statements": ["alter table A add B int", "create index C on A (B)"],
        },
    )
    page = report.record_html(events)

    assert "{" not in page.split("</style>", 1)[1]  # no dict shown as Python shows it
    assert "&#39;checksum&#39;" not in page and "'rows'" not in page
    assert all(f"<td>T{n}</td><td>{1000 + n}</td><td>{n}</td>" in page for n in range(11))
    assert "<li>alter table A add B int</li><li>create index C on A (B)</li>" in page


def test_commands_in_full_with_start_duration_and_stdin_never_repeated():
    events = _run()
    long = "mariadb -e 'SELECT " + ", ".join(f"COL{n}" for n in range(200)) + " FROM T'"
    for t in ("08:10:10", "08:10:12"):
        events.insert(
            -1,
            {
                "t": f"2007-08-18T{t}+00:00",
                "event": "command",
                "step": "u02",
                "host": "caje",
                "command": long,
                "rc": 0,
                "duration": 1.5,
                "stdin": "1089 bytes, sha256 " + "ab" * 32,
            },
        )
    page = report.record_html(events)

    assert f"$ {long}</pre>" in page  # whole, its quotes as they are, wrapped by CSS
    assert page.count("COL199") == 1  # the second run of it links to the first
    assert "08:10:08.5" not in page and "<i>08:10:08, 1.5 s, stdin 1089 bytes, sha256 " in page
    assert '<a href="#c' in page and "characters) ..." not in page


def test_one_lateness_rounding_and_one_duration_format():
    from runbooklib.engine import timefmt as window

    planned = report.parse(_run()).steps[0].planned
    for seconds, said in ((-599, "9 min early"), (-600, "10 min early"), (59, "on time")):
        started = planned + dt.timedelta(seconds=seconds)
        assert window.lateness(planned, started) == said
    assert [window.duration(s) for s in (7, 245, 3725)] == ["7.0 s", "4m05s", "1h02m05s"]
    assert report.seconds is window.duration


def test_each_step_is_compared_with_the_last_run_in_which_it_ran_and_passed():
    full = _run(t0="07:00")
    resumed = _run(t0="07:30")  # newer, but u01 was done earlier and only u02 ran
    u01_end = next(e for e in resumed if e["event"] == "step_end" and e["step"] == "u01")
    u01_end["done_earlier"] = "07:00:10"
    for e in full:
        if e.get("event") == "command" and e.get("command", "").startswith("iptables"):
            e["command"] = "iptables -w 5 -t filter -L"
    runs = [("resumed.jsonl", resumed), ("full.jsonl", full)]

    compared = report.compare(_run(), runs)

    assert compared["u01"].run == "full.jsonl" and compared["u02"].run == "resumed.jsonl"
    assert len(compared["u01"].differs) == 2 and compared["u02"].differs == []
    page = report.record_html(_run(), rehearsal=runs)
    assert page.count("commands differ in shape") == 2  # u01's row and u01's section only


def test_host_by_step_grid_from_notes_and_outcomes():
    events = _run()
    events.insert(
        5,
        {
            "t": "2007-08-18T08:00:05+00:00",
            "event": "note",
            "step": "u01",
            "text": "stubing: firewall maintenance: changed. tables filter",
            "changed": True,
        },
    )
    hosts, cells = report.grid(report.parse(events))

    assert hosts == ["stubing", "walton"]
    assert cells == {("stubing", "u01"): "changed", ("walton", "u01"): "ok"}
    page = report.record_html(events)
    assert '<td class="g-changed">changed</td><td class="g-ok">ok</td></tr>' in page
    events[0]["dry_run"] = True
    assert report.grid(report.parse(events))[1][("stubing", "u01")] == "would change"


def test_the_actual_work_gets_an_inset_when_it_is_a_sliver_of_the_plan():
    svg = report.timeline_svg(report.parse(_run()))  # 40 s of work on a four-hour plan

    assert svg.count('class="panel"') == 2 and "on its own axis" in svg
    assert svg.count('class="actual"') == 2 and svg.count('class="planned"') == 2
    assert "time of day, to the second" in svg


def test_the_checks_timeline_has_a_labelled_axis_and_its_legend_only_what_is_drawn():
    checks = _run(procedure="checks")
    for e in checks:
        for s in e.get("steps", []):
            s["planned"] = None
    checks = [e for e in checks if e.get("event") not in ("record_window", "approval")]
    page = report.record_html(checks)

    assert "time of day (the clock of the run)" in page and 'class="tick">08:10</text>' in page
    legend = page[page.index('class="muted legend"') :].split("</p>")[0]
    assert "actual" in legend and "planned" not in legend and "window" not in legend
    assert "approval" not in legend and "fallback" not in legend


def test_no_rehearsal_column_without_a_lab_run_to_compare_with():
    assert "<th>Rehearsal</th>" not in report.record_html(_run(), rehearsal=iter([]))
    assert "<th>Rehearsal</th>" in report.record_html(_run(), rehearsal=[("r.jsonl", _run())])


def test_stdin_content_is_shown_whole_once_and_each_sender_links_to_it():
    import hashlib

    rules = (
        "*filter\n:SMARTSITE-IN - [0:0]\n"
        + "".join(
            f"-A SMARTSITE-IN -s 198.51.100.{n}/32 -p tcp -m tcp --dport 8443 -j ACCEPT\n"
            for n in range(40)
        )
        + "COMMIT\n"
    )
    digest = hashlib.sha256(rules.encode()).hexdigest()
    events = _run()
    for t, node in (("08:00:08", "stubing"), ("08:00:09", "walton")):
        path = f"/var/backups/smartsite-firewall/{node}/smartsite-maintenance-filter.rules"
        events.insert(
            -12,
            {
                "t": f"2007-08-18T{t}+00:00",
                "event": "command",
                "step": "u01",
                "host": node,
                "command": f't=$(mktemp) && cat > "$t" && mv -fT "$t" {path}',
                "rc": 0,
                "stdin": f"{len(rules)} bytes, sha256 {digest}",
            },
        )
        events.insert(
            -12,
            {
                "t": f"2007-08-18T{t}+00:00",
                "event": "artifact",
                "step": "u01",
                "kind": "firewall-rules",
                "where": f"{node}:{path}",
                "sha256": digest,
                "content": rules,
            },
        )
    page = report.record_html(events)

    assert page.count("198.51.100.39/32") == 1  # the rules whole, once for both nodes
    assert '<details id="t1"><summary>content (43 lines, t1)</summary><pre>*filter\n' in page
    assert 'content: the same as <a href="#t1">t1</a>' in page
    assert page.count(f'sha256 {digest} (<a href="#t1">t1</a>)') == 2  # each upload


def test_an_edit_of_a_config_file_shown_before_is_that_text_and_its_diff():
    from runbooklib.engine import artifacts

    synced = "".join(f"key{n}=value{n}\n" for n in range(30)) + "auto.ddl=false\n"
    edited = synced.replace("auto.ddl=false", "auto.ddl=true")
    diff = (
        "--- sakai.properties (before)\n+++ sakai.properties (after)\n@@ -27,4 +27,4 @@\n"
        " key27=value27\n key28=value28\n key29=value29\n-auto.ddl=false\n+auto.ddl=true\n"
    )
    assert artifacts.patched(synced, diff) is None  # its hunk is off by one line: no claim
    diff = diff.replace("@@ -27,4 +27,4 @@", "@@ -28,4 +28,4 @@")
    assert artifacts.patched(synced, diff) == edited
    events = _run()
    where = "stubing:/sakai/sakai.properties"
    for t, content, change in (("08:00:08", synced, ""), ("08:00:09", edited, diff)):
        events.insert(
            -12,
            {
                "t": f"2007-08-18T{t}+00:00",
                "event": "artifact",
                "step": "u01",
                "kind": "config-diff",
                "where": where,
                "diff": change,
                "content": content,
            },
        )
    tables = {f"T{n}": {"checksum": str(n), "rows": n} for n in range(5)}
    for step in ("u01", "u02"):
        events.insert(
            -2,
            {
                "t": "2007-08-18T08:10:20+00:00",
                "event": "artifact",
                "step": step,
                "kind": "db-checksums",
                "where": "caje:sakai",
                "checksums": tables,
            },
        )
    page = report.record_html(events)

    assert page.count("key17=value17") == 1  # the text whole once, the edit as its diff
    assert 'content (t2): <a href="#t1">t1</a> with the diff below' in page
    assert page.count("<td>T4</td><td>4</td><td>4</td>") == 1
    assert '<th>checksums</th><td class="muted">the same as <a href="#v' in page


def _commands(events: list[dict], step: str, runs: list[tuple[str, str]]) -> None:
    """`runs` (host, command) as the journal has them, before the run's end."""
    for n, (host, command) in enumerate(runs):
        events.insert(
            -1,
            {
                "t": f"2007-08-18T08:10:{10 + n}+00:00",
                "event": "command",
                "step": step,
                "host": host,
                "command": command,
                "rc": 0,
                "duration": 0.1,
            },
        )


def test_a_nodes_command_that_is_anothers_but_for_the_host_name_is_shown_once():
    events = _run()
    save = "cd /var/backups/smartsite-firewall/{} && iptables-save > before.rules"
    _commands(
        events,
        "u02",
        [
            ("stubing", save.format("stubing")),
            ("walton", save.format("walton")),
            ("walton", save.format("walton") + " && sync"),  # more than the name: whole
        ],
    )
    page = report.record_html(events)

    shown = re.findall(r'<pre id="(c\d+)">\$ cd /var/backups/smartsite-firewall/(\w+) ', page)
    assert [host for _, host in shown] == ["stubing", "walton"]  # the third one, whole
    assert page.count("before.rules</pre>") == 1
    # The second: stubing's, its name replaced by walton's (said once, where it ran).
    assert f'<a href="#{shown[0][0]}">{shown[0][0]}</a> with walton for stubing' in page


def test_a_long_argument_that_commands_share_is_shown_once_and_named_after():
    events = _run()
    program = "'" + "\n".join(f"/secret{n}=/ {{ print $1 }}" for n in range(20)) + "'"
    files = ("/etc/a.properties", "/etc/b.properties", "/etc/c.properties")
    _commands(events, "u02", [("stubing", f"awk {program} {f}") for f in files])
    page = report.record_html(events)

    assert page.count("/secret19=/") == 1
    assert re.search(r'<pre id="c\d+">\$ awk <span id="p1">', page)
    for f in files[1:]:
        assert f'$ awk <a href="#p1">[argument p1]</a> {f}</pre>' in page
