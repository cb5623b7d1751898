"""The local audit log, `.credctl/audit.jsonl`: who changed what, when; never a value."""

from __future__ import annotations

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
    """Append one line with O_APPEND, so concurrent writers never interleave a line."""
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
    line = (json.dumps(document, sort_keys=True) + "\n").encode("utf-8")
    handle = os.open(project_root / LOG_PATH, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(handle, line)
    finally:
        os.close(handle)


def read_log(
    project_root: Path,
    *,
    environments: Sequence[str] = (),
    credential_ids: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Entries in order, filtered; a damaged line is an error naming its line."""
    path = project_root / LOG_PATH
    try:
        raw_lines = path.read_bytes().splitlines()
    except FileNotFoundError:
        return []
    except OSError as error:
        raise UsageError(
            f"cannot read {LOG_PATH}: {error.strerror}",
            hint=f"make it readable: chmod u+r {LOG_PATH}",
        ) from None
    wanted_environments = {slugify(name) for name in environments}
    wanted_ids = {"/".join(slugify(part) for part in cid.split("/")) for cid in credential_ids}
    entries = []
    for number, raw_line in enumerate(raw_lines, start=1):
        try:
            line = raw_line.decode("utf-8")
        except UnicodeDecodeError:
            raise _damaged(number, "not UTF-8 text") from None
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            raise _damaged(number, "not a JSON line") from None
        if not isinstance(entry, dict):
            raise _damaged(number, "not a JSON object")
        if (
            wanted_environments
            and slugify(str(entry.get("environment"))) not in wanted_environments
        ):
            continue
        if wanted_ids and entry.get("id") not in wanted_ids:
            continue
        entries.append(entry)
    return entries


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
