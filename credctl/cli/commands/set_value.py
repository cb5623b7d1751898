"""credctl set"""

from __future__ import annotations

import sys
from datetime import datetime

import click

from credctl.cli.group import cli
from credctl.cli.options import (
    State,
    actor_option,
    common_options,
    completes,
    expiry_date,
    pass_state,
)
from credctl.cli.output import emit
from credctl.cli.values import value_from_person


@cli.command("set")
@click.argument("credential_id", metavar="ID", shell_complete=completes("secret_credential_ids"))
@click.option(
    "--recreate",
    is_flag=True,
    help="Also when its secret is deleted (its value destroyed): the new value brings it back.",
)
@click.option(
    "--expires",
    metavar="DATE|DATETIME",
    callback=expiry_date,
    default=None,
    help="When the provider expires this value (ISO, UTC); default: a PEM certificate's "
    "earliest notAfter, else none.",
)
@actor_option
@common_options
@pass_state
def set_command(
    state: State,
    credential_id: str,
    recreate: bool,
    expires: datetime | None,
    actor: str | None,
) -> None:
    """Store a new value now, from standard input or a hidden prompt (never argv)."""
    from credctl.actor import resolve_actor
    from credctl.values import set_value

    project = state.project(actor=actor)
    credential = project.find(credential_id)
    value = value_from_person(credential.id, prompt=sys.stdin is not None and sys.stdin.isatty())
    who = resolve_actor(project.settings.actor)
    with state.backends() as backends:
        stored = set_value(
            project, credential, backends, value, who, recreate=recreate, expires=expires
        )
        emit(state, stored)
