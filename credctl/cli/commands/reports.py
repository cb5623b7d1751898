"""credctl audit, credctl status"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from credctl.cli.group import cli
from credctl.cli.options import (
    State,
    as_of_option,
    by_option,
    common_options,
    env_option,
    format_option,
    output_option,
    pass_state,
)
from credctl.cli.output import emit
from credctl.render import FORMATS

if TYPE_CHECKING:
    from credctl.audit import ReportResult


def _report(
    state: State,
    environments: tuple[str, ...],
    as_of: datetime | None,
    command: str,
    by: str | None,
    fail_on: str = "never",
    forecast: bool = False,
    compare: bool = False,
) -> ReportResult:
    from credctl.audit import ReportResult, run_audit

    with state.backends() as backends:
        project = state.project()
        chosen = project.select(environments)
        report = run_audit(
            project, chosen, backends, as_of=as_of, progress=state.progress(), compare=compare
        )
    return ReportResult(report, command, by, fail_on, forecast)


@cli.command()
@env_option
@format_option(*FORMATS)
@click.option(
    "--fail-on",
    type=click.Choice(["error", "warning", "never"]),
    default="error",
    show_default=True,
    help="Exit 1 when findings reach this severity.",
)
@click.option(
    "--compare-values",
    is_flag=True,
    help="Also read every value to find environments that share one (needs value-read "
    "access: credctl policy --for diff).",
)
@by_option
@as_of_option
@output_option(*FORMATS)
@common_options
@pass_state
def audit(
    state: State,
    environments: tuple[str, ...],
    output_format: str | None,
    fail_on: str,
    compare_values: bool,
    by: str | None,
    as_of: datetime | None,
    output: Path | None,
) -> None:
    """Findings per credential: owner, last rotated, age, max age, due date, status.

    Reads no value unless --compare-values. Formats for CI: junit, sarif (code scanning),
    github (annotations).
    """
    result = _report(state, environments, as_of, "audit", by, fail_on, compare=compare_values)
    emit(state, result, output_format, output)


@cli.command()
@env_option
@format_option(*FORMATS)
@by_option
@click.option(
    "--forecast",
    is_flag=True,
    help="Add what falls due in the next 30/60/90 days, per owner (table, markdown, html, json).",
)
@as_of_option
@output_option(*FORMATS)
@common_options
@pass_state
def status(
    state: State,
    environments: tuple[str, ...],
    output_format: str | None,
    by: str | None,
    forecast: bool,
    as_of: datetime | None,
    output: Path | None,
) -> None:
    """The credential status report for people: --format html -o report.html for a page."""
    result = _report(state, environments, as_of, "status", by, forecast=forecast)
    emit(state, result, output_format, output)
