"""The shell format: `export NAME='value'` lines for `eval` or `.` in bash, dash and zsh."""

from __future__ import annotations

import re

from credctl.envfile.common import Entries, check_names, refuse_nul


def render(entries: Entries) -> str:
    check_names(entries)
    for name, value in entries:
        refuse_nul(name, value, "shell")
    return "".join(f"export {name}={shell_quote(value)}\n" for name, value in entries)


def shell_quote(value: str) -> str:
    """Single quotes, each `'` as `'\\''`: safe for eval and `.` in bash, dash and zsh."""
    return "'" + value.replace("'", "'\\''") + "'"


_LINE = re.compile(r"^export ([A-Za-z_][A-Za-z0-9_]*)=((?:'[^']*'|\\')*)$", re.MULTILINE)


def parse(text: str) -> dict[str, str]:
    found = {}
    for match in _LINE.finditer(text):
        parts = re.findall(r"'([^']*)'|\\(')", match.group(2))
        found[match.group(1)] = "".join(quoted or escaped for quoted, escaped in parts)
    return found
