"""Collection: every test in the steps folders is a well-formed step, in plan order, bounded.

A step without metadata, two steps with one id, or planned times that go backwards is a collection
error naming file and line: the run stops before anything is touched, like a syntax error would.
Each step gets pytest-timeout's mark with its bound, so a hanging step fails instead of hanging
the window, and marks of its kind and owners, to select steps by them: `-m manual`,
`-m owner_prabhu`.
"""

from __future__ import annotations

import pytest

from runbooklib.engine.run import _under
from runbooklib.engine.steps import KINDS, owner_markers, step_of

# step id -> "path:line" of its first definition in this session, to find duplicates across files.
_seen_key = pytest.StashKey[dict[str, str]]()


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    report = yield
    config = collector.config
    if (
        isinstance(collector, pytest.Module)
        and report.passed
        and _under(collector.path, config.getini("runbook_steps"))
    ):
        problems = _problems(config.stash.setdefault(_seen_key, {}), report.result)
        if problems:
            report.outcome = "failed"
            report.longrepr = "\n".join(problems)
            report.result = []
    return report


def _problems(seen: dict[str, str], nodes: list) -> list[str]:
    problems, last, done = [], None, set()
    for node in nodes:
        path, line, _ = node.location
        where = f"{path}:{line + 1}"
        if not isinstance(node, pytest.Function):
            problems.append(f"{where}: {node.name}: steps are module-level test functions")
            continue
        if node.function in done:  # a parametrized step: one step, several items
            continue
        done.add(node.function)
        meta = step_of(node)
        if meta is None:
            problems.append(
                f"{where}: {node.name} has no step metadata: decorate it with "
                '@step("id", at="HH:MM", owner=..., kind=..., hosts=...)'
            )
            continue
        if not meta.title:
            problems.append(f"{where}: step {meta.id} has no docstring: give the plan's words")
        if meta.id in seen:
            problems.append(f"{where}: step id {meta.id} is already used at {seen[meta.id]}")
        else:
            seen[meta.id] = where
        if last and meta.minute < last[1].minute:
            problems.append(
                f"{where}: step {meta.id} at {meta.at} is planned before the step above it "
                f"({last[1].id} at {last[1].at}): times must not go backwards"
            )
        last = (where, meta)
    return problems


def pytest_configure(config: pytest.Config) -> None:
    for kind in KINDS:
        config.addinivalue_line("markers", f"{kind}: a runbook step of kind `{kind}` (-m {kind})")


# tryfirst: the marks must be on the items before `-m` selects by them.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        meta = step_of(item)
        if not meta:
            continue
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(meta.timeout))
        item.add_marker(meta.kind)
        for name in owner_markers(meta.owner):
            # Registered as found (--strict-markers): owners are the plan's, not a fixed list.
            config.addinivalue_line("markers", f"{name}: steps owned by {meta.owner}")
            item.add_marker(name)
