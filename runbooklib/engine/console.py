"""Talking to the operator at the terminal, under pytest's output capture."""

from __future__ import annotations

import sys

import pytest


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
