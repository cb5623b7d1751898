"""The command line: Click only. Each command (one module in `commands/`) parses its
options, calls one library operation and hands the result to `emit`; `main` turns every
credctl error into one line and its exit code.

Library modules are imported inside the commands, so that `credctl --help` starts
without pydantic, boto3 or hvac.
"""

from __future__ import annotations

import sys

import click

from credctl import clock
from credctl.cli import commands  # noqa: F401 - each command adds itself to the group
from credctl.cli.group import cli
from credctl.cli.options import install_log_handler
from credctl.errors import CredctlError

__all__ = ["cli", "main"]


def main(argv: list[str] | None = None) -> None:
    """Entry point: one line and an exit code for every credctl error."""
    arguments = sys.argv[1:] if argv is None else argv
    own = arguments[: arguments.index("--")] if "--" in arguments else arguments
    debug = "--debug" in own
    # with --detailed-exitcode, 2 means "changes pending" (as Terraform): an error is 1
    error_exit = {2: 1} if "--detailed-exitcode" in own else {}
    install_log_handler()
    try:
        clock.start_run()
        cli.main(args=arguments, prog_name="credctl", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Error: aborted", err=True)
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(error_exit.get(error.exit_code, error.exit_code))
    except click.exceptions.Exit as error:
        sys.exit(error.exit_code)
    except CredctlError as error:
        if debug:  # the traceback, then the same exit code as without --debug
            import traceback

            traceback.print_exc()
        lines = str(error).splitlines() or [type(error).__name__]
        if error.hint:
            lines[-1] += f" (hint: {error.hint})"
        for line in lines:
            click.echo(f"Error: {line}", err=True)
        sys.exit(error_exit.get(error.exit_code, error.exit_code))
    except KeyboardInterrupt:
        click.echo("Error: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)
    except Exception as error:
        if debug:
            import traceback

            traceback.print_exc()
            sys.exit(1)
        # The message of an unexpected error could carry anything; name its type only.
        click.echo(
            f"Error: unexpected {type(error).__name__} (a bug in credctl); "
            "rerun with --debug for the traceback",
            err=True,
        )
        sys.exit(1)
