"""credctl scan"""

from __future__ import annotations

from pathlib import Path

import click

from credctl.cli.group import cli
from credctl.cli.options import (
    State,
    common_options,
    env_option,
    format_option,
    output_option,
    pass_state,
)
from credctl.cli.output import emit


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path), metavar="[PATH]...")
@click.option("--git-history", is_flag=True, help="Also every blob in the repository's history.")
@click.option(
    "--include-ignored",
    is_flag=True,
    help="Also files git ignores (generated env files hold values by design).",
)
@env_option
@format_option("table", "json", "sarif", "github")
@output_option("table", "json", "sarif", "github")
@common_options
@pass_state
def scan(
    state: State,
    paths: tuple[Path, ...],
    git_history: bool,
    include_ignored: bool,
    environments: tuple[str, ...],
    output_format: str | None,
    output: Path | None,
) -> None:
    """Find current and previous values of managed credentials in files; never prints one.

    Exit 1 when a current value is found (rotate it).
    """
    from credctl.scan import scan as find

    with state.backends() as backends:
        project = state.project()
        chosen = project.select(environments)
        result = find(
            project,
            chosen,
            backends,
            paths or (Path("."),),
            git_history=git_history,
            include_ignored=include_ignored,
            progress=state.progress(),
        )
    emit(state, result, output_format, output)
