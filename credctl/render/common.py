"""What the report renderers share: status colours, aligned tables, summary lines, groups."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from credctl.audit import AuditReport, CredentialStatus
from credctl.model import Finding
from credctl.render import Styler, plain
from credctl.schedule import format_timestamp

STATUS_COLOURS = {
    "ok": "green",
    "due-soon": "yellow",
    "overdue": "red",
    "never-rotated": "yellow",
    "missing": "red",
    "deleted": "red",
    "unknown": "magenta",
}
SEVERITY_COLOURS = {"error": "red", "warning": "yellow", "info": "cyan"}
GROUPS = ("owner", "environment", "service")


def day(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d") if moment else ""


def status_rows(
    report: AuditReport, expires: bool = False
) -> tuple[list[list[str]], list[list[str]]]:
    """One row per credential; with `expires`, an EXPIRES column before DUE."""
    rows, styles = [], []
    for status in report.credentials:
        row = [
            status.id,
            status.credential.owner or "-",
            day(status.last_rotated) or ("never" if status.secret else "-"),
            "" if status.age_days is None else f"{status.age_days}d",
            "" if status.max_age_days is None else f"{status.max_age_days}d",
            day(status.due_on),
            status.status if status.secret else "config",
        ]
        style = ["", "", "", "", "", "", STATUS_COLOURS.get(status.status, "")]
        if expires:
            row.insert(5, day(status.expires_on))
            style.insert(5, "")
        rows.append(row)
        styles.append(style)
    return rows, styles


STATUS_HEADERS = ("CREDENTIAL", "OWNER", "LAST ROTATED", "AGE", "MAX", "DUE", "STATUS")


def has_expiry(report: AuditReport) -> bool:
    """Whether any credential has an expiry: reports then show an Expires column."""
    return any(status.expires_on is not None for status in report.credentials)


def status_headers(expires: bool = False) -> tuple[str, ...]:
    """The columns of `status_rows`."""
    if not expires:
        return STATUS_HEADERS
    return (*STATUS_HEADERS[:5], "EXPIRES", *STATUS_HEADERS[5:])


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


def finding_line(finding: Finding, style: Styler = plain) -> str:
    where = f"{finding.file}:{finding.line}: " if finding.file and finding.line else ""
    severity = style(finding.severity, SEVERITY_COLOURS[finding.severity])
    return f"{where}{severity} [{finding.code}] {finding.message}"


def group_key(by: str | None) -> Callable[[CredentialStatus], str]:
    def key(status: CredentialStatus) -> str:
        if by == "owner":
            return status.credential.owner or "(no owner)"
        if by == "environment":
            return status.credential.environment
        if by == "service":
            return status.credential.service
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
        for s in ("overdue", "due-soon", "never-rotated", "missing", "deleted")
        if counts.get(s)
    )
    return f"{by} {name}: {len(part.credentials)} credentials" + (
        f" ({details})" if details else ""
    )


def md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
