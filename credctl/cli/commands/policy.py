"""credctl policy"""

from __future__ import annotations

from pathlib import Path

import click

from credctl.backends.access import LADDER, SAME_ACCESS
from credctl.cli.group import cli
from credctl.cli.options import State, common_options, one_env_option, output_option, pass_state
from credctl.cli.output import emit


def policy_formats() -> list[str]:
    from credctl.access import policy_formats

    return policy_formats()


@cli.command("policy")
@one_env_option
@click.option(
    "--for",
    "command",
    type=click.Choice([*LADDER, *SAME_ACCESS]),
    required=True,
    help="The command to grant: audit (metadata) < env (values) < rotate (writes) < sync; "
    "diff (and audit --compare-values) as env.",
)
@click.option(
    "--format",
    "policy_format",
    default=None,
    help="Policy language (default: the store's own: iam for AWS, vault-hcl for Vault).",
)
@output_option("table", more=policy_formats)
@common_options
@pass_state
def policy_command(
    state: State,
    environments: tuple[str, ...],
    command: str,
    policy_format: str | None,
    output: Path | None,
) -> None:
    """The least-privilege access policy a command needs on an environment's store."""
    from credctl.access import access_policy
    from credctl.envvars import one_environment

    project = state.project()
    environment = one_environment(project, environments)
    emit(state, access_policy(project, environment, command, policy_format), output=output)
