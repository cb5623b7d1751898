"""Placeholder writers (replaced by the env-file module)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

FORMATS = ("dotenv", "json")


def render(entries: Sequence[tuple[str, str]], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(dict(entries), indent=2) + "\n"
    return "".join(f"{name}='{value}'\n" for name, value in entries)


def stale_names(existing: str, entries: Sequence[tuple[str, str]], fmt: str) -> list[str]:
    return [] if existing == render(entries, fmt) else [name for name, _ in entries]


def git_tracks_or_would_track(path: Path) -> bool:
    return False
