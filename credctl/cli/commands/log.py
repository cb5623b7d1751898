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
@click.option(
    "--verify",
    is_flag=True,
    help="Check the log's hash chain: exit 1 naming the first entry edited, removed or moved.",
)
@format_option("table", "json")
@common_options
@pass_state
def log(
    state: State,
    environments: tuple[str, ...],
    credential_ids: tuple[str, ...],
    limit: int | None,
    verify: bool,
    output_format: str | None,
) -> None:
    """The local audit log of credctl's own changes (.credctl/audit.jsonl), tamper-evident."""
    from credctl.auditlog import show_log, verify_log

    root = state.project().root
    if verify:
        emit(state, verify_log(root), output_format)
        return
    view = show_log(root, environments=environments, credential_ids=credential_ids, limit=limit)
    emit(state, view, output_format)
