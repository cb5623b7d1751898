"""credctl run"""

from __future__ import annotations

import os
import sys

import click

from credctl.cli.group import cli
from credctl.cli.options import State, common_options, one_env_option, pass_state, selection_options


@cli.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@one_env_option
@selection_options
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@common_options
@pass_state
def run(
    state: State,
    environments: tuple[str, ...],
    services: tuple[str, ...],
    types: tuple[str, ...],
    only: tuple[str, ...],
    include_config: bool,
    command: tuple[str, ...],
) -> None:
    """Run a command with the credentials in its environment; no file is written.

    credctl replaces itself with the command (exec), so signals reach it
    directly and its exit code is credctl's:  credctl run --env dev -- npm start
    """
    from credctl.envvars import Selection, process_environment

    with state.backends() as backends:
        selection = Selection(services, types, only, include_config)
        child_environment = process_environment(
            state.project(), environments, backends, selection, state.progress()
        )
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(command[0], list(command), child_environment)  # noqa: S606 - the user's command
    except FileNotFoundError:
        click.echo(f"Error: command not found: {command[0]}", err=True)
        sys.exit(127)
    except PermissionError:
        click.echo(f"Error: command not executable: {command[0]}", err=True)
        sys.exit(126)
