"""Telling people: mail (smtplib) and the team's IRC channel (the `irc` package).

    >>> mail(inventory, "SmartSite: ready to switch iptables", "All tests passed ...")
    >>> announce(inventory, "SmartSite maintenance window open")

In a dry run nothing is sent; the record says what would have been.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
import time
from email.message import EmailMessage

import irc.client

from runbooklib.actions.common import ActionError
from runbooklib.inventory import Inventory
from runbooklib.transcript import transcript

TIMEOUT = 15
# What a mail says when the server offers no STARTTLS: nothing but where to look.
NO_TLS_BODY = "The mail server offers no TLS, so this mail carries no detail: see the record.\n"
# RFC 1459: a line is at most 512 bytes with its CR LF, and the server relays it to the channel
# with our prefix (`:nick!user@host `) added, so each message keeps room for that prefix.
IRC_LINE = 512
IRC_PREFIX_ROOM = 100


def mail(inventory: Inventory, subject: str, body: str, to: list[str] | None = None) -> str:
    cfg = inventory.vars["mail"]
    msg = EmailMessage()
    msg["From"], msg["To"] = cfg["sender"], ", ".join(to or cfg["to"])
    msg["Subject"] = subject
    msg.set_content(body)
    if inventory.check_mode:
        transcript.note(f"would mail {msg['To']}: {subject}")
        return ""
    with smtplib.SMTP(cfg["smtp_host"], int(cfg.get("smtp_port", 25)), timeout=TIMEOUT) as smtp:
        smtp.ehlo()
        tls = smtp.has_extn("starttls")
        if tls:
            # The server's certificate checked against the inventory's CA bundle and its name.
            smtp.starttls(
                context=ssl.create_default_context(cafile=inventory.vars.get("ca_bundle"))
            )
            smtp.ehlo()
        else:
            # No TLS: anyone on the path reads the mail, so it carries no detail (issue 18).
            del msg["Subject"]
            msg["Subject"] = "SmartSite runbook: see the record"
            msg.set_content(NO_TLS_BODY)
        smtp.send_message(msg)
    transcript.artifact(
        "mail", f"smtp://{cfg['smtp_host']}", to=msg["To"], subject=msg["Subject"], tls=tls
    )
    return msg["To"]


def _connect(address: tuple[str, int], timeout: float, tls: ssl.SSLContext | None = None):
    """A connection that gives up after `timeout` (irc's own factory waits as long as the OS),
    over TLS when `tls` is given (the server's certificate checked, and its name)."""
    sock = socket.create_connection(address, timeout=timeout)
    if tls is not None:
        sock = tls.wrap_socket(sock, server_hostname=address[0])
    sock.settimeout(None)  # then the reactor's select() paces it
    return sock


def announce(inventory: Inventory, text: str, timeout: float = TIMEOUT) -> None:
    """Say `text` in the chat channel: connect, wait for the welcome, join, say it, quit; each
    within `timeout` seconds."""
    cfg = inventory.vars["chat"]
    if inventory.check_mode:
        transcript.note(f"would say in {cfg['channel']}: {text}")
        return
    # Over TLS when the inventory says so (`tls: true`), checked against its CA bundle.
    tls = (
        ssl.create_default_context(cafile=inventory.vars.get("ca_bundle"))
        if cfg.get("tls")
        else None
    )
    state = {"welcome": False, "joined": False, "error": "", "pong": ""}
    reactor = irc.client.Reactor()
    nick = cfg["nick"]

    def on_welcome(conn, event):
        state["welcome"] = True
        conn.join(cfg["channel"])

    def on_join(conn, event):
        if irc.client.NickMask(event.source).nick == conn.get_nickname():
            state["joined"] = True

    def on_nick_in_use(conn, event):
        # Another run (or a stale connection) holds the nick: take a numbered one.
        conn.nick(f"{nick}{int(time.time()) % 1000}")

    def on_pong(conn, event):
        state["pong"] = event.arguments[-1] if event.arguments else ""

    def on_error(conn, event):
        state["error"] = " ".join(str(a) for a in event.arguments) or event.type

    reactor.add_global_handler("welcome", on_welcome)
    reactor.add_global_handler("join", on_join)
    reactor.add_global_handler("nicknameinuse", on_nick_in_use)
    reactor.add_global_handler("pong", on_pong)
    for kind in ("error", "bannedfromchan", "inviteonlychan", "channelisfull", "badchannelkey"):
        reactor.add_global_handler(kind, on_error)
    try:
        conn = reactor.server().connect(
            cfg["server"],
            int(cfg.get("port", 6667)),
            nick,
            connect_factory=lambda address: _connect(address, timeout, tls),
        )
    except irc.client.ServerConnectionError as exc:
        raise ActionError(
            f"IRC {cfg['server']}:{cfg.get('port', 6667)}: cannot connect: {exc}"
        ) from None
    deadline = time.monotonic() + timeout
    try:
        while not state["joined"] and not state["error"] and time.monotonic() < deadline:
            reactor.process_once(0.2)
        if not state["joined"]:
            why = state["error"] or f"not joined {cfg['channel']} within {timeout:g}s"
            raise ActionError(f"IRC {cfg['server']}: {why}")
        room = IRC_LINE - IRC_PREFIX_ROOM - len(f"PRIVMSG {cfg['channel']} :\r\n")
        for number, piece in enumerate(pieces(text, room), 1):
            conn.privmsg(cfg["channel"], piece)
            # Each line answered before the next is sent: ngircd leaves a burst's later lines in
            # its TLS buffer until more comes, and the last piece and QUIT were lost (lab, 6697).
            conn.ping(f"piece{number}")
            end = time.monotonic() + timeout
            while state["pong"] != f"piece{number}" and time.monotonic() < end:
                reactor.process_once(0.1)
        conn.quit("runbook done")
        # The server closes the link once it has read QUIT, so every message before it is in.
        end = time.monotonic() + timeout
        while conn.is_connected() and time.monotonic() < end:
            reactor.process_once(0.1)
    finally:
        if conn.is_connected():
            conn.close()
    transcript.artifact("irc", f"irc://{cfg['server']}/{cfg['channel']}", text=text)


def pieces(text: str, room: int) -> list[str]:
    """`text` as IRC messages of at most `room` bytes (UTF-8) each, cut between words where it
    can be, numbered `(2/3)` when there are several; a line break becomes ` | ` (IRC has none)."""
    words = " | ".join(line.strip() for line in text.splitlines() if line.strip()).split(" ")
    room -= len("(99/99) ")
    out, line = [], ""
    for word in words:
        if line and len(f"{line} {word}".encode()) > room:
            out.append(line)
            line = ""
        while len(word.encode()) > room:  # a word longer than a message: cut it
            head = word.encode()[:room].decode(errors="ignore")
            out.append(head)
            word = word[len(head) :]
        line = f"{line} {word}" if line else word
    if line or not out:
        out.append(line)
    if len(out) == 1:
        return out
    return [f"({i}/{len(out)}) {piece}" for i, piece in enumerate(out, 1)]
