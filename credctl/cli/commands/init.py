"""credctl init"""

from __future__ import annotations

from pathlib import Path

from credctl.cli.group import cli
from credctl.cli.options import State, common_options, pass_state
from credctl.cli.output import emit


@cli.command()
@common_options
@pass_state
def init(state: State) -> None:
    """Scaffold credentials.md, environments/, policies/ and .gitignore entries."""
    from credctl.scaffold import scaffold

    emit(state, scaffold(state.project_dir or Path.cwd()))
