"""The record's timeline: planned against actual per step, as inline SVG (no script).

`timeline(view)` lays the picture out (pure geometry) and templates/timeline.svg.j2 draws it.
A procedure with a plan is drawn on the plan's axis, with the window's end and the latest time
to start the fallback; when the actual work is under 5% of the plan's span (a rehearsal: seconds
of work on a four-hour plan) a second panel, the inset, draws the actual bars on their own axis.
Checks have no plan: their picture is their own seconds, on a labelled clock axis. The legend
names only what was drawn.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from runbooklib.engine.view import RunView, StepView

LEFT_MIN, WIDTH, ROW = 60, 880, 16
INSET_BELOW = 0.05  # the actual work's share of the plan's span under which an inset is drawn

COLOURS = {"passed": "#1a7f37", "skipped": "#999", "planned": "#bbb", "failed": "#c62828"}
LEGEND = {
    "planned": ("#bbb", "planned"),
    "actual": ("#1a7f37", "actual (red: failed, grey: skipped)"),
    "window-end": ("#c62828", "dashed red: the window's end"),
    "fallback-latest": ("#b26a00", "dashed amber: the latest time to start the fallback"),
    "approval": ("#0550ae", "blue diamond: approval"),
    "halt": ("#c62828", "✖: where the run halted"),
}


@dataclass
class Panel:
    title: str
    top: float
    height: float
    axis: str  # the axis' label
    # The scale the actual bars were drawn on (approvals are marked on it too).
    scale: Axis | None = None
    ticks: list[tuple[float, str]] = field(default_factory=list)
    rects: list[dict] = field(default_factory=list)
    lines: list[dict] = field(default_factory=list)
    marks: list[dict] = field(default_factory=list)


@dataclass
class Picture:
    title: str
    width: int
    height: float
    left: int
    labels: list[tuple[float, str]]  # (y, step id) per row, per panel
    panels: list[Panel]
    legend: list[tuple[str, str]]  # (colour, text) of what is drawn


class Axis:
    """Times to x on a panel: t0 at `left`, t0 + span at `left + width`."""

    def __init__(self, t0: dt.datetime, t1: dt.datetime, left: int, width: int):
        self.t0, self.left, self.width = t0, left, width
        self.span = max((t1 - t0).total_seconds(), 10.0)

    def x(self, t: dt.datetime) -> float:
        return round(self.left + self.width * (t - self.t0).total_seconds() / self.span)

    def ticks(self) -> list[tuple[float, str]]:
        every = _tick(self.span)
        with_seconds = every < dt.timedelta(minutes=1)
        tick = self.t0.replace(minute=0, second=0, microsecond=0)
        out = []
        while tick <= self.t0 + dt.timedelta(seconds=self.span):
            if tick >= self.t0:
                out.append((self.x(tick), f"{tick:%H:%M:%S}" if with_seconds else f"{tick:%H:%M}"))
            tick += every
        return out


def _tick(span: float) -> dt.timedelta:
    """Grid lines: about four to twelve across the picture."""
    for every in (1, 2, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600):
        if span / every <= 12:
            return dt.timedelta(seconds=every)
    return dt.timedelta(days=1)


def planned_ends(steps: list[StepView]) -> dict[str, dt.datetime]:
    """Each step's planned end: the next later planned time of its procedure."""
    ends = {}
    for s in steps:
        if not s.planned:
            continue
        later = [
            o.planned
            for o in steps
            if o.procedure == s.procedure and o.planned and o.planned > s.planned
        ]
        ends[s.id] = min(later) if later else s.planned + dt.timedelta(minutes=1)
    return ends


def timeline(view: RunView) -> Picture | None:
    steps = view.steps
    if not steps:
        return None
    drawn: set[str] = set()
    left = max(LEFT_MIN, 6 * max(len(s.id) for s in steps) + 8)
    width = WIDTH - left
    rows = ROW * len(steps)
    actual = [t for s in steps for t in (s.started, s.ended) if t]
    planned = any(s.planned for s in steps)
    panels = []
    labels = []
    if planned:
        window_end = view.time(view.start.get("window_end"))
        window_start = view.time(view.start.get("window_start"))
        latest = view.fallback_latest
        ends = planned_ends(steps)
        times = [s.planned for s in steps if s.planned] + list(ends.values()) + actual
        times += [t for t in (window_start, window_end, latest) if t]
        axis = Axis(min(times), max(times), left, width)
        plan_span = (max(times) - min(times)).total_seconds()
        work = (max(actual) - min(actual)).total_seconds() if actual else 0.0
        inset = bool(actual) and work < INSET_BELOW * plan_span
        main = Panel(
            "planned against actual" if not inset else "the plan (actual work: the inset below)",
            top=30,
            height=rows,
            axis="time of day (the window's clock)",
            ticks=axis.ticks(),
        )
        for i, s in enumerate(steps):
            y = main.top + i * ROW
            if s.planned:
                x = axis.x(s.planned)
                main.rects.append(_rect("planned", s, x, y, axis.x(ends[s.id]) - x))
                drawn.add("planned")
        if not inset:
            _actual_bars(main, steps, axis, drawn)
        for t, label, cls in (
            (window_end, "window end", "window-end"),
            (latest, "latest fallback start", "fallback-latest"),
        ):
            if t:
                main.lines.append(
                    {"cls": cls, "x": axis.x(t), "label": f"{label} {t:%H:%M}", "colour": None}
                )
                drawn.add(cls)
        panels.append(main)
        labels += [(main.top + i * ROW + 10, s.id) for i, s in enumerate(steps)]
        if inset:
            zoom = Axis(min(actual), max(actual), left, width)
            panel = Panel(
                f"the actual work, {work:.0f} s, on its own axis",
                top=main.top + rows + 60,
                height=rows,
                axis="time of day, to the second",
                ticks=zoom.ticks(),
            )
            _actual_bars(panel, steps, zoom, drawn)
            panels.append(panel)
            labels += [(panel.top + i * ROW + 10, s.id) for i, s in enumerate(steps)]
    elif actual:
        axis = Axis(min(actual), max(actual), left, width)
        panel = Panel(
            "each check's run", top=30, height=rows, axis="time of day (the clock of the run)"
        )
        panel.ticks = axis.ticks()
        _actual_bars(panel, steps, axis, drawn)
        panels.append(panel)
        labels += [(panel.top + i * ROW + 10, s.id) for i, s in enumerate(steps)]
    else:
        return None
    for a in view.approvals:
        t = view.time(a.get("t"))
        i = next((n for n, s in enumerate(steps) if s.id == a.get("step")), None)
        if t is None or i is None:
            continue
        # On the panel that draws the actual bars.
        panel = panels[-1]
        panel_axis = panel.scale
        if panel_axis is None:
            continue
        panel.marks.append(
            {
                "cls": "approval",
                "x": panel_axis.x(t),
                "y": panel.top + i * ROW + 6,
                "title": f"approved by {a.get('operator')} ({a.get('how')})",
            }
        )
        drawn.add("approval")
    height = panels[-1].top + panels[-1].height + 34
    legend = [LEGEND[k] for k in LEGEND if k in drawn]
    return Picture(
        title=f"Timeline of {view.procedure}: planned against actual for each step",
        width=WIDTH + 100,
        height=height,
        left=left,
        labels=labels,
        panels=panels,
        legend=legend,
    )


def _actual_bars(panel: Panel, steps: list[StepView], axis: Axis, drawn: set[str]) -> None:
    panel.scale = axis
    for i, s in enumerate(steps):
        if not s.started:
            continue
        y = panel.top + i * ROW + 6
        end = s.ended or s.started
        x = axis.x(s.started)
        colour = COLOURS.get(s.outcome, COLOURS["failed"])
        panel.rects.append(_rect("actual", s, x, y, axis.x(end) - x, colour))
        drawn.add("actual")
        if s.outcome in ("failed", "interrupted"):
            panel.marks.append({"cls": "halt", "x": axis.x(end) + 3, "y": y + 5, "title": "halted"})
            drawn.add("halt")


def _rect(cls: str, s: StepView, x: float, y: float, w: float, colour: str = "#bbb") -> dict:
    if cls == "planned":
        title = f"{s.id} planned {s.planned:%H:%M}"
    else:
        ended = f"{s.ended:%H:%M:%S}" if s.ended else ""
        title = f"{s.id} {s.started:%H:%M:%S}-{ended} {s.outcome}"
    return {"cls": cls, "x": x, "y": y, "w": max(round(w), 2), "fill": colour, "title": title}
