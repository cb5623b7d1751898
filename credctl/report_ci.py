"""Audit renderers for CI systems: JUnit XML, SARIF 2.1.0, GitHub workflow commands.

Each credential is one JUnit test case (errors fail it); each finding is one
SARIF result located on its row of the table, so code scanning shows it on
the right line. Like every renderer they only ever see metadata, never a value.
"""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable

from credctl import __version__
from credctl.audit import AuditReport
from credctl.model import Finding

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVELS = {"error": "error", "warning": "warning", "info": "note"}
GITHUB_COMMANDS = {"error": "error", "warning": "warning", "info": "notice"}
RULES = {
    "overdue": "The credential is older than its effective maximum age.",
    "due-soon": "The credential reaches its maximum age within the warning window.",
    "never-rotated": "The store has no record of a rotation; it is aged from its creation.",
    "missing-owner": "The row names no owner, and policy requires one.",
    "missing-in-backend": "The row's secret does not exist in the environment's store.",
    "no-value": "The secret exists but holds no value yet.",
    "orphan": "A credctl-managed secret under the prefix has no row in the table.",
    "unmanaged": "A secret under the prefix was never managed by credctl.",
    "table-drift": "The table's Last Rotated or reference differs from the store.",
    "metadata-drift": "The store's owner or schedule differs from the table.",
    "schedule-exceeds-policy": "The table's schedule is longer than policy allows.",
    "literal-secret-in-table": "The table holds what looks like a secret value.",
    "rotation-in-progress": "A pending value has waited longer than the lock timeout.",
    "future-date": "A Last Rotated date is in the future; the credential is aged from its creation.",
}


# --------------------------------------------------------------------- JUnit


def junit(report: AuditReport) -> str:
    """One test suite per environment, one test case per credential; errors fail it."""
    root = ElementTree.Element("testsuites", name="credctl audit")
    suites: dict[str, ElementTree.Element] = {}

    def suite(name: str) -> ElementTree.Element:
        if name not in suites:
            suites[name] = ElementTree.SubElement(
                root, "testsuite", name=name, timestamp=report.generated_at.isoformat()
            )
        return suites[name]

    for status in report.credentials:
        row = status.row
        case = ElementTree.SubElement(
            suite(row.environment),
            "testcase",
            classname=f"{row.environment}.{row.service}",
            name=status.id,
            file=row.file,
            line=str(row.line),
            time="0",
        )
        _add_findings(case, status.findings, f"{status.status}; owner {row.owner or 'none'}")
    loose = [f for f in report.findings if f.id is None]
    for finding in loose:
        case = ElementTree.SubElement(
            suite("store"), "testcase", classname="store", name=finding.code, time="0"
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


# --------------------------------------------------------------------- SARIF


def sarif(report: AuditReport) -> str:
    """SARIF 2.1.0: one rule per finding code, results located in the table file."""
    codes = sorted({f.code for f in report.findings} | set(RULES))
    index = {code: position for position, code in enumerate(codes)}
    rules = [
        {
            "id": code,
            "name": "".join(part.capitalize() for part in code.split("-")),
            "shortDescription": {"text": RULES.get(code, code)},
            "defaultConfiguration": {"level": _default_level(code, report)},
        }
        for code in codes
    ]
    results = []
    for finding in report.findings:
        location: dict[str, object] = {
            "physicalLocation": {
                "artifactLocation": {
                    "uri": report.source_root + (finding.file or "credentials.md"),
                    "uriBaseId": "%SRCROOT%",
                },
                "region": {"startLine": finding.line or 1},
            }
        }
        results.append(
            {
                "ruleId": finding.code,
                "ruleIndex": index[finding.code],
                "level": SARIF_LEVELS[finding.severity],
                "message": {"text": finding.message},
                "locations": [location],
                "partialFingerprints": {"credctlFinding/v1": _fingerprint(finding)},
            }
        )
    document = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "credctl",
                        "version": __version__,
                        "rules": rules,
                    }
                },
                "automationDetails": {"id": "credctl/audit/"},
                "results": results,
            }
        ],
    }
    return json.dumps(document, indent=2) + "\n"


def _default_level(code: str, report: AuditReport) -> str:
    for finding in report.findings:
        if finding.code == code:
            return SARIF_LEVELS[finding.severity]
    return "warning"


def _fingerprint(finding: Finding) -> str:
    """Stable across runs for the same problem on the same credential (not the message)."""
    key = f"{finding.code}|{finding.id or finding.message}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


# -------------------------------------------------------------------- GitHub


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
    lines.append(
        f"::notice title=credctl audit::{len(report.credentials)} credentials: "
        f"{summary['error']} error(s), {summary['warning']} warning(s), {summary['info']} info"
    )
    return "\n".join(lines) + "\n"
