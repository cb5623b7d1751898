"""The one output function every command hands its result to."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from credctl.cli.options import State
from credctl.errors import UsageError

if TYPE_CHECKING:
    from credctl.results import Result


def emit(
    state: State, result: Result, output_format: str | None = None, output: Path | None = None
) -> None:
    """Print `result` (or write it atomically to `output`), say its notes, exit with its code.

    The format is the one asked for, else the project's `format` setting where the
    command offers it, else table. Colour only on a terminal. A failure the result
    carries is raised last, after everything that did happen was shown.
    """
    from credctl.fsutil import display_path, write_file
    from credctl.render import RENDERERS, plain

    fmt = state.format(output_format, result.formats)
    to_file = output is not None and str(output) != "-"
    renderer = RENDERERS.get(fmt)
    if renderer is not None and renderer.page and not to_file and sys.stdout.isatty():
        raise UsageError(f"the {fmt.upper()} report is a file: pass -o report.{fmt}")
    rendered = result.render(fmt, plain if to_file else state.style)
    if to_file:
        assert output is not None
        digest = hashlib.sha256()
        chunks = [rendered] if isinstance(rendered, str) else rendered
        write_file(output, (_hashed(chunk, digest) for chunk in chunks), 0o644)
        state.say(f"wrote {display_path(output)}")
        if result.sealed:  # an auditor checks the report against its digest: sha256sum -c
            seal = output.with_name(output.name + ".sha256")
            write_file(seal, f"{digest.hexdigest()}  {output.name}\n", 0o644)
            state.say(f"wrote {display_path(seal)}")
    else:
        for chunk in [rendered] if isinstance(rendered, str) else rendered:
            click.echo(chunk, nl=False)
    for note in result.notes():
        state.say(note)
    failure = result.failure(fmt)
    if failure is not None:
        raise failure
    code = result.exit_code()
    if code:
        sys.exit(code)


def _hashed(chunk: str, digest: hashlib._Hash) -> str:
    digest.update(chunk.encode("utf-8"))
    return chunk
