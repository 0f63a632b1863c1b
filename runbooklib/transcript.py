"""What the current step did: commands, artifacts, notes; shared by the engine and the actions.

The actions and `remote.Host` write here; the engine (a pytest plugin) subscribes and turns each
entry into a journal line and a report extra. Kept free of pytest so that actions stay plain code.

    >>> from runbooklib.transcript import transcript
    >>> transcript.artifact("backup", "caje:/var/backups/sakai/clone.sql.gz", sha256="...")
"""

from __future__ import annotations

import contextvars
import functools
import html
import json
import logging
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus

import javaproperties

REDACTED = "********"
# The shortest secret that can be redacted safely, and the shortest piece of one that counts as
# the secret when a display shortened it next to "..." (pytest's assertion rewriting, saferepr).
# A shorter secret would match ordinary words (a garbled record that points at the secret), and
# a piece shorter than this is too likely to be ordinary text; a shortened display may therefore
# leak up to MIN_SECRET - 1 characters of a secret's start or end, never the whole of it.
MIN_SECRET = 8
ELLIPSES = ("...", "\u2026")


def _hex_lower(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), text)


# How a value is written when it is quoted or escaped on its way to a screen or a file: the
# shell (shlex.quote, inside single or double quotes), backslash escapes, Python's repr() of the
# str and of its UTF-8 bytes, JSON, .properties, URL encoding, HTML/XML. Each maps str -> str.
ENCODINGS: tuple[Callable[[str], str], ...] = (
    shlex.quote,
    lambda s: s.replace("'", "'\"'\"'"),  # the inside of shlex.quote's single quotes
    lambda s: re.sub(r'([\\"$`])', r"\\\1", s),  # the inside of a shell's double quotes
    lambda s: re.sub(r"([\\'\"])", r"\\\1", s),  # every quote and backslash escaped
    lambda s: s.replace("\\", "\\\\"),
    lambda s: repr(s)[1:-1],
    lambda s: ascii(s)[1:-1],
    lambda s: repr(s.encode())[2:-1],
    lambda s: json.dumps(s)[1:-1],
    lambda s: json.dumps(s, ensure_ascii=False)[1:-1],
    javaproperties.escape,
    lambda s: javaproperties.escape(s, ensure_ascii=False),
    lambda s: quote(s, safe=""),
    lambda s: _hex_lower(quote(s, safe="")),
    quote_plus,
    quote,
    html.escape,
    lambda s: html.escape(s, quote=False),
    lambda s: html.escape(s).replace("&#x27;", "&apos;"),
    lambda s: html.escape(s).replace("&#x27;", "&#39;"),
)


def forms(secret: str) -> set[str]:
    """Every way `secret` may be written: itself, each encoding of it, and each encoding of those
    (a JSON journal line of a shell-quoted command; an HTML report of a repr)."""
    once = {secret} | {encode(secret) for encode in ENCODINGS}
    return once | {encode(form) for form in once for encode in ENCODINGS}


# The step a thread works for, when it is not the step being run: an observation started ahead
# (engine/ahead.py) is journaled under the check that reads it.
working_for: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "runbook_working_for", default=None
)


def carried(func: Callable) -> Callable:
    """`func`, to run in another thread with the caller's context (the step it works for)."""
    context = contextvars.copy_context()
    return lambda *args, **kwargs: context.copy().run(func, *args, **kwargs)


@dataclass
class Transcript:
    # Kind of the step being run ("action", "check", "manual"); None outside a step.
    step_kind: str | None = None
    # Values that must never reach a report, a journal or the console (DB passwords, keys).
    secrets: set[str] = field(default_factory=set)
    # Every written form of every secret, longest first: what redact() replaces.
    forms: list[str] = field(default_factory=list)
    # Callables taking (event: str, data: dict); the engine adds its journal writer here.
    listeners: list[Callable[[str, dict], None]] = field(default_factory=list)

    def add_secret(self, value: str | None) -> None:
        """Redact `value` from now on, in every form, here and in every log record."""
        if not value:
            return
        if len(value) < MIN_SECRET:
            raise ValueError(f"a secret shorter than {MIN_SECRET} characters cannot be redacted")
        self.secrets.add(value)
        known = set(self.forms) | forms(value)
        self.forms = sorted((f for f in known if f), key=len, reverse=True)
        install_log_redaction()

    def redact(self, text: str) -> str:
        if not self.forms:
            return text
        for form in self.forms:
            if form in text:
                text = text.replace(form, REDACTED)
        for mark in ELLIPSES:
            if mark in text:
                text = self._cut_pieces(text, mark)
        return text

    def _cut_pieces(self, text: str, mark: str) -> str:
        """A secret's start just before `mark`, or its end just after it, is the secret cut short
        by a display (`'S3cr3tPa...'`): redacted when it is MIN_SECRET characters or longer."""
        parts = text.split(mark)
        for i, part in enumerate(parts):
            if i < len(parts) - 1:
                part = self._cut(part, tail=True)
            if i > 0:
                part = self._cut(part, tail=False)
            parts[i] = part
        return mark.join(parts)

    def _cut(self, part: str, tail: bool) -> str:
        for form in self.forms:
            for n in range(len(form) - 1, MIN_SECRET - 1, -1):
                if tail and part.endswith(form[:n]):
                    return part[:-n] + REDACTED
                if not tail and part.startswith(form[-n:]):
                    return REDACTED + part[n:]
        return part

    def redact_value(self, value: Any) -> Any:
        """`value` with every string in it redacted, however deep in lists, tuples and dicts."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, bytes):
            return self.redact(value.decode(errors="backslashreplace"))
        if isinstance(value, dict):
            return {self.redact_value(k): self.redact_value(v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self.redact_value(v) for v in value]
        return value

    def redact_report(self, report: Any) -> None:
        """A pytest report's failure text and captured sections, redacted in place."""
        if not self.secrets:
            return
        if report.longrepr is not None:
            text = str(report.longrepr)
            if self.redact(text) != text:
                report.longrepr = self.redact(text)
        report.sections = [(title, self.redact(body)) for title, body in report.sections]

    def emit(self, event: str, **data: Any) -> None:
        clean = {k: self.redact_value(v) for k, v in data.items()}
        step = working_for.get()
        if step is not None:
            clean.setdefault("step", step)
        for listener in list(self.listeners):
            listener(event, clean)

    def command(self, host: str, command: str, **data: Any) -> None:
        """One remote command: rc, stdout, stderr, duration, dry_run."""
        self.emit("command", host=host, command=command, **data)

    def artifact(self, kind: str, where: str, **data: Any) -> None:
        """Something a step made that the fallback or the post-mortem needs (a backup, a diff)."""
        self.emit("artifact", kind=kind, where=where, **data)

    def note(self, text: str, **data: Any) -> None:
        self.emit("note", text=text, **data)


transcript = Transcript()


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """The record with its message, traceback and stack already redacted (and formatted)."""
    record.msg = transcript.redact(record.getMessage())
    record.args = None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = transcript.redact(record.exc_text)
    if record.stack_info:
        record.stack_info = transcript.redact(record.stack_info)
    return record


class RedactingFilter(logging.Filter):
    """Redacts, never drops: can also be put on a handler or logger of one's own."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def install_log_redaction() -> None:
    """Redact every log record when it is made, whoever logs it (testinfra logs each command and
    its raw output at DEBUG) and wherever it goes (--log-cli-level, --log-file, caplog, report).

    A factory rather than a filter on chosen loggers: a logger's filter does not see the records
    of its child loggers, and pytest attaches its handlers anew for each test phase.
    """
    current = logging.getLogRecordFactory()
    if getattr(current, "redacting", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return redact_record(current(*args, **kwargs))

    factory.redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def verification(func: Callable) -> Callable:
    """Mark a read-only assertion helper of a host or an inventory (its first argument): in
    check mode, within an action or manual step, it is recorded, not run: that step changed
    nothing, so checking its effect is moot."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        target = args[0] if args else None
        if getattr(target, "check_mode", False) and transcript.step_kind in ("action", "manual"):
            transcript.note(f"would verify: {func.__name__}")
            return None
        return func(*args, **kwargs)

    return wrapper
