"""credctl plan, credctl sync"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from credctl.cli.group import cli
from credctl.cli.options import (
    State,
    actor_option,
    common_options,
    env_option,
    format_option,
    pass_state,
)
from credctl.cli.output import emit

F = TypeVar("F", bound=Callable[..., Any])


def lifecycle_options(function: F) -> F:
    """--prune, --restore, --recreate: what sync may do besides matching the table."""
    options = [
        click.option(
            "--prune",
            is_flag=True,
            help="Schedule recoverable deletion of orphans (AWS recovery window, Vault soft delete).",
        ),
        click.option(
            "--restore",
            is_flag=True,
            help="Bring back the rows' deleted secrets with their values (AWS RestoreSecret, "
            "Vault undelete).",
        ),
        click.option(
            "--recreate",
            is_flag=True,
            help="Give rows' deleted secrets a new generated value (where a value was destroyed).",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


@cli.command()
@env_option
@format_option("table", "json")
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when nothing would change, 2 when something would (as Terraform does).",
)
@lifecycle_options
@common_options
@pass_state
def plan(
    state: State,
    environments: tuple[str, ...],
    output_format: str | None,
    detailed_exitcode: bool,
    prune: bool,
    restore: bool,
    recreate: bool,
) -> None:
    """What sync would change, Terraform-style.

    \b
    + create      a secret the table names and the store lacks
    ~ update      the store's metadata (owner, schedule…) or a missing first value
    < write-back  the table's Value/Reference or Last Rotated, from the store
    ^ restore     a deleted secret brought back with its value (--restore)
    + recreate    a deleted secret given a new value (--recreate)
    - prune       an orphan scheduled for recoverable deletion (--prune)
    ! orphan      a secret credctl manages that no row names (left alone)
    ? unmanaged   a secret under the prefix credctl does not manage (left alone)
    x deleted     a row's secret is deleted (until --restore or --recreate)
    ! missing     a row's external secret does not exist (credctl never creates it)
    """
    from credctl.sync import Lifecycle, make_plan

    with state.backends() as backends:
        project = state.project()
        chosen = project.select(environments)
        lifecycle = Lifecycle(restore, recreate, prune)
        planned = make_plan(
            project,
            chosen,
            backends,
            detailed_exitcode=detailed_exitcode,
            lifecycle=lifecycle,
            progress=state.progress(),
        )
    emit(state, planned, output_format)


@cli.command()
@env_option
@format_option("table", "json")
@click.option("--dry-run", is_flag=True, help="Only show the plan (same as credctl plan).")
@lifecycle_options
@actor_option
@common_options
@pass_state
def sync(
    state: State,
    environments: tuple[str, ...],
    output_format: str | None,
    dry_run: bool,
    prune: bool,
    restore: bool,
    recreate: bool,
    actor: str | None,
) -> None:
    """Make the stores match the table (create, set metadata) and the table match the stores."""
    from credctl.actor import resolve_actor
    from credctl.sync import Lifecycle, sync

    with state.backends(actor=actor) as backends:
        project = state.project()
        result = sync(
            project,
            project.select(environments),
            backends,
            resolve_actor(project.settings.actor),
            Lifecycle(restore, recreate, prune),
            dry_run=dry_run,
            progress=state.progress(),
        )
    emit(state, result, output_format)
