"""command: a command applies a generated value at the provider (value on stdin), or,
for a type without a generator, asks the provider for a new value and prints it."""

from __future__ import annotations

from credctl.errors import RotationFailedError, RotationInterruptedError, StepTimedOutError
from credctl.rotation.rotators import Job, NewValue, generate
from credctl.secret import Secret


def obtain(job: Job) -> NewValue:
    if job.policy.generator is not None:
        return NewValue(generate.made(job), retractable=True)
    # The provider issues the value and the command prints it. The provider has
    # changed already, so it is staged at once and can no longer be taken back.
    assert job.policy.command is not None
    try:
        issued = job.step(job.policy.command, None, "issue")
    except StepTimedOutError as failure:
        raise RotationInterruptedError(
            f"{failure}; the provider may have issued a new value that credctl never received",
            hint="check the provider: if it changed, store its value with "
            f"'credctl set {job.credential.id}'",
        ) from None
    value = Secret(issued.removesuffix("\n"))
    if not value.reveal():
        raise RotationFailedError(f"{job.credential.id}: the issue command printed no value")
    return NewValue(value, retractable=False)


def apply(job: Job, value: Secret) -> None:
    if job.policy.generator is not None and job.policy.command:
        job.step(job.policy.command, value, "apply")
