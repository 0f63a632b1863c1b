"""Step metadata: the decorator that turns a test function into a step of a procedure.

    >>> @step("u01", at="08:00", owner="Joncarlo", kind="action", hosts="app")
    ... def test_u01_block_client_access(inventory):
    ...     '''Prevent any client access to SmartSite via iptables ...'''

The metadata rides on the function (`func.runbook_step`); the engine's other modules read it from
the collected item with `step_of(item)`. The decorator also adds pytest-order's index mark, so the
order is explicit in the file's order and survives any plugin that reorders tests.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import pytest

KINDS = ("action", "check", "manual")
# Every step is bounded; a manual step waits for people (the seed's testers get 10:00-11:45).
DEFAULT_TIMEOUT = {"action": 1800.0, "check": 600.0, "manual": 7200.0}
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
# Next pytest-order index per module: steps run in the order they are written.
_order_in_module: Counter[str] = Counter()


def minutes(hhmm: str) -> int:
    """'08:10' -> 490; ValueError naming the expected form otherwise."""
    match = _HHMM.match(hhmm or "")
    if not match:
        raise ValueError(f"{hhmm!r} is not a time of day in HH:MM form")
    return int(match.group(1)) * 60 + int(match.group(2))


@dataclass(frozen=True)
class Step:
    id: str
    # Planned start, HH:MM in the plan's own clock (an offset from its window start).
    at: str
    owner: str
    kind: str
    # Inventory group or host name the step acts on; shown by --plan.
    hosts: str
    # Bound in seconds for the whole step (setup, body, teardown).
    timeout: float
    # First paragraph of the docstring: the seed's words.
    title: str
    # An action step that may stop to ask a person before it destroys something: what it asks
    # (approved by naming the step with --approve, never by `all`).
    asks: str = ""

    @property
    def takes_approval(self) -> bool:
        return self.kind == "manual" or bool(self.asks)

    @property
    def minute(self) -> int:
        return minutes(self.at)


def step(
    id: str,
    *,
    at: str,
    owner: str,
    kind: str = "action",
    hosts: str = "all",
    timeout: float | None = None,
    asks: str = "",
) -> Callable[[Callable], Callable]:
    """Declare a step: stable id, planned time, owner, kind, target hosts and an optional bound."""
    if kind not in KINDS:
        raise ValueError(f"step {id}: kind {kind!r} must be one of {', '.join(KINDS)}")
    minutes(at)  # raises with the form expected, at import, naming the line
    if not id or not owner:
        raise ValueError(f"step {id!r}: give a non-empty id and owner")

    def decorate(func: Callable) -> Callable:
        # The first paragraph of the docstring, rewrapped: the seed's words may span lines.
        first = (func.__doc__ or "").strip().split("\n\n")[0]
        title = " ".join(line.strip() for line in first.splitlines())
        func.runbook_step = Step(
            id=id,
            at=at,
            owner=owner,
            kind=kind,
            hosts=hosts,
            timeout=float(timeout or DEFAULT_TIMEOUT[kind]),
            title=title,
            asks=asks,
        )
        _order_in_module[func.__module__] += 1
        return pytest.mark.order(_order_in_module[func.__module__])(func)

    return decorate


def step_of(item: pytest.Item) -> Step | None:
    return getattr(getattr(item, "function", None), "runbook_step", None)


def not_implemented(step_id: str) -> None:
    """The body of a step whose action is not written yet: it fails, it never passes silently."""
    pytest.fail(f"not implemented: {step_id}", pytrace=False)
