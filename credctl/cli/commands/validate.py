"""credctl validate"""

from __future__ import annotations

from credctl.cli.group import cli
from credctl.cli.options import State, common_options, env_option, format_option, pass_state
from credctl.cli.output import emit


@cli.command()
@env_option
@format_option("table", "json")
@common_options
@pass_state
def validate(state: State, environments: tuple[str, ...], output_format: str | None) -> None:
    """Check table, environments and policies; every problem with file:line. No network."""
    from credctl.validate import validate as check

    emit(state, check(state.project(), environments), output_format)
