"""credctl env"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from credctl.cli.group import cli
from credctl.cli.options import (
    OutputPath,
    State,
    common_options,
    follow_symlinks_option,
    one_env_option,
    pass_state,
    selection_options,
)
from credctl.cli.output import emit
from credctl.envfile import DEFAULT_FORMAT, FORMATS


@cli.command()
@one_env_option
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default=None,
    help=f"File format (default: the environment file's, else {DEFAULT_FORMAT}).",
)
@click.option(
    "-o",
    "--output",
    type=OutputPath(FORMATS),
    default=None,
    help="Path to write (default: env_file.path of the environment; '-' for stdout). A "
    "device or FIFO is written in place; a symbolic link is refused without --follow-symlinks.",
)
@follow_symlinks_option
@selection_options
@click.option("--check", is_flag=True, help="Compare an existing file; exit 1 listing stale names.")
@click.option(
    "--example",
    is_flag=True,
    help="Write a .env.example instead (to .env.example unless -o names another file): names "
    "with empty values and a comment each; no value, no store opened.",
)
@common_options
@pass_state
def env(
    state: State,
    environments: tuple[str, ...],
    output_format: str | None,
    output: Path | None,
    services: tuple[str, ...],
    types: tuple[str, ...],
    only: tuple[str, ...],
    include_config: bool,
    check: bool,
    example: bool,
) -> None:
    """Write an environment-variable file for one environment.

    With --format github, the values are also announced to the runner as ::add-mask:: lines
    on standard output (one per line of a value), unless that is a terminal.
    """
    from credctl.envvars import Selection, env_file

    selection = Selection(services, types, only, include_config)
    with state.backends() as backends:
        result = env_file(
            state.project(),
            environments,
            backends,
            selection,
            fmt=output_format,
            output=output,
            check=check,
            follow_symlinks=state.follow_symlinks,
            example=example,
            announce=not sys.stdout.isatty(),
            progress=state.progress(),
        )
    emit(state, result)
