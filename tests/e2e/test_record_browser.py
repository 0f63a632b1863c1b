"""The record as a reader opens it: headless Chromium (Debian's package), JavaScript on and off.

One dry run of the upgrade against the lab (it changes nothing, seconds long) and one run of
the checks, both on the same window, make real records with all their steps. Chromium is driven
over its DevTools pipe (`--remote-debugging-pipe`, JSON messages on fds 3 and 4; no library):
scripts are switched off per page with `Emulation.setScriptExecutionDisabled` (Chromium's
headless mode neither dumps nor screenshots with `--blink-settings=scriptEnabled=false`), each
part must have a layout box (rendered, not just present), and console errors and uncaught
exceptions are collected as they happen. The screenshots stay beside the record under reports/
(CI keeps that folder).
"""

from __future__ import annotations

import base64
import datetime as dt
import fcntl
import html
import json
import os
import re
import select
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from runbooklib.engine.window import AHEAD

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
REPORTS = REPO / "reports"
UPGRADE = ["runbook/", "-k", "upgrade", "--operator", "e2e", "--approve", "all", "--dry-run"]
CHECKS = ["checks/", "--operator", "e2e"]
# What pytest-html puts on the page (its title, its Environment, its summary and results): the
# verdict comes before every one of them that is drawn.
PYTEST_HTMLS = (
    "h1#title",
    "body > p",
    "#environment-header",
    "#environment",
    ".summary__data > h2",
    "p.run-count",
    ".controls",
    "#results-table",
)
WIDTH, HEIGHT = 1280, 2200


class Chromium:
    """A headless Chromium and its DevTools protocol over a pipe."""

    def __init__(self):
        binary = shutil.which("chromium")
        if binary is None:
            pytest.fail("chromium is missing: `make setup` installs lab/debian-packages.txt")
        to_chromium, self._in = os.pipe()
        self._out, from_chromium = os.pipe()
        # Above the fds the child's set-up uses, so that moving them to 3 and 4 clobbers none.
        keep = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_chromium, from_chromium)]

        def to_3_and_4():
            os.dup2(keep[0], 3)
            os.dup2(keep[1], 4)

        self.proc = subprocess.Popen(
            [
                binary,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--remote-debugging-pipe",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=to_3_and_4,
            pass_fds=(3, 4),
        )
        for fd in (to_chromium, from_chromium, *keep):
            os.close(fd)
        self._buffer, self._next, self.events = b"", 0, []

    def send(self, method: str, session: str | None = None, **params):
        self._next += 1
        message = {"id": self._next, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._in, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") != self._next:
                self.events.append(reply)
                continue
            if "error" in reply:
                raise LookupError(f"{method}: {reply['error'].get('message')}")
            return reply["result"]

    def _read(self, timeout: float = 60) -> dict:
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._out], [], [], timeout)
            if not ready:
                raise TimeoutError(f"chromium said nothing for {timeout} s")
            chunk = os.read(self._out, 1 << 20)
            if not chunk:
                raise EOFError("chromium closed its pipe")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(line)

    def open(self, url: str, scripts: bool) -> Page:
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "DOM"):
            self.send(f"{domain}.enable", session)
        self.send("Emulation.setScriptExecutionDisabled", session, value=not scripts)
        self.send(
            "Emulation.setDeviceMetricsOverride",
            session,
            width=WIDTH,
            height=HEIGHT,
            deviceScaleFactor=1,
            mobile=False,
        )
        self.events.clear()
        self.send("Page.navigate", session, url=url)
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            self.events.append(self._read())
        return Page(self, session)

    def close(self) -> None:
        try:
            self.send("Browser.close")
            self.proc.wait(timeout=20)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            os.close(self._in)
            os.close(self._out)


class Page:
    def __init__(self, browser: Chromium, session: str):
        self.browser, self.session = browser, session
        self.tree = self.send("DOM.getDocument", depth=-1)["root"]  # every element, in order
        self.root = self.tree["nodeId"]

    def send(self, method: str, **params):
        return self.browser.send(method, self.session, **params)

    def rendered(self, selector: str) -> list[dict]:
        """The layout box of every element the selector finds; LookupError if one has none."""
        nodes = self.send("DOM.querySelectorAll", nodeId=self.root, selector=selector)["nodeIds"]
        return [self.send("DOM.getBoxModel", nodeId=n)["model"] for n in nodes]

    def text(self, selector: str) -> str:
        node = self.send("DOM.querySelector", nodeId=self.root, selector=selector)["nodeId"]
        return self.send("DOM.getOuterHTML", nodeId=node)["outerHTML"] if node else ""

    def errors(self) -> list[str]:
        found = []
        for e in self.browser.events:
            params = e.get("params", {})
            if e.get("method") == "Runtime.exceptionThrown":
                found.append(params["exceptionDetails"].get("text", "exception"))
            elif e.get("method") == "Runtime.consoleAPICalled" and params.get("type") == "error":
                found.append(" ".join(str(a.get("value")) for a in params.get("args", [])))
            elif e.get("method") == "Log.entryAdded" and params["entry"]["level"] == "error":
                found.append(params["entry"].get("text", ""))
        return found

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        return path


@pytest.fixture(scope="module")
def browser():
    chromium = Chromium()
    yield chromium
    chromium.close()


@dataclass
class Made:
    html: Path
    console: str

    @property
    def page(self) -> str:
        return self.html.read_text()

    def fact(self, name: str) -> str:
        found = re.search(rf"<th>{name}</th><td>(?:<code>)?([^<]*)<", self.page)
        return html.unescape(found.group(1)) if found else ""


def _made(procedure: str, args: list[str]) -> Made:
    before = set(REPORTS.glob(f"*-{procedure}-lab.html"))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    made = sorted(set(REPORTS.glob(f"*-{procedure}-lab.html")) - before)
    assert made, proc.stdout[-3000:] + proc.stderr[-1500:]
    return Made(made[-1], proc.stdout)


@pytest.fixture(scope="module")
def window() -> list[str]:
    """Both runs on one window, so that they must agree on its times."""
    return ["--window-start", dt.datetime.now().strftime("%H:%M")]


@pytest.fixture(scope="module")
def made(lab, window) -> Made:
    return _made("upgrade", [*UPGRADE, *window])


@pytest.fixture(scope="module")
def checks(lab, window) -> Made:
    return _made("checks", [*CHECKS, *window])


@pytest.fixture(scope="module")
def record(made) -> Path:
    return made.html


def test_console_errors_are_seen(browser):
    page = browser.open("data:text/html,<script>console.error('boom'); nosuch()</script>", True)

    assert any("boom" in e for e in page.errors()) and len(page.errors()) == 2


@pytest.mark.parametrize("scripts", [True, False], ids=["js-on", "js-off"])
def test_verdict_and_timeline_read_with_and_without_javascript(browser, record, scripts):
    page = browser.open(record.as_uri(), scripts)
    shot = page.screenshot(record.with_name(f"{record.stem}.js-{'on' if scripts else 'off'}.png"))

    (banner,) = page.rendered("#verdict")
    assert banner["width"] > 400 and banner["height"] > 20
    assert "DRY RUN: " in page.text("#verdict")
    (timeline,) = page.rendered("svg#timeline")
    assert timeline["height"] > 200
    assert len(page.rendered("svg#timeline rect.planned")) == 18
    assert len(page.rendered("svg#timeline rect.actual")) == 18
    assert len(page.rendered("svg#timeline line.window-end")) == 1
    assert len(page.rendered("table#steps tr")) == 19  # a header and 18 steps
    # pytest-html's own table is made by its script: proof that scripts ran, or did not.
    assert bool(page.rendered("#results-table tbody.results-table-row")) is scripts
    assert page.errors() == []
    assert shot.stat().st_size > 10_000


def _flat(node: dict, ancestors: tuple = ()) -> list[tuple[dict, tuple]]:
    """The document's elements in order, each with its ancestors' node ids."""
    out = [(node, ancestors)] if node.get("nodeType") == 1 else []
    for child in node.get("children", []):
        out += _flat(child, (*ancestors, node["nodeId"]))
    return out


def _box(page: Page, node_id: int) -> dict | None:
    try:
        (box,) = [page.send("DOM.getBoxModel", nodeId=node_id)["model"]]
    except LookupError:  # not rendered (display: none, or no box at all)
        return None
    return box


@pytest.mark.parametrize("scripts", [True, False], ids=["js-on", "js-off"])
@pytest.mark.parametrize("which", ["upgrade", "checks"])
def test_the_verdict_comes_first_and_no_section_is_empty(browser, made, checks, which, scripts):
    record = made.html if which == "upgrade" else checks.html
    page = browser.open(record.as_uri(), scripts)

    (verdict,) = page.rendered("#verdict")
    tops = {}
    for selector in PYTEST_HTMLS:
        nodes = page.send("DOM.querySelectorAll", nodeId=page.root, selector=selector)["nodeIds"]
        for node in nodes:
            box = _box(page, node)
            if box and box["height"] > 0:
                tops[selector] = min(tops.get(selector, 1e9), box["content"][1])
    assert tops, "none of pytest-html's page was drawn"
    assert all(verdict["content"][1] < top for top in tops.values()), tops

    elements = _flat(page.tree)
    headings = [i for i, (n, _) in enumerate(elements) if n["nodeName"] in ("H2", "H3")]
    drawn = [i for i in headings if (_box(page, elements[i][0]["nodeId"]) or {}).get("height")]
    for n, at in enumerate(drawn):
        # The section runs to the next heading of its level or above (an h3 is an h2's content).
        level = elements[at][0]["nodeName"]
        following = next((i for i in drawn[n + 1 :] if elements[i][0]["nodeName"] <= level), None)
        heading = elements[at][0]["nodeId"]
        upto = elements[following][1] if following is not None else ()
        body = (
            e
            for e, above in elements[at + 1 : following]
            if heading not in above and e["nodeId"] not in upto
        )
        assert any((_box(page, e["nodeId"]) or {}).get("height") for e in body), (
            f"{record.name}: an empty section under "
            f"{page.send('DOM.getOuterHTML', nodeId=heading)['outerHTML'][:120]}"
        )
    if not scripts:  # without its script, pytest-html's filters and buttons do nothing
        controls = page.send("DOM.querySelectorAll", nodeId=page.root, selector="input, button")
        assert not [n for n in controls["nodeIds"] if _box(page, n)], "a dead control is drawn"
    assert page.errors() == []


def test_the_console_and_both_records_say_the_same(made, checks):
    latest = re.search(r"^latest time to start the fallback: (\d\d:\d\d)$", made.console, re.M)
    assert latest and made.fact("Latest fallback start") == latest.group(1)
    assert checks.fact("Latest fallback start") == latest.group(1)

    said = re.search(r"verdict: (.+?) -*$", made.console, re.M).group(1)
    banner = re.search(r'id="verdict"><b>([^<]*)</b>([^<]*)<', made.page)
    assert html.unescape(banner.group(2)).startswith(said)
    no_go = re.search(r'id="verdict"><b>([^<]*)</b>', checks.page).group(1)
    assert re.search(rf"^{re.escape(no_go)}", checks.console, re.M), no_go

    # Lateness per step: the console's planned-against-actual table and the record's. The
    # console says a rehearsal's earliness once (window.early_once); the record on every row.
    console = re.findall(r"^(u\d\d) +planned \S+ +actual (\S+) *(.*?)$", made.console, re.M)
    recorded = dict(
        re.findall(
            r'<a href="#step-(u\d\d)">u\d\d</a></td>(?:<td>.*?</td>){4}<td>([^<]*)</td>', made.page
        )
    )
    assert len(console) == 18 and len(recorded) == 18
    assert sum(bool(said) for _, _, said in console) >= 1  # the earliness, said once at least
    for step, actual, said in console:
        shown = recorded[step].split()
        assert shown[0] == actual, step
        if said:
            assert " ".join(shown[1:]) == " ".join(said.removesuffix(AHEAD).split()), step

    for record in (made, checks):
        verified = subprocess.run(
            [
                sys.executable,
                "-m",
                "runbooklib.engine.journal",
                "verify",
                str(record.html.with_suffix(".jsonl")),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        lines, head = re.search(r"OK (\d+) lines, head (\w+)", verified).groups()
        shown = record.fact("Journal chain head")
        assert shown == f"line {lines}: {head}"


def test_every_check_shows_its_title_impact_and_evidence(checks):
    page = checks.page
    sections = page.split('<section><h3 id="step-')[1:]
    names = [s.split('"', 1)[0] for s in sections]
    assert len(names) >= 9 and all(n.startswith("test_") for n in names), names
    for name, section in zip(names, sections, strict=True):
        heading = section.split("</h3>", 1)[0]
        assert "::" not in heading and " test_" not in heading, heading  # the docstring's words
        assert "; impact " in section, name
        rows = section.count('<tr class="passed">') + section.count('<tr class="failed">')
        assert rows and "<th>Expected</th><th>Actual</th>" in section, name
    # Health, which recorded nothing before: what each node answered (or why it failed).
    health = sections[names.index("test_health_of_every_node")]
    for node in ("stubing", "walton"):
        (row,) = re.findall(rf"<td>{node}</td><td>(version [^<]*)</td><td>([^<]+)</td>", health)
        expected, actual = row
        assert actual != expected and ("version" in actual or "unhealthy" in actual), actual


def _secrets() -> list[str]:
    """The lab's DB password and JMX password (its line is `USER PASSWORD`)."""
    from runbooklib.inventory import Inventory

    v = Inventory.load(REPO / "inventories" / "lab.yml").vars
    db = Path(v["db_password_file"]).read_text().splitlines()[0]
    jmx = Path(v["jmx_password_file"]).read_text().splitlines()[0].split()[-1]
    return [db, jmx]


def test_the_firewall_rules_and_config_edits_are_in_the_journal_and_shown_once(made):
    from runbooklib.transcript import forms

    journal = made.html.with_suffix(".jsonl")
    events = [json.loads(line) for line in journal.read_text().splitlines()]
    rules = [e for e in events if e["event"] == "artifact" and e["kind"] == "firewall-rules"]
    maintenance = {
        e["where"].split(":")[0]: e["content"] for e in rules if "maintenance" in e["where"]
    }
    assert set(maintenance) >= {"stubing", "walton"}, [e["where"] for e in rules]
    for text in maintenance.values():
        assert text.startswith("*filter\n") or text.startswith("*nat\n"), text[:40]
        assert "-A SMARTSITE-" in text and text.endswith("COMMIT\n")
    configs = [e for e in events if e["event"] == "artifact" and e["kind"] == "config-diff"]
    assert any("auto.ddl" in e["content"] for e in configs), [e["where"] for e in configs]
    text = journal.read_text()
    leaked = [s for s in _secrets() for f in forms(s) if f in text]
    assert leaked == []

    page = made.page
    for content in {*maintenance.values(), *(e["content"] for e in configs)}:
        assert page.count(html.escape(content, quote=False)) == 1  # whole, and only once
    uploads = re.findall(r"stdin \d+ bytes, sha256 \w+ \(<a href=\"#(t\d+)\">", page)
    assert len(uploads) >= len(rules)  # each upload of rules links to the text it sent


# Issue 19's goal for a rehearsal's upgrade record, pytest-html's page (about 47 KB) included.
RECORD_LIMIT = 160 * 1024


@pytest.fixture(scope="module")
def rehearsal(lab) -> Made:
    """`make rehearse`'s own run (`python -m runbooklib.rehearse`: reset, upgrade, checks): last
    in this module, since it leaves the lab upgraded (the module's reset follows)."""
    proc = subprocess.run(
        [sys.executable, "-m", "runbooklib.rehearse"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    found = re.search(r"^upgrade: (\S+-upgrade-lab\.html)$", proc.stdout, re.M)
    assert proc.returncode == 0 and found, proc.stdout[-3000:] + proc.stderr[-1500:]
    return Made(Path(found.group(1)), proc.stdout)


def _commands_shown(page: str) -> set[str]:
    """Every command the record holds, whole: each shown one (its shared arguments put back in
    place), and each named as another host's command with this host's name in it."""
    arguments = {
        pid: html.unescape(text)
        for pid, text in re.findall(r'<span id="(p\d+)">(.*?)</span>', page, re.S)
    }
    shown = {}
    for cid, inner in re.findall(r'<pre id="(c\d+)">\$ (.*?)</pre>', page, re.S):
        inner = re.sub(r'<span id="p\d+">(.*?)</span>', r"\1", inner, flags=re.S)
        inner = re.sub(
            r'<a href="#(p\d+)">\[argument p\d+\]</a>',
            lambda m: html.escape(arguments[m.group(1)], quote=False),
            inner,
        )
        assert "<" not in inner, inner[:200]  # nothing else stands for a piece of it
        shown[cid] = html.unescape(inner.removesuffix(" (dry run: not run)"))
    on_hosts = {
        shown[cid].replace(other, host)
        for cid, host, other in re.findall(
            r'<a href="#(c\d+)">c\d+</a> with ([^ <]+) for ([^ <,]+)', page
        )
    }
    return {*shown.values(), *on_hosts}


def test_the_rehearsals_upgrade_record_holds_every_command_within_160_kb(rehearsal):
    size = rehearsal.html.stat().st_size
    assert size <= RECORD_LIMIT, f"{rehearsal.html.name}: {size} bytes, over {RECORD_LIMIT}"

    journal = rehearsal.html.with_suffix(".jsonl")
    events = [json.loads(line) for line in journal.read_text().splitlines()]
    run = [e["command"] for e in events if e["event"] == "command"]
    assert len(run) > 100  # a whole upgrade: every step ran its commands
    shown = _commands_shown(rehearsal.page)
    missing = [c for c in run if c not in shown]
    assert missing == [], missing[:3]
    # Never cut: only outputs are bounded, and a cut says "(N characters)".
    assert not re.search(r'<pre id="c\d+">[^<]*\(\d+ characters\)', rehearsal.page)
