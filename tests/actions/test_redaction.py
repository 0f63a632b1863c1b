"""Redaction of every written form of a secret, nested values, log records; host-side masking."""

import json
import logging
import shlex
import subprocess
from urllib.parse import quote

import pytest

from runbooklib.actions import config
from runbooklib.transcript import REDACTED, Transcript, redact_record, transcript

SECRET = "Sé\\cr\"et'pa55word!"


@pytest.fixture
def t():
    t = Transcript()
    t.add_secret(SECRET)
    return t


@pytest.mark.parametrize(
    "shown",
    [
        SECRET,
        shlex.quote(SECRET),
        repr(SECRET),
        repr(SECRET.encode()),
        json.dumps(SECRET),
        quote(SECRET, safe=""),
        json.dumps(shlex.quote(SECRET)),
    ],
)
def test_every_form_is_redacted(t, shown):
    assert SECRET not in t.redact(shown) and REDACTED in t.redact(shown)
    assert shown not in t.redact(f"x {shown} y")


def test_a_secret_cut_short_next_to_an_ellipsis_is_redacted(t):
    cut = t.redact(f"'{SECRET[:9]}...'")  # the quote may go too: it starts shlex.quote's form
    assert SECRET[:9] not in cut and cut.endswith(f"{REDACTED}...'")
    assert t.redact(f"...{SECRET[-9:]} end") == f"...{REDACTED} end"
    # a piece shorter than MIN_SECRET is ordinary text
    assert t.redact(f"{SECRET[:4]}...") == f"{SECRET[:4]}..."


def test_nested_values_are_redacted(t):
    seen = []
    t.listeners.append(lambda event, data: seen.append(data))
    t.emit("x", items=[{"k": f"a {SECRET}"}, (SECRET,)], n=3)
    assert seen == [{"items": [{"k": f"a {REDACTED}"}, [REDACTED]], "n": 3}]


def test_a_short_secret_is_refused():
    with pytest.raises(ValueError, match="shorter than 8"):
        Transcript().add_secret("short")


def test_log_records_are_redacted_when_made():
    transcript.add_secret(SECRET)
    record = logging.getLogger("testinfra").makeRecord(
        "testinfra", logging.DEBUG, __file__, 1, "RUN %r", (SECRET.encode(),), None
    )
    assert SECRET not in redact_record(record).getMessage()
    assert REDACTED in record.getMessage()


CONFIG = """# old: password=OldSecret1
password@javax.sql.BaseDataSource=Sé\\\\cr"et
db.password   SpaceSecret1
keyStorePassword = first\\
    second\\
    third
url=jdbc:mysql://caje/sakai?user=x&password=UrlSecret1&a=b
svn=https://joe:UserInfoSecret1@mware/svn
kept=visible
"""


def test_host_and_operator_masking_agree_and_leave_no_password():
    on_host = subprocess.run(
        ["awk", "-v", f"M={REDACTED}", config.MASK_AWK],
        input=CONFIG,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert on_host == config.mask(CONFIG)
    assert len(on_host.splitlines()) == len(CONFIG.splitlines())
    for secret in ("OldSecret1", "cr\"et", "SpaceSecret1", "first", "second", "third",
                   "UrlSecret1", "UserInfoSecret1"):  # fmt: skip
        assert secret not in on_host
    assert "kept=visible" in on_host
