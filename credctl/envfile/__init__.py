"""Env-file formats, one module per format, and the registry the rest derives from.

The `env` command's `--format` choices, the check of `env_file.format` in an
environment file and the table in docs/env-files.md all come from
`ENV_FORMATS`; a format is one module with `render(entries)` and
`parse(text)` (and `mask(secrets)` when its reader is told which values to
hide), and one entry here.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, cast

from credctl.envfile.common import Entries
from credctl.errors import EnvFileError

__all__ = [
    "DEFAULT_FORMAT",
    "ENV_FORMATS",
    "FORMATS",
    "Entries",
    "EnvFormat",
    "FormatModule",
    "MaskingModule",
    "mask",
    "parse",
    "render",
]


class FormatModule(Protocol):
    """What a format's module provides."""

    # the whole file; EnvFileError naming the first key it cannot write, never the value
    def render(self, entries: Entries) -> str: ...

    # the variables of a file this format wrote, for --check; tolerant of comments
    def parse(self, text: str) -> dict[str, str]: ...


class MaskingModule(FormatModule, Protocol):
    """A format whose reader hides values it is told about (GitHub's `::add-mask::`)."""

    # the lines for standard output that tell the reader to hide each of these values
    def mask(self, secrets: Sequence[str]) -> str: ...


@dataclass(frozen=True)
class EnvFormat:
    """One env-file format: its name, its module, who reads it and what it carries."""

    name: str
    module: str  # imported when the format is used
    summary: str  # who reads the file: the "for" column of docs/env-files.md
    line_breaks: bool  # a value with a line break is written (else refused by name)
    every_value: bool  # every value an environment can hold is written (else some are refused)
    masks: bool = False  # its module's `mask` tells the reader which values to hide

    def load(self) -> FormatModule:
        return cast("FormatModule", importlib.import_module(self.module))


ENV_FORMATS: dict[str, EnvFormat] = {
    env_format.name: env_format
    for env_format in (
        EnvFormat(
            "dotenv",
            "credctl.envfile.dotenv",
            "python-dotenv, Node's `dotenv`, docker compose `env_file`, `set -a; . ./.env` in bash",
            line_breaks=True,
            every_value=False,
        ),
        EnvFormat(
            "json",
            "credctl.envfile.jsonfile",
            "anything with a JSON parser",
            line_breaks=True,
            every_value=True,
        ),
        EnvFormat(
            "shell",
            "credctl.envfile.shell",
            "`eval` / `.` in bash, dash, zsh",
            line_breaks=True,
            every_value=True,
        ),
        EnvFormat(
            "docker",
            "credctl.envfile.docker",
            "`docker run --env-file`",
            line_breaks=False,
            every_value=False,
        ),
        EnvFormat(
            "github",
            "credctl.envfile.github",
            "`$GITHUB_ENV` in GitHub Actions",
            line_breaks=True,
            every_value=True,
            masks=True,
        ),
        EnvFormat(
            "yaml",
            "credctl.envfile.yamlfile",
            "YAML 1.1/1.2 readers",
            line_breaks=True,
            every_value=True,
        ),
    )
}
FORMATS = tuple(ENV_FORMATS)
DEFAULT_FORMAT = "dotenv"


def _format(fmt: str) -> FormatModule:
    if fmt not in ENV_FORMATS:
        raise EnvFileError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    return ENV_FORMATS[fmt].load()


def render(entries: Entries, fmt: str) -> str:
    """The whole file in the format named `fmt`; EnvFileError naming the first bad key."""
    return _format(fmt).render(entries)


def parse(text: str, fmt: str) -> dict[str, str]:
    """Read back a file credctl wrote in `fmt` (for --check)."""
    return _format(fmt).parse(text)


def mask(secrets: Sequence[str], fmt: str) -> str:
    """What the reader of a `fmt` file is told on standard output to hide: GitHub's
    `::add-mask::` lines; nothing for a format whose reader has no such thing."""
    env_format = ENV_FORMATS.get(fmt)
    if env_format is None or not env_format.masks or not secrets:
        return ""
    return cast("MaskingModule", env_format.load()).mask(secrets)
