"""What falls due in the next 30, 60 and 90 days, per owner (`credctl status --forecast`).

A credential's due date is the audit's: the earliest of its schedule's, its expiry and a
team change. The windows count from the moment the report holds for (`--as-of`, else
now) and are cumulative: the 60 days include the first 30. A credential the audit calls
overdue counts as overdue, not in a window; one a warning makes due now (a team change
outside production) falls in the first. One without a due date (schedule `never`,
missing, configuration) is left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from credctl.audit import AuditReport, CredentialStatus
from credctl.turnover import TURNOVER_CODES

WINDOWS = (30, 60, 90)  # days
NO_OWNER = "(no owner)"


@dataclass(frozen=True)
class Due:
    """One credential falling due: when, in how many days, and what sets the date."""

    credential_id: str
    owner: str
    due_on: datetime
    days: int  # calendar days from the report's day (negative: that many days ago)
    reason: str  # "schedule", "expiry" or "team change"
    overdue: bool  # the audit's status says so (a warning that makes it due now does not)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.credential_id,
            "due_on": self.due_on.strftime("%Y-%m-%d"),
            "days": self.days,
            "overdue": self.overdue,
            "reason": self.reason,
        }


@dataclass
class OwnerForecast:
    """One owner's share: how many are overdue and due within each window, and which."""

    owner: str
    items: list[Due] = field(default_factory=list)

    @property
    def overdue(self) -> int:
        return sum(1 for item in self.items if item.overdue)

    def within(self, days: int) -> int:
        """How many fall due within `days` (those overdue are not counted)."""
        return sum(1 for item in self.items if not item.overdue and item.days <= days)

    def as_json(self) -> dict[str, Any]:
        return {
            "owner": self.owner,
            "overdue": self.overdue,
            "within": {str(days): self.within(days) for days in WINDOWS},
            "credentials": [item.as_json() for item in self.items],
        }


@dataclass
class Forecast:
    as_of: datetime
    owners: list[OwnerForecast]

    @property
    def total(self) -> OwnerForecast:
        """Every owner's together."""
        return OwnerForecast("all", [item for owner in self.owners for item in owner.items])

    def as_json(self) -> dict[str, Any]:
        return {
            "windows": list(WINDOWS),
            "owners": [owner.as_json() for owner in self.owners],
        }


def forecast(report: AuditReport) -> Forecast:
    """The report's credentials due within the longest window (or overdue), per owner,
    soonest first."""
    now = report.evaluated_at
    horizon = now + timedelta(days=WINDOWS[-1])
    by_owner: dict[str, list[Due]] = {}
    for status in report.credentials:
        due_on = status.due_on
        if not status.secret or due_on is None or due_on > horizon:
            continue
        owner = status.credential.owner or NO_OWNER
        days = (due_on.date() - now.date()).days
        by_owner.setdefault(owner, []).append(
            Due(status.id, owner, due_on, days, _reason(status), status.status == "overdue")
        )
    owners = [
        OwnerForecast(owner, sorted(items, key=lambda item: (item.due_on, item.credential_id)))
        for owner, items in sorted(by_owner.items())
    ]
    return Forecast(now, owners)


def _reason(status: CredentialStatus) -> str:
    """What set the due date: the expiry, a team change, else the schedule."""
    if status.expires_on is not None and status.due_on == status.expires_on:
        return "expiry"
    if any(f.code in TURNOVER_CODES for f in status.findings):
        return "team change"
    return "schedule"
