"""Journal lines written from many threads at once (checks run their hosts in threads) stay whole.

On CPython one `write` of a whole line rarely tears even without the journal's lock; a line
written in two calls does, in this test, unless the lock is there (tried both ways).
"""

from __future__ import annotations

import json

from runbook_project import events

THREADS = """
from concurrent.futures import ThreadPoolExecutor

@step("u01", at="08:00", owner="Jon", kind="check")
def test_u01(inventory):
    '''Eight hosts answer at once.'''
    def host(n):
        for i in range(100):
            transcript.command(f"node{n}", f"probe {i}", rc=0, stdout=str(n) * 20000)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(host, range(8)))
"""


def test_lines_from_parallel_threads_stay_whole(project):
    project.procedure("upgrade", THREADS)

    project.run().assert_outcomes(passed=1)

    lines = project.reports(".jsonl")[-1].read_text().splitlines()
    journal = [json.loads(line) for line in lines]  # a torn line would not parse
    commands = events(journal, "command", step="u01")
    assert len(commands) == 800
    assert all(c["stdout"] == c["host"][-1] * 20000 for c in commands)
