"""The step engine's pytest plugin (entry point `runbooklib.engine.plugin`).

One module per concern, like pytest's own plugins; `start` begins the run once collection is done.
A session that selects no step (the project's own `pytest tests/`) leaves every one of them idle.
"""

pytest_plugins = [
    "runbooklib.engine.target",  # --inventory, --confirm-target, the `inventory` fixture
    "runbooklib.engine.run",  # the run's state; --operator, --reports
    "runbooklib.engine.follow",  # times, outcome and transcript of each step as it runs
    "runbooklib.engine.collect",  # metadata errors, order, per-step timeouts
    "runbooklib.engine.window",  # --window-start, planned vs actual, the fallback's room
    "runbooklib.engine.clock",  # --keep-time: no step before its planned time
    "runbooklib.engine.plan",  # --plan
    "runbooklib.engine.halt",  # the first failure stops the procedure
    "runbooklib.engine.until",  # --until: stop on purpose after a step
    "runbooklib.engine.dryrun",  # --dry-run
    "runbooklib.engine.approvals",  # manual steps: --approve, or asked at the terminal
    "runbooklib.engine.journal",  # JSON lines as it happens
    "runbooklib.engine.resume",  # --resume
    "runbooklib.engine.lock",  # one run per inventory; --break-lock
    "runbooklib.engine.record",  # HTML report + JUnit XML under reports/
    "runbooklib.engine.start",  # checks that can refuse a run, in order, before the first step
]
