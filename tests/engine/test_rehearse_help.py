"""`python -m runbooklib.rehearse --help` answers without touching the lab."""

from __future__ import annotations

import pytest

from runbooklib import rehearse


def test_help_answers_before_the_rehearsal_starts(monkeypatch, capsys):
    ran = []
    monkeypatch.setattr(rehearse, "rehearse", ran.append)
    with pytest.raises(SystemExit) as exited:
        rehearse.main(["--help"])
    assert exited.value.code == 0
    said = capsys.readouterr().out
    assert said.startswith("usage: python -m runbooklib.rehearse")
    assert "pytest runbook/ -k upgrade" in said
    assert ran == []


def test_other_arguments_go_to_pytest(monkeypatch):
    ran = []
    monkeypatch.setattr(rehearse, "rehearse", lambda args: ran.append(args) or 0)
    assert rehearse.main(["-x", "-k", "upgrade", "--inventory", "inventories/lab.yml"]) == 0
    assert ran == [["-x", "-k", "upgrade", "--inventory", "inventories/lab.yml"]]
