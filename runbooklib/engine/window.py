"""The maintenance window: plan times become today's clock, actual times are compared to them.

The plan is written on the seed's clock (08:00 start, 12:00 end: the inventory's `window` vars).
A procedure written from a plan page of its own carries that page's window with it, on the module:
`pytestmark = pytest.mark.window("06:00", "07:00")`; it wins over the inventory's.
`--window-start HH:MM|now` says when the window really opened; every planned time moves with it.

At each step the engine warns, the moment it matters and not before:
- when the rest of the procedure, at the pace it keeps now, would end after the window's end (or
  after the plan's own end, when the plan itself runs past the window: --plan says so);
- when the latest time to start the fallback is near or past while the procedure would still be
  running then. That time is when the fallback's plan starts (the seed starts it at the window's
  end, 12:00, and lets it run past) or, if later, the window's end less the fallback's length.
It says that time. An on-time run is never warned. All of this is worked out once, before the
first step, so a step costs the same whatever the number of steps.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import pytest

from runbooklib.engine.run import Run, StepState, now, register
from runbooklib.engine.steps import minutes
from runbooklib.engine.timefmt import lateness
from runbooklib.transcript import transcript

# A warning is repeated only when the overrun grew by this much since the last one.
_REWARN = dt.timedelta(minutes=5)
# How soon before the latest time to start the fallback the operator is told.
_NEAR = dt.timedelta(minutes=15)


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


# procedure -> the (start, end) of its module's `window` mark, read at collection.
_marked = pytest.StashKey[dict]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        'window(start, end): the plan\'s own window ("HH:MM", "HH:MM"), over the inventory\'s',
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    marked = config.stash.setdefault(_marked, {})
    for item in items:
        mark = item.get_closest_marker("window")
        if mark:
            marked[item.path.stem.removeprefix("test_")] = (str(item.path), mark.args)


def _plan_window(config: pytest.Config, run: Run) -> tuple[int, int]:
    """The window of the run's procedures' own mark, or else the inventory's `window` vars."""
    marked = config.stash.get(_marked, {})
    procedures = {s.procedure for s in run.steps()} - {"checks"}
    found = {marked[p] for p in procedures if p in marked}
    unmarked = sorted(p for p in procedures if p not in marked)
    if found and unmarked:
        raise pytest.UsageError(
            f"{', '.join(unmarked)} keep the inventory's window and "
            f"{', '.join(sorted(p for p in procedures if p in marked))} mark their own: "
            "run them one at a time"
        )
    if len({args for _, args in found}) > 1:
        shown = "; ".join(f"{path}: {args}" for path, args in sorted(found))
        raise pytest.UsageError(
            f"the procedures of this run mark different windows ({shown}): run them one at a time"
        )
    if found:
        path, args = found.pop()
        try:
            start, end = (minutes(a) for a in args)
        except (TypeError, ValueError):
            raise pytest.UsageError(
                f'{path}: window mark {args}: give pytest.mark.window("HH:MM", "HH:MM")'
            ) from None
        if end <= start:
            raise pytest.UsageError(f"{path}: window mark {args}: it ends before it starts")
        return start, end
    spec = run.inventory.vars.get("window") or {}
    try:
        return minutes(spec.get("start", "08:00")), minutes(spec.get("end", "12:00"))
    except ValueError as exc:
        raise pytest.UsageError(f"inventory {run.inventory.name}: window {exc}") from None


@dataclass
class Window:
    # The plan's own clock, minutes after midnight (the procedure's `window` mark, or the
    # inventory vars window.start / window.end).
    plan_start: int
    plan_end: int
    # When the window really opened.
    start: dt.datetime
    # The fallback procedure's name and planned length, kept free before the window closes.
    fallback_name: str
    fallback: dt.timedelta
    # The latest time to start the fallback (see the module's docstring).
    fallback_by: dt.datetime | None = None
    # procedure -> the plan time (minutes) of its last selected step, and that step on today's
    # clock: worked out once, so that each step's check is O(1).
    last_minute: dict[str, int] = field(default_factory=dict)
    planned_end: dict[str, dt.datetime] = field(default_factory=dict)
    # Warnings given, for the terminal and the report.
    warnings: list[str] = field(default_factory=list)
    warned_overrun: dt.timedelta | None = None
    warned_fallback: str = ""

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
    # "now" is now to the second: a window rounded down to the minute would make the first
    # steps up to a minute late before they start.
    exact = now().replace(microsecond=0)
    clock = exact.replace(second=0)
    if not option:
        return default or exact
    if option == "now":
        return exact
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
    plan_start, plan_end = _plan_window(config, run)
    fallback = config.getini("runbook_fallback")
    run.window = Window(
        plan_start=plan_start,
        plan_end=plan_end,
        start=_window_start(config.getoption("window_start"), default_start),
        fallback_name=fallback,
        fallback=length(run.all_steps.get(fallback, [])),
    )
    window = run.window
    for state in run.steps():
        if state.step:
            state.planned = window.planned(state.step.at)
            window.last_minute[state.procedure] = state.step.minute
            window.planned_end[state.procedure] = state.planned
    fallback_steps = run.all_steps.get(fallback, [])
    window.fallback_by = window.end - window.fallback
    if fallback_steps:
        window.fallback_by = max(window.fallback_by, window.planned(fallback_steps[0].at))
    if not config.getoption("plan"):
        register(config, "window", WindowWatch(run))


def late(state: StepState) -> str:
    """'12 min late', '3 min early', 'on time' for a step that started."""
    return lateness(state.planned, state.started)


# How the operator is told that the run is ahead of its plan, the one time it is said.
AHEAD = ", ahead of the plan (said once)"


def early_once(said: str, was_early: bool) -> str:
    """A step's lateness as the console and the planned-vs-actual table say it: a run ahead of
    its plan (a rehearsal, 240 min early) says so at the first early step, then nothing until a
    step is on time or late again; not the same earliness on every line."""
    if not said.endswith("early"):
        return said
    return "" if was_early else said + AHEAD


def projected_end(run: Run, state: StepState, at: dt.datetime) -> dt.datetime:
    """When the rest of this step's procedure ends if it starts at `at` and keeps to the plan."""
    rest = run.window.last_minute[state.procedure] - state.step.minute
    return at + dt.timedelta(minutes=rest)


def deadline(run: Run, procedure: str) -> dt.datetime:
    """The window's end, or the plan's own end when the plan itself runs past the window."""
    return max(run.window.end, run.window.planned_end[procedure])


def fallback_due(window: Window, at: dt.datetime) -> str:
    """'in 12 min', 'now', '25 min ago': when the latest time to start the fallback comes."""
    seconds = (window.fallback_by - at).total_seconds()
    if seconds > 0:  # a part of a minute left is a minute left
        return f"in {_span(dt.timedelta(minutes=math.ceil(seconds / 60)))}"
    return "now" if seconds > -60 else f"{_span(dt.timedelta(seconds=-seconds))} ago"


_STAGES = ("", "near", "past")


class WindowWatch:
    def __init__(self, run: Run):
        self.run = run

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        state = self.run.states.get(item.nodeid)
        if state is None or state.step is None or state.procedure == "checks":
            return
        text = self.warning(state, now())
        if text:
            self.run.window.warnings.append(text)
            transcript.emit("window_warning", step=state.id, text=text)

    def warning(self, state: StepState, at: dt.datetime) -> str:
        """The warning due at this step's start, or "" (nothing new, or all on time)."""
        window = self.run.window
        end = projected_end(self.run, state, at)
        limit = deadline(self.run, state.procedure)
        # Whole minutes, as lateness is shown: seconds late are on time.
        over = dt.timedelta(minutes=int((end - limit).total_seconds() // 60))
        late = over > dt.timedelta(0) and (
            window.warned_overrun is None or over - window.warned_overrun >= _REWARN
        )
        stage = ""
        if state.procedure != window.fallback_name and end > window.fallback_by:
            if at >= window.fallback_by:
                stage = "past"
            elif window.fallback_by - at <= _NEAR:
                stage = "near"
        fallback_news = _STAGES.index(stage) > _STAGES.index(window.warned_fallback)
        if not (late or fallback_news):
            return ""
        if late:
            window.warned_overrun = over
        if fallback_news:
            window.warned_fallback = stage
        closes = f"the window closes at {window.end:%H:%M}"
        if limit > window.end:
            closes = f"its plan ends at {limit:%H:%M} ({closes})"
        text = f"at {state.id}: the rest of {state.procedure} would end at {end:%H:%M}"
        text += f", {_span(over)} after {closes}" if over > dt.timedelta(0) else f"; {closes}"
        if state.procedure != window.fallback_name:
            text += (
                f"; latest time to start the fallback ({_span(window.fallback)} long): "
                f"{window.fallback_by:%H:%M}, {fallback_due(window, at)}"
            )
        return text

    def pytest_terminal_summary(self, terminalreporter) -> None:
        run, tr = self.run, terminalreporter
        started = [s for s in run.steps() if s.started and s.step]
        if not started and not run.window.warnings:
            return
        tr.write_sep("-", f"window {run.window.describe()}: planned vs actual")
        was_early = False
        for s in started:
            actual, shown = "-", s.reason
            if s.outcome != "skipped" or s.waits_for_changes:  # a dry run's check did run
                actual, said = f"{s.started:%H:%M:%S}", late(s)
                shown, was_early = early_once(said, was_early), said.endswith("early")
            line = f"{s.id:<5} planned {s.planned:%H:%M}  actual {actual:<8}  {shown}"
            tr.write_line(line.rstrip())
        for text in run.window.warnings:
            tr.write_line(f"WARNING window: {text}", yellow=True)


def _span(delta: dt.timedelta) -> str:
    total = int(delta.total_seconds() // 60)
    return f"{total // 60}h{total % 60:02d}" if total >= 60 else f"{total} min"


def plan_fit(run: Run) -> list[str]:
    """For --plan: a procedure whose plan ends after the window's end, or after the latest time
    to start the fallback."""
    window, lines = run.window, []
    for procedure, end in window.planned_end.items():
        if procedure == "checks":
            continue
        if end > window.end:
            lines.append(
                f"{procedure} as planned ends at {end:%H:%M}, {_span(end - window.end)} after "
                f"the window closes at {window.end:%H:%M}"
            )
        if procedure != window.fallback_name and end > window.fallback_by:
            lines.append(
                f"{procedure} as planned ends at {end:%H:%M}, {_span(end - window.fallback_by)} "
                f"after the latest time to start the fallback ({_span(window.fallback)} long) "
                f"at {window.fallback_by:%H:%M}"
            )
    return lines
