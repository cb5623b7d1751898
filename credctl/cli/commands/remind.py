"""credctl remind"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from credctl.cli.group import cli
from credctl.cli.options import (
    State,
    as_of_option,
    common_options,
    env_option,
    format_option,
    pass_state,
)
from credctl.cli.output import emit


@cli.command()
@env_option
@click.option("--dry-run", is_flag=True, help="Print each owner's digest; send nothing.")
@click.option(
    "--only-new",
    is_flag=True,
    help="Send a finding again only when it got worse or after owners.yaml's repeat_after.",
)
@click.option(
    "--state",
    "state_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Where --only-new keeps what was sent (default: .credctl/remind-state.json).",
)
@as_of_option
@format_option("table", "json")
@common_options
@pass_state
def remind(
    state: State,
    environments: tuple[str, ...],
    dry_run: bool,
    only_new: bool,
    state_path: Path | None,
    as_of: datetime | None,
    output_format: str | None,
) -> None:
    """Tell each owner what to do: one digest per owner (owners.yaml says where it goes)."""
    from credctl.audit import run_audit
    from credctl.owners import load_owners
    from credctl.remind import remind as send

    with state.backends() as backends:
        project = state.project()
        chosen = project.select(environments)
        report = run_audit(project, chosen, backends, as_of=as_of, progress=state.progress())
    owners = load_owners(project.root)
    result = send(
        report, owners, project.root, dry_run=dry_run, only_new=only_new, state_path=state_path
    )
    emit(state, result, output_format)
