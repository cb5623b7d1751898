"""The `credctl` command group; each command module adds itself to it."""

from __future__ import annotations

import click

from credctl import __version__
from credctl.cli.options import common_options


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="credctl")
@common_options
def cli() -> None:
    """Keep your credentials reference table true: sync, rotate, audit, env files."""
