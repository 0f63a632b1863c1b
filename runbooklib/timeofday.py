"""A time of day as a plan writes it, `HH:MM`: pure, for the inventory and the engine alike."""

from __future__ import annotations

import re

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def minutes(hhmm: str) -> int:
    """'08:10' -> 490; ValueError naming the expected form otherwise."""
    match = _HHMM.match(hhmm or "")
    if not match:
        raise ValueError(f"{hhmm!r} is not a time of day in HH:MM form")
    return int(match.group(1)) * 60 + int(match.group(2))
