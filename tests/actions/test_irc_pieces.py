"""An announcement of any length reaches the channel: cut into IRC messages that fit 512 bytes."""

from __future__ import annotations

from runbooklib.actions.notify import pieces

NO_GO = "NO-GO (after): " + "; ".join(
    f"test_release_on_every_node: app{i}: portal says 2.4.0 — wanted 2.4.1" for i in range(20)
)


def test_a_short_text_is_one_message_as_it_is():
    assert pieces("GO (after)", 400) == ["GO (after)"]


def test_a_long_verdict_is_numbered_messages_each_within_room_cut_between_words():
    got = pieces(NO_GO, 400)
    assert len(got) > 1
    assert all(len(p.encode()) <= 400 for p in got)
    assert [p.split(" ", 1)[0] for p in got] == [
        f"({i}/{len(got)})" for i in range(1, len(got) + 1)
    ]
    assert " ".join(p.split(" ", 1)[1] for p in got) == NO_GO  # nothing lost, nothing cut mid-word


def test_line_breaks_and_overlong_words_still_fit():
    got = pieces("first line\nsecond " + "x" * 900, 200)
    assert all(len(p.encode()) <= 200 and "\n" not in p for p in got)
    assert got[0].endswith("first line | second")
    assert "".join(p.split(" ", 1)[1] for p in got[1:]) == "x" * 900
