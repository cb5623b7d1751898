"""The local audit log, `.credctl/audit.jsonl`: who changed what, when; never a value."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from credctl import clock
from credctl.errors import DamagedStateError, UsageError
from credctl.model import slugify
from credctl.render import Styler
from credctl.render.columns import text_table
from credctl.results import Result
from credctl.schedule import format_timestamp

LOG_PATH = Path(".credctl") / "audit.jsonl"


@dataclass(frozen=True)
class Entry:
    """One change credctl made: who, where, what, the version it made, the outcome."""

    actor: str
    environment: str
    credential_id: str
    action: str
    version: str | None = None
    outcome: str = "ok"
    message: str | None = None  # never a value


def append(project_root: Path, entry: Entry) -> None:
    """Append one line, chained to the one before it (its `prev` is that entry's hash).

    The file is locked while the last line is read and the new one written, so
    concurrent credctl processes never fork the chain or interleave a line.
    """
    folder = project_root / LOG_PATH.parent
    folder.mkdir(mode=0o700, exist_ok=True)
    document: dict[str, Any] = {
        "time": format_timestamp(clock.now()),
        "actor": entry.actor,
        "environment": entry.environment,
        "id": entry.credential_id,
        "action": entry.action,
        "version": entry.version,
        "outcome": entry.outcome,
    }
    if entry.message:
        document["message"] = entry.message
    handle = os.open(project_root / LOG_PATH, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        document["prev"] = _link(_last_line(handle))
        document["hash"] = entry_hash(document)
        os.write(handle, (json.dumps(document, sort_keys=True) + "\n").encode("utf-8"))
    finally:
        os.close(handle)  # and with it the lock


def entry_hash(document: dict[str, Any]) -> str:
    """SHA-256 of an entry without its own hash: what `log --verify` recomputes."""
    content = {key: value for key, value in document.items() if key != "hash"}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _link(previous: bytes | None) -> str:
    """What the next entry's `prev` is: the previous entry's hash (or its line's, for an
    entry written before the chain), and "" for the first."""
    if previous is None:
        return ""
    try:
        document = json.loads(previous)
    except ValueError:
        document = None
    if isinstance(document, dict) and isinstance(document.get("hash"), str):
        return str(document["hash"])
    return hashlib.sha256(previous).hexdigest()


def _last_line(handle: int) -> bytes | None:
    """The file's last non-empty line (read from the end, not the whole file)."""
    size = os.lseek(handle, 0, os.SEEK_END)
    block, tail = 65536, b""
    position = size
    while position > 0:
        step = min(block, position)
        position -= step
        tail = os.pread(handle, step, position) + tail
        lines = [line for line in tail.split(b"\n") if line.strip()]
        if len(lines) > 1 or (lines and position == 0):
            return lines[-1]
    return None


def read_log(
    project_root: Path,
    *,
    environments: Sequence[str] = (),
    credential_ids: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Entries in order, filtered; a damaged line is an error naming its line."""
    wanted_environments = {slugify(name) for name in environments}
    wanted_ids = {"/".join(slugify(part) for part in cid.split("/")) for cid in credential_ids}
    entries = []
    for number, raw in _lines(project_root):
        entry = _entry(number, raw)
        if (
            wanted_environments
            and slugify(str(entry.get("environment"))) not in wanted_environments
        ):
            continue
        if wanted_ids and entry.get("id") not in wanted_ids:
            continue
        entries.append(entry)
    return entries


def _lines(project_root: Path) -> list[tuple[int, bytes]]:
    """The log's non-empty lines with their numbers (none when there is no log yet)."""
    try:
        raw_lines = (project_root / LOG_PATH).read_bytes().splitlines()
    except FileNotFoundError:
        return []
    except OSError as error:
        raise UsageError(
            f"cannot read {LOG_PATH}: {error.strerror}",
            hint=f"make it readable: chmod u+r {LOG_PATH}",
        ) from None
    return [(number, raw) for number, raw in enumerate(raw_lines, start=1) if raw.strip()]


def _entry(number: int, raw: bytes) -> dict[str, Any]:
    """One line as the JSON object credctl wrote; a damaged line is an error naming it."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _damaged(number, "not UTF-8 text") from None
    try:
        entry = json.loads(line)
    except ValueError:
        raise _damaged(number, "not a JSON line") from None
    if not isinstance(entry, dict):
        raise _damaged(number, "not a JSON object")
    return entry


@dataclass
class Verification(Result):
    """Whether the log's chain holds: every entry unchanged, none removed or moved."""

    entries: int
    before_chain: int  # entries written before credctl chained its log
    problem: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "entries": self.entries,
            "before_chain": self.before_chain,
            "intact": self.problem is None,
            "problem": self.problem,
        }

    def notes(self) -> list[str]:
        if self.problem is not None:
            return [
                f"{LOG_PATH}: {self.problem} (credctl only ever appends to it: restore it from a "
                "backup to find what changed)"
            ]
        older = f" ({self.before_chain} written before the chain)" if self.before_chain else ""
        return [f"{LOG_PATH}: {self.entries} entries, chain intact{older}"]

    def exit_code(self) -> int:
        return 0 if self.problem is None else 1


def verify_log(project_root: Path) -> Verification:
    """Recompute the chain: the first entry edited, removed, moved or added by hand."""
    lines = _lines(project_root)
    chained = False
    previous: bytes | None = None
    before_chain = 0
    for index, (number, raw) in enumerate(lines, start=1):
        document = _entry(number, raw)
        where = f"entry {index} (line {number})"
        if "hash" not in document:
            if chained:
                return Verification(
                    len(lines), before_chain, f"{where} has no hash: added or rewritten by hand"
                )
            before_chain += 1
            previous = raw
            continue
        chained = True
        if document["hash"] != entry_hash(document):
            return Verification(
                len(lines), before_chain, f"{where} was edited after it was written"
            )
        if document.get("prev") != _link(previous):
            return Verification(
                len(lines),
                before_chain,
                f"{where} does not follow the entry before it: an entry was removed, moved or "
                "added there",
            )
        previous = raw
    return Verification(len(lines), before_chain)


LOG_COLUMNS = ("time", "actor", "environment", "id", "action", "version", "outcome")


@dataclass
class LogView(Result):
    """Entries of the audit log, the last `limit` of those chosen."""

    entries: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        return {"entries": self.entries}

    def as_text(self, style: Styler) -> str:
        rows = [
            [_printable(str(entry.get(c) or "")) for c in LOG_COLUMNS] for entry in self.entries
        ]
        return text_table([column.upper() for column in LOG_COLUMNS], rows)


def show_log(
    project_root: Path,
    *,
    environments: Sequence[str] = (),
    credential_ids: Sequence[str] = (),
    limit: int | None = None,
) -> LogView:
    """The log's entries for `credctl log`, filtered, the last `limit`."""
    entries = read_log(project_root, environments=environments, credential_ids=credential_ids)
    return LogView(entries[-limit:] if limit is not None else entries)


def _printable(text: str) -> str:
    """A cell whose control characters show as escapes: a log line cannot forge another."""
    return "".join(
        f"\\u{ord(c):04x}" if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c
        for c in text
    )


def _damaged(number: int, what: str) -> DamagedStateError:
    return DamagedStateError(
        f"{LOG_PATH}:{number}: {what} (credctl writes one JSON object a line)",
        hint=f"repair or remove that line: sed -i {number}d {LOG_PATH}",
    )
