"""The dotenv format: one `NAME='value'` line each, quoted for every dotenv reader alike.

The quoting is the one python-dotenv, Node's dotenv, docker compose and
`set -a; . ./file` in bash all read back to the same bytes (docs/env-files.md
has the table behind these rules); a value no quoting carries identically to
all of them is refused, naming the key, never the value.
"""

from __future__ import annotations

import re

from credctl.envfile.common import Entries, check_names, refuse_nul, refused

# inside double quotes these mean something to bash, python-dotenv or compose
_DOUBLE_QUOTE_SPECIAL = set('"\\$`\n\r')


def render(entries: Entries) -> str:
    check_names(entries)
    return "".join(f"{name}={dotenv_quote(name, value)}\n" for name, value in entries)


def dotenv_quote(name: str, value: str) -> str:
    """`'value'`, or `"value"` for a single-line value with `'` and nothing special."""
    refuse_nul(name, value, "dotenv")
    if "\r" in value:
        raise refused(name, "dotenv", "a carriage return (Node's dotenv turns CR LF into LF)")
    if "${" in value:
        raise refused(name, "dotenv", "${ (python-dotenv expands ${VAR} even in single quotes)")
    if "'" not in value:
        if "\\\\" in value:
            raise refused(name, "dotenv", "two backslashes in a row (python-dotenv reads one)")
        if value.endswith("\\"):
            raise refused(name, "dotenv", "a trailing backslash (python-dotenv reads \\' )")
        return f"'{value}'"
    if _DOUBLE_QUOTE_SPECIAL.isdisjoint(value):
        return f'"{value}"'
    raise refused(
        name,
        "dotenv",
        'a single quote together with one of " \\ $ ` or a line break',
    )


_LINE = re.compile(
    r"^[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)[ \t]*=[ \t]*"
    r"(?:'([^']*)'|\"([^\"]*)\"|([^\n]*))[ \t]*$",
    re.MULTILINE,
)


def parse(text: str) -> dict[str, str]:
    found = {}
    for match in _LINE.finditer(text):
        single, double, bare = match.group(2), match.group(3), match.group(4)
        found[match.group(1)] = (
            single if single is not None else double if double is not None else bare.strip()
        )
    return found
