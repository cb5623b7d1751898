"""Rotation upon team changes: a credential whose owner changed since its last rotation
(`owner-changed`), or that someone who left rotated or owned and nobody rotated since
(`rotated-by-departed`), is due, whatever its schedule says.

credctl records the row's owner at each rotation (`credctl:owner-at-rotation`) beside
`credctl:rotated-by`; `owners.yaml` lists who left and when (`departed:`). Owners and
people are compared without case or punctuation, as owners.yaml compares them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from credctl.credential import Credential
from credctl.model import META_OWNER_AT_ROTATION, META_ROTATED_BY, SecretInfo, Severity, slugify
from credctl.owners import OwnersFile

# the findings that make a credential due for rotation, whatever its schedule
TURNOVER_CODES = ("owner-changed", "rotated-by-departed")
# environments whose findings weigh most: named so, or starting so (prod-eu, production-us)
PRODUCTION_NAMES = ("prod", "production")


def is_production(environment: str) -> bool:
    """Whether an environment is production by its name (`prod`, `production`, `prod-…`)."""
    slug = slugify(environment)
    return any(slug == name or slug.startswith(f"{name}-") for name in PRODUCTION_NAMES)


@dataclass(frozen=True)
class Turnover:
    """A finding that makes a credential due whatever its schedule says, and since when."""

    code: str
    severity: Severity
    message: str
    due_on: datetime  # a team change is not dated: when it is found; a departure: its day


def turnover_findings(
    credential: Credential, info: SecretInfo, owners: OwnersFile, now: datetime
) -> list[Turnover]:
    """`owner-changed` and `rotated-by-departed` for one row whose secret exists."""
    found: list[Turnover] = []
    rotated_on = info.last_rotated
    when = f"on {rotated_on:%Y-%m-%d}" if rotated_on is not None else "(date unknown)"
    fix = f"'credctl rotate {credential.id}'"
    at_rotation = info.own(META_OWNER_AT_ROTATION)
    owner = credential.owner.strip()
    if at_rotation and owner and slugify(at_rotation) != slugify(owner):
        found.append(
            Turnover(
                "owner-changed",
                "warning",
                f"{credential.id}: its owner changed from {at_rotation} to {owner} since its last "
                f"rotation {when}; rotate it upon team changes ({fix})",
                now,
            )
        )
    departed = _departed(credential, info, owners, now)
    if departed is not None:
        why, left_on = departed
        severity: Severity = "error" if is_production(credential.environment) else "warning"
        found.append(
            Turnover("rotated-by-departed", severity, f"{credential.id}: {why} ({fix})", left_on)
        )
    return found


def _departed(
    credential: Credential, info: SecretInfo, owners: OwnersFile, now: datetime
) -> tuple[str, datetime] | None:
    """Why someone who left may still know the current value, and the day they left
    (None: nobody who left may know it).

    Whoever made the current value knows it, whenever they left; an owner at its last
    rotation (or now) who left after it may know it too. Departures after `now` wait.
    """
    outside = info.changed_outside is not None  # the current value is another tool's
    rotated_by = None if outside else info.own(META_ROTATED_BY)
    left = owners.departure(rotated_by)
    if left is not None and _left_by(left[1], now):
        return (
            f"last rotated by {left[0]}, who left on {left[1]:%Y-%m-%d} (owners.yaml departed:)",
            _start(left[1]),
        )
    since = info.last_rotated or info.created
    for role, person in (
        ("its owner at its last rotation", info.own(META_OWNER_AT_ROTATION)),
        ("its owner", credential.owner),
    ):
        left = owners.departure(person)
        if left is None or not _left_by(left[1], now):
            continue
        if since is None or since < _start(left[1]):
            return (
                f"{role} {left[0]} left on {left[1]:%Y-%m-%d} (owners.yaml departed:) and it "
                "was not rotated since",
                _start(left[1]),
            )
    return None


def _start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _left_by(day: date, now: datetime) -> bool:
    return _start(day) <= now
