"""The known-issues allow-list: validation and which lines it allows where (no host involved)."""

import datetime
import re

import pytest

from runbooklib.actions import known_issues

GOOD = """
- id: hbm2ddl
  pattern: '^ERROR: Unsuccessful: alter table \\w+ add constraint \\w+ .*SchemaUpdate\\)$'
  sample: 'ERROR: Unsuccessful: alter table S add constraint F x (main_org.hbm2ddl.SchemaUpdate)'
  justification: the seed's known issue
  expires: 2030-01-01
  hosts: head
  start: first
"""
# A day on which GOOD is valid: its expiry is within MAX_DAYS.
TODAY = datetime.date(2029, 12, 1)
PAIR = [
    "ERROR: Unsuccessful: alter table SAKAI_SITE add constraint FK1 foreign key (A) "
    "references B (A) (2026-11-25 09:41:02,120 main_org.hibernate.tool.hbm2ddl.SchemaUpdate)",
    'ERROR: Can\'t create table `sakai`.`#sql-1_2` (errno: 121 "Duplicate key on write or update")'
    " (2026-11-25 09:41:02,121 main_org.hibernate.tool.hbm2ddl.SchemaUpdate)",
]


def write(tmp_path, text):
    path = tmp_path / "known.yml"
    path.write_text(text)
    return path


def test_the_repository_file_is_valid_and_allows_the_seed_pair_on_the_first_head_start():
    issues = known_issues.load("runbook/known-issues.yml")
    errors, allowed = known_issues.split(PAIR, issues, "stubing", True, "first")
    assert errors == [] and [i for i, _ in allowed] == [
        "hbm2ddl-add-constraint",
        "hbm2ddl-database-message",
    ]


@pytest.mark.parametrize(
    "host, head, start",
    [("stubing", True, "any"), ("walton", False, "first"), ("walton", False, "any")],
)
def test_the_pair_is_an_error_anywhere_else(host, head, start):
    issues = known_issues.load("runbook/known-issues.yml")
    errors, allowed = known_issues.split(PAIR, issues, host, head, start)
    assert errors == PAIR and allowed == []


def test_a_start_the_file_does_not_know_is_refused():
    issues = known_issues.load("runbook/known-issues.yml")
    with pytest.raises(ValueError, match="start 'restart': the known-issues file knows first, any"):
        known_issues.split(PAIR, issues, "stubing", True, "restart")


def test_other_errors_are_never_allowed():
    issues = known_issues.load("runbook/known-issues.yml")
    line = (
        "ERROR: Unsuccessful: alter table X add column Y int "
        "(2026-11-25 09:41:02,120 main_org.hibernate.tool.hbm2ddl.SchemaUpdate)"
    )
    assert known_issues.split([line, "SEVERE: boom"], issues, "stubing", True, "first")[0] == [
        line,
        "SEVERE: boom",
    ]


def test_expired_entry_is_an_error_naming_it(tmp_path):
    path = write(tmp_path, GOOD)
    with pytest.raises(known_issues.KnownIssuesError, match="hbm2ddl.*expired on 2030-01-01"):
        known_issues.load(path, today=datetime.date(2030, 1, 2))


@pytest.mark.parametrize(
    "change, message",
    [
        (("expires: 2030-01-01", "expires: soon"), "soon is not a date: give YYYY-MM-DD"),
        (("expires: 2030-01-01", "expires: 2030-02-30"), "2030-02-30 is not a date"),
        (("  start: first", "  start: second"), "start must be"),
        (("  hosts: head\n", ""), "needs exactly"),
        (("pattern: '^ERROR", "pattern: '^(ERROR"), "does not compile"),
        (("pattern: '^ERROR", "pattern: 'ERROR"), "not anchored: write it as"),
        (("SchemaUpdate\\)$'", "SchemaUpdate\\)'"), "not anchored"),
        (("pattern: '^ERROR", "pattern: '^.*|^ERROR"), "real error"),
        (("pattern: '^ERROR: Unsuccessful", "pattern: '^.*$|^ERROR: Unsuccessful"), "real error"),
        (("alter table S add", "alter table S drop"), "does not match its own sample"),
        (("  sample: 'ERROR", "  sample: '' #"), "give a sample"),
        (("  sample: 'ERROR: Unsuccessful", "  smaple: 'ERROR: Unsuccessful"), "needs exactly"),
        (("expires: 2030-01-01", "expires: 2030-06-01"), "more than 180 days ahead"),
        (("justification: the seed's known issue", "justification: ' '"), "justification"),
    ],
)
def test_malformed_entries_are_errors(tmp_path, change, message):
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(known_issues.KnownIssuesError, match=message):
        known_issues.load(path, today=TODAY)


def test_not_a_list(tmp_path):
    with pytest.raises(known_issues.KnownIssuesError, match="YAML list"):
        known_issues.load(write(tmp_path, "id: x\n"))


def test_a_good_entry_loads(tmp_path):
    (issue,) = known_issues.load(write(tmp_path, GOOD), today=TODAY)
    assert issue.id == "hbm2ddl" and issue.expires == datetime.date(2030, 1, 1)


@pytest.mark.parametrize("pattern", ["^.*$", "^ERROR.*$", "^.*(?i:error).*$", "^[^x]*$", "^.*|^x$"])
def test_a_broad_pattern_is_refused_by_the_canaries(tmp_path, pattern):
    text = GOOD.replace(
        "'^ERROR: Unsuccessful: alter table \\w+ add constraint \\w+ .*SchemaUpdate\\)$'",
        repr(pattern),
    ).replace(
        "sample: 'ERROR: Unsuccessful: alter table S", "sample: 'ERROR: Connection refused'  #"
    )
    with pytest.raises(known_issues.KnownIssuesError, match="allows the real error"):
        known_issues.load(write(tmp_path, text), today=TODAY)


@pytest.mark.parametrize("line", known_issues.CANARIES)
def test_every_canary_is_an_error_for_the_repository_file_on_every_start(line):
    issues = known_issues.load("runbook/known-issues.yml")
    for host, head, start in [("stubing", True, "first"), ("walton", False, "any")]:
        assert known_issues.split([line], issues, host, head, start) == ([line], [])


def test_the_tomcat_scan_catches_every_canary_in_any_case():
    """The start-log scan (grep -Ei PROBLEM on the node) selects every canary line, in upper,
    lower or mixed case: Python's re and grep -E agree on this plain alternation."""
    from runbooklib.actions import tomcat

    for line in known_issues.CANARIES:
        for variant in (line, line.lower(), line.upper()):
            assert re.search(tomcat.PROBLEM, variant, re.IGNORECASE), variant
