"""The step engine: a pytest plugin that runs a procedure as ordered, recorded steps.

from runbooklib.engine import step, substep

@step("u01", at="08:00", owner="Joncarlo", kind="action", hosts="app")
def test_u01_block_client_access(hosts):
    '''Close the site to its clients and show them the maintenance page ...'''
"""

from runbooklib.engine.steps import Step, step, substep

__all__ = ["Step", "step", "substep"]
