"""The window's formats, one source for the console, the records and the channel: lateness in
whole minutes (one rounding) and durations (one format). Pure, and free of the engine's plugin
modules, so that the record's renderer imports it without importing a run."""

from __future__ import annotations

import datetime as dt


def late_minutes(planned: dt.datetime | None, started: dt.datetime | None) -> int | None:
    """Whole minutes late (negative: early), cut toward zero: 59 s either way is on time. The
    one rounding of lateness: console, record and channel all show this number."""
    if not (planned and started):
        return None
    return int((started - planned).total_seconds() / 60)


def lateness(planned: dt.datetime | None, started: dt.datetime | None) -> str:
    """'12 min late', '3 min early', 'on time'; '' when either time is missing."""
    delta = late_minutes(planned, started)
    if delta is None:
        return ""
    if delta > 0:
        return f"{delta} min late"
    return f"{-delta} min early" if delta < 0 else "on time"


def duration(seconds: float | None) -> str:
    """The one format of a duration: '7.0 s' under a minute, '4m05s', '1h02m05s'."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes >= 60:
        return f"{minutes // 60}h{minutes % 60:02d}m{secs:02d}s"
    return f"{minutes}m{secs:02d}s"
