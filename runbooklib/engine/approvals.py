"""Manual steps: a person confirms, at the terminal or beforehand on the command line.

At a terminal the operator types their name (pytest's capture is suspended for the question).
Unattended, `--operator NAME --approve u15,f07` (or `--approve all`) gives the approvals up front.
Without either, the step fails cleanly, naming the option that gives it. Who approved which step,
how and when goes into the journal and the report.
"""

from __future__ import annotations

import pytest

from runbooklib import values
from runbooklib.engine.console import ask
from runbooklib.engine.run import RUN, Run, now
from runbooklib.transcript import transcript


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("runbook")
    group.addoption(
        "--approve",
        metavar="ID[,ID...]|all",
        action="append",
        default=[],
        help="approve these manual steps in advance (needs --operator NAME)",
    )


def approved_ids(config: pytest.Config) -> set[str]:
    return {i.strip() for arg in config.getoption("approve") for i in arg.split(",") if i.strip()}


def check_options(config: pytest.Config, run: Run) -> None:
    """Before anything runs: approvals need a name, and every id must name a selected step that
    takes one: a manual step, or an action step that asks before a loss (approving any other
    action step would approve nothing: it is a typo for another id)."""
    operator = config.getoption("operator")
    if operator is not None and not operator.strip():
        raise pytest.UsageError("--operator is blank: give your name, it goes into the record")
    # The name reaches the console, the journal and the record: a newline or an escape in it
    # could forge a line there (`evil\n\x1b[32mGO`). The login name, the default, is input too.
    shown = "--operator" if operator is not None else "the login name (--operator's default)"
    why = values.text(run.operator, shown)
    if why:
        raise pytest.UsageError(f"{why} (it goes into the record)")
    ids = approved_ids(config)
    if not ids:
        return
    if not operator:
        raise pytest.UsageError("--approve needs --operator NAME: who gives the approval")
    steps = {s.id: s.step for s in run.steps() if s.step}
    manual = ",".join(i for i, step in steps.items() if step.takes_approval) or "none"
    unknown = sorted(ids - set(steps) - {"all"})
    if unknown:
        raise pytest.UsageError(
            f"--approve {','.join(unknown)}: no such step in this run "
            f"(steps that take an approval here: {manual})"
        )
    not_manual = sorted(i for i in ids - {"all"} if not steps[i].takes_approval)
    if not_manual:
        raise pytest.UsageError(
            f"--approve {','.join(not_manual)}: not a manual step, nothing to approve "
            f"(steps that take an approval here: {manual})"
        )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    run = item.config.stash.get(RUN, None)
    state = run.states.get(item.nodeid) if run else None
    if state is None or state.step is None or state.step.kind != "manual":
        return
    config, meta = item.config, state.step
    if run.dry_run:
        transcript.note(f"dry run: {meta.id} would ask {meta.owner} for confirmation")
        return
    ids = approved_ids(config)
    if meta.id in ids or "all" in ids:
        _record(run, meta.id, config.getoption("operator"), "--approve")
        return
    name = _typed_name(
        ask(
            config,
            f"\n{meta.id} ({meta.owner}): {meta.title}\n"
            "Type your name to confirm it is done (empty to refuse): ",
        )
    )
    if name:
        _record(run, meta.id, name, "typed at the terminal")
        return
    how = "was refused at the terminal" if name == "" else "needs a person's confirmation"
    pytest.fail(
        f"manual step {meta.id} {how}: confirm it at a terminal, or give "
        f"--operator NAME --approve {meta.id}",
        pytrace=False,
    )


@pytest.fixture
def consent(request: pytest.FixtureRequest):
    """`consent(text)`: an action step asks a person before it destroys something.

    It returns once the operator agreed: `--approve <step>` named explicitly (`all` approves the
    testers' verdicts, never a loss), or a name typed at the terminal; otherwise the step fails
    before the loss, naming the option. The answer goes into the record with the question.
    """
    config = request.config
    run = config.stash.get(RUN, None)
    state = run.states.get(request.node.nodeid) if run else None
    step_id = state.id if state else request.node.name

    def ask_for(text: str) -> None:
        if config.getoption("dry_run"):
            transcript.note(f"dry run: {step_id} would ask: {text}")
            return
        if step_id in approved_ids(config):
            _record(run, step_id, config.getoption("operator"), "--approve", what=text)
            return
        name = _typed_name(
            ask(config, f"\n{step_id}: {text}\nType your name to go on (empty to stop): ")
        )
        if name:
            _record(run, step_id, name, "typed at the terminal", what=text)
            return
        pytest.fail(
            f"{step_id} stopped before anything is lost: {text}. To go on anyway: "
            f"--operator NAME --approve {step_id}",
            pytrace=False,
        )

    return ask_for


def _typed_name(name: str | None) -> str | None:
    """A name typed at the terminal, held to --operator's shape before it reaches the record."""
    why = values.text(name, "the name typed") if name else None
    if why:
        pytest.fail(f"{why}: type your name again (the step was not approved)", pytrace=False)
    return name


def _record(run: Run, step_id: str, operator: str, how: str, **more: str) -> None:
    entry = {
        "step": step_id,
        "operator": operator,
        "how": how,
        "at": now().isoformat("T", "seconds"),
        **more,
    }
    run.approvals.append(entry)
    transcript.emit("approval", **entry)
