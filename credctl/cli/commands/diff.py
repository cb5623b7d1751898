"""credctl diff"""

from __future__ import annotations

from credctl.cli.group import cli
from credctl.cli.options import State, common_options, env_option, format_option, pass_state
from credctl.cli.output import emit


@cli.command("diff")
@env_option
@format_option("table", "json")
@common_options
@pass_state
def diff_command(state: State, environments: tuple[str, ...], output_format: str | None) -> None:
    """Environments side by side: which credentials each has, and whether their values are
    the same or different (never a value). Reads values: needs env's access.

    Exits 1 when a credential is missing from an environment where it belongs or two
    environments hold the same value.
    """
    from credctl.diff import diff_environments

    with state.backends() as backends:
        project = state.project()
        chosen = project.select(environments)
        result = diff_environments(project, chosen, backends, progress=state.progress())
    emit(state, result, output_format)
