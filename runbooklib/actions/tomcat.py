"""Tomcat on an app node: stop, start, and read what this start wrote to catalina.out.

    >>> stop(node)                                   # SIGTERM, then SIGKILL after a bound
    >>> start(node, known, start="first")            # startup.sh, wait for its startup line
    >>> check_start_log(node, known, start="first")  # scan what this start wrote

A Tomcat that `start` finds running is kept only if what its start wrote is clean: a start that a
lost link spoiled (Tomcat up, its log holding "cannot reach the database: No route to host") is
done again, once (stop, start), so that a resumed step checks a start made with the host back.
A real fault logs its errors again at that start, and the check fails on them.

Tomcat runs as the inventory's `tomcat_user`, never root (issue 18): it is started as that user
with a clean environment (setpriv: no PAM session, no root's variables), its pid file removed as
that user, and what it wrote (catalina.out) read as that user, so that a file it swapped for a
symlink reads nothing root alone may read. The runbook writes nothing into the folders the user
owns (logs/, work/, temp/): its own marker is in the base, root's.

Before starting, the size of catalina.out is kept in `<tomcat_base>/.runbook-start-offset`;
the scan runs on the node (`tail -c +N | grep`), so only matching lines travel, and it covers only
what this start wrote. Any ERROR / SEVERE / Exception line fails the start unless a known-issues
entry that applies to this node and this start allows it; the record lists the allowed lines.
"""

from __future__ import annotations

import time

from runbooklib.actions import known_issues
from runbooklib.actions.common import ActionError, Outcome, closed_folder, q, run_in
from runbooklib.remote import CommandFailed, Host
from runbooklib.transcript import transcript, verification

STARTUP_LINE = "Server startup in"
# The first line Tomcat writes at every start (its VersionLoggerListener).
BANNER = "org.apache.catalina.startup.VersionLoggerListener.log Server version name:"
# Matched case-insensitively (grep -i): Sakai's `ERROR:`, Tomcat's `SEVERE`, log4j's `FATAL`, and
# a JVM's `java.lang.OutOfMemoryError:` or `...Exception` all count as problems.
PROBLEM = r"ERROR|SEVERE|FATAL|Exception"
OFFSET_FILE = ".runbook-start-offset"
# What Tomcat writes, which its user must own (relative to the base).
WRITES = ("logs", "work", "temp")
# Exit status of the log scan when no start offset was recorded.
NO_OFFSET = 3
# Shown at most when a start fails: enough to diagnose, short enough to read.
SHOW_LINES = 20
# Polls a second while waiting for a start or a stop: a whole second each time added up to
# seconds of nothing over a rolling upgrade (bench P3); each poll is a few ms of the node's CPU.
POLLS = 10


def _pidfile(host: Host) -> str:
    return host.vars.get("catalina_pid") or f"{host.vars['tomcat_base']}/temp/tomcat.pid"


def pid(host: Host) -> int | None:
    """The running Tomcat's pid (from CATALINA_PID, checked against /proc), or None."""
    pf = _pidfile(host)
    out = host.probe(
        f'p=$(cat {q(pf)} 2>/dev/null) && kill -0 "$p" 2>/dev/null && '
        f"tr '\\0' ' ' < /proc/$p/cmdline | grep -q catalina && echo $p || true"
    ).stdout.strip()
    return int(out) if out else None


def _env(host: Host) -> str:
    v = host.vars
    return f"CATALINA_HOME={q(v['tomcat_home'])} CATALINA_BASE={q(v['tomcat_base'])}"


def account(host: Host) -> tuple[int, int]:
    """(uid, gid) of the inventory's tomcat_user on the node; one line naming the fix when the
    account is missing or is root under another name (uid 0)."""
    user = host.vars["tomcat_user"]
    out = host.probe(f"id -u -- {q(user)} && id -g -- {q(user)}", check=False)
    ids = out.stdout.split()
    if not out.ok or len(ids) != 2 or not all(i.isdigit() for i in ids):
        raise ActionError(
            f"{host}: no user {user} (tomcat_user): create it (`useradd --system {user}`) or "
            "name Tomcat's account in the inventory"
        )
    if ids[0] == "0":
        raise ActionError(
            f"{host}: tomcat_user {user} has uid 0, root's: give Tomcat an unprivileged account"
        )
    return int(ids[0]), int(ids[1])


def as_tomcat(host: Host, script: str) -> str:
    """Shell: `script` run by sh as the inventory's tomcat_user, with its own groups and a clean
    environment (setpriv: util-linux, no PAM session to open or leave behind)."""
    uid, gid = account(host)
    return f"setpriv --reuid={uid} --regid={gid} --init-groups --reset-env -- sh -c {q(script)}"


def check_account(host: Host) -> None:
    """The tomcat_user exists on the node, is not root, and owns what Tomcat writes; else one
    line naming the fix (the runbook never chowns: who owns a production folder is the admins'
    decision)."""
    user, base = host.vars["tomcat_user"], host.vars["tomcat_base"]
    uid, _ = account(host)
    folders = " ".join(q(f"{base}/{name}") for name in WRITES)
    out = host.probe(
        f"find {folders} -maxdepth 0 ! -uid {uid} 2>&1 || true", check=False
    ).stdout.split()
    if out:
        raise ActionError(
            f"{host}: {', '.join(out)} not owned by {user} (tomcat_user), whom Tomcat runs as: "
            f"`chown -R {user}: {' '.join(f'{base}/{n}' for n in WRITES)}` on the node"
        )


def stop(host: Host, grace: int = 60) -> Outcome:
    """Graceful shutdown; after `grace` seconds the process is killed (the record says so).

    SIGTERM to the pid Tomcat wrote runs Catalina's own shutdown hook, the same orderly stop as
    shutdown.sh (connectors paused, webapps stopped), without starting a second JVM to send it:
    0.4 s against 2.4 s here (bench P3). It is how init systems stop Tomcat.
    """
    running = pid(host)
    if running is None:
        return Outcome(host, "tomcat stop", False, "not running")
    host.run(f"kill -TERM {running}", timeout=30, check=False)
    # A zombie (dead, not yet reaped by its parent) still answers `kill -0`: count it as gone.
    alive = f"kill -0 {running} 2>/dev/null && ! grep -q '^State:.*Z' /proc/{running}/status"
    out = host.run(
        f"for i in $(seq {grace * POLLS}); do "
        f"{alive} || {{ echo graceful; exit 0; }}; sleep {1 / POLLS:g}; "
        f"done; kill -9 {running}; sleep 1; echo forced",
        timeout=grace + 20,
    ).stdout.strip()
    host.run(as_tomcat(host, f"rm -f -- {q(_pidfile(host))}"))
    if out == "forced":
        transcript.note(f"{host}: Tomcat pid {running} did not stop within {grace}s and was killed")
    return Outcome(host, "tomcat stop", True, f"pid {running} stopped ({out or 'dry run'})")


def start(
    host: Host,
    known: list[known_issues.KnownIssue] | None = None,
    start: str = "any",
    bound: int = 300,
) -> Outcome:
    """Start Tomcat and wait for its startup line (`check_start_log` then reads what it wrote).

    Already running: not started again if what it wrote since its recorded start is clean (with
    `known` allowed at this `start`, as `check_start_log` judges it); otherwise it is stopped and
    started again, once, and only the new start's part of the log counts. Without `known`, a
    running Tomcat is kept as it is.
    """
    base, log = host.vars["tomcat_base"], host.vars["catalina_out"]
    marker = f"{base}/{OFFSET_FILE}"
    check_account(host)
    changed, redone = pid(host) is None, False
    if not changed and known is not None and not host.check_mode:
        spoiled, _ = scan(host, known, start)
        if spoiled:
            transcript.note(
                f"{host}: the running Tomcat's start logged {len(spoiled)} error line(s), first: "
                f"{spoiled[0]}; it is started again and only that start's log counts"
            )
            stop(host)
            changed = redone = True
    if changed:
        startup = f"{q(host.vars['tomcat_home'])}/bin/startup.sh"
        run_in(
            host,
            [base],
            # Written afresh (noclobber: O_EXCL) in root's base, so never through a symlink.
            # The PID file goes too, as Tomcat's user (its folder): no Tomcat runs behind it
            # (pid() said so), but a run killed inside `stop` leaves it naming a dead JVM, maybe
            # a zombie nobody reaps, which catalina.sh takes for a running Tomcat.
            f"{closed_folder(base)}; s=$(stat -L -c %s {q(log)} 2>/dev/null || echo 0); "
            f"rm -f -- {q(marker)} && (set -C; echo $s > {q(marker)}) && cd -- {q(base)} && "
            + as_tomcat(
                host,
                f"rm -f -- {q(_pidfile(host))} && "
                f"env {_env(host)} {startup} </dev/null >/dev/null 2>&1",
            ),
            timeout=60,
        )
    if host.check_mode:
        return Outcome(host, "tomcat start", changed, "dry run")
    _wait_startup(host, marker, log, bound)
    said = "started again" if redone else "started" if changed else "running"
    return Outcome(host, "tomcat start", changed, said)


def check_start_log(host: Host, known: list[known_issues.KnownIssue], start: str) -> Outcome:
    """Scan what catalina.out got since this start: any ERROR / SEVERE / Exception line fails,
    unless a known issue allows it on this node at this start (`first` or `any`, as in the
    known-issues file); the allowed lines go to the record."""
    if host.check_mode:
        return Outcome(host, "catalina.out since this start", False, "dry run: no start")
    log, marker = host.vars["catalina_out"], f"{host.vars['tomcat_base']}/{OFFSET_FILE}"
    errors, allowed = scan(host, known, start)
    transcript.artifact(
        "log-scan",
        f"{host}:{log}",
        offset=_offset(host, marker),
        allowed=[f"{i}: {line}" for i, line in allowed],
        errors=errors[:SHOW_LINES],
    )
    if errors:
        # The first line names the first offending line: it is the line the console, the
        # record's reason and the channel show.
        more = "".join(f"\n{line}" for line in errors[1:SHOW_LINES])
        raise ActionError(
            f"{host}: {len(errors)} error line(s) in catalina.out since this start, first: "
            f"{errors[0]}{more}"
        )
    detail = f"clean; {len(allowed)} known-issue line(s) allowed" if allowed else "clean"
    return Outcome(host, "catalina.out since this start", False, detail)


def _offset(host: Host, marker: str) -> int:
    out = host.probe(f"cat {q(marker)} 2>/dev/null || echo 0").stdout.strip()
    return int(out or 0)


def _since(marker: str, log: str, latest: bool = False) -> str:
    """Shell: what catalina.out holds since the recorded offset (from 0 if it was rotated).

    latest: or since Tomcat's last startup banner after that offset, because a restart outside
    the runbook (a reboot, a colleague) does not move our marker. Only the part after the
    offset is ever read (`tail -c +N` seeks), so an old log of any size costs nothing.
    """
    since = "tail -c +$((o + 1)) " + q(log)
    banner = ""
    if latest:
        banner = (
            f"b=$({since} | grep -b -F {q(BANNER)} | tail -n 1 | cut -d: -f1); "
            '[ -n "$b" ] && o=$((o + b)); '
        )
    return (
        f"o=$(cat {q(marker)} 2>/dev/null || echo 0); "
        f"s=$(stat -c %s {q(log)} 2>/dev/null || echo 0); "
        f'[ "$s" -lt "$o" ] && o=0; {banner}{since}'
    )


def _wait_startup(host: Host, marker: str, log: str, bound: int) -> None:
    pf = _pidfile(host)
    out = host.probe(
        as_tomcat(
            host,
            f"for i in $(seq {bound * POLLS}); do "
            f"if {_since(marker, log)} | grep -q {q(STARTUP_LINE)}; then echo up; exit 0; fi; "
            f'p=$(cat {q(pf)} 2>/dev/null); if [ -n "$p" ] && ! kill -0 "$p" 2>/dev/null; '
            f"then echo died; exit 0; fi; sleep {1 / POLLS:g}; done; echo slow",
        ),
        timeout=bound + 30,
    ).stdout.strip()
    if out != "up":
        tail = host.probe(
            as_tomcat(host, f"{_since(marker, log)} | tail -n {SHOW_LINES}"), check=False
        ).stdout
        why = "exited" if out == "died" else f"did not log '{STARTUP_LINE}' within {bound}s"
        raise ActionError(f"{host}: Tomcat {why}; catalina.out since this start ends:\n{tail}")


def problem_lines(host: Host, latest: bool = False) -> list[str]:
    """PROBLEM lines (any case) catalina.out got since the last start (scanned on the node).

    No recorded offset is an error, not a scan of the whole log: that would read every old
    start's errors (and all of a big log) as this start's.
    """
    marker = f"{host.vars['tomcat_base']}/{OFFSET_FILE}"
    log = host.vars["catalina_out"]
    out = host.probe(
        as_tomcat(
            host,
            f"test -f {q(marker)} || exit {NO_OFFSET}; "
            f"{{ {_since(marker, log, latest)}; }} | grep -Ei {q(PROBLEM)} || true",
        ),
        check=False,
    )
    if out.rc == NO_OFFSET:
        raise ActionError(
            f"{host}: no {marker}: this Tomcat start was not recorded, so the part of {log} it "
            f"wrote is unknown; restart Tomcat with the runbook (tomcat.start records it), or "
            f"check only what comes next: `stat -c %s {log} > {marker}` on the node"
        )
    if out.rc != 0:
        raise CommandFailed(out)
    return [line for line in out.stdout.splitlines() if line.strip()]


def scan(host: Host, known: list[known_issues.KnownIssue], start: str = "any", latest=False):
    return known_issues.split(
        problem_lines(host, latest), known, host.name, bool(host.vars.get("head")), start
    )


@verification
def assert_running(host: Host) -> None:
    assert pid(host) is not None, f"{host}: Tomcat is not running"
    port = host.vars["https_port"]
    assert (
        host.testinfra.socket(f"tcp://0.0.0.0:{port}").is_listening
        or host.testinfra.socket(f"tcp://:::{port}").is_listening
    ), f"{host}: nothing listens on {port}"


@verification
def assert_stopped(host: Host) -> None:
    assert pid(host) is None, f"{host}: Tomcat still runs"


@verification
def assert_jmx_configured(host: Host, bound: float = 30) -> None:
    """The running JVM's JMX agent is the one setenv.sh starts: port 9000 for the registry and
    the RMI server, both over TLS, a password asked (read with `jcmd PID ManagementAgent.status`
    on the node; the agent comes up a moment after the JVM, hence the wait)."""
    running = pid(host)
    assert running, f"{host}: Tomcat is not running"
    port = host.vars["jmx_port"]
    wanted = [
        f"jmxremote.port = {port}",
        f"jmxremote.rmi.port = {port}",
        "jmxremote.authenticate = true",
        # TLS on the RMI server and on the registry: the password never crosses in clear.
        "jmxremote.ssl = true",
        "jmxremote.registry.ssl = true",
    ]
    deadline = time.monotonic() + bound
    while True:
        # As the JVM's own user: the attach socket answers its owner.
        status = host.probe(
            as_tomcat(host, f"jcmd {running} ManagementAgent.status"), check=False
        ).stdout
        missing = [w for w in wanted if w not in status]
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert not missing, (
        f"{host}: the JVM's JMX agent lacks {', '.join(missing)} (see logs/jmx-agent.log): "
        "is setenv.sh the staging one?"
    )


@verification
def assert_clean_log(host: Host, known: list[known_issues.KnownIssue], start: str = "any") -> None:
    errors, _ = scan(host, known, start, latest=True)
    assert not errors, (
        f"{host}: {len(errors)} error line(s) in catalina.out since the last start, first: "
        + "\n".join(errors[:SHOW_LINES])
    )
