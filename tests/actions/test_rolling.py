"""`rolling`: one host after another; a failure within `max_failures` is tolerated but never lost
(a warning naming the host and the error, the moment it happens); one more halts, naming all."""

from __future__ import annotations

import pytest

from runbooklib.actions.common import ActionError, rolling
from runbooklib.remote import Host
from runbooklib.transcript import transcript

NODES = [Host(f"app{i}", f"192.0.2.{i}") for i in range(1, 4)]


@pytest.fixture
def heard():
    """The transcript's events while the test runs (the journal and the console listen so)."""
    events: list[tuple[str, dict]] = []
    listen = lambda event, data: events.append((event, data))  # noqa: E731
    transcript.listeners.append(listen)
    yield events
    transcript.listeners.remove(listen)


def stop(host: Host) -> str:
    if host.name == "app2":
        raise ActionError("app2: did not stop within 60 s\nthe log's last lines ...")
    return f"{host.name} stopped"


def test_a_tolerated_failure_goes_on_and_is_a_warning_naming_host_and_error(heard):
    assert rolling(NODES, stop, max_failures=3) == ["app1 stopped", "app3 stopped"]

    warnings = [data for event, data in heard if event == "warning"]
    assert warnings == [
        {
            "text": "app2: failure tolerated (1 of at most 3), going on with the next host: "
            "did not stop within 60 s",
            "host": "app2",
            "error": "app2: did not stop within 60 s\nthe log's last lines ...",
            "tolerated": True,
        }
    ]


def test_no_failure_no_warning(heard):
    assert rolling(NODES[:1], stop, max_failures=1) == ["app1 stopped"]
    assert [event for event, _ in heard if event == "warning"] == []


def test_one_failure_too_many_halts_naming_every_host_that_failed(heard):
    def both_fail(host: Host) -> None:
        if host.name != "app1":
            raise OSError(f"{host.name}: ssh: connection refused")

    with pytest.raises(ActionError) as failed:
        rolling(NODES, both_fail, max_failures=1)

    assert str(failed.value) == "app2: ssh: connection refused; app3: ssh: connection refused"
    # The first was tolerated (and said so); the second halted: raised, not a warning.
    assert [data["host"] for event, data in heard if event == "warning"] == ["app2"]


def test_by_default_the_first_failure_halts_without_a_warning(heard):
    with pytest.raises(ActionError, match="^app2: did not stop within 60 s$"):
        rolling(NODES, stop)
    assert [event for event, _ in heard if event == "warning"] == []
