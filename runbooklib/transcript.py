"""What the current step did: commands, artifacts, notes; shared by the engine and the actions.

The actions and `remote.Host` write here; the engine (a pytest plugin) subscribes and turns each
entry into a journal line and a report extra. Kept free of pytest so that actions stay plain code.

    >>> from runbooklib.transcript import transcript
    >>> transcript.artifact("backup", "caje:/var/backups/sakai/clone.sql.gz", sha256="...")
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

REDACTED = "********"


@dataclass
class Transcript:
    # Kind of the step being run ("action", "check", "manual"); None outside a step.
    step_kind: str | None = None
    # Values that must never reach a report, a journal or the console (DB passwords, keys).
    secrets: set[str] = field(default_factory=set)
    # Callables taking (event: str, data: dict); the engine adds its journal writer here.
    listeners: list[Callable[[str, dict], None]] = field(default_factory=list)

    def add_secret(self, value: str | None) -> None:
        if value:
            self.secrets.add(value)

    def redact(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        return text

    def emit(self, event: str, **data: Any) -> None:
        clean = {k: self.redact(v) if isinstance(v, str) else v for k, v in data.items()}
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
