"""Questions asked at the terminal, under pytest's output capture: a real pseudo-terminal."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys

from runbook_project import events, production

MANUAL = """
@step("u01", at="10:00", owner="Kirk, Sandra, Lisa", kind="manual")
def test_u01_release_for_testing(inventory):
    '''Release SmartSite for initial testing.'''
    print("the step body runs after the approval")
"""


def _converse(project, args: list[str], prompt: str, answer: str) -> tuple[int, str]:
    """Run pytest on a terminal; type `answer` when `prompt` shows; return (status, screen)."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "runbook", "-p", "no:cacheprovider", *args],
        cwd=project.path,
        stdin=follower,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    screen, answered = b"", False
    try:
        for _ in range(600):  # bounded: 600 reads of at most 0.1 s of silence each
            ready, _, _ = select.select([leader], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(leader, 4096)
                except OSError:  # the terminal closed: pytest is done
                    break
                if not chunk:
                    break
                screen += chunk
            if not answered and prompt.encode() in screen:
                os.write(leader, answer.encode() + b"\n")
                answered = True
            if proc.poll() is not None and not ready:
                break
        return proc.wait(timeout=30), screen.decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(leader)


def test_manual_step_asks_for_a_name_at_the_terminal(project):
    project.procedure("upgrade", MANUAL)

    status, screen = _converse(project, [], "Type your name to confirm", "Sandra")

    assert status == 0, screen
    assert "u01 (Kirk, Sandra, Lisa): Release SmartSite for initial testing." in screen
    (approval,) = events(project.journal(), "approval")
    assert approval["operator"] == "Sandra" and approval["how"] == "typed at the terminal"


def test_an_empty_answer_refuses_the_step(project):
    project.procedure("upgrade", MANUAL)

    status, screen = _converse(project, [], "Type your name to confirm", "")

    assert status == 1, screen
    assert "manual step u01 was refused at the terminal" in screen
    assert not events(project.journal(), "approval")


def test_production_confirmed_by_typing_its_name(project):
    production(project)
    project.procedure("upgrade", MANUAL)

    status, screen = _converse(
        project,
        ["--inventory", "prod.yml", "--operator", "thomas", "--approve", "u01"],
        "Type its name (prod) to go on",
        "prod",
    )

    assert status == 0, screen
    start = events(project.journal(), "run_start")[0]
    assert start["target_confirmed"] == "typed at the terminal"
