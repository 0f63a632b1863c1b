"""Shared by runbook/ and checks/.

The `inventory` fixture (session scope) and every runbook option come from the step engine, the
pytest plugin `runbooklib.engine` loaded by its entry point, so that they work the same in any
folder and in the engine's own pytester tests: `--inventory` (default: pytest.ini's
`runbook_inventory`, the lab), `--plan`, `--dry-run`, `--resume`... (`pytest --help`, group
"runbook"). Host selection (head node first, then the rest of `app`) lives in
`runbooklib.actions.common`.
"""
