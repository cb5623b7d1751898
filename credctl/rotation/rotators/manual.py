"""manual: a person gives the new value (--value-from-stdin, or a hidden prompt)."""

from __future__ import annotations

from credctl.rotation.rotators import Job, NewValue
from credctl.secret import Secret


def obtain(job: Job) -> NewValue | None:
    given = job.manual_value(job.credential) if job.manual_value is not None else None
    return None if given is None else NewValue(given, retractable=False)


def apply(job: Job, value: Secret) -> None:
    """The person changed it at the provider (or does so next)."""
