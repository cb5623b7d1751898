"""SARIF 2.1.0: one rule per finding code, each result located on its row of the table,
so code scanning shows it on the right line."""

from __future__ import annotations

import hashlib
import json

from credctl import __version__
from credctl.audit import AuditReport
from credctl.findings import FINDINGS
from credctl.model import Finding
from credctl.render import RenderOptions
from credctl.render.common import day
from credctl.schedule import format_timestamp

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVELS = {"error": "error", "warning": "warning", "info": "note"}


def render(report: AuditReport, options: RenderOptions) -> str:
    return sarif(report)


def sarif(report: AuditReport) -> str:
    """SARIF 2.1.0: one rule per finding code, results located in the table file."""
    codes = sorted({f.code for f in report.findings} | set(FINDINGS))
    index = {code: position for position, code in enumerate(codes)}
    rules = [
        {
            "id": code,
            "name": "".join(part.capitalize() for part in code.split("-")),
            "shortDescription": {"text": FINDINGS.get(code, code)},
            "defaultConfiguration": {"level": _default_level(code, report)},
        }
        for code in codes
    ]
    dates = {
        status.id: {
            "due_on": day(status.due_on) or None,
            "expires_on": day(status.expires_on) or None,
        }
        for status in report.credentials
    }
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
        result: dict[str, object] = {
            "ruleId": finding.code,
            "ruleIndex": index[finding.code],
            "level": SARIF_LEVELS[finding.severity],
            "message": {"text": finding.message},
            "locations": [location],
            "partialFingerprints": {"credctlFinding/v1": _fingerprint(finding)},
        }
        if finding.id in dates:
            # its credential's due date (the earlier of its schedule's and its expiry)
            result["properties"] = dates[finding.id]
        results.append(result)
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
                "properties": {
                    "as_of": format_timestamp(report.evaluated_at),
                    "evidence": report.evidence(),
                },
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
