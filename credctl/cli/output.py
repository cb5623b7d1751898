"""The one output function every command hands its result to."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterable, Iterator
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
    from credctl.fsutil import display_path, write_output
    from credctl.render import RENDERERS, plain

    to_file = output is not None and str(output) != "-"
    fmt = state.format(output_format, result.formats)
    renderer = RENDERERS.get(fmt)
    if renderer is not None and renderer.page and not to_file and sys.stdout.isatty():
        raise UsageError(f"the {fmt.upper()} report is a file: pass -o report.{fmt}")
    rendered = result.render(fmt, plain if to_file else state.style)
    if to_file:
        assert output is not None
        digest = hashlib.sha256()
        chunks = [rendered] if isinstance(rendered, str) else rendered
        in_place = write_output(
            output,
            (_hashed(chunk, digest) for chunk in chunks),
            0o644,
            follow_symlinks=state.follow_symlinks,
        )
        state.say(f"wrote {display_path(output)}")
        # an auditor checks the report against its digest (sha256sum -c); a device, a FIFO
        # or a stream has no folder of its own to put it in
        if result.sealed and not in_place:
            seal = output.with_name(output.name + ".sha256")
            text = f"{digest.hexdigest()}  {output.name}\n"
            write_output(seal, text, 0o644, follow_symlinks=state.follow_symlinks)
            state.say(f"wrote {display_path(seal)}")
    else:
        for chunk in _joined([rendered] if isinstance(rendered, str) else rendered):
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


def _joined(chunks: Iterable[str], size: int = 1 << 16) -> Iterator[str]:
    """The chunks joined into pieces of about `size` characters: one write (and flush) a
    piece, not one for each of 10,000 credentials, and still never the whole report."""
    pending: list[str] = []
    length = 0
    for chunk in chunks:
        pending.append(chunk)
        length += len(chunk)
        if length >= size:
            yield "".join(pending)
            pending, length = [], 0
    if pending:
        yield "".join(pending)
