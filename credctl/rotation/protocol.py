"""The staged protocol, the same whatever the rotator: (1) the new value is stored as
pending in the store before anything outside credctl changes; (2) the rotator applies it
and the type's verify command checks it; (3) it is promoted to current; (4) the rotation
is recorded (store metadata, table, audit log). A pending value left by a run that
stopped is resumed by the next; `--abort` discards it. See docs/rotation.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from credctl import clock
from credctl.audit import CLOCK_SKEW
from credctl.backends.base import Backend
from credctl.credential import Credential
from credctl.errors import (
    BackendError,
    ConfigError,
    CredctlError,
    Problem,
    RotationFailedError,
    RotationInProgressError,
    RotationInterruptedError,
    StepTimedOutError,
)
from credctl.expiry import Expiry
from credctl.fsutil import try_locked
from credctl.lifecycle import deleted_error, missing_external_error
from credctl.model import CredentialTypePolicy, EnvironmentConfig, PendingInfo, SecretInfo, slugify
from credctl.project import Project
from credctl.results import pick
from credctl.rotation.rotators import NewValue, RotatorType, rotator_type
from credctl.rotation.steps import run_step
from credctl.secret import Secret
from credctl.shape import check_write
from credctl.staging import (
    commit_staged,
    foreign_pending_error,
    metadata_for,
    recorded_metadata,
    refuse_pending,
    staging_token,
    stale_metadata,
)

Outcome = Literal[
    "rotated", "skipped", "not-due", "needs-person", "failed", "resumed", "rolled-back"
]


@dataclass
class RotationResult:
    id: str
    outcome: Outcome
    version: str | None = None
    message: str = ""
    error: CredctlError | None = field(default=None, repr=False)

    def as_json(self) -> dict[str, object]:
        return pick(self, "id", "outcome", "version", "message")


@dataclass
class Rotation:
    """One credential's rotation, carried through the protocol."""

    project: Project
    credential: Credential
    environment: EnvironmentConfig
    backend: Backend
    info: SecretInfo | None
    policy: CredentialTypePolicy
    actor: str
    manual_value: Callable[[Credential], Secret | None] | None
    abort: bool
    started: datetime  # when this run started: a rotation committed since is not repeated
    force: bool = False  # --abort --force: discard a pending value another tool staged
    name: str = ""
    secret_field: str | None = None
    committed_at: datetime | None = None
    committed_token: str | None = None  # staged mark to clear once the change is recorded
    token: str = ""  # of the value this rotation staged or resumes
    created: bool = False  # the secret was created by this rotation
    expiry: Expiry | None = None  # the new value's (None: not known, the recorded one stays)

    def __post_init__(self) -> None:
        self.name, self.secret_field = self.credential.target(self.environment)

    def run(self) -> RotationResult:
        """The protocol, under this machine's lock for the credential."""
        lock = self.project.root / ".credctl" / "locks" / f"{slugify(self.credential.id)}.lock"
        with try_locked(lock) as taken:
            if not taken:
                raise RotationInProgressError(
                    f"{self.credential.id}: a rotation is already in progress (another credctl "
                    "process on this machine)",
                    hint="wait for it to finish",
                )
            self._refresh()
            return self._run()

    def _refresh(self) -> None:
        """Decide from the store as it is now, under the lock, not from the earlier listing."""
        fresh = self._view(self.backend.secret_info(self.name))
        listed = self._view(self.info)
        self.info = fresh
        if self.abort or fresh is None or fresh.pending is not None:
            return
        if listed is not None and self._changed(listed, fresh):
            # another run finished rotating it between our listing and our lock
            raise self._overtaken(fresh)
        if self._rotated_since_start(fresh):
            raise self._overtaken(fresh)

    def _view(self, info: SecretInfo | None) -> SecretInfo | None:
        """This row's view of its secret (several rows may each hold one field of it)."""
        return None if info is None else info.for_field(self.secret_field)

    def _changed(self, listed: SecretInfo, fresh: SecretInfo) -> bool:
        """Whether this row's value changed since the listing: its secret's version (a row on
        one field: its own last rotation, as a rotation of another field makes a version too)."""
        if self.secret_field is None:
            return fresh.current_version != listed.current_version
        return fresh.last_rotated != listed.last_rotated

    def _rotated_since_start(self, info: SecretInfo) -> bool:
        """Whether the store records a rotation committed after this run started."""
        # the store keeps milliseconds: a commit within this run's first one counts too
        started = self.started.replace(microsecond=self.started.microsecond // 1000 * 1000)
        # a date in the future is no rotation at all (audit reports it as future-date)
        return (
            info.last_rotated is not None
            and started <= info.last_rotated <= clock.now() + CLOCK_SKEW
        )

    def _overtaken(self, info: SecretInfo) -> RotationInProgressError:
        return RotationInProgressError(
            f"{self.credential.id}: rotated by another run since this one started (version "
            f"{info.current_version}); not rotated again",
            hint="check 'credctl audit' before rotating it once more",
        )

    def _ensure_secret(self) -> None:
        """Create the secret (metadata only) when the store does not have it yet; never
        one outside the prefix, which another system owns."""
        if self.info is None and not self.created:
            if self.credential.external:
                raise missing_external_error(self.credential, self.environment, self.backend)
            self.backend.create(self.name, metadata_for(self.credential), None)
            self.created = True

    def _stage(self, new: NewValue, token: str) -> None:
        """Stage the new value; a value credctl made is dropped again if a race was lost.

        Nothing outside credctl has seen a value it made, so it can still be taken back:
        a run that committed since this one started, found now that this value holds
        the pending slot, means this run came second.
        """
        self.backend.put_pending(self.name, new.value, token, self.secret_field)
        if not new.retractable:
            return
        fresh = self._view(self.backend.secret_info(self.name))
        if fresh is not None and self._rotated_since_start(fresh):
            self.backend.discard_pending(self.name, token)
            raise self._overtaken(fresh)

    def _run(self) -> RotationResult:
        credential = self.credential
        pending = self.info.own_pending if self.info else None
        if self.abort:
            if pending is None:
                return RotationResult(credential.id, "skipped", message=self._nothing_to_discard())
            if pending.foreign and not self.force:
                raise foreign_pending_error(credential, pending)
            self.backend.discard_pending(self.name)
            if pending.foreign:
                return RotationResult(
                    credential.id,
                    "rolled-back",
                    message="pending version of another tool discarded (--force); current "
                    "value unchanged",
                )
            if pending.promoted:
                return RotationResult(
                    credential.id,
                    "rolled-back",
                    message="staged mark cleared; the new value was current already and "
                    "stays (its rotation is not recorded)",
                )
            return RotationResult(
                credential.id,
                "rolled-back",
                message="pending value discarded; current value unchanged",
            )
        if self.info is not None and self.info.deleted:
            # nothing is rotated into a deleted secret: one command brings it back first
            raise deleted_error(credential, self.environment, self.backend, self.info)
        if pending is not None:
            refusal = refuse_pending(credential, pending, self.environment)
            if refusal is not None:
                raise refusal
            return self._resume(pending)
        kind = rotator_type(self.policy)
        if kind.native:
            return self._natively(kind)
        if self.info is not None and self.info.rotated_by_store:
            # AWS's rotation function would race credctl's staged value for AWSPENDING
            raise ConfigError(
                Problem(
                    self.credential.file,
                    self.credential.line,
                    f"{credential.id}: AWS rotates this secret itself (RotationEnabled), so credctl's "
                    f"'{kind.name}' rotator would race its rotation function; use the "
                    "'aws-lambda' rotator for this type, or turn AWS's rotation off",
                )
            )
        self._check_shape()
        rotator = kind.load()
        if not kind.person:
            # before the value: a provider that issued one must find a place to keep it
            self._ensure_secret()
        new = rotator.obtain(self)
        if new is None:
            return RotationResult(
                credential.id,
                "needs-person",
                message="manual rotator: run 'credctl rotate "
                f"{credential.id} --value-from-stdin' or rotate it on a terminal",
            )
        self._ensure_secret()
        token = staging_token()
        self._stage(new, token)
        self.token = token
        rotator.apply(self, new.value)
        self._verify(new.value)
        self.expiry = Expiry.of(new.value)
        return self._commit(token, "rotated")

    def _nothing_to_discard(self) -> str:
        staged = self.info.pending if self.info else None
        if staged is not None and staged.field is not None:
            return (
                f"no pending value of this row to discard (the one staged on this secret is "
                f"for its #{staged.field} field: abort through that row)"
            )
        return "no pending value to discard"

    def _check_shape(self) -> None:
        """Refuse, before the provider or a person is asked for anything, a write that
        would damage the secret's value: a JSON object or several fields rotated without
        #field, binary data (only the store's own rotation function may rotate it)."""
        if self.info is None or self.info.deleted or not self.info.has_value:
            return
        found = self.backend.value_shapes([self.name])[self.name]
        if isinstance(found, BackendError):
            raise found
        check_write(found, self.secret_field, self.credential.id, self.backend.reference(self.name))

    def _resume(self, pending: PendingInfo) -> RotationResult:
        """Finish a rotation whose process stopped after staging its value."""
        if pending.promoted:
            # current already (applied and verified before): only the recording is left
            return self._commit(pending.token, "resumed")
        value = self.backend.read_pending(self.name, pending.token, self.secret_field)
        if value is None or not value.reveal():
            # staged but never completed: nothing outside credctl has seen it
            self.backend.discard_pending(self.name, pending.token)
            return self._again("discarded an incomplete pending value")
        # the provider may or may not have received it before the stop: apply it again
        self.token = pending.token
        rotator_type(self.policy).load().apply(self, value)
        self._verify(value)
        self.expiry = Expiry.of(value)
        return self._commit(pending.token, "resumed")

    def _again(self, note: str) -> RotationResult:
        if self.info is not None:
            self.info = replace(self.info, pending=None)
        result = self._run()
        result.message = f"{note}; {result.message}" if result.message else note
        return result

    def step(self, argv: Sequence[str], value: Secret | None, what: str) -> str:
        """Run a rotator's command; a failure after staging rolls back or keeps the value."""
        try:
            return run_step(argv, value, self._timeout(), what, self.credential.id)
        except StepTimedOutError as failure:
            if what == "issue":
                raise  # nothing staged yet: the rotator says what it means
            applied_here = what == "apply" or self.policy.rotator == "command"
            if not applied_here:
                raise self._rolled_back(failure, self.token) from None
            # The provider may have the new value (applied, or taken before the command
            # was stopped): dropping it could leave the store with a value that no longer works.
            raise RotationInterruptedError(
                f"{failure}; the new value is kept as pending, as the provider may already use it",
                hint=f"run 'credctl rotate {self.credential.id}' to apply, verify and promote it "
                "again, or add --abort to drop it",
            ) from None
        except RotationFailedError as failure:
            if what == "issue":
                raise
            raise self._rolled_back(failure, self.token) from None

    def _verify(self, value: Secret) -> None:
        if self.policy.verify:
            self.step(self.policy.verify, value, "verify")

    def _rolled_back(self, failure: RotationFailedError, token: str) -> CredctlError:
        """Discard the staged value after a failed step; the current one was never touched."""
        try:
            self.backend.discard_pending(self.name, token)
        except BackendError:
            # not rolled back: the value is still pending, so this is no exit 4
            return RotationInterruptedError(
                f"{failure}; the pending value could not be discarded (the next rotate "
                "resumes it, or 'credctl rotate --abort' drops it); current value unchanged"
            )
        return RotationFailedError(
            f"{failure}; rolled back: pending value discarded, current value unchanged"
        )

    def _commit(self, token: str, outcome: Outcome) -> RotationResult:
        committed = commit_staged(
            self.backend, self.name, token, self.credential, self.actor, self.expiry, self.info
        )
        self.committed_at = committed.at
        if committed.metadata_error is not None:
            # the staged mark stays: the next rotate records it instead of rotating again
            return RotationResult(
                self.credential.id,
                outcome,
                committed.version,
                f"rotated by {self.actor}, but the store's last-rotated metadata could not "
                f"be written: {committed.metadata_error} (hint: run 'credctl rotate "
                f"{self.credential.id}' to record it; it is not rotated again)",
                error=committed.metadata_error,
            )
        self.committed_token = token
        done = f"rotated by {self.actor}"
        if outcome == "resumed":
            done = f"interrupted rotation finished; {done}"
        return RotationResult(self.credential.id, outcome, committed.version, done)

    def _current_expiry(self) -> Expiry | None:
        """The expiry of the value the store's own rotation made (None: it cannot be read)."""
        ref = self.environment.ref_for(self.name, self.secret_field)
        value = self.backend.read_values([ref])[ref]
        return None if isinstance(value, BackendError) else Expiry.of(value)

    def _timeout(self) -> float:
        return self.policy.timeout.total_seconds()

    def _natively(self, kind: RotatorType) -> RotationResult:
        """The store rotates it (AWS's rotation function); credctl records it."""
        version = kind.load_native().rotate_natively(self, self.backend, self.name, self._timeout())
        self.committed_at = clock.now()
        self.expiry = self._current_expiry()
        try:
            self.backend.set_metadata(
                self.name,
                recorded_metadata(
                    self.credential, self.actor, self.committed_at, version, self.expiry
                ),
                stale_metadata(self.credential, self.info, self.expiry),
            )
        except BackendError as error:
            return RotationResult(
                self.credential.id,
                "rotated",
                version,
                f"rotated by its function, but the store's metadata could not be written: {error}",
                error=error,
            )
        return RotationResult(self.credential.id, "rotated", version, "rotated by its function")
