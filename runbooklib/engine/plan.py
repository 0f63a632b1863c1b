"""--plan: print the timeline of the selected steps and run none of them.

No step body, fixture, lock, journal or report: nothing that could open a connection.
"""

from __future__ import annotations

import pytest

from runbooklib.engine.hosts import resolve_hosts
from runbooklib.engine.run import RUN, Run
from runbooklib.engine.window import plan_fit
from runbooklib.inventory import Inventory, InventoryError


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("runbook").addoption(
        "--plan",
        action="store_true",
        help="print the timeline (time, owner, kind, id, title, target hosts); touch nothing",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("plan"):
        config.pluginmanager.register(PlanPrinter(), "runbook-plan")


def targets(inv: Inventory, pattern: str) -> str:
    """`app[1:]: web2`: the step's pattern and the hosts it resolves to (the `hosts` fixture)."""
    if pattern in inv.hosts:
        return pattern
    try:
        hosts = resolve_hosts(inv, pattern)
    except InventoryError:
        return f"{pattern}: not in inventory {inv.name}"
    return f"{pattern}: {', '.join(h.name for h in hosts) or 'no hosts'}"


def timeline(run: Run) -> list[str]:
    shown = [s for s in run.steps() if s.step]
    owners = max((len(s.step.owner) for s in shown), default=0)
    lines = []
    for state in shown:
        meta = state.step
        # Today's clock first; the plan's own (the seed's) beside it when the window moved it.
        when = f"{state.planned:%H:%M}"
        if when != meta.at:
            when += f" (plan {meta.at})"
        lines.append(
            f"{when}  {meta.owner:<{owners}}  {meta.kind:<6}  {meta.id:<5} "
            f"{meta.title}  [{targets(run.inventory, meta.hosts)}]"
        )
    return lines


class PlanPrinter:
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool:
        tr = session.config.pluginmanager.get_plugin("terminalreporter")
        run = session.config.stash.get(RUN, None)
        if run is None:
            tr.write_line("plan: no runbook step selected")
            return True
        window = run.window
        tr.write_sep(
            "=", f"plan: {run.procedure} on {run.inventory.name}, window {window.describe()}"
        )
        for line in timeline(run):
            tr.write_line(line)
        for line in plan_fit(run):
            tr.write_line(f"WARNING window: {line}", yellow=True)
        return True  # the steps are not run
