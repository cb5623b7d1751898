"""credctl import"""

from __future__ import annotations

import click

from credctl.cli.group import cli
from credctl.cli.options import State, actor_option, common_options, env_option, pass_state
from credctl.cli.output import emit


@cli.command("import")
@env_option
@click.option("--dry-run", is_flag=True, help="Only list the rows that would be added.")
@actor_option
@common_options
@pass_state
def import_command(
    state: State, environments: tuple[str, ...], dry_run: bool, actor: str | None
) -> None:
    """Add table rows for secrets that exist under an environment's prefix but in no row."""
    from credctl.actor import resolve_actor
    from credctl.importing import import_rows

    with state.backends(actor=actor) as backends:
        project = state.project()
        who = resolve_actor(project.settings.actor)
        chosen = project.select(environments)
        result = import_rows(
            project, chosen, backends, who, dry_run=dry_run, progress=state.progress()
        )
    emit(state, result)
