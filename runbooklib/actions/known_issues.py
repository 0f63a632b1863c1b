"""The known-issues allow-list: log lines that may appear at a Tomcat start, and why.

    - id: hbm2ddl-auto-ddl
      pattern: 'ERROR: Unsuccessful: alter table \\S+ add constraint'
      justification: Hibernate's SchemaUpdate with auto.ddl=true re-adds existing constraints
      expires: 2007-12-31
      hosts: head              # `head`, `app` (every node) or a host name
      start: first             # `first` (the first start after an upgrade) or `any`

An expired or malformed entry is an error before any host is touched: an allow-list nobody
reviews silently turns into "ignore every error".
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from pathlib import Path

from runbooklib.inventory import read_yaml

FIELDS = {"id", "pattern", "justification", "expires", "hosts", "start"}
STARTS = ("first", "any")


class KnownIssuesError(Exception):
    pass


@dataclass(frozen=True)
class KnownIssue:
    id: str
    pattern: re.Pattern
    justification: str
    expires: datetime.date
    hosts: str
    start: str

    def applies(self, host: str, is_head: bool, start: str) -> bool:
        where = self.hosts == "app" or self.hosts == host or (self.hosts == "head" and is_head)
        return where and (self.start == "any" or self.start == start)


def load(path: str | Path, today: datetime.date | None = None) -> list[KnownIssue]:
    path = Path(path)
    today = today or datetime.date.today()
    data = read_yaml(path, f"known issues {path}", KnownIssuesError)
    if not isinstance(data, list):
        raise KnownIssuesError(f"known issues {path}: must be a YAML list of entries")
    out, ids = [], set()
    for i, entry in enumerate(data):
        where = f"known issues {path} entry {i + 1}"
        if not isinstance(entry, dict) or set(entry) != FIELDS:
            got = sorted(entry) if isinstance(entry, dict) else type(entry).__name__
            raise KnownIssuesError(f"{where}: needs exactly {sorted(FIELDS)}, has {got}")
        if str(entry["id"]) in ids:
            raise KnownIssuesError(f"{where}: id {entry['id']!r} used twice: give each its own")
        ids.add(str(entry["id"]))
        try:
            pattern = re.compile(str(entry["pattern"]))
        except re.error as exc:
            raise KnownIssuesError(f"{where}: pattern does not compile: {exc}") from None
        try:
            expires = datetime.date.fromisoformat(str(entry["expires"]))
        except ValueError:
            raise KnownIssuesError(
                f"{where}: expires {entry['expires']} is not a date: give YYYY-MM-DD"
            ) from None
        if expires < today:
            raise KnownIssuesError(
                f"{where} ({entry['id']}) expired on {expires}: review it, then renew or delete it"
            )
        if not str(entry["justification"]).strip():
            raise KnownIssuesError(f"{where}: give a justification")
        if entry["start"] not in STARTS:
            raise KnownIssuesError(f"{where}: start must be one of {', '.join(STARTS)}")
        if not isinstance(entry["hosts"], str) or not entry["hosts"]:
            raise KnownIssuesError(f"{where}: hosts must be `head`, `app` or a host name")
        out.append(
            KnownIssue(
                str(entry["id"]),
                pattern,
                str(entry["justification"]),
                expires,
                entry["hosts"],
                entry["start"],
            )
        )
    return out


def split(lines: list[str], issues: list[KnownIssue], host: str, is_head: bool, start: str):
    """(errors, allowed): allowed is a list of (issue id, line). `start` is the file's word for
    this start: `first` (the first after the upgrade) or `any` (any other)."""
    if start not in STARTS:
        raise ValueError(f"start {start!r}: the known-issues file knows {', '.join(STARTS)}")
    active = [k for k in issues if k.applies(host, is_head, start)]
    errors, allowed = [], []
    for line in lines:
        match = next((k for k in active if k.pattern.search(line)), None)
        if match:
            allowed.append((match.id, line))
        else:
            errors.append(line)
    return errors, allowed
