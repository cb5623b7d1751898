"""credctl rotate"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from credctl.cli.group import cli
from credctl.cli.options import (
    State,
    actor_option,
    as_of_option,
    common_options,
    completes,
    env_option,
    format_option,
    pass_state,
    service_option,
    type_option,
)
from credctl.cli.output import emit
from credctl.cli.values import value_from_person

if TYPE_CHECKING:
    from credctl.credential import Credential
    from credctl.secret import Secret


@cli.command()
@click.argument(
    "credential_ids", nargs=-1, metavar="[ID]...", shell_complete=completes("secret_credential_ids")
)
@click.option("--due", is_flag=True, help="Rotate every overdue credential.")
@click.option("--include-due-soon", is_flag=True, help="With --due: also those due soon.")
@env_option
@service_option
@type_option
@click.option("--dry-run", is_flag=True, help="Print what would rotate and why; change nothing.")
@as_of_option
@click.option("--abort", is_flag=True, help="Discard the pending value of an interrupted rotation.")
@click.option(
    "--force",
    is_flag=True,
    help="With --abort: discard a pending value another tool staged (an AWS rotation function's).",
)
@click.option(
    "--value-from-stdin",
    is_flag=True,
    help="Manual rotator: read the new value from standard input (one credential).",
)
@actor_option
@format_option("table", "json")
@common_options
@pass_state
def rotate(state: State, /, actor: str | None, output_format: str | None, **options: Any) -> None:
    """Rotate the named or due credentials: staged, verified, resumable (--abort discards)."""
    from credctl.actor import resolve_actor
    from credctl.rotation.driver import RotationRequest, rotate

    request = RotationRequest(**options)  # the options are the request, named alike
    prompting = not request.value_from_stdin and sys.stdin is not None and sys.stdin.isatty()
    with state.backends(actor=actor) as backends:
        project = state.project()
        report = rotate(
            project,
            backends,
            request,
            resolve_actor(project.settings.actor),
            manual_value=_manual_value(request.value_from_stdin, prompting),
            progress=state.progress(shown=not prompting),
        )
    emit(state, report, output_format)


def _manual_value(
    from_stdin: bool, prompting: bool
) -> Callable[[Credential], Secret | None] | None:
    """How a manual rotator gets its value: standard input, a prompt, or nobody to ask."""
    if from_stdin:
        return lambda credential: value_from_person(credential.id, prompt=False)
    if prompting:
        return lambda credential: value_from_person(credential.id, prompt=True)
    return None
