"""credctl get"""

from __future__ import annotations

import sys

import click

from credctl.cli.group import cli
from credctl.cli.options import State, common_options, completes, pass_state


@cli.command("get")
@click.argument("credential_id", metavar="ID", shell_complete=completes("credential_ids"))
@common_options
@pass_state
def get_command(state: State, credential_id: str) -> None:
    """Print one current value (for scripts). ID: ENV/SERVICE/CREDENTIAL TYPE."""
    from credctl.values import get_value

    with state.backends() as backends:
        project = state.project()
        value = get_value(project, project.find(credential_id), backends)
    # the value as stored, byte for byte: a line break only for a person at a terminal
    stream = sys.stdout.buffer
    stream.write(value.reveal().encode("utf-8"))
    if sys.stdout.isatty():
        stream.write(b"\n")
    stream.flush()
