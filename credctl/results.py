"""What a library operation hands back to the command line: data, notes, exit code.

Every command calls one operation and passes its result to one output function
(`credctl.cli.output.emit`), which prints it in the format asked for, says its
notes on standard error and exits with its code. A result never prints.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from credctl.errors import CredctlError
from credctl.render import Styler

SCHEMA_VERSION = 1  # of every JSON document credctl prints; a breaking change raises it


class Result:
    """The base of every command's result; subclasses override what they have."""

    # the --format choices of the command that prints it (table for people, json for machines)
    formats: tuple[str, ...] = ("table", "json")
    # written to a file (-o), it gets a SHA-256 beside it (FILE.sha256, as sha256sum writes)
    sealed: bool = False

    def as_json(self) -> dict[str, Any]:
        """The JSON document, without `schema_version` (the output function adds it)."""
        return {}

    def as_text(self, style: Styler) -> str:
        """What people read on standard output."""
        return ""

    def notes(self) -> list[str]:
        """Lines for people on standard error (`-q` silences them)."""
        return []

    def exit_code(self) -> int:
        """The process's exit code when nothing failed (1: findings, stale, 2: changes)."""
        return 0

    def failure(self, fmt: str) -> CredctlError | None:
        """An error to report after the output, if something failed."""
        return None

    def render(self, fmt: str, style: Styler) -> str | Iterable[str]:
        """The result in one of its formats."""
        if fmt == "json":
            return json.dumps({"schema_version": SCHEMA_VERSION, **self.as_json()}, indent=2) + "\n"
        return self.as_text(style)


def pick(source: object, *names: str) -> dict[str, Any]:
    """Attributes of `source` by name, for a JSON document."""
    return {name: getattr(source, name) for name in names}
