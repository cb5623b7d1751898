"""A report format and a rotator that tests register at run time (tests/test_extension_points.py)."""

from __future__ import annotations

from credctl.audit import AuditReport
from credctl.render import RenderOptions
from credctl.rotation.rotators import Job, NewValue
from credctl.secret import Secret

FIXED_VALUE = "fixed-by-the-test-rotator-Kq8Zt2"


def render(report: AuditReport, options: RenderOptions) -> str:
    """A csv report: one line per credential."""
    lines = ["id,status"] + [f"{status.id},{status.status}" for status in report.credentials]
    return "\n".join(lines) + "\n"


def obtain(job: Job) -> NewValue:
    return NewValue(Secret(FIXED_VALUE), retractable=True)


def apply(job: Job, value: Secret) -> None:
    """Nothing to tell."""
