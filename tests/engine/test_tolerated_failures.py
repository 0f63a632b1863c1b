"""No failure is lost: a step that tolerates a host's failure (`rolling(..., max_failures=)`) says
which one, on the console, in the journal (with the step, the host and the error) and in the
record, and still passes."""

from __future__ import annotations

from html import unescape

from runbook_project import events

FALLBACK = """
from runbooklib.actions.common import ActionError, rolling


def stop(host):
    if host.name == "caje":
        raise ActionError("caje: the server did not stop within 60 s")
    return host.name


@step("f02", at="12:01", owner="Thomas", hosts="all")
def test_f02_shutdown_app_servers(hosts):
    '''Shutdown all application servers'''
    assert rolling(hosts, stop, max_failures=len(hosts)) == ["stubing"]
"""

SAID = (
    "caje: failure tolerated (1 of at most 2), going on with the next host: "
    "the server did not stop within 60 s"
)


def test_a_tolerated_failure_is_on_the_console_in_the_journal_and_in_the_record(project):
    project.procedure("fallback", FALLBACK)

    result = project.run("--operator", "thomas")

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"*WARNING: {SAID}*"])
    (warning,) = events(project.journal(), "warning")
    assert warning["step"] == "f02" and warning["host"] == "caje" and warning["tolerated"]
    assert warning["error"] == "caje: the server did not stop within 60 s"
    record = unescape(project.reports(".html")[-1].read_text())
    assert f"Warning: {SAID}" in record.replace("<b>", "").replace("</b>", "")
