"""credctl plan, credctl sync"""

from __future__ import annotations

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


@cli.command()
@env_option
@format_option("table", "json")
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when nothing would change, 2 when something would (as Terraform does).",
)
@click.option("--prune", is_flag=True, help="Plan the scheduled deletion of orphans.")
@common_options
@pass_state
def plan(
    state: State,
    environments: tuple[str, ...],
    output_format: str | None,
    detailed_exitcode: bool,
    prune: bool,
) -> None:
    """What sync would change, Terraform-style.

    \b
    + create      a secret the table names and the store lacks
    ~ update      the store's metadata (owner, schedule…) or a missing first value
    < write-back  the table's Value/Reference or Last Rotated, from the store
    - prune       an orphan scheduled for recoverable deletion (--prune)
    ! orphan      a secret credctl manages that no row names (left alone)
    ? unmanaged   a secret under the prefix credctl does not manage (left alone)
    """
    from credctl.sync import make_plan

    with state.backends() as backends:
        project = state.project()
        chosen = project.select(environments)
        planned = make_plan(
            project,
            chosen,
            backends,
            prune=prune,
            detailed_exitcode=detailed_exitcode,
            progress=state.progress(),
        )
    emit(state, planned, output_format)


@cli.command()
@env_option
@format_option("table", "json")
@click.option("--dry-run", is_flag=True, help="Only show the plan (same as credctl plan).")
@click.option(
    "--prune",
    is_flag=True,
    help="Schedule recoverable deletion of orphans (AWS recovery window, Vault soft delete).",
)
@actor_option
@common_options
@pass_state
def sync(
    state: State,
    environments: tuple[str, ...],
    output_format: str | None,
    dry_run: bool,
    prune: bool,
    actor: str | None,
) -> None:
    """Make the stores match the table (create, set metadata) and the table match the stores."""
    from credctl.actor import resolve_actor
    from credctl.sync import apply_plan, make_plan

    with state.backends(actor=actor) as backends:
        project = state.project()
        progress = state.progress()
        chosen = project.select(environments)
        planned = make_plan(project, chosen, backends, prune=prune, progress=progress)
        if dry_run or not planned.actionable:
            emit(state, planned, output_format)
            return
        who = resolve_actor(project.settings.actor)
        result = apply_plan(project, planned, backends, who, progress=progress)
    emit(state, result, output_format)
