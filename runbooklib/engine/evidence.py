"""Each check's evidence, as InSpec shows a control: what it expected, what each host showed,
and the impact of its failure.

    @pytest.mark.impact("critical", "users would get a mix of releases, or the wrong one")
    def test_release_on_every_node(hosts, expected, evidence):
        '''Every app node runs the expected release (its tag and version).'''
        tag, version = expected
        failures = evidence.each(
            hosts, lambda n: release.assert_deployed(n, tag, version), expected=f"{tag} ({version})"
        )
        assert not failures, "; ".join(failures)

`evidence(expected, actual, host=...)` records one observation; `evidence.each(hosts, probe,
expected)` asks every host at once (like `in_parallel`) and records what each one showed: what
`probe` returned, or the first line of its failure; `with evidence.proof(expected, hosts):`
records, for a check that only asserts, the assertion's outcome against what it expected.

Each observation is an `evidence` line of the journal (redacted like every line, in plain text:
never a repr) and a user property of the test (JUnit XML); the impact is an `impact` line,
written as the check starts, so a check that fails before any evidence still says what is at
stake. The record shows per check: title, impact, expected, actual per host, verdict.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from runbooklib.transcript import carried, transcript
from runbooklib.values import FORKS

# InSpec's impact levels, most severe first.
IMPACTS = ("critical", "high", "medium", "low")


# The mark, registered by the conftest that uses these fixtures (checks/conftest.py).
MARKER = (
    f"impact(level, why): what a check's failure would break ({', '.join(IMPACTS)}, and for whom)"
)


def text(value: object) -> str:
    """A value as a reader reads it: plain text, never a Python repr."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if type(value).__str__ is not object.__str__:
        return str(value)  # a value that says itself (a host: its name)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return ", ".join(f"{k} {text(v)}" for k, v in value.items())
    if isinstance(value, set | frozenset):
        return ", ".join(text(v) for v in sorted(value, key=str)) or "none"
    if isinstance(value, list | tuple):
        return ", ".join(text(v) for v in value) or "none"
    return str(value)


def _first_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0] if lines else exc.__class__.__name__


class Evidence:
    """What one check saw (the `evidence` fixture)."""

    def __init__(self, item: pytest.Item):
        self.item = item

    def __call__(self, expected: object, actual: object, host: object = "", ok: bool = True):
        """Record one observation: on `host`, `expected` against what was `actual`ly found."""
        line = {
            "host": text(host),
            "expected": text(expected),
            "actual": text(actual),
            "ok": bool(ok),
        }
        transcript.emit("evidence", **line)
        shown = transcript.redact(
            f"{line['host'] or '-'}: expected {line['expected']}; actual {line['actual']}"
        )
        self.item.user_properties.append(("evidence", shown))

    def each(self, hosts: Iterable, probe: Callable, expected: object) -> list[str]:
        """Run `probe(host)` on every host, `forks` at a time (the hosts' var, which --forks
        sets; else 10), and record what each showed: its return value (None: exactly what was
        expected, since it asserts that) or its failure's first line. The failures, one line
        per host, as `in_parallel` gives them."""

        def one(host) -> tuple[object, str | None]:
            try:
                return probe(host), None
            except Exception as exc:  # noqa: BLE001 - recorded and returned, never swallowed
                return None, _first_line(exc)

        hosts = list(hosts)
        if not hosts:
            return []
        # Read here, not through the actions' `forks`: the engine imports no action.
        bound = getattr(hosts[0], "vars", {}).get("forks", FORKS)
        with ThreadPoolExecutor(max_workers=min(bound, len(hosts))) as pool:
            done = list(pool.map(carried(one), hosts))
        failures = []
        for host, (found, error) in zip(hosts, done, strict=True):  # in the hosts' order
            if error is None:
                self(expected, expected if found is None else found, host)
                continue
            # The host is named beside it in the record; the failure line names it for the rest.
            self(expected, error.removeprefix(f"{host}: "), host, ok=False)
            failures.append(error if error.startswith(f"{host}:") else f"{host}: {error}")
        return failures

    @contextlib.contextmanager
    def proof(self, expected: object, hosts: Iterable = ()) -> Iterator[None]:
        """For a check whose helper only asserts: its outcome against `expected`, for the
        hosts it covers (a failure names the host itself)."""
        where = text([str(h) for h in hosts])
        try:
            yield
        except Exception as exc:
            self(expected, _first_line(exc), where, ok=False)
            raise
        self(expected, expected, where)


@pytest.fixture
def evidence(request: pytest.FixtureRequest) -> Evidence:
    """Record what the check expected and what each host showed (see module docstring)."""
    return Evidence(request.node)


@pytest.fixture(autouse=True)
def impact(request: pytest.FixtureRequest) -> None:
    """Say, as the check starts, what its failure would break (its `impact` mark)."""
    mark = request.node.get_closest_marker("impact")
    if mark is None:
        return
    level, why = (list(mark.args) + ["", ""])[:2]
    if level not in IMPACTS:
        raise pytest.UsageError(
            f"{request.node.nodeid}: impact {level!r}: use one of {', '.join(IMPACTS)}"
        )
    transcript.emit("impact", level=level, why=str(why))
    request.node.user_properties.append(("impact", f"{level}: {why}" if why else level))
