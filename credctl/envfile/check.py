"""`env --check`: how an existing file differs from what credctl would write, without its text."""

from __future__ import annotations

from dataclasses import dataclass

from credctl.envfile import parse
from credctl.envfile.common import Entries


@dataclass(frozen=True)
class Staleness:
    """How an existing file differs from what credctl would write.

    Only names of the wanted set are kept: whatever the file holds (another format,
    a multi-line value whose lines look like assignments), nothing else read from it
    can reach a message. Entries credctl would not write are only counted.
    """

    differing: list[str]  # wanted names missing from the file or holding another value
    unexpected: int  # entries of the file that are not in the wanted set

    def __bool__(self) -> bool:
        return bool(self.differing or self.unexpected)

    def describe(self) -> str:
        parts = []
        if self.differing:
            parts.append(", ".join(self.differing))
        if self.unexpected:
            entries = "entry" if self.unexpected == 1 else "entries"
            parts.append(f"{self.unexpected} {entries} credctl would not write")
        return "; ".join(parts)


def compare(existing: str, entries: Entries, fmt: str) -> Staleness:
    """Compare a file with the entries credctl would write in `fmt`; never keeps its text."""
    try:
        current = parse(existing, fmt)
    except Exception:  # any unreadable file is simply stale; its text stays here
        current = {}
    wanted = dict(entries)
    differing = sorted(name for name, value in wanted.items() if current.get(name) != value)
    unexpected = sum(1 for name in current if name not in wanted)
    return Staleness(differing, unexpected)
