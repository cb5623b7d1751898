"""Renderers for audit and status: table, json, markdown. They never see a value."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

from credctl.audit import AuditReport
from credctl.model import CredentialStatus, Finding
from credctl.schedule import format_timestamp

SCHEMA_VERSION = 1
STATUS_COLOURS = {
    "ok": "green",
    "due-soon": "yellow",
    "overdue": "red",
    "never-rotated": "yellow",
    "missing": "red",
    "unknown": "magenta",
}
SEVERITY_COLOURS = {"error": "red", "warning": "yellow", "info": "cyan"}

Styler = Callable[[str, str], str]  # (text, colour) -> text


def plain(text: str, colour: str) -> str:
    return text


def _date(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d") if moment else ""


def credential_json(status: CredentialStatus) -> dict[str, Any]:
    row = status.row
    return {
        "id": status.id,
        "environment": row.environment,
        "service": row.service,
        "credential_type": row.credential_type,
        "owner": row.owner or None,
        "reference": status.reference if status.secret else None,
        "env_var": status.env_var,
        "last_rotated": format_timestamp(status.last_rotated) if status.last_rotated else None,
        "rotated_by": status.rotated_by,
        "age_days": status.age_days,
        "max_age_days": status.max_age_days,
        "due_on": _date(status.due_on) or None,
        "status": status.status,
        "file": row.file,
        "line": row.line,
        "findings": [finding.as_json() for finding in status.findings],
    }


def audit_json(report: AuditReport) -> Iterator[str]:
    """The audit document, streamed in chunks: 10,000 credentials never sit in memory twice."""
    return _stream_json(report, with_findings=True)


def status_json(report: AuditReport) -> Iterator[str]:
    return _stream_json(report, with_findings=False)


def _stream_json(report: AuditReport, *, with_findings: bool) -> Iterator[str]:
    encoder = json.JSONEncoder(indent=2)
    generated_at = json.dumps(format_timestamp(report.generated_at))
    as_of = json.dumps(format_timestamp(report.evaluated_at))
    yield (
        f'{{\n  "schema_version": {SCHEMA_VERSION},\n  "generated_at": {generated_at},'
        f'\n  "as_of": {as_of},\n  "credentials": ['
    )
    for index, status in enumerate(report.credentials):
        text = encoder.encode(credential_json(status)).replace("\n", "\n    ")
        yield ("," if index else "") + "\n    " + text
    yield "\n  ]" if report.credentials else "]"
    if with_findings:
        yield ',\n  "findings": ['
        for index, finding in enumerate(report.findings):
            text = encoder.encode(finding.as_json()).replace("\n", "\n    ")
            yield ("," if index else "") + "\n    " + text
        yield "\n  ]" if report.findings else "]"
    summary = encoder.encode(report.summary()).replace("\n", "\n  ")
    yield f',\n  "summary": {summary}\n}}\n'


def text_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    styles: Sequence[Sequence[str]] | None = None,
    style: Styler = plain,
) -> str:
    """An aligned plain-text table; `styles` gives a colour per cell ("" for none)."""
    widths = [len(header) for header in headers]
    for row in rows:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=False)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=False)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for index, row in enumerate(rows):
        cells = []
        for column, (cell, width) in enumerate(zip(row, widths, strict=False)):
            padded = cell.ljust(width)
            colour = styles[index][column] if styles else ""
            cells.append(style(padded, colour) if colour else padded)
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def _status_rows(report: AuditReport) -> tuple[list[list[str]], list[list[str]]]:
    rows, styles = [], []
    for status in report.credentials:
        rows.append(
            [
                status.id,
                status.row.owner or "-",
                _date(status.last_rotated) or ("never" if status.secret else "-"),
                "" if status.age_days is None else f"{status.age_days}d",
                "" if status.max_age_days is None else f"{status.max_age_days}d",
                _date(status.due_on),
                status.status if status.secret else "config",
            ]
        )
        styles.append(["", "", "", "", "", "", STATUS_COLOURS.get(status.status, "")])
    return rows, styles


STATUS_HEADERS = ("CREDENTIAL", "OWNER", "LAST ROTATED", "AGE", "MAX", "DUE", "STATUS")


def summary_line(report: AuditReport) -> str:
    counts: dict[str, int] = {}
    for status in report.credentials:
        counts[status.status] = counts.get(status.status, 0) + 1
    parts = [f"{len(report.credentials)} credentials"]
    parts += [f"{counts[name]} {name}" for name in STATUS_COLOURS if counts.get(name)]
    summary = report.summary()
    parts.append(
        f"findings: {summary['error']} error(s), {summary['warning']} warning(s), "
        f"{summary['info']} info"
    )
    line = ", ".join(parts)
    if report.as_of is not None:
        line += f" (as of {format_timestamp(report.as_of)})"
    return line


def as_of_heading(report: AuditReport) -> str:
    """The Markdown line that says which moment a report evaluates (with --as-of)."""
    if report.as_of is None:
        return ""
    return f"_Credential status as of {format_timestamp(report.as_of)}._\n\n"


def audit_table(report: AuditReport, style: Styler = plain) -> str:
    rows, styles = _status_rows(report)
    out = text_table(STATUS_HEADERS, rows, styles, style)
    if report.findings:
        out += "\n"
        for finding in report.findings:
            out += finding_line(finding, style) + "\n"
    return out + "\n" + summary_line(report) + "\n"


def finding_line(finding: Finding, style: Styler = plain) -> str:
    where = f"{finding.file}:{finding.line}: " if finding.file and finding.line else ""
    severity = style(finding.severity, SEVERITY_COLOURS[finding.severity])
    return f"{where}{severity} [{finding.code}] {finding.message}"


def status_table(report: AuditReport, style: Styler = plain) -> str:
    rows, styles = _status_rows(report)
    return text_table(STATUS_HEADERS, rows, styles, style) + "\n" + summary_line(report) + "\n"


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(report: AuditReport, *, summary: bool = True) -> str:
    """The reference table with Status, Age and Due columns, for a PR comment or a wiki."""
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
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for status in report.credentials:
        row = status.row
        cells = [
            row.service,
            row.environment,
            row.credential_type,
            status.reference,
            row.schedule,
            _date(status.last_rotated) or ("never" if status.secret else ""),
            row.owner,
            status.status if status.secret else "config",
            "" if status.age_days is None else f"{status.age_days}d",
            _date(status.due_on),
        ]
        lines.append("| " + " | ".join(_md_escape(cell) for cell in cells) + " |")
    out = "\n".join(lines) + "\n"
    if summary:
        out += "\n" + summary_line(report) + "\n" + _markdown_findings(report)
    return out


def _markdown_findings(report: AuditReport) -> str:
    if not report.findings:
        return ""
    return "\n" + "\n".join(f"- {_md_escape(finding_line(f))}" for f in report.findings) + "\n"


# ------------------------------------------------------------------ dispatch

FORMATS = ("table", "json", "markdown", "junit", "sarif", "github", "html")
GROUPS = ("owner", "environment", "service")


def group_key(by: str | None) -> Callable[[CredentialStatus], str]:
    def key(status: CredentialStatus) -> str:
        if by == "owner":
            return status.row.owner or "(no owner)"
        if by == "environment":
            return status.row.environment
        if by == "service":
            return status.row.service
        return ""

    return key


def grouped(report: AuditReport, by: str | None) -> list[tuple[str, AuditReport]]:
    """The report split by owner, environment or service (one group when `by` is None)."""
    if by is None:
        return [("", report)]
    key = group_key(by)
    groups: dict[str, list[CredentialStatus]] = {}
    for status in report.credentials:
        groups.setdefault(key(status), []).append(status)
    return [
        (
            name,
            AuditReport(
                report.generated_at,
                members,
                [f for s in members for f in s.findings],
                as_of=report.as_of,
            ),
        )
        for name, members in sorted(groups.items())
    ]


def group_heading(by: str, name: str, part: AuditReport) -> str:
    counts: dict[str, int] = {}
    for status in part.credentials:
        counts[status.status] = counts.get(status.status, 0) + 1
    details = ", ".join(
        f"{counts[s]} {s}"
        for s in ("overdue", "due-soon", "never-rotated", "missing")
        if counts.get(s)
    )
    return f"{by} {name}: {len(part.credentials)} credentials" + (
        f" ({details})" if details else ""
    )


def render(
    report: AuditReport,
    fmt: str,
    *,
    command: str = "audit",
    style: Styler = plain,
    by: str | None = None,
) -> str | Iterator[str]:
    """Any report format; `command` is "audit" (findings listed) or "status"."""
    if fmt == "json":
        return audit_json(report) if command == "audit" else status_json(report)
    if fmt == "junit":
        from credctl.report_ci import junit

        return junit(report)
    if fmt == "sarif":
        from credctl.report_ci import sarif

        return sarif(report)
    if fmt == "github":
        from credctl.report_ci import github

        return github(report)
    if fmt == "html":
        from credctl.report_html import html

        return html(report, by=by)
    if fmt == "markdown":
        if by is None:
            return as_of_heading(report) + markdown_table(report)
        sections = [
            f"### {group_heading(by, name, part)}\n\n" + markdown_table(part, summary=False)
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
    if by is None:
        return audit_table(report, style) if command == "audit" else status_table(report, style)
    out = []
    for name, part in grouped(report, by):
        rows, styles = _status_rows(part)
        out.append(style(group_heading(by, name, part), "bright_white") + "\n")
        out.append(text_table(STATUS_HEADERS, rows, styles, style) + "\n")
    if command == "audit" and report.findings:
        out.extend(finding_line(finding, style) + "\n" for finding in report.findings)
        out.append("\n")
    return "".join(out) + summary_line(report) + "\n"
