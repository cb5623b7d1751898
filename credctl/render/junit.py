"""JUnit XML: one test suite per environment, one test case per credential; errors fail it."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable

from credctl.audit import AuditReport, CredentialStatus
from credctl.model import Finding
from credctl.render import RenderOptions


def render(report: AuditReport, options: RenderOptions) -> str:
    return junit(report)


def junit(report: AuditReport) -> str:
    """One test suite per environment, one test case per credential; errors fail it."""
    root = ElementTree.Element("testsuites", name="credctl audit")
    suites: dict[str, ElementTree.Element] = {}

    def suite(name: str) -> ElementTree.Element:
        if name not in suites:
            suites[name] = ElementTree.SubElement(
                root, "testsuite", name=name, timestamp=report.evaluated_at.isoformat()
            )
        return suites[name]

    for status in report.credentials:
        row = status.credential
        case = ElementTree.SubElement(
            suite(row.environment),
            "testcase",
            classname=f"{row.environment}.{row.service}",
            name=status.id,
            file=row.file,
            line=str(row.line),
            time="0",
        )
        _add_findings(case, status.findings, _status_line(status))
    # no row's: a store's (orphan, unmanaged), or the table's (a row missing in an environment)
    rows = {status.id for status in report.credentials}
    loose = [f for f in report.findings if f.id not in rows]
    for finding in loose:
        kind = "store" if finding.id is None else "table"
        case = ElementTree.SubElement(
            suite(kind), "testcase", classname=kind, name=finding.id or finding.code, time="0"
        )
        _add_findings(case, [finding], "")
    for element in suites.values():
        cases = list(element)
        failed = sum(1 for case in cases if case.find("failure") is not None)
        element.set("tests", str(len(cases)))
        element.set("failures", str(failed))
        element.set("errors", "0")
        element.set("skipped", "0")
        element.set("time", "0")
    root.set("tests", str(sum(int(s.get("tests", "0")) for s in suites.values())))
    root.set("failures", str(sum(int(s.get("failures", "0")) for s in suites.values())))
    root.set("errors", "0")
    ElementTree.indent(root)
    body = ElementTree.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


def _status_line(status: CredentialStatus) -> str:
    """Its status, owner, due date and expiry, as the test case's output says them."""
    line = f"{status.status}; owner {status.credential.owner or 'none'}"
    if status.due_on is not None:
        line += f"; due {status.due_on:%Y-%m-%d}"
    if status.expires_on is not None:
        line += f"; expires {status.expires_on:%Y-%m-%d}"
    return line


def _add_findings(case: ElementTree.Element, findings: Iterable[Finding], status: str) -> None:
    errors = [f for f in findings if f.severity == "error"]
    others = [f for f in findings if f.severity != "error"]
    if errors:
        failure = ElementTree.SubElement(
            case,
            "failure",
            message="; ".join(f.message for f in errors),
            type=",".join(sorted({f.code for f in errors})),
        )
        failure.text = "\n".join(f"[{f.code}] {f.message}" for f in errors)
    lines = [status] if status else []
    lines += [f"{f.severity} [{f.code}] {f.message}" for f in others]
    if lines:
        ElementTree.SubElement(case, "system-out").text = "\n".join(lines)
