"""The terminal table: one aligned line per credential, then findings and a summary."""

from __future__ import annotations

from credctl.audit import AuditReport
from credctl.forecast import forecast
from credctl.render import RenderOptions, Styler, plain
from credctl.render.columns import text_table
from credctl.render.common import (
    finding_line,
    group_heading,
    grouped,
    has_expiry,
    status_headers,
    status_rows,
    summary_line,
)
from credctl.render.forecast import forecast_text


def audit_table(report: AuditReport, style: Styler = plain) -> str:
    expires = has_expiry(report)
    rows, styles = status_rows(report, expires)
    out = text_table(status_headers(expires), rows, styles, style)
    if report.findings:
        out += "\n"
        for finding in report.findings:
            out += finding_line(finding, style) + "\n"
    return out + "\n" + summary_line(report) + "\n"


def status_table(report: AuditReport, style: Styler = plain) -> str:
    expires = has_expiry(report)
    rows, styles = status_rows(report, expires)
    table = text_table(status_headers(expires), rows, styles, style)
    return table + "\n" + summary_line(report) + "\n"


def render(report: AuditReport, options: RenderOptions) -> str:
    text = _render(report, options)
    if options.forecast:
        text += forecast_text(forecast(report), options.style)
    return text


def _render(report: AuditReport, options: RenderOptions) -> str:
    style, by = options.style, options.by
    if by is None:
        return (
            audit_table(report, style)
            if options.command == "audit"
            else status_table(report, style)
        )
    out = []
    expires = has_expiry(report)
    for name, part in grouped(report, by):
        rows, styles = status_rows(part, expires)
        out.append(style(group_heading(by, name, part), "bright_white") + "\n")
        out.append(text_table(status_headers(expires), rows, styles, style) + "\n")
    if options.command == "audit" and report.findings:
        out.extend(finding_line(finding, style) + "\n" for finding in report.findings)
        out.append("\n")
    return "".join(out) + summary_line(report) + "\n"
