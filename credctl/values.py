"""Reading and writing credential values: env entries, `get`, `set`."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from credctl import auditlog
from credctl.backends.base import Backend
from credctl.backends.pool import Backends
from credctl.checks import reference_problems
from credctl.credential import Credential
from credctl.errors import (
    BackendError,
    ConfigError,
    NotRecordedError,
    RotationInProgressError,
    UsageError,
)
from credctl.expiry import Expiry
from credctl.lifecycle import (
    check_shape,
    deleted_error,
    explain_read_failure,
    missing_external_error,
)
from credctl.model import EnvironmentConfig, PendingInfo, Ref, SecretInfo
from credctl.policy import refuse_invalid
from credctl.project import Project
from credctl.recording import check_can_record, not_recorded_hint, record_committed, save_table
from credctl.results import Result
from credctl.schedule import format_timestamp
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
    backend = backends.get(environment)
    result = backend.read_values([ref])[ref]
    if isinstance(result, BackendError):
        raise explain_read_failure(backend, credential, environment, result)
    return result


@dataclass(frozen=True)
class Stored(Result):
    """What `set` did: the current version, whether the value given was new, and the
    expiry recorded for it."""

    credential_id: str
    version: str
    changed: bool = True
    expiry: Expiry | None = None
    expiry_recorded: bool = False  # the value was not new, but its expiry was

    def notes(self) -> list[str]:
        expires = self._expires()
        if not self.changed:
            recorded = f"; recorded that it {expires}" if self.expiry_recorded else ""
            return [
                f"{self.credential_id} already holds this value (version {self.version}): "
                f"nothing stored, no new version, Last Rotated unchanged{recorded}"
            ]
        also = f"; it {expires}" if self.expiry is not None and self.expiry.on else ""
        return [f"stored a new value for {self.credential_id} (version {self.version}){also}"]

    def _expires(self) -> str:
        if self.expiry is None or self.expiry.on is None:
            return "has no known expiry"
        source = " (its certificate's notAfter)" if self.expiry.source == "certificate" else ""
        return f"expires {format_timestamp(self.expiry.on)}{source}"


def set_value(
    project: Project,
    credential: Credential,
    backends: Backends,
    value: Secret,
    actor: str,
    *,
    recreate: bool = False,
    expires: datetime | None = None,
) -> Stored:
    """Store a new value now, staged like a rotation; the value already stored is no change
    (but its expiry is recorded if it differs). Its expiry: `expires`, else the earliest
    notAfter of the certificates it holds, else none.

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
    expiry = Expiry.of(value, expires)
    listed = backend.secret_info(name)
    restored = False
    if listed is not None and listed.deleted:
        # never written over unless asked: the value given then brings it back
        if not recreate:
            raise deleted_error(credential, environment, backend, listed)
        # refused before the secret is brought back: a refusal leaves it as it was
        _refuse_other_field_staged(credential, listed.for_field(field))
        if not listed.destroyed:
            backend.restore(name)
            restored = True
            listed = backend.secret_info(name)
    elif listed is None and credential.external:
        raise missing_external_error(credential, environment, backend)
    info = None if listed is None else listed.for_field(field)
    if info is not None and not info.deleted and info.has_value:
        # never over a JSON object or several fields without #field, never over binary data
        check_shape(backend, name, field, credential.id, restored=restored)
    if info is not None and not info.deleted and info.has_value and info.pending is None:
        reference = Ref(
            environment.backend_type.scheme, environment.backend.reference_name(name), field
        )
        current = backend.read_values([reference])[reference]
        # compared here, never shown; a store that will not let us read simply gets the write
        if isinstance(current, Secret) and current == value:
            return _same_value(project, credential, backend, info, expiry)
    token = None
    pending = None if info is None else info.own_pending
    if info is not None:
        _refuse_other_field_staged(credential, info)
    if pending is not None:
        token = _take_over(backend, name, field, pending, credential, environment, value)
    if token is None:
        if info is None:
            backend.create(name, metadata_for(credential), None)
        token = staging_token()
        backend.put_pending(name, value, token, field)
    committed = commit_staged(backend, name, token, credential, actor, expiry, info)
    problem = committed.metadata_error
    entry = auditlog.Entry(
        actor,
        environment.name,
        credential.id,
        "set",
        committed.version,
        message=f"metadata not recorded: {problem}" if problem else None,
    )
    updates = {credential.id: table_updates(credential, backend, name, field, committed.at, expiry)}
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
    return Stored(credential.id, committed.version, expiry=expiry)


def _refuse_other_field_staged(credential: Credential, info: SecretInfo) -> None:
    """A value staged for another #field of the secret waits to be finished first."""
    if info.pending is not None and info.own_pending is None:
        raise RotationInProgressError(
            f"{credential.id}: a value staged for the #{info.pending.field} field of the same "
            "secret is waiting",
            hint="finish it first with 'credctl rotate' of that row, or discard it with --abort",
        )


def _same_value(
    project: Project, credential: Credential, backend: Backend, info: SecretInfo, expiry: Expiry
) -> Stored:
    """The value given is the one stored: no new version; only its expiry is recorded (in
    the store and the table's Expires cell) when it differs from what credctl recorded."""
    version = info.current_version or ""
    unchanged = Stored(credential.id, version, changed=False)
    if expiry.on is None:
        return unchanged  # nothing new is known of it: what is recorded stays
    recorded = info.expires_on
    if recorded is not None and format_timestamp(recorded) == format_timestamp(expiry.on):
        if credential.expires.strip() == expiry.cell() or not project.table.has_column("expires"):
            return unchanged
    else:
        field = credential.field
        backend.set_metadata(info.name, expiry.metadata(field), expiry.stale(info, field))
    _, problem = save_table(project, {credential.id: {"expires": expiry.cell()}})
    if problem is not None:
        raise NotRecordedError(
            f"{credential.id}: its expiry is recorded in the store, but {problem} could not be "
            "written",
            hint="once the table is writable, 'credctl sync' writes its Expires from the store",
        )
    return Stored(credential.id, version, changed=False, expiry=expiry, expiry_recorded=True)


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
