"""The github format: lines for `$GITHUB_ENV`, a multi-line value in a random-delimiter heredoc."""

from __future__ import annotations

import re
import secrets

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
