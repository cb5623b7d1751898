"""The reference table with Status, Age and Due columns, for a pull request or a wiki."""

from __future__ import annotations

from credctl.audit import AuditReport
from credctl.forecast import forecast
from credctl.render import RenderOptions
from credctl.render.common import (
    day,
    finding_line,
    group_heading,
    grouped,
    has_expiry,
    md_escape,
    summary_line,
)
from credctl.render.forecast import forecast_markdown
from credctl.schedule import format_timestamp


def as_of_heading(report: AuditReport) -> str:
    """The Markdown line that says which moment a report evaluates (with --as-of)."""
    if report.as_of is None:
        return ""
    return f"_Credential status as of {format_timestamp(report.as_of)}._\n\n"


def markdown_table(
    report: AuditReport, *, summary: bool = True, expires: bool | None = None
) -> str:
    """The reference table with Status, Age and Due columns (and Expires, when any
    credential has an expiry), for a PR comment or a wiki."""
    expires = has_expiry(report) if expires is None else expires
    headers = [
        "Service",
        "Environment",
        "Credential Type",
        "Value/Reference",
        "Rotation Schedule",
        "Last Rotated",
        "Owner",
        "Status",
        "Age",
        "Due",
    ]
    if expires:
        headers.insert(-1, "Expires")
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for status in report.credentials:
        row = status.credential
        cells = [
            row.service,
            row.environment,
            row.credential_type,
            status.reference,
            row.schedule,
            day(status.last_rotated) or ("never" if status.secret else ""),
            row.owner,
            status.status if status.secret else "config",
            "" if status.age_days is None else f"{status.age_days}d",
            day(status.due_on),
        ]
        if expires:
            cells.insert(-1, day(status.expires_on))
        lines.append("| " + " | ".join(md_escape(cell) for cell in cells) + " |")
    out = "\n".join(lines) + "\n"
    if summary:
        out += "\n" + summary_line(report) + "\n" + _markdown_findings(report)
    return out


def _markdown_findings(report: AuditReport) -> str:
    if not report.findings:
        return ""
    return "\n" + "\n".join(f"- {md_escape(finding_line(f))}" for f in report.findings) + "\n"


def render(report: AuditReport, options: RenderOptions) -> str:
    text = _render(report, options)
    if options.forecast:
        text += forecast_markdown(forecast(report))
    return text


def _render(report: AuditReport, options: RenderOptions) -> str:
    by = options.by
    if by is None:
        return as_of_heading(report) + markdown_table(report)
    expires = has_expiry(report)
    sections = [
        f"### {group_heading(by, name, part)}\n\n"
        + markdown_table(part, summary=False, expires=expires)
        for name, part in grouped(report, by)
    ]
    return (
        as_of_heading(report)
        + "\n".join(sections)
        + "\n"
        + summary_line(report)
        + "\n"
        + _markdown_findings(report)
    )
