"""Rotators: how a credential type's new value comes about, one module each, and the
registry every other place derives from (policy validation, messages, docs).

A rotator obtains the new value (made by credctl, issued by the provider, or given
by a person) and, where the provider must learn it, applies it. Everything else —
staging, verifying, promoting, recording, resuming — is the staged protocol's
(`credctl.rotation.protocol`), the same for every rotator. A native rotator hands
the whole rotation to the store instead (AWS's rotation functions).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

if TYPE_CHECKING:  # the registry is read when policies load: nothing heavy at import
    from credctl.credential import Credential
    from credctl.model import CredentialTypePolicy
    from credctl.secret import Secret


@dataclass(frozen=True)
class NewValue:
    """A value to stage; `retractable` when nothing outside credctl has seen it yet."""

    value: Secret
    retractable: bool


class Job(Protocol):
    """What a rotator may use of the rotation it serves."""

    credential: Credential
    policy: CredentialTypePolicy
    manual_value: Callable[[Credential], Secret | None] | None

    # Run an issue/apply command (value on stdin); its standard output back.
    def step(self, argv: Sequence[str], value: Secret | None, what: str) -> str: ...


class Rotator(Protocol):
    """One way of rotating (generate, command, manual): a module with these two functions."""

    # The new value; None when a person must give it and nobody can be asked.
    def obtain(self, job: Job) -> NewValue | None: ...

    # Make the provider use the staged value (again, after an interruption).
    def apply(self, job: Job, value: Secret) -> None: ...


class NativeRotator(Protocol):
    """A rotation the store performs itself (AWS's rotation functions)."""

    # Rotate the secret `name` in `backend`; the new current version.
    def rotate_natively(self, job: Job, backend: Any, name: str, timeout: float) -> str: ...


@dataclass(frozen=True)
class RotatorType:
    """A rotator's registry entry: its module and what its policy must give it."""

    name: str
    module: str
    summary: str
    needs: str | None = None  # the policy key it cannot work without
    example: str = ""  # that key as a policy file writes it
    backend: str | None = None  # the only store type it works with
    native: bool = False  # the store rotates (no staged value of credctl's)
    person: bool = False  # asks a person: nothing changes in the store until they answer
    first_value: bool = False  # sync gives a new secret its first value with it
    # makes a value no provider learns: right only where credctl's value is the truth, which
    # the type's policy says with `self_contained: true` (validate warns otherwise)
    applies_nowhere: bool = False

    def load(self) -> Rotator:
        """The rotator's module (a staged rotator)."""
        return cast("Rotator", importlib.import_module(self.module))

    def load_native(self) -> NativeRotator:
        """The rotator's module (a native rotator)."""
        return cast("NativeRotator", importlib.import_module(self.module))


ROTATORS: dict[str, RotatorType] = {
    rotator.name: rotator
    for rotator in (
        RotatorType(
            "generate",
            "credctl.rotation.rotators.generate",
            "credctl makes the value from the type's generator (right where credctl's value "
            "is the truth: a database password it then sets, a secret its own services share)",
            needs="generator",
            example="generator: {kind: token, bytes: 32}",
            first_value=True,
            applies_nowhere=True,
        ),
        RotatorType(
            "command",
            "credctl.rotation.rotators.command",
            "a command applies a generated value at the provider, or, without a generator, "
            "asks the provider for a new one and prints it",
            needs="command",
            example="command: [./rotate.sh]",
        ),
        RotatorType(
            "manual",
            "credctl.rotation.rotators.manual",
            "a person gives the new value (--value-from-stdin or a hidden prompt)",
            person=True,
        ),
        RotatorType(
            "aws-lambda",
            "credctl.rotation.rotators.aws_lambda",
            "AWS's own rotation function (RotateSecret), which credctl starts and waits for",
            needs="lambda_arn",
            example="lambda_arn: arn:aws:lambda:…",
            backend="aws",
            native=True,
        ),
    )
}
NAMES = tuple(ROTATORS)
DEFAULT = "manual"  # a type that names no rotator is rotated by a person


def rotator_type(policy: CredentialTypePolicy) -> RotatorType:
    """The registry entry of a credential type's rotator."""
    return ROTATORS[policy.rotator or DEFAULT]
