"""Check mode is a property of the hosts an action is given, not a global (pure logic: no ssh)."""

from runbooklib.actions.common import Outcome
from runbooklib.remote import Host
from runbooklib.transcript import transcript, verification

# A documentation address that answers nothing: a command really run would fail.
NOWHERE = "192.0.2.250"


def heard() -> list[tuple[str, dict]]:
    events: list[tuple[str, dict]] = []
    transcript.listeners.append(lambda event, data: events.append((event, data)))
    return events


def test_a_host_in_check_mode_records_a_change_and_runs_nothing():
    events = heard()
    host = Host("stubing", NOWHERE, check_mode=True)

    result = host.run("systemctl stop tomcat")

    assert result.dry_run and result.rc == 0
    assert (
        "command",
        {"host": "stubing", "command": "systemctl stop tomcat", "dry_run": True, "changes": True},
    ) in events
    transcript.listeners.clear()


def test_an_outcome_in_check_mode_says_what_would_change():
    events = heard()

    Outcome(Host("walton", NOWHERE, check_mode=True), "tomcat stop", True, "pid 42")
    Outcome(Host("walton", NOWHERE), "tomcat stop", True, "pid 42")

    texts = [data["text"] for event, data in events if event == "note"]
    assert texts == [
        "walton: tomcat stop: would change. pid 42",
        "walton: tomcat stop: changed. pid 42",
    ]
    transcript.listeners.clear()


def test_a_verification_of_a_host_in_check_mode_is_recorded_in_an_action_step_only():
    calls = []

    @verification
    def assert_running(host):
        calls.append(host.name)

    host = Host("caje", NOWHERE, check_mode=True)
    transcript.step_kind = "action"
    assert_running(host)
    transcript.step_kind = "check"
    assert_running(host)
    transcript.step_kind = None

    assert calls == ["caje"]
