"""Environment-variable files: writers, the quoting rules, and reading them back for --check.

The dotenv writer picks quoting that python-dotenv, Node's dotenv, docker
compose and `set -a; . ./file` in bash all read back to the same bytes
(docs/env-files.md has the table behind these rules). A value that no quoting
carries identically to all of them is refused, naming the key, never the value.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from credctl.errors import EnvFileError

FORMATS = ("dotenv", "json", "shell", "docker", "github", "yaml")
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# inside double quotes these mean something to bash, python-dotenv or compose
_DOUBLE_QUOTE_SPECIAL = set('"\\$`\n\r')
# docker run --env-file reads lines with Go's bufio.Scanner, whose 64 KiB buffer must
# hold the line and its newline: a longer line fails with "token too long"
DOCKER_MAX_LINE_BYTES = 64 * 1024 - 1

Entries = Sequence[tuple[str, str]]


def _check_name(name: str) -> None:
    if not NAME.match(name):
        raise EnvFileError(
            f"{name!r} is not a valid variable name (letters, digits and _, not starting "
            "with a digit)"
        )


def dotenv_quote(name: str, value: str) -> str:
    """`'value'`, or `"value"` for a single-line value with `'` and nothing special."""
    if "\x00" in value:
        raise _refused(name, "dotenv", "a NUL character")
    if "\r" in value:
        raise _refused(name, "dotenv", "a carriage return (Node's dotenv turns CR LF into LF)")
    if "${" in value:
        raise _refused(name, "dotenv", "${ (python-dotenv expands ${VAR} even in single quotes)")
    if "'" not in value:
        if "\\\\" in value:
            raise _refused(name, "dotenv", "two backslashes in a row (python-dotenv reads one)")
        if value.endswith("\\"):
            raise _refused(name, "dotenv", "a trailing backslash (python-dotenv reads \\' )")
        return f"'{value}'"
    if _DOUBLE_QUOTE_SPECIAL.isdisjoint(value):
        return f'"{value}"'
    raise _refused(
        name,
        "dotenv",
        'a single quote together with one of " \\ $ ` or a line break',
    )


def _refused(name: str, fmt: str, what: str) -> EnvFileError:
    return EnvFileError(
        f"the value of {name} cannot be written as {fmt} so that every reader gets it back "
        f"unchanged: it contains {what}",
        hint="use --format json or shell, or --only to leave it out",
    )


def shell_quote(value: str) -> str:
    """Single quotes, each `'` as `'\\''`: safe for eval and `.` in bash, dash and zsh."""
    return "'" + value.replace("'", "'\\''") + "'"


def render(entries: Entries, fmt: str) -> str:
    """The whole file in one format; raises EnvFileError naming the first bad key."""
    for name, _ in entries:
        _check_name(name)
    if fmt == "json":
        return json.dumps(dict(entries), indent=2, ensure_ascii=False) + "\n"
    if fmt == "yaml":
        import yaml

        return str(
            yaml.safe_dump(
                dict(entries), allow_unicode=True, default_style='"', sort_keys=False, width=2**31
            )
        )
    if fmt == "dotenv":
        return "".join(f"{name}={dotenv_quote(name, value)}\n" for name, value in entries)
    if fmt == "shell":
        for name, value in entries:
            if "\x00" in value:
                raise _refused(name, "shell", "a NUL character")
        return "".join(f"export {name}={shell_quote(value)}\n" for name, value in entries)
    if fmt == "docker":
        for name, value in entries:
            # docker run --env-file takes each line as it is: no quoting, no line breaks
            if "\n" in value or "\r" in value or "\x00" in value:
                raise _refused(name, "docker", "a line break (docker --env-file has no quoting)")
            if len(f"{name}={value}".encode()) > DOCKER_MAX_LINE_BYTES:
                raise _refused(
                    name, "docker", "more bytes than docker --env-file reads in a line (64 KiB)"
                )
        return "".join(f"{name}={value}\n" for name, value in entries)
    if fmt == "github":
        return "".join(_github_line(name, value) for name, value in entries)
    raise EnvFileError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")


def _github_line(name: str, value: str) -> str:
    if "\x00" in value:
        raise _refused(name, "github", "a NUL character")
    if "\n" not in value and "\r" not in value:
        return f"{name}={value}\n"
    delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
    while delimiter in value:  # a value must not be able to end its own heredoc
        delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
    return f"{name}<<{delimiter}\n{value}\n{delimiter}\n"


# ----------------------------------------------------------------- reading


def parse(text: str, fmt: str) -> dict[str, str]:
    """Read back a file credctl wrote (for --check); tolerant of comments and blank lines."""
    readers: dict[str, Callable[[str], dict[str, str]]] = {
        "json": _parse_json,
        "yaml": _parse_yaml,
        "dotenv": _parse_dotenv,
        "shell": _parse_shell,
        "docker": _parse_docker,
        "github": _parse_github,
    }
    return readers[fmt](text)


def _parse_json(text: str) -> dict[str, str]:
    try:
        document = json.loads(text)
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in document.items()} if isinstance(document, dict) else {}


def _parse_yaml(text: str) -> dict[str, str]:
    import yaml

    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        return {}
    return {str(k): str(v) for k, v in document.items()} if isinstance(document, dict) else {}


_DOTENV = re.compile(
    r"^[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)[ \t]*=[ \t]*"
    r"(?:'([^']*)'|\"([^\"]*)\"|([^\n]*))[ \t]*$",
    re.MULTILINE,
)


def _parse_dotenv(text: str) -> dict[str, str]:
    found = {}
    for match in _DOTENV.finditer(text):
        single, double, bare = match.group(2), match.group(3), match.group(4)
        found[match.group(1)] = (
            single if single is not None else double if double is not None else bare.strip()
        )
    return found


_SHELL = re.compile(r"^export ([A-Za-z_][A-Za-z0-9_]*)=((?:'[^']*'|\\')*)$", re.MULTILINE)


def _parse_shell(text: str) -> dict[str, str]:
    found = {}
    for match in _SHELL.finditer(text):
        parts = re.findall(r"'([^']*)'|\\(')", match.group(2))
        found[match.group(1)] = "".join(quoted or escaped for quoted, escaped in parts)
    return found


def _parse_docker(text: str) -> dict[str, str]:
    found = {}
    for line in text.split("\n"):
        if line.lstrip().startswith("#") or "=" not in line:
            continue
        name, _, value = line.lstrip().partition("=")
        found[name] = value
    return found


def _parse_github(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        heredoc = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)<<(.+)$", line)
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


def git_tracks_or_would_track(path: Path) -> bool:
    """True when `path` is in a git work tree and is tracked or not ignored."""
    git = shutil.which("git")
    if git is None:
        return False
    folder = path.resolve().parent

    def run(*args: str) -> int:
        try:
            return subprocess.run(
                [git, "-C", str(folder), *args],
                capture_output=True,
                timeout=10,
                check=False,
            ).returncode
        except (OSError, subprocess.TimeoutExpired):
            return -1

    if run("rev-parse", "--is-inside-work-tree") != 0:
        return False
    if run("ls-files", "--error-unmatch", path.name) == 0:
        return True
    return run("check-ignore", "-q", path.name) != 0
