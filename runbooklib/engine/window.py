"""The maintenance window: plan times become today's clock, actual times are compared to them.

The plan is written on the seed's clock (08:00 start, 12:00 end: the inventory's `window` vars).
`--window-start HH:MM|now` says when the window really opened; every planned time moves with it.
At each step the engine checks that the rest of the procedure plus the whole fallback still end
before the window closes, and warns when they do not: the moment to decide, not to discover.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest

from runbooklib.engine.run import Run, StepState, now, register
from runbooklib.engine.steps import minutes
from runbooklib.transcript import transcript

# A warning is repeated only when the overrun grew by this much since the last one.
_REWARN = dt.timedelta(minutes=5)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("runbook")
    group.addoption(
        "--window-start",
        metavar="HH:MM|now",
        help="when the maintenance window opened; plan times follow it (default: now, "
        "or the resumed run's start)",
    )
    parser.addini(
        "runbook_fallback", "procedure whose length the window keeps room for", default="fallback"
    )


@dataclass
class Window:
    # The plan's own clock, minutes after midnight (inventory vars window.start / window.end).
    plan_start: int
    plan_end: int
    # When the window really opened.
    start: dt.datetime
    # The fallback procedure's name and planned length, kept free before the window closes.
    fallback_name: str
    fallback: dt.timedelta
    # Warnings given, for the terminal and the report.
    warnings: list[str] = field(default_factory=list)
    warned_overrun: dt.timedelta | None = None

    @property
    def end(self) -> dt.datetime:
        return self.start + dt.timedelta(minutes=self.plan_end - self.plan_start)

    def planned(self, at: str) -> dt.datetime:
        return self.start + dt.timedelta(minutes=minutes(at) - self.plan_start)

    def describe(self) -> str:
        plan = f"{hhmm(self.plan_start)}-{hhmm(self.plan_end)}"
        return f"{self.start:%H:%M}-{self.end:%H:%M} (plan {plan})"


def hhmm(minute: int) -> str:
    return f"{minute // 60 % 24:02d}:{minute % 60:02d}"


def length(steps: list) -> dt.timedelta:
    if not steps:
        return dt.timedelta(0)
    return dt.timedelta(minutes=max(s.minute for s in steps) - min(s.minute for s in steps))


def _window_start(option: str | None, default: dt.datetime | None) -> dt.datetime:
    clock = now().replace(second=0, microsecond=0)
    if not option:
        return default or clock
    if option == "now":
        return clock
    try:
        minute = minutes(option)
    except ValueError:
        raise pytest.UsageError(f"--window-start {option}: give HH:MM or now") from None
    start = clock.replace(hour=minute // 60, minute=minute % 60, second=0, microsecond=0)
    # The HH:MM nearest to now: a window opened at 23:30 is yesterday's when resumed at 00:10.
    if start - clock > dt.timedelta(hours=12):
        start -= dt.timedelta(days=1)
    elif clock - start > dt.timedelta(hours=12):
        start += dt.timedelta(days=1)
    return start


def begin(config: pytest.Config, run: Run, default_start: dt.datetime | None = None) -> None:
    spec = run.inventory.vars.get("window") or {}
    try:
        plan_start, plan_end = (
            minutes(spec.get("start", "08:00")),
            minutes(spec.get("end", "12:00")),
        )
    except ValueError as exc:
        raise pytest.UsageError(f"inventory {run.inventory.name}: window {exc}") from None
    fallback = config.getini("runbook_fallback")
    run.window = Window(
        plan_start=plan_start,
        plan_end=plan_end,
        start=_window_start(config.getoption("window_start"), default_start),
        fallback_name=fallback,
        fallback=length(run.all_steps.get(fallback, [])),
    )
    for state in run.steps():
        if state.step:
            state.planned = run.window.planned(state.step.at)
    if not config.getoption("plan"):
        register(config, "window", WindowWatch(run))


def late(state: StepState) -> str:
    """'12 min late', '3 min early', 'on time' for a step that started."""
    if not (state.planned and state.started):
        return ""
    delta = int((state.started - state.planned).total_seconds() / 60)  # whole minutes only
    if delta > 0:
        return f"{delta} min late"
    return f"{-delta} min early" if delta < 0 else "on time"


def overrun(run: Run, state: StepState, at: dt.datetime) -> dt.timedelta:
    """How far the rest of this procedure, then the fallback, would end past the window's end."""
    rest = [s.step for s in run.steps() if s.procedure == state.procedure and s.step]
    remaining = dt.timedelta(minutes=max(s.minute for s in rest) - state.step.minute)
    room = dt.timedelta(0) if state.procedure == run.window.fallback_name else run.window.fallback
    return at + remaining + room - run.window.end


class WindowWatch:
    def __init__(self, run: Run):
        self.run = run

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        state = self.run.states.get(item.nodeid)
        if state is None or state.step is None or state.procedure == "checks":
            return
        window = self.run.window
        over = overrun(self.run, state, now())
        if over <= dt.timedelta(0):
            return
        if window.warned_overrun is not None and over - window.warned_overrun < _REWARN:
            return
        window.warned_overrun = over
        with_fallback = "" if state.procedure == window.fallback_name else " plus the fallback"
        text = (
            f"at {state.id}: the rest of {state.procedure}{with_fallback} would end "
            f"{_span(over)} after the window closes at {window.end:%H:%M}"
        )
        window.warnings.append(text)
        transcript.emit("window_warning", step=state.id, text=text)

    def pytest_terminal_summary(self, terminalreporter) -> None:
        run, tr = self.run, terminalreporter
        started = [s for s in run.steps() if s.started and s.step]
        if not started and not run.window.warnings:
            return
        tr.write_sep("-", f"window {run.window.describe()}: planned vs actual")
        for s in started:
            actual = f"{s.started:%H:%M:%S}" if s.outcome != "skipped" else "-"
            shown = late(s) if s.outcome != "skipped" else s.reason
            tr.write_line(f"{s.id:<5} planned {s.planned:%H:%M}  actual {actual:<8}  {shown}")
        for text in run.window.warnings:
            tr.write_line(f"WARNING window: {text}", yellow=True)


def _span(delta: dt.timedelta) -> str:
    total = int(delta.total_seconds() // 60)
    return f"{total // 60}h{total % 60:02d}" if total >= 60 else f"{total} min"


def plan_fit(run: Run) -> list[str]:
    """For --plan: where a procedure, as planned and with room for the fallback, overruns."""
    lines = []
    for procedure in dict.fromkeys(s.procedure for s in run.steps() if s.step):
        first = next(s for s in run.steps() if s.procedure == procedure and s.step)
        over = overrun(run, first, first.planned)
        if over > dt.timedelta(0):
            with_fallback = "" if procedure == run.window.fallback_name else " with the fallback"
            lines.append(
                f"{procedure}{with_fallback} as planned ends {_span(over)} after the window "
                f"closes at {run.window.end:%H:%M}"
            )
    return lines
