"""The known-issues allow-list: validation and which lines it allows where (no host involved)."""

import datetime

import pytest

from runbooklib.actions import known_issues

GOOD = """
- id: hbm2ddl
  pattern: 'ERROR: Unsuccessful: alter table \\w+ add constraint'
  justification: the seed's known issue
  expires: 2030-01-01
  hosts: head
  start: first
"""
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
        (("pattern: 'ERROR", "pattern: '(ERROR"), "does not compile"),
        (("justification: the seed's known issue", "justification: ' '"), "justification"),
    ],
)
def test_malformed_entries_are_errors(tmp_path, change, message):
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(known_issues.KnownIssuesError, match=message):
        known_issues.load(path)


def test_not_a_list(tmp_path):
    with pytest.raises(known_issues.KnownIssuesError, match="YAML list"):
        known_issues.load(write(tmp_path, "id: x\n"))
