"""Every finding credctl reports, by code: what it means (SARIF rules, docs, tests), and the
command that fixes it (reminders)."""

from __future__ import annotations

FINDINGS: dict[str, str] = {
    "overdue": "The credential is older than its effective maximum age.",
    "due-soon": "The credential reaches its maximum age within the warning window.",
    "never-rotated": "The store has no record of a rotation; it is aged from its creation.",
    "expires-soon": "The provider expires the current value (a certificate's notAfter, or a date "
    "given) within the warning window.",
    "expired": "The provider's expiry of the current value has passed.",
    "owner-changed": "The row's owner changed since the credential's last rotation (rotation "
    "upon team changes).",
    "rotated-by-departed": "Someone owners.yaml lists as departed rotated or owned the credential, "
    "and it was not rotated since they left (an error in production).",
    "missing-owner": "The row names no owner, and policy requires one.",
    "missing-in-backend": "The row's secret does not exist in the environment's store.",
    "deleted": "The row's secret exists but is deleted or scheduled for deletion; "
    "'credctl sync --restore' brings it back (--recreate where its value was destroyed).",
    "no-value": "The secret exists but holds no value yet.",
    "orphan": "A credctl-managed secret under the prefix has no row in the table.",
    "unmanaged": "A secret under the prefix was never managed by credctl.",
    "table-drift": "The table's Last Rotated or reference differs from the store.",
    "metadata-drift": "The store's owner or schedule differs from the table.",
    "schedule-exceeds-policy": "The table's schedule is longer than policy allows.",
    "literal-secret-in-table": "The table holds what looks like a secret value.",
    "rotation-in-progress": "A pending value has waited longer than the lock timeout.",
    "foreign-pending": "A pending version another tool staged (an AWS rotation function's) has "
    "waited longer than the lock timeout; credctl leaves it alone.",
    "changed-outside": "The current value was made by another tool; it is aged from then.",
    "future-date": "A Last Rotated date is in the future; the credential is aged from its creation.",
    "unused": "The store has no record of a read for the policy's unused_after (AWS "
    "LastAccessedDate; a secret never read is aged from its creation).",
    "missing-in-environment": "The credential has rows in other environments of the run but "
    "none in this one, where it belongs (the Environments column narrows where).",
    "shared-value": "Two environments hold the same value (compared by keyed hash with "
    "--compare-values or diff); an error when production is one of them.",
    "unreached": "The environment's store could not be reached (or refused the listing); "
    "its rows are not in the report, which exits 3.",
}

# What reminders carry: findings an owner acts on. Drift and policy notes are left out:
# `credctl sync` and the table's maintainers see to those.
REMINDED = frozenset(
    {
        "overdue",
        "due-soon",
        "never-rotated",
        "expires-soon",
        "expired",
        "owner-changed",
        "rotated-by-departed",
        "rotation-in-progress",
        "future-date",
        "missing-owner",
        "missing-in-backend",
        "deleted",
        "no-value",
        "literal-secret-in-table",
        "unused",
        "shared-value",
    }
)
# missing-in-environment belongs to no row (the missing one has no owner): the table's
# maintainers see to it

# code -> what fixes it; {id}, {environment} and {where} (file:line) filled in per finding
FIXES: dict[str, str] = {
    "overdue": "credctl rotate {id}",
    "due-soon": "credctl rotate {id}",
    "never-rotated": "credctl rotate {id}",
    "expires-soon": "credctl rotate {id}",
    "expired": "credctl rotate {id}",
    "owner-changed": "credctl rotate {id}",
    "rotated-by-departed": "credctl rotate {id}",
    "rotation-in-progress": "credctl rotate {id}",
    "future-date": "credctl rotate {id}",
    "missing-owner": "fill in the Owner at {where}, then credctl validate",
    "missing-in-backend": "credctl sync --env {environment}",
    "deleted": "credctl sync --restore --env {environment}",
    "no-value": "credctl set {id}",
    "table-drift": "credctl sync --env {environment}",
    "metadata-drift": "credctl sync --env {environment}",
    "schedule-exceeds-policy": "shorten the Rotation Schedule at {where}",
    "literal-secret-in-table": "credctl set {id}, then put its reference at {where}",
    "unused": "remove the row at {where}, then credctl sync --prune --env {environment}",
    "missing-in-environment": "add a row for {id}, or narrow the Environments column at {where}",
    "shared-value": "credctl rotate {id}",
    "unreached": "credctl doctor --env {environment}",
}


# code -> what fixes it where a person gives the new value (a manual rotator): renew it at
# the provider, then store it with its new expiry (a certificate's own is read from it)
PERSON_FIXES: dict[str, str] = {
    "expires-soon": "credctl set {id} --expires DATE",
    "expired": "credctl set {id} --expires DATE",
}


def fix_for(
    code: str, credential_id: str, environment: str, where: str, *, person: bool = False
) -> str:
    """The one command (or edit) that fixes a finding, as a reminder says it; `person`:
    a person gives the credential's new value."""
    template = (PERSON_FIXES.get(code) if person else None) or FIXES.get(
        code, "credctl audit --env {environment}"
    )
    return template.format(id=credential_id, environment=environment, where=where)
