"""`credctl diff`: the environments side by side, credential by credential: which have a
row and a value, and whether their values are the same or different — never a value.

Exit 1 when something needs doing: a credential missing from an environment where it
belongs, or two environments holding one value. Different values are what environments
should have, and exit 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from credctl.audit import run_audit
from credctl.backends.pool import Backends
from credctl.errors import UsageError
from credctl.model import EnvironmentConfig, Finding
from credctl.parity import Comparison, Side
from credctl.progress import Progress, counted
from credctl.project import Project
from credctl.render import Styler
from credctl.render.columns import text_table
from credctl.render.common import finding_line
from credctl.results import Result

# the findings diff reports (an audit reports them too: --compare-values for shared-value)
CODES = ("missing-in-environment", "shared-value")
VALUE_COLOURS = {"same": "red", "partly-same": "red", "different": "green"}
VALUE_ORDER = ("same", "partly-same", "different", "not compared")


@dataclass
class DiffResult(Result):
    """The comparison of a run's environments, and what it found."""

    comparison: Comparison
    findings: list[Finding]

    def summary(self) -> dict[str, int]:
        counts = {"error": 0, "warning": 0, "info": 0}
        for finding in self.findings:
            counts[finding.severity] += 1
        return counts

    def as_json(self) -> dict[str, Any]:
        return {
            "environments": self.comparison.environments,
            "credentials": [compared.as_json() for compared in self.comparison.credentials],
            "findings": [finding.as_json() for finding in self.findings],
            "summary": self.summary(),
        }

    def as_text(self, style: Styler) -> str:
        names = self.comparison.environments
        headers = ["CREDENTIAL", *(name.upper() for name in names), "VALUES"]
        rows, styles = [], []
        for compared in self.comparison.credentials:
            values = compared.values
            rows.append([compared.id, *(_cell(compared.sides[n]) for n in names), values or "-"])
            styles.append(["", *("" for _ in names), VALUE_COLOURS.get(values or "", "")])
        out = text_table(headers, rows, styles, style)
        if self.findings:
            out += "\n" + "".join(finding_line(f, style) + "\n" for f in self.findings)
        return out + "\n" + self.summary_line() + "\n"

    def summary_line(self) -> str:
        verdicts = Counter(
            compared.values or "not compared" for compared in self.comparison.credentials
        )
        parts = [f"{verdicts[name]} {name}" for name in VALUE_ORDER if verdicts[name]]
        summary = self.summary()
        environments = ", ".join(self.comparison.environments)
        return (
            f"{counted(len(self.comparison.credentials), 'credential')} in {environments}"
            f"{': ' if parts else ''}{', '.join(parts)}; findings: {summary['error']} error(s), "
            f"{summary['warning']} warning(s)"
        )

    def exit_code(self) -> int:
        return 1 if self.findings else 0


def _cell(side: Side) -> str:
    """`present A`: environments whose cells show one letter hold one value."""
    if side.state == "present" and side.value is not None:
        return f"present {side.value}"
    return side.state.replace("-", " ")


def diff_environments(
    project: Project,
    environments: Sequence[EnvironmentConfig],
    backends: Backends,
    progress: Progress | None = None,
) -> DiffResult:
    """Compare two or more environments: each credential's state in each, and its values."""
    chosen = list({environment.name: environment for environment in environments}.values())
    if len(chosen) < 2:
        raise UsageError(
            "diff compares two or more environments",
            hint="name them: credctl diff --env staging --env prod",
        )
    report = run_audit(project, chosen, backends, progress=progress, compare=True)
    assert report.comparison is not None
    findings = [finding for finding in report.findings if finding.code in CODES]
    return DiffResult(report.comparison, findings)
