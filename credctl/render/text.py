"""The terminal table: one aligned line per credential, then findings and a summary."""

from __future__ import annotations

from credctl.audit import AuditReport
from credctl.render import RenderOptions, Styler, plain
from credctl.render.columns import text_table
from credctl.render.common import (
    STATUS_HEADERS,
    finding_line,
    group_heading,
    grouped,
    status_rows,
    summary_line,
)


def audit_table(report: AuditReport, style: Styler = plain) -> str:
    rows, styles = status_rows(report)
    out = text_table(STATUS_HEADERS, rows, styles, style)
    if report.findings:
        out += "\n"
        for finding in report.findings:
            out += finding_line(finding, style) + "\n"
    return out + "\n" + summary_line(report) + "\n"


def status_table(report: AuditReport, style: Styler = plain) -> str:
    rows, styles = status_rows(report)
    return text_table(STATUS_HEADERS, rows, styles, style) + "\n" + summary_line(report) + "\n"


def render(report: AuditReport, options: RenderOptions) -> str:
    style, by = options.style, options.by
    if by is None:
        return (
            audit_table(report, style)
            if options.command == "audit"
            else status_table(report, style)
        )
    out = []
    for name, part in grouped(report, by):
        rows, styles = status_rows(part)
        out.append(style(group_heading(by, name, part), "bright_white") + "\n")
        out.append(text_table(STATUS_HEADERS, rows, styles, style) + "\n")
    if options.command == "audit" and report.findings:
        out.extend(finding_line(finding, style) + "\n" for finding in report.findings)
        out.append("\n")
    return "".join(out) + summary_line(report) + "\n"
