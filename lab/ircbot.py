"""The lab's IRC logger bot (run inside the `irc` host): records a channel to a file.

    python -m lab.ircbot SERVER PORT CHANNEL LOGFILE

Each line: `2026-11-25T08:00:01Z <nick> text` (actions as `* nick text`). The file is opened per
line, so `reset` may truncate or remove it at any time. It reconnects when the server goes away.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import irc.client

NICK = "lablog"


def main() -> None:
    server, port, channel, logfile = sys.argv[1], int(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
    logfile.parent.mkdir(parents=True, exist_ok=True)

    def record(line: str) -> None:
        with open(logfile, "a") as out:
            out.write(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {line}\n")

    reactor = irc.client.Reactor()
    reactor.add_global_handler("welcome", lambda c, e: c.join(channel))
    reactor.add_global_handler("pubmsg", lambda c, e: record(f"<{e.source.nick}> {e.arguments[0]}"))
    reactor.add_global_handler("action", lambda c, e: record(f"* {e.source.nick} {e.arguments[0]}"))
    reactor.add_global_handler(
        "join", lambda c, e: e.source.nick == NICK and print(f"joined {e.target}", flush=True)
    )
    while True:
        try:
            conn = reactor.server().connect(server, port, NICK)
            while conn.is_connected():
                reactor.process_once(timeout=1)
        except irc.client.ServerConnectionError as exc:
            print(f"cannot connect: {exc}", flush=True)
        time.sleep(1)  # the server restarts with its host; try again


if __name__ == "__main__":
    main()
