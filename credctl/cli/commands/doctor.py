"""credctl doctor"""

from __future__ import annotations

from credctl.cli.group import cli
from credctl.cli.options import State, common_options, env_option, format_option, pass_state
from credctl.cli.output import emit


@cli.command()
@env_option
@format_option("table", "json")
@common_options
@pass_state
def doctor(state: State, environments: tuple[str, ...], output_format: str | None) -> None:
    """Per environment: store reachable, authenticated, permitted, and its latency."""
    from credctl.doctor import diagnose

    with state.backends() as backends:
        chosen = state.project().select(environments)
        emit(state, diagnose(chosen, backends, state.progress()), output_format)
