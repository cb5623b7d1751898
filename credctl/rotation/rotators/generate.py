"""generate: credctl makes the value from the credential type's generator spec."""

from __future__ import annotations

from credctl.errors import ConfigError, Problem
from credctl.generate import generate
from credctl.rotation.rotators import Job, NewValue
from credctl.secret import Secret


def obtain(job: Job) -> NewValue:
    return NewValue(made(job), retractable=True)


def apply(job: Job, value: Secret) -> None:
    """The value is the truth: nothing outside credctl to tell."""


def made(job: Job) -> Secret:
    """A value from the type's generator (the command rotator applies one too)."""
    if job.policy.generator is None:
        raise ConfigError(
            Problem(
                "policies",
                None,
                f"credential type {job.credential.credential_type!r} rotates with "
                f"'{job.policy.rotator}' but has no generator spec",
            )
        )
    return generate(job.policy.generator)
