"""The github format: lines for `$GITHUB_ENV`, a multi-line value in a random-delimiter heredoc,
and the `::add-mask::` lines that make the runner hide every secret value in the job's log."""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence

from credctl.envfile.common import Entries, check_names, refuse_nul


def render(entries: Entries) -> str:
    check_names(entries)
    return "".join(_line(name, value) for name, value in entries)


def _line(name: str, value: str) -> str:
    refuse_nul(name, value, "github")
    if "\n" not in value and "\r" not in value:
        return f"{name}={value}\n"
    delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
    while delimiter in value:  # a value must not be able to end its own heredoc
        delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
    return f"{name}<<{delimiter}\n{value}\n{delimiter}\n"


_HEREDOC = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)<<(.+)$")


def parse(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        heredoc = _HEREDOC.match(line)
        if heredoc:
            body = []
            while index < len(lines) and lines[index] != heredoc.group(2):
                body.append(lines[index])
                index += 1
            index += 1
            found[heredoc.group(1)] = "\n".join(body)
        elif "=" in line:
            name, _, value = line.partition("=")
            found[name] = value
    return found


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def mask(values: Sequence[str]) -> str:
    """One `::add-mask::` per line of each value: the runner masks the log line by line, so a
    multi-line value (a PEM key) masked whole would still show line by line."""
    lines: dict[str, None] = {}
    for value in values:
        for line in _LINE_BREAK.split(value):
            if line.strip():
                lines.setdefault(line)
    return "".join(f"::add-mask::{_escaped(line)}\n" for line in lines)


def _escaped(data: str) -> str:
    """A workflow command's data, escaped as the runner unescapes it (`%` first)."""
    return data.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
