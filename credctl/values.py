"""Reading and writing credential values: env entries, `get`, `set`."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from credctl import auditlog
from credctl.backends.base import Backend
from credctl.backends.pool import Backends
from credctl.checks import reference_problems
from credctl.credential import Credential
from credctl.errors import (
    BackendError,
    ConfigError,
    NotRecordedError,
    UsageError,
)
from credctl.model import EnvironmentConfig, PendingInfo, Ref
from credctl.policy import refuse_invalid
from credctl.project import Project
from credctl.recording import check_can_record, not_recorded_hint, record_committed
from credctl.results import Result
from credctl.secret import Secret
from credctl.staging import (
    commit_staged,
    finish_staged,
    metadata_for,
    refuse_pending,
    staging_token,
    table_updates,
)

log = logging.getLogger("credctl")


def given_value(raw: bytes | str, credential_id: str) -> Secret:
    """A value a person gives on stdin or at a prompt, checked before anything is staged.

    One rule for `set` and `rotate --value-from-stdin`: exactly one trailing line break
    (`\\n` or `\\r\\n`, what `echo` and editors add) is dropped; an empty or blank value,
    a NUL character and bytes that are not UTF-8 are refused, naming the credential only.
    """
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise UsageError(
                f"the value given for {credential_id} is not UTF-8 text; nothing was stored"
            ) from None
    else:
        text = raw
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    problem = None
    if text == "":
        problem = "is empty"
    elif text.isspace():
        problem = "is only whitespace"
    elif "\x00" in text:
        problem = "contains a NUL character"
    if problem is not None:
        raise UsageError(f"the value given for {credential_id} {problem}; nothing was stored")
    return Secret(text)


def value_reference(
    project: Project, credential: Credential, environment: EnvironmentConfig
) -> Ref:
    """The reference to read a credential's value by; never one that leaves its environment."""
    # a dev credential into prod's prefix would put prod's value in dev's env file
    problems = reference_problems(credential, environment, project.environments.values())
    if problems:
        raise ConfigError(problems)
    return environment.ref_for(*credential.target(environment))


def environment_of(project: Project, credential: Credential) -> EnvironmentConfig:
    return project.environment(credential.environment)


def get_value(project: Project, credential: Credential, backends: Backends) -> Secret:
    environment = environment_of(project, credential)
    if credential.is_config:
        return Secret(credential.reference.strip())
    ref = value_reference(project, credential, environment)
    result = backends.get(environment).read_values([ref])[ref]
    if isinstance(result, BackendError):
        raise result
    return result


@dataclass(frozen=True)
class Stored(Result):
    """What `set` did: the current version, and whether the value given was new."""

    credential_id: str
    version: str
    changed: bool = True

    def notes(self) -> list[str]:
        if not self.changed:
            return [
                f"{self.credential_id} already holds this value (version {self.version}): "
                "nothing stored, no new version, Last Rotated unchanged"
            ]
        return [f"stored a new value for {self.credential_id} (version {self.version})"]


def set_value(
    project: Project, credential: Credential, backends: Backends, value: Secret, actor: str
) -> Stored:
    """Store a new value now, staged like a rotation; the value already stored is no change.

    A value staged by a set or rotation whose process is gone is taken over: finished
    when it is this very value (a retry after a failure), replaced otherwise.
    """
    if credential.is_config:
        raise UsageError(
            f"{credential.id} is configuration written in {credential.file}:{credential.line}; edit the table instead"
        )
    # as rotate and sync: never write through a row that escapes its prefix or shares a secret
    refuse_invalid(project.problems())
    check_can_record(project, "set")
    environment = environment_of(project, credential)
    backend = backends.get(environment)
    name, field = credential.target(environment)
    info = backend.secret_info(name)
    if info is not None and not info.deleted and info.has_value and info.pending is None:
        reference = Ref(
            environment.backend_type.scheme, environment.backend.reference_name(name), field
        )
        current = backend.read_values([reference])[reference]
        # compared here, never shown; a store that will not let us read simply gets the write
        if isinstance(current, Secret) and current == value:
            return Stored(credential.id, info.current_version or "", changed=False)
    token = None
    if info is not None and info.pending is not None:
        token = _take_over(backend, name, field, info.pending, credential, environment, value)
    if token is None:
        if info is None or info.deleted:
            backend.create(name, metadata_for(credential), None)
        token = staging_token()
        backend.put_pending(name, value, token, field)
    committed = commit_staged(backend, name, token, credential, actor)
    problem = committed.metadata_error
    entry = auditlog.Entry(
        actor,
        environment.name,
        credential.id,
        "set",
        committed.version,
        message=f"metadata not recorded: {problem}" if problem else None,
    )
    updates = {credential.id: table_updates(credential, backend, name, field, committed.at)}
    not_recorded = record_committed(project, updates, entry)
    table_missing = any(project.table.display in what for what in not_recorded)
    if problem is not None:
        not_recorded.insert(0, f"its last-rotated metadata in the store ({problem})")
    if not_recorded:
        raise NotRecordedError(
            f"{credential.id}: the new value is stored and current (version {committed.version}), "
            f"but {'; '.join(not_recorded)} could not be written",
            hint=not_recorded_hint(
                project, "set", table_missing=table_missing, metadata_missing=problem is not None
            ),
        )
    # recorded everywhere: the store may forget that this value was staged
    finish_staged(backend, name, token, credential, f"credctl set {credential.id}")
    return Stored(credential.id, committed.version)


def _take_over(
    backend: Backend,
    name: str,
    field: str | None,
    pending: PendingInfo,
    credential: Credential,
    environment: EnvironmentConfig,
    value: Secret,
) -> str | None:
    """The token of an abandoned staged value to finish (the same value), or None once
    it is discarded; an error if its run may still be going."""
    refusal = refuse_pending(credential, pending, environment)
    if refusal is not None:
        raise refusal
    if backend.read_pending(name, pending.token, field) == value:
        return pending.token
    # a person's explicit new value replaces what a stopped run of credctl left
    backend.discard_pending(name, pending.token)
    return None
