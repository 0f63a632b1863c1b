"""Step metadata, the step's hosts, and its named sub-steps.

    >>> @step("u12", at="09:35", owner="Thomas", kind="action", hosts="app[0]")
    ... def test_u12_restart_head_clean(hosts, known):
    ...     '''Once the head node started up without any errors, shut it down again; ...'''
    ...     with substep("Once the head node started up without any errors, shut it down again"):
    ...         server.stop(hosts[0])

The metadata rides on the function (`func.runbook_step`); the engine's other modules read it from
the collected item with `step_of(item)`. The decorator also adds pytest-order's index mark, so the
order is explicit in the file's order and survives any plugin that reorders tests.

A step gets its hosts from its `hosts=` pattern only (the `hosts` fixture: engine/hosts.py). A
seed line that a step carries with others is a `substep`: its start, end and outcome go to the
journal, the console and the record, and the commands run inside it belong to it.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from runbooklib.timeofday import minutes
from runbooklib.transcript import transcript

KINDS = ("action", "check", "manual")
# Every step is bounded; a manual step waits for people (the seed's testers get 10:00-11:45).
DEFAULT_TIMEOUT = {"action": 1800.0, "check": 600.0, "manual": 7200.0}
# Next pytest-order index per module: steps run in the order they are written.
_order_in_module: Counter[str] = Counter()


@dataclass(frozen=True)
class Step:
    id: str
    # Planned start, HH:MM in the plan's own clock (an offset from its window start).
    at: str
    owner: str
    kind: str
    # Host pattern (Ansible's: a group, a host, `app[0]`) the step acts on: the `hosts` fixture.
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


@contextmanager
def substep(name: str, hosts: list | None = None) -> Iterator[None]:
    """A named part of a step (a line of the seed): recorded with its own start, end, outcome
    and duration; the commands run inside it belong to it."""
    transcript.emit("substep_start", name=name, hosts=[str(h) for h in hosts or []])
    began, outcome = time.monotonic(), "failed"
    try:
        yield
        outcome = "passed"
    finally:
        duration = round(time.monotonic() - began, 3)
        transcript.emit("substep_end", name=name, outcome=outcome, duration=duration)


def substeps_of(func: Callable) -> list[str]:
    """The names of the `with substep("..."):` blocks of a step's body, in source order."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    found = []
    for node in ast.walk(tree):
        for item in getattr(node, "items", []) if isinstance(node, ast.With) else []:
            call = item.context_expr
            if (
                isinstance(call, ast.Call)
                and getattr(call.func, "id", getattr(call.func, "attr", "")) == "substep"
                and call.args
                and isinstance(call.args[0], ast.Constant)
            ):
                found.append((call.lineno, call.col_offset, call.args[0].value))
    return [name for *_, name in sorted(found)]


def owner_markers(owner: str) -> list[str]:
    """'Kirk, Sandra, Lisa' -> ['owner_kirk', 'owner_sandra', 'owner_lisa'] (`-m owner_kirk`)."""
    names = [re.sub(r"\W+", "_", part.strip().lower()).strip("_") for part in owner.split(",")]
    return [f"owner_{name}" for name in names if name]
