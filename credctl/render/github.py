"""GitHub workflow commands: annotations on the table's lines, then a summary notice."""

from __future__ import annotations

from credctl.audit import AuditReport
from credctl.render import RenderOptions
from credctl.schedule import format_timestamp

GITHUB_COMMANDS = {"error": "error", "warning": "warning", "info": "notice"}


def render(report: AuditReport, options: RenderOptions) -> str:
    return github(report)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github(report: AuditReport) -> str:
    """Workflow commands: annotations on the table's lines, then a summary notice."""
    lines = []
    for finding in report.findings:
        properties = [f"title={_escape_property('credctl ' + finding.code)}"]
        if finding.file:
            path = report.source_root + finding.file
            properties.insert(0, f"file={_escape_property(path)}")
            if finding.line:
                properties.insert(1, f"line={finding.line}")
        command = GITHUB_COMMANDS[finding.severity]
        lines.append(f"::{command} {','.join(properties)}::{_escape_data(finding.message)}")
    summary = report.summary()
    as_of = f" (as of {format_timestamp(report.as_of)})" if report.as_of is not None else ""
    lines.append(
        f"::notice title=credctl audit::{len(report.credentials)} credentials: "
        f"{summary['error']} error(s), {summary['warning']} warning(s), {summary['info']} info"
        f"{_escape_data(as_of)}"
    )
    return "\n".join(lines) + "\n"
