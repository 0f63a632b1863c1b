"""One renderer per artifact kind: a journal `artifact` line made into a block the record shows.

A renderer returns a `Block`; templates/record.html.j2 draws it by its `shape`: `fields` (a
table whose values may be text, lists or mappings, drawn as lists and tables, never as a
Python repr and never cut), `diff` (a unified diff, a line per row) or `log-scan` (the known
issues a log scan allowed). A kind with no renderer of its own gets `fields`. Whatever its
kind, an artifact's `content` (the firewall rules put in place, a config file as edited,
redacted) is shown whole, collapsed, once per distinct text (report.dedupe).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from runbooklib.engine.view import RunView

# Journal keys that are the line's bookkeeping, not the artifact.
_BOOKKEEPING = ("t", "event", "step", "kind", "where", "hash")


@dataclass
class Block:
    kind: str
    where: str
    shape: str = "fields"
    fields: list[tuple[str, object]] = field(default_factory=list)
    diff: list[tuple[str, str]] = field(default_factory=list)  # (css class, line)
    allowed: list[dict] = field(default_factory=list)  # log-scan: known issue, line, why, expires
    errors: list[str] = field(default_factory=list)
    note: str = ""
    content: str = ""  # the text itself, whole (wrapped, never cut)
    # Never repeated: the first block with a text shows it under `content_id`; a later one
    # with the same text names that first one in `content_seen` (report.dedupe).
    content_id: str = ""
    content_seen: str = ""
    # A config file's new text that is an earlier one's (this id) with this block's diff
    # applied: shown as that, not again whole.
    content_base: str = ""
    # A field's table or list shown earlier in the record (a dump's checksums, then the same
    # checksums before the scripts): field name -> the id of its first showing; and the ids
    # of this block's fields that are such first showings.
    seen: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)

    @property
    def content_sha256(self) -> str:
        """The digest of the text as recorded: a command's stdin with the same one sent it."""
        return hashlib.sha256(self.content.encode()).hexdigest() if self.content else ""


@dataclass
class Columns:
    """A mapping of rows that all have the same fields (per table: rows, checksum): one table
    with a column per field, instead of a table in every cell."""

    key: str
    names: list[str]
    rows: list[tuple[str, list[object]]]


def columns(value: object, key: str = "") -> object:
    """`value`, as Columns when it is a mapping of mappings with the same keys."""
    if not isinstance(value, dict) or len(value) < 2:
        return value
    inner = list(value.values())
    if not all(isinstance(v, dict) for v in inner):
        return value
    names = list(inner[0])
    if any(list(v) != names for v in inner):
        return value
    return Columns(key, names, [(str(k), [v[n] for n in names]) for k, v in value.items()])


def render(view: RunView, e: dict) -> Block:
    kind = str(e.get("kind"))
    data = {k: v for k, v in e.items() if k not in _BOOKKEEPING}
    content = data.pop("content", None)
    data = {k: columns(v, k) for k, v in data.items()}
    block = Block(kind=kind, where=str(e.get("where")), content=str(content or ""))
    if content and data.get("sha256") == block.content_sha256:
        # The text is shown, and the command that sent it names its digest: not twice.
        del data["sha256"]
    if "diff" in data:
        return diff_block(block, data)
    return RENDERERS.get(kind, fields_block)(view, block, data)


def fields_block(view: RunView, block: Block, data: dict) -> Block:
    block.fields = list(data.items())
    return block


def diff_block(block: Block, data: dict) -> Block:
    """A unified diff, a line per row: added green, removed red, headers and hunks blue."""
    text = str(data.pop("diff") or "")
    block.shape = "diff"
    block.fields = list(data.items())
    for line in text.splitlines():
        css = "diff-ctx"
        if line.startswith(("+++", "---", "@@")):
            css = "diff-hunk"
        elif line.startswith("+"):
            css = "diff-add"
        elif line.startswith("-"):
            css = "diff-del"
        block.diff.append((css, line))
    if not text:
        block.note = "no difference"
    return block


def log_scan_block(view: RunView, block: Block, data: dict) -> Block:
    block.shape = "log-scan"
    for line in data.get("allowed") or []:
        issue_id, _, text = str(line).partition(": ")
        issue = view.known.get(issue_id, {})
        block.allowed.append(
            {
                "id": issue_id,
                "line": text,
                "why": issue.get("justification", "(justification not recorded)"),
                "expires": issue.get("expires", ""),
            }
        )
    block.errors = [str(x) for x in data.get("errors") or []]
    block.note = f"from offset {data.get('offset', '')}"
    return block


def backup_block(view: RunView, block: Block, data: dict) -> Block:
    block.fields = list(data.items())
    if "verified" not in data and "checksums" in data:
        # dump_verified: a dump is kept only once a test restore gave these checksums back.
        block.fields.insert(0, ("verified", "by a test restore: every table's checksum below"))
    return block


RENDERERS: dict[str, Callable[[RunView, Block, dict], Block]] = {
    "log-scan": log_scan_block,
    "db-backup": backup_block,
    "db-kept": backup_block,
}


def patched(text: str, diff: str) -> str | None:
    """`text` with the unified diff `diff` applied, or None when the diff does not apply to it
    exactly (then nothing may be said to follow from it)."""
    old = text.splitlines(keepends=True)
    out: list[str] = []
    at = 0
    lines = diff.splitlines(keepends=True)
    i = 0
    while i < len(lines):
        hunk = re.match(r"@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@", lines[i])
        i += 1
        if not hunk:
            continue  # the file names before the first hunk
        start = int(hunk.group(1)) - (0 if hunk.group(2) == "0" else 1)
        if start < at:
            return None
        out += old[at:start]
        at = start
        while i < len(lines) and not lines[i].startswith("@@"):
            tag, body = lines[i][:1], lines[i][1:]
            if tag not in " -+":
                return None  # "\ No newline at end of file": not worth guessing
            if tag in " -":
                if at >= len(old) or old[at] != body:
                    return None
                at += 1
            if tag in " +":
                out.append(body)
            i += 1
    return "".join(out + old[at:])
