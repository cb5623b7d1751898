"""What every env-file format shares: the entries, the name rule, the refusal message."""

from __future__ import annotations

import re
from collections.abc import Sequence

from credctl.errors import EnvFileError

Entries = Sequence[tuple[str, str]]  # (variable name, value), in file order

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_names(entries: Entries) -> None:
    """Every name a shell identifier; raised before any value is looked at."""
    for name, _ in entries:
        if not NAME.match(name):
            raise EnvFileError(
                f"{name!r} is not a valid variable name (letters, digits and _, not starting "
                "with a digit)"
            )


def refuse_nul(name: str, value: str, fmt: str) -> None:
    """No environment can hold a NUL character."""
    if "\x00" in value:
        raise refused(name, fmt, "a NUL character")


def refused(name: str, fmt: str, what: str) -> EnvFileError:
    """The error for a value `fmt` cannot carry: names the key and the kind of character."""
    return EnvFileError(
        f"the value of {name} cannot be written as {fmt} so that every reader gets it back "
        f"unchanged: it contains {what}",
        hint="use --format json or shell, or --only to leave it out",
    )
