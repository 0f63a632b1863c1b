"""Observations started ahead: a check's slow look at the hosts begins with the go/no-go's first
check, side by side with the others, and the check itself judges what it saw.

Checks run one after another, as pytest runs its items, and the slow ones mostly wait: a JVM
starting on a client, an nmap from each vantage host. A check names what it will look at, a
read-only function of the inventory and its hosts, and reads it from the `ahead` fixture:

    @pytest.mark.ahead(observe=surface.observe)    # observe(inventory, hosts) -> what it saw
    def test_surface_only_declared_ports(inventory, hosts, ahead):
        surface.assert_surfaces(inventory, hosts, "public", seen=ahead.result())

When every selected item is a go/no-go check (nothing in the run changes a host, so nothing an
observation sees can change under it), each one's observation starts as the checks start, after
the lock and the connections. Its commands are journaled under the check that reads it
(`transcript.working_for`), not under the check running when they ran. `ahead.result()` waits
for it and raises what it raised; without a run (or in a procedure, where an earlier step may
still change what it would see) the observation is made when the check asks.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from runbooklib.engine.hosts import hosts_pattern, resolve_hosts
from runbooklib.engine.run import RUN
from runbooklib.engine.steps import step_of
from runbooklib.transcript import carried, working_for

MARKER = (
    "ahead(observe=F): the read-only observe(inventory, hosts) this check judges, started with the "
    "go/no-go's first check (the `ahead` fixture)"
)
_started_key = pytest.StashKey[dict[str, Future]]()


class Ahead:
    """The observation of one check: started with the run, or made when asked."""

    def __init__(self, observe, inventory, hosts: list, started: Future | None):
        self._observe, self._inventory, self._hosts = observe, inventory, hosts
        self._started = started

    def result(self):
        if self._started is None:
            return self._observe(self._inventory, self._hosts)
        return self._started.result()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session):
    run = session.config.stash.get(RUN, None)
    items = session.items
    if run is None or run.base is None or any(step_of(item) for item in items):
        return (yield)
    asks = [(item, observe) for item in items if (observe := _observe(item))]
    started: dict[str, Future] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, len(asks)), thread_name_prefix="runbook-ahead")
    for item, observe in asks:
        try:
            hosts = resolve_hosts(run.inventory, hosts_pattern(item) or "")
        except Exception:  # noqa: BLE001 - the check's own `hosts` fixture says what to fix
            continue
        state = run.states.get(item.nodeid)
        token = working_for.set(state.id if state else item.name)
        try:
            started[item.nodeid] = pool.submit(carried(observe), run.inventory, hosts)
        finally:
            working_for.reset(token)
    session.config.stash[_started_key] = started
    try:
        return (yield)
    finally:
        # An interrupted run does not wait for looks nobody will read.
        pool.shutdown(wait=False, cancel_futures=True)


@pytest.fixture
def ahead(request: pytest.FixtureRequest, inventory, hosts) -> Ahead:
    """The observation named by the check's `ahead` mark (see the module's docstring)."""
    observe = _observe(request.node)
    if observe is None:
        raise pytest.UsageError(
            f"{request.node.nodeid} asks for `ahead` but names no observation: give it "
            "@pytest.mark.ahead(observe=F), F(inventory, hosts) read-only"
        )
    started = request.config.stash.get(_started_key, {}).get(request.node.nodeid)
    return Ahead(observe, inventory, hosts, started)


def _observe(item: pytest.Item):
    """The check's observation (a keyword: a lone callable would be taken for the marked one)."""
    mark = item.get_closest_marker("ahead")
    return mark.kwargs.get("observe") if mark else None
