"""The backup's test restore (database.scratch_restore) when its first scratch server is slow to
answer, as a fresh InnoDB sometimes is: a second one takes the restore, and both are ended.
The script runs in a local framed shell; mariadbd, mariadb-admin and mariadb are stand-ins on
PATH (the logic under test is the script's), gunzip is real. The real servers: tests/lab/
test_scratch_server.py."""

from __future__ import annotations

import gzip
import os
import stat

import pytest

from runbooklib.actions import database
from runbooklib.remote import Host

# A server writes its pid and socket to $FAKE_LOG; the first $FAKE_SLOW started never answer.
MARIADBD = """#!/bin/bash
for a in "$@"; do case $a in --socket=*) sock=${a#--socket=};; esac; done
echo "$$ $sock" >> "$FAKE_LOG"
if [ "$(wc -l < "$FAKE_LOG")" -gt "$FAKE_SLOW" ]; then : > "$sock"; fi
exec sleep 60
"""
ADMIN = """#!/bin/bash
for a in "$@"; do case $a in --socket=*) s=${a#--socket=};; esac; done
test -e "$s"
"""
# The client answers the CHECKSUM and COUNT of table t1, and takes anything else in silence.
CLIENT = """#!/bin/bash
case "$*" in
  *CHECKSUM*) printf 'scratch.t1\\t42\\nt1\\t3\\n' ;;
  *--help*) ;;
  *) cat > /dev/null ;;
esac
"""


@pytest.fixture
def db(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("mariadbd", MARIADBD), ("mariadb-admin", ADMIN), ("mariadb", CLIENT)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(stat.S_IRWXU)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_LOG", str(tmp_path / "started"))
    (tmp_path / "started").write_text("")
    host = Host("here", "127.0.0.1", vars={"ansible_connection": "local"})
    yield host
    host.disconnect()


def restore(db: Host, tmp_path, monkeypatch, slow: int) -> list[tuple[int, str]]:
    """scratch_restore of a one-table dump with the first `slow` servers never answering: the
    servers it started (pid, socket), once it returned the restored table's checksum."""
    monkeypatch.setenv("FAKE_SLOW", str(slow))  # before the local shell starts: it inherits it
    dump = tmp_path / "sakai.sql.gz"
    dump.write_bytes(gzip.compress(b"CREATE TABLE t1 (id INT);\n"))
    found = database.scratch_restore(db, str(dump), ["t1"])
    assert found == {"t1": {"checksum": "42", "rows": 3}}
    rows = (tmp_path / "started").read_text().split("\n")
    return [(int(pid), sock) for pid, sock in (r.split() for r in rows if r)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_second_server_takes_the_restore_when_the_first_does_not_answer(
    db, tmp_path, monkeypatch
):
    started = restore(db, tmp_path, monkeypatch, slow=1)
    assert len(started) == 2 and started[0][1] != started[1][1]
    assert not any(_alive(pid) for pid, _ in started)  # both ended, the silent one too
    assert not any(os.path.exists(os.path.dirname(sock)) for _, sock in started)


def test_a_server_that_answers_is_the_only_one(db, tmp_path, monkeypatch):
    started = restore(db, tmp_path, monkeypatch, slow=0)
    assert len(started) == 1 and not _alive(started[0][0])
