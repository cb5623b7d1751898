"""`.env.example`: every variable an environment's file would hold, with an empty value and a
comment saying whose it is and where its value lives; never a value, so it can be committed."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from credctl.envfile.common import check_names

_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class ExampleEntry:
    """One variable of the example: its name and what the comment above it says."""

    name: str
    service: str
    credential_type: str
    owner: str
    reference: str  # the store reference, or "" for a configuration value kept in the table


def render(environment: str, table: str, entries: Sequence[ExampleEntry]) -> str:
    """The whole `.env.example`: a header, then a comment and `NAME=` for each variable."""
    check_names([(entry.name, "") for entry in entries])
    lines = [
        f"# Variables of the {environment} environment, written by credctl from {table}.",
        "# Names only: fill in the values, or write the real file with "
        f"'credctl env --env {environment}'.",
    ]
    for entry in entries:
        where = entry.reference or f"a configuration value: see {table}"
        owner = entry.owner or "no owner"
        lines += ["", _comment(f"{entry.service} {entry.credential_type} · {owner} · {where}")]
        lines.append(f"{entry.name}=")
    return "\n".join(lines) + "\n"


def _comment(text: str) -> str:
    return "# " + _UNPRINTABLE.sub("?", text)
