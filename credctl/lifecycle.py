"""A secret's life beyond credctl's own writes, reported the same way by every command.

Deleted: the store holds the secret but deleted it or scheduled its deletion (AWS
`DeletedDate`, a Vault current version soft-deleted or destroyed, the local store's
mark). Nothing reads it and nothing writes over it; the way out is one command:
`credctl sync --restore` (the old value back), or where the value is gone for good
`credctl sync --recreate` (a generated value) or `credctl set ID --recreate` (a person's).

External: a row whose secret lives outside its environment's prefix (declared in
`external:`). credctl reads it, rotates it when asked, records only that rotation on
it, and never creates it.
"""

from __future__ import annotations

from credctl.backends.base import Backend
from credctl.credential import Credential
from credctl.errors import (
    BackendError,
    FieldMissingError,
    NotFoundError,
    SecretDeletedError,
    ShapeError,
)
from credctl.model import EnvironmentConfig, SecretInfo
from credctl.rotation.rotators import rotator_type
from credctl.shape import check_write


def gives_first_value(credential: Credential) -> bool:
    """credctl makes this credential's values itself (a rotator that generates them)."""
    type_policy = credential.type_policy
    return bool(
        type_policy and rotator_type(type_policy).first_value and type_policy.generator is not None
    )


def way_out(credential: Credential, environment: EnvironmentConfig, info: SecretInfo) -> str:
    """The one command that ends the deleted state of a row's secret."""
    if not info.destroyed:
        return f"credctl sync --restore --env {environment.name}"
    if gives_first_value(credential):
        return f"credctl sync --recreate --env {environment.name}"
    return f"credctl set {credential.id} --recreate"


def deleted_message(credential: Credential, reference: str, where: str, info: SecretInfo) -> str:
    """What every command says of a row whose secret is deleted (no value, one line)."""
    if info.destroyed:
        state = (
            f"deleted in {where}: its current version {info.current_version} is destroyed, "
            "so its value cannot be restored"
        )
    else:
        state = f"deleted (or scheduled for deletion) in {where}"
    return f"{credential.id}: {reference} is {state}"


def deleted_hint(credential: Credential, environment: EnvironmentConfig, info: SecretInfo) -> str:
    command = way_out(credential, environment, info)
    if not info.destroyed:
        return f"restore it with its value: '{command}'"
    if command.startswith("credctl set"):
        return f"give it a new value: {as_typed(command)}"
    return f"give it a new generated value: {as_typed(command)}"


def as_typed(command: str) -> str:
    """A command as a hint shows it: `credctl set`, which reads the value from standard
    input, with the value piped in; any other in quotes."""
    if command.startswith("credctl set"):
        return f"printf '%s' \"$VALUE\" | {command}"
    return f"'{command}'"


def deleted_error(
    credential: Credential, environment: EnvironmentConfig, backend: Backend, info: SecretInfo
) -> SecretDeletedError:
    name = info.name
    reference = backend.reference(name, credential.target(environment)[1])
    return SecretDeletedError(
        deleted_message(credential, reference, backend.describe(), info),
        hint=deleted_hint(credential, environment, info),
    )


def check_shape(
    backend: Backend, name: str, field: str | None, who: str, *, restored: bool = False
) -> None:
    """Refuse (exit 2) a write of one row's value that would damage the shape of the value
    its secret holds. `restored`: --recreate has just brought the deleted secret back (a
    store shows a deleted value's shape only then), and a refusal says it is back."""
    shape = backend.value_shapes([name])[name]
    if isinstance(shape, BackendError):
        raise shape
    try:
        check_write(shape, field, who, backend.reference(name))
    except ShapeError as error:
        if not restored:
            raise
        raise ShapeError(
            f"{error}; the deleted secret is restored with its old value, which stays current",
            hint=error.hint,
        ) from None


def external_missing(
    credential: Credential, reference: str, where: str, environment: EnvironmentConfig
) -> str:
    """What every command says of an external row whose secret does not exist."""
    return (
        f"{credential.id}: {reference} does not exist in {where}; it is outside "
        f"{environment.name}'s prefix (external), so credctl never creates it: create it "
        "where it is owned, or fix the row's Value/Reference"
    )


def missing_external_error(
    credential: Credential, environment: EnvironmentConfig, backend: Backend
) -> NotFoundError:
    name, field = credential.target(environment)
    return NotFoundError(
        external_missing(
            credential, backend.reference(name, field), backend.describe(), environment
        )
    )


def explain_read_failure(
    backend: Backend,
    credential: Credential,
    environment: EnvironmentConfig,
    error: BackendError,
) -> BackendError:
    """A read that failed because the secret is deleted, said as every command says it
    (one metadata read, only after a failure), or because the row's field is missing."""
    if not isinstance(error, NotFoundError) or isinstance(error, SecretDeletedError):
        return error
    if isinstance(error, FieldMissingError):
        if error.hint is not None:
            return error
        # the secret was read: it holds a JSON object without the row's field (another tool
        # removed it, or the secret was recreated with the fields given since)
        verb = "rotate" if gives_first_value(credential) else "set"
        command = as_typed(f"credctl {verb} {credential.id}")
        return FieldMissingError(str(error), hint=f"give the field a value: {command}")
    name, _ = credential.target(environment)
    try:
        info = backend.secret_info(name)
    except BackendError:
        return error
    if info is not None and info.deleted:
        return deleted_error(credential, environment, backend, info)
    if info is None and credential.external:
        return missing_external_error(credential, environment, backend)
    return error
