"""The known-issues allow-list: log lines that may appear at a Tomcat start, and why.

    - id: hbm2ddl-auto-ddl
      pattern: '^ERROR: Unsuccessful: alter table \\w+ add constraint \\w+ .*SchemaUpdate\\)$'
      sample: 'ERROR: Unsuccessful: alter table A add constraint F ... hbm2ddl.SchemaUpdate)'
      justification: Hibernate's SchemaUpdate with auto.ddl=true re-adds existing constraints
      expires: 2007-12-31
      hosts: head              # `head`, `app` (every node) or a host name
      start: first             # `first` (the first start after an upgrade) or `any`

An expired or malformed entry is an error before any host is touched: an allow-list nobody
reviews silently turns into "ignore every error". So is a broad one: each pattern is anchored
(`^...$`), matches its own `sample:` line, matches none of the real error lines of `CANARIES`,
and expires within `MAX_DAYS` of today.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from pathlib import Path

from runbooklib.inventory import read_yaml

FIELDS = {"id", "pattern", "sample", "justification", "expires", "hosts", "start"}
STARTS = ("first", "any")
# An entry is reviewed at least this often: its expiry is at most this many days ahead.
MAX_DAYS = 180
# Real error lines of a Tomcat or Sakai start that must always fail it: a pattern that allows
# any of them is too broad, whatever its sample says.
CANARIES = (
    "SEVERE: Error listenerStart",
    "SEVERE: Context [/portal] startup failed due to previous errors",
    "SEVERE: Exception sending context initialized event to listener instance of class "
    "org.sakaiproject.util.ContextLoaderListener",
    "java.lang.OutOfMemoryError: Java heap space",
    'Exception in thread "main" java.lang.NullPointerException',
    "FATAL: cannot reach the database (2007-08-18 09:41:02,120 "
    "main_org.sakaiproject.db.impl.BasicSqlService)",
    "ERROR: Connection refused",
    "ERROR: init(): Communications link failure [08S01] (2007-08-18 09:41:02,120 "
    "main_org.sakaiproject.db.impl.BasicSqlService)",
    "ERROR: Unsuccessful: alter table SAKAI_SITE drop column TITLE (2007-08-18 09:41:02,120 "
    "main_org.hibernate.tool.hbm2ddl.SchemaUpdate)",
    "ERROR: Table 'sakai.SAKAI_REALM' doesn't exist (2007-08-18 09:41:02,120 "
    "main_org.hibernate.util.JDBCExceptionReporter)",
    "java.sql.SQLException: Access denied for user 'sakai'@'localhost' (using password: YES)",
    "ERROR: init(): unexpected error (2007-08-18 09:41:02,120 "
    "main_org.sakaiproject.component.impl.SpringCompMgr)",
    "org.hibernate.exception.JDBCConnectionException: Cannot open connection",
)


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
        pattern = _pattern(where, entry["pattern"], entry["sample"])
        expires = _expiry(f"{where} ({entry['id']})", entry["expires"], today)
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


def _pattern(where: str, text: object, sample: object) -> re.Pattern:
    """The entry's pattern, if it is narrow: anchored, matching its sample and no canary."""
    text = str(text)
    if not (text.startswith("^") and text.endswith("$")) or text.endswith("\\$"):
        raise KnownIssuesError(
            f"{where}: pattern {text!r} is not anchored: write it as ^...$ for the whole line"
        )
    try:
        pattern = re.compile(text)
    except re.error as exc:
        raise KnownIssuesError(f"{where}: pattern does not compile: {exc}") from None
    if not isinstance(sample, str) or not sample.strip():
        raise KnownIssuesError(f"{where}: give a sample: a real log line the pattern allows")
    if not pattern.fullmatch(sample):
        raise KnownIssuesError(
            f"{where}: pattern does not match its own sample: fix the pattern or the sample"
        )
    canary = next((line for line in CANARIES if pattern.fullmatch(line)), None)
    if canary:
        raise KnownIssuesError(
            f"{where}: pattern also allows the real error {canary[:60]!r}: narrow the pattern"
        )
    return pattern


def _expiry(where: str, value: object, today: datetime.date) -> datetime.date:
    try:
        expires = datetime.date.fromisoformat(str(value))
    except ValueError:
        raise KnownIssuesError(f"{where}: expires {value} is not a date: give YYYY-MM-DD") from None
    if expires < today:
        raise KnownIssuesError(f"{where} expired on {expires}: review it, then renew or delete it")
    latest = today + datetime.timedelta(days=MAX_DAYS)
    if expires > latest:
        raise KnownIssuesError(
            f"{where}: expires {expires}, more than {MAX_DAYS} days ahead: "
            f"review it by {latest} at the latest"
        )
    return expires


def split(lines: list[str], issues: list[KnownIssue], host: str, is_head: bool, start: str):
    """(errors, allowed): allowed is a list of (issue id, line). `start` is the file's word for
    this start: `first` (the first after the upgrade) or `any` (any other)."""
    if start not in STARTS:
        raise ValueError(f"start {start!r}: the known-issues file knows {', '.join(STARTS)}")
    active = [k for k in issues if k.applies(host, is_head, start)]
    errors, allowed = [], []
    for line in lines:
        match = next((k for k in active if k.pattern.fullmatch(line)), None)
        if match:
            allowed.append((match.id, line))
        else:
            errors.append(line)
    return errors, allowed


def for_the_record(path: str | Path) -> list[dict]:
    """The known issues as the record shows them beside the lines they allow ([] without a
    file): what the runbook's `pytest_runbook_known_issues` hands the engine."""
    if not Path(path).exists():
        return []
    return [
        {"id": i.id, "justification": i.justification, "expires": str(i.expires), "hosts": i.hosts}
        for i in load(path)
    ]
