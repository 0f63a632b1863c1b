"""The step engine's pytest plugin (entry point `runbooklib.engine.plugin`).

One module per concern, like pytest's own plugins; `start` begins the run once collection is done.
A session that selects no step (the project's own `pytest tests/`) leaves every one of them idle.
Every option of the runbook is in the group "runbook" (`pytest --help`), whatever folder runs.
"""

import pytest

PHASES = ("preflight", "during", "after")

pytest_plugins = [
    "runbooklib.engine.hosts",  # the `hosts` fixture: each step's `hosts=` resolved
    "runbooklib.engine.ahead",  # a go/no-go check's slow look, started with the first check
    "runbooklib.engine.target",  # --inventory, --confirm-target, the `inventory` fixture
    "runbooklib.engine.run",  # the run's state; --operator, --reports
    "runbooklib.engine.follow",  # times, outcome and transcript of each step as it runs
    "runbooklib.engine.collect",  # metadata errors, order, per-step timeouts
    "runbooklib.engine.window",  # --window-start, planned vs actual, the fallback's room
    "runbooklib.engine.clock",  # --keep-time: no step before its planned time
    "runbooklib.engine.plan",  # --plan
    "runbooklib.engine.halt",  # the first failure stops the procedure
    "runbooklib.engine.until",  # --until: stop on purpose after a step
    "runbooklib.engine.dryrun",  # --dry-run
    "runbooklib.engine.approvals",  # manual steps: --approve, or asked at the terminal
    "runbooklib.engine.journal",  # JSON lines as it happens
    "runbooklib.engine.resume",  # --resume
    "runbooklib.engine.lock",  # one run per inventory; --break-lock
    "runbooklib.engine.record",  # HTML report + JUnit XML under reports/
    "runbooklib.engine.start",  # checks that can refuse a run, in order, before the first step
]


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from runbooklib.engine import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("runbook", "runbook (maintenance procedures run as steps)")
    group.addoption(
        "--phase",
        choices=PHASES,
        default="after",
        help="go/no-go: which checks to run: before the window (preflight), while it is open "
        "(during), or after the upgrade or fallback (after, the default)",
    )
    group.addoption(
        "--expect",
        choices=("upgrade", "fallback"),
        default="upgrade",
        help="go/no-go: which release the `after` checks expect: the upgrade's (default) or the "
        "fallback's",
    )
    parser.addini(
        "runbook_name",
        "what the procedures maintain, as the announcements name it (`<name> upgrade HALTED ...`)",
        default="",
    )
    group.addoption(
        "--forks",
        type=_whole,
        metavar="N",
        help="how many hosts a read-only fan-out talks to at once (Ansible's forks; default: the "
        "inventory's `forks`, else 10)",
    )
    group.addoption(
        "--full-scan",
        action="store_true",
        help="go/no-go: prove the surface with a full TCP scan (nmap -p-) of every node from every "
        "vantage host, instead of the listeners, NAT and a sample (slow)",
    )
    group.addoption(
        "--sample-seed",
        type=_whole,
        metavar="N",
        help="go/no-go: the seed of the surface's sample of other ports (each run logs its own: "
        "give it to replay that run's sample)",
    )


def _whole(text: str) -> int:
    """A whole number, 1 or more: anything else is pytest's one-line usage error."""
    import argparse

    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number, 1 or more")
    return int(text)
