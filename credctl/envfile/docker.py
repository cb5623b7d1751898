"""The docker format: `NAME=value` lines for `docker run --env-file`, which has no quoting."""

from __future__ import annotations

from credctl.envfile.common import Entries, check_names, refused

# docker run --env-file reads lines with Go's bufio.Scanner, whose 64 KiB buffer must
# hold the line and its newline: a longer line fails with "token too long"
MAX_LINE_BYTES = 64 * 1024 - 1


def render(entries: Entries) -> str:
    check_names(entries)
    for name, value in entries:
        # docker run --env-file takes each line as it is: no quoting, no line breaks
        if "\n" in value or "\r" in value or "\x00" in value:
            raise refused(name, "docker", "a line break (docker --env-file has no quoting)")
        if len(f"{name}={value}".encode()) > MAX_LINE_BYTES:
            raise refused(
                name, "docker", "more bytes than docker --env-file reads in a line (64 KiB)"
            )
    return "".join(f"{name}={value}\n" for name, value in entries)


def parse(text: str) -> dict[str, str]:
    found = {}
    for line in text.split("\n"):
        if line.lstrip().startswith("#") or "=" not in line:
            continue
        name, _, value = line.lstrip().partition("=")
        found[name] = value
    return found
