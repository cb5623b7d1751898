"""credctl log"""

from __future__ import annotations

import click

from credctl.cli.group import cli
from credctl.cli.options import (
    State,
    common_options,
    completes,
    env_option,
    format_option,
    pass_state,
)
from credctl.cli.output import emit


@cli.command()
@env_option
@click.option(
    "--id",
    "credential_ids",
    multiple=True,
    shell_complete=completes("credential_ids"),
    help="Only this credential (repeatable).",
)
@click.option("-n", "--limit", type=click.IntRange(min=1), default=None, help="The last N entries.")
@format_option("table", "json")
@common_options
@pass_state
def log(
    state: State,
    environments: tuple[str, ...],
    credential_ids: tuple[str, ...],
    limit: int | None,
    output_format: str | None,
) -> None:
    """The local audit log of credctl's own changes (.credctl/audit.jsonl)."""
    from credctl.auditlog import show_log

    view = show_log(
        state.project().root, environments=environments, credential_ids=credential_ids, limit=limit
    )
    emit(state, view, output_format)
