"""Talking to the operator at the terminal, under pytest's output capture.

`ask` takes a typed answer. `LiveConsole` is the run's live view: a line as each step starts
(planned time, lateness, id, owner, title) and ends (result, duration), a line for each sub-step
when the steps mark them, and each warning the moment it is raised. It writes through pytest's
terminal reporter (so `-q` still shows it, and a run's output stays in one stream) and takes the
place of pytest's row of dots for the steps.
"""

from __future__ import annotations

import contextlib
import re
import sys
import threading
from typing import TYPE_CHECKING

import pytest

from runbooklib.engine.timefmt import duration
from runbooklib.transcript import transcript

if TYPE_CHECKING:  # imported by target.py before pytest registers the engine's other modules
    from runbooklib.engine.run import Run


def ask(config: pytest.Config, prompt: str) -> str | None:
    """The operator's typed answer, or None when no one is at a terminal (CI, cron, a pipe)."""
    capman = config.pluginmanager.getplugin("capturemanager")
    with capman.global_and_fixture_disabled():
        # That context gives back stdout and stderr only; give stdin back too, as pdb does.
        capman.suspend_global_capture(in_=True)
        if not sys.stdin or not sys.stdin.isatty():
            return None
        try:
            return input(prompt).strip()
        except EOFError:
            return None


@contextlib.contextmanager
def terminal(config: pytest.Config):
    """The terminal reporter, usable even inside a test's captured phase; None without one."""
    tr = config.pluginmanager.get_plugin("terminalreporter")
    capman = config.pluginmanager.get_plugin("capturemanager")
    if tr is None:
        yield None
        return
    with capman.global_and_fixture_disabled() if capman else contextlib.nullcontext():
        yield tr


# Warnings raised as events by the engine's modules: shown at once, in yellow.
WARNINGS = {"window_warning": "WARNING window", "warning": "WARNING"}


class LiveConsole:
    def __init__(self, config: pytest.Config, run: Run):
        self.config, self.run = config, run
        # Checks run their hosts in threads: one whole line at a time.
        self._writing = threading.Lock()
        # Whether the run's earliness was said already (see `timing`).
        self._early = False
        self._said_fallback = False
        transcript.listeners.append(self.listen)
        tr = config.pluginmanager.get_plugin("terminalreporter")
        if tr is not None and tr.verbosity <= 0:
            tr.showfspath = False  # the step lines say where the run is

    def listen(self, event: str, data: dict) -> None:
        line, markup = self.line(event, data)
        if line is None:
            return
        with self._writing, terminal(self.config) as tr:
            if tr is not None:
                tr.write_line(line, **markup)

    def line(self, event: str, data: dict) -> tuple[str | None, dict]:
        if event.startswith("substep_") and "step" not in data and self.run.current:
            data = {**data, "step": self.run.current.id}
        if event == "step_start":
            state, run = self.run.current, self.run
            if state is None:
                return None, {}
            if (
                state.earlier
                or run.halted_after.get(state.procedure)
                or run.stopped_after.get(state.procedure)
            ):
                return None, {}  # the engine skips it: its end line says why
            if state.planned is None:  # a check: its name is its title
                title = data.get("title", "")
                return f"{state.id}{'' if title == state.id else ' ' + title}", {}
            owner = f"{data['owner']}: " if data.get("owner") else ""
            return (
                self.latest_fallback_start(state)
                + f"{state.id} planned {state.planned:%H:%M}{self.timing(state)}  "
                f"{owner}{data.get('title', '')}",
                {"bold": True},
            )
        if event == "step_end":
            outcome = data.get("outcome", "")
            why = f": {data['reason']}" if data.get("reason") else ""
            colour = {"passed": "green", "failed": "red"}.get(outcome, "yellow")
            took = "" if outcome == "skipped" else f" in {duration(data.get('duration', 0))}"
            return f"{data.get('step')} {outcome}{took}{why}", {colour: True}
        if event == "substep_start":
            name = str(data.get("name"))
            hosts = unnamed(name, data.get("hosts") or [])
            return f"  {data.get('step')} . {name}{f' ({hosts})' if hosts else ''}", {}
        if event == "substep_end":
            return (
                f"  {data.get('step')} . {data.get('name')}: {data.get('outcome')} "
                f"in {duration(data.get('duration', 0))}",
                {},
            )
        if event in WARNINGS:
            return f"{WARNINGS[event]}: {data.get('text', '')}", {"yellow": True}
        return None, {}

    def latest_fallback_start(self, state) -> str:
        """Before the first step, once: the engine's latest time to start the fallback, the
        same time the records give."""
        window = self.run.window
        if self._said_fallback or window is None or window.fallback_by is None:
            return ""
        self._said_fallback = True
        if state.procedure == window.fallback_name:
            return ""
        return f"latest time to start the fallback: {window.fallback_by:%H:%M}\n"

    def timing(self, state) -> str:
        """', 12 min late', ', on time'; a run ahead of its plan (a rehearsal) says how far once,
        then only when it is late or on time again: not '240 min early' on every line."""
        from runbooklib.engine.window import early_once, late  # see TYPE_CHECKING above

        said = late(state) or "now"
        shown = early_once(said, self._early)
        self._early = said.endswith("early")
        return f", {shown}" if shown else ""

    @pytest.hookimpl(wrapper=True)
    def pytest_report_teststatus(self, report: pytest.TestReport, config: pytest.Config):
        status = yield
        # A step's own lines replace pytest's letter for it (the summary still counts it).
        if report.nodeid in self.run.states and config.get_verbosity() <= 0:
            category, _, word = status
            return category, "", word
        return status

    def close(self) -> None:
        if self.listen in transcript.listeners:
            transcript.listeners.remove(self.listen)


def unnamed(name: str, hosts: list) -> str:
    """The hosts a sub-step's name does not name already: each host is named once."""
    return ", ".join(h for h in map(str, hosts) if not re.search(rf"\b{re.escape(h)}\b", name))


def live(config: pytest.Config, run: Run) -> None:
    from runbooklib.engine.run import register

    register(config, "console", LiveConsole(config, run))
