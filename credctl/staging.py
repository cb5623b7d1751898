"""The staged protocol every write of a value follows (set, rotate, sync's first value):
stage a pending value under a token that names its run, promote it, record it, finish it.

A pending value whose run is gone (same host, pid dead; or older than the lock timeout)
is abandoned and may be taken over; one whose run may still go on is left alone."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from credctl import clock
from credctl.backends.base import Backend
from credctl.credential import Credential
from credctl.errors import BackendError, RotationInProgressError
from credctl.expiry import Expiry
from credctl.model import (
    META_LAST_ROTATED,
    META_MANAGED,
    META_OWNER,
    META_OWNER_AT_ROTATION,
    META_ROTATED_BY,
    META_SCHEDULE,
    META_SERVICE,
    META_TYPE,
    META_VERSION,
    EnvironmentConfig,
    PendingInfo,
    SecretInfo,
    row_key,
)
from credctl.schedule import format_instant, format_timestamp


def metadata_for(credential: Credential) -> dict[str, str]:
    """The credctl metadata a credential puts on its secret: `credctl:managed`, and its own
    keys, under its field's names when it holds one `#field` (`model.row_key`). None on an
    external one, which another system owns: only the record of a rotation goes there."""
    if credential.external:
        return {}
    field = credential.field
    metadata = {
        META_MANAGED: "true",
        row_key(META_SERVICE, field): credential.service,
        row_key(META_TYPE, field): credential.credential_type,
        row_key(META_SCHEDULE, field): credential.schedule,
    }
    if credential.owner:
        metadata[row_key(META_OWNER, field)] = credential.owner
    return metadata


def staging_token() -> str:
    """A token for a staged value that names its process: `r-<random>-<pid>-<host>`.

    The pid and host let the next run tell a crashed rotation from a running one. At
    least 32 characters, so that AWS takes the token itself as the version id: a pending
    version met without credctl's tag (another stager's, mid-race) still names its run.
    """
    rest = f"-{os.getpid()}-{host_label()}"
    return f"r-{uuid.uuid4().hex[: max(16, 30 - len(rest))]}{rest}"


def host_label() -> str:
    """This machine's name as it appears in staging tokens."""
    return "".join(c if c.isalnum() else "-" for c in socket.gethostname())[:24] or "host"


def pending_state(
    pending: PendingInfo, environment: EnvironmentConfig, now: datetime
) -> PendingState:
    """Whether a staged value's run died (abandoned), may still run, or is not credctl's."""
    if pending.foreign:
        # e.g. the AWSPENDING version of an AWS rotation function at work: never taken over,
        # however old (its tool may be stuck, not gone)
        return "foreign"
    if pending.created is not None and now - pending.created > environment.lock_timeout:
        return "abandoned"
    parts = pending.token.split("-", 3)
    if parts[3] != host_label():
        return "running"  # another machine's: only the lock timeout can tell
    try:
        os.kill(int(parts[2]), 0)
    except ProcessLookupError:
        return "abandoned"
    except PermissionError:
        return "running"
    return "running"


def refuse_pending(
    credential: Credential, pending: PendingInfo, environment: EnvironmentConfig
) -> RotationInProgressError | None:
    """Why a staged value may not be taken over now; None when its run is gone."""
    state = pending_state(pending, environment, clock.now())
    if state == "foreign":
        return foreign_pending_error(credential, pending)

    if state == "running":
        return RotationInProgressError(
            f"{credential.id}: a rotation is already in progress",
            hint="wait for it, or discard it with 'credctl rotate --abort'",
        )
    return None


def foreign_pending_error(credential: Credential, pending: PendingInfo) -> RotationInProgressError:
    """Another tool's pending value: credctl neither takes it over nor discards it unasked."""
    since = f", staged {format_timestamp(pending.created)}" if pending.created else ""
    return RotationInProgressError(
        f"{credential.id}: the store holds a pending version that credctl did not stage (an "
        f"AWS rotation function at work?{since}); credctl leaves it alone",
        hint="find out which tool staged it; if nothing will finish it, discard it: "
        f"credctl rotate {credential.id} --abort --force",
    )


def recorded_metadata(
    credential: Credential,
    actor: str,
    at: datetime,
    version: str | None,
    expiry: Expiry | None = None,
) -> dict[str, str]:
    """The metadata a committed change writes: the credential's, its last-rotated,
    rotated-by and owner-at-rotation, the version it made current (None: not known here)
    and the new value's expiry (None: not known here, the recorded one stays)."""
    field = credential.field
    recorded = {
        **metadata_for(credential),
        row_key(META_LAST_ROTATED, field): format_instant(at),
        row_key(META_ROTATED_BY, field): actor,
    }
    if credential.owner:
        recorded[row_key(META_OWNER_AT_ROTATION, field)] = credential.owner
    if version is not None:
        recorded[META_VERSION] = version
    if expiry is not None:
        recorded.update(expiry.metadata(field))
    return recorded


def stale_metadata(
    credential: Credential, info: SecretInfo | None, expiry: Expiry | None
) -> list[str]:
    """The keys a committed change removes: the old value's expiry when the new one has
    none, and the owner at the last rotation when the row now names no owner."""
    field = credential.field
    stale = expiry.stale(info, field) if expiry is not None else []
    owner_key = row_key(META_OWNER_AT_ROTATION, field)
    if not credential.owner and info is not None and owner_key in info.metadata:
        stale.append(owner_key)
    return stale


@dataclass
class Committed:
    """A promoted value: its version, when, and whether the metadata write failed."""

    version: str
    at: datetime
    metadata_error: BackendError | None = None


def commit_staged(
    backend: Backend,
    name: str,
    token: str,
    credential: Credential,
    actor: str,
    expiry: Expiry | None = None,
    info: SecretInfo | None = None,
) -> Committed:
    """Promote the staged value, then record `last-rotated`/`rotated-by` (and the new
    value's expiry, when known) in the store; `info` is the store's earlier view of it.

    The value stays marked as staged until `finish_staged`, which the caller runs once it
    has recorded the change itself (audit log, table): a run that stops before then leaves
    a mark the next run finishes, instead of writing a second value. Once the promotion
    succeeded the value is current whatever happens next, so a failed metadata write is
    returned, not raised (the mark stays for the next run): the caller must report it.
    """
    version = backend.promote(name, token, keep_pending=True)
    now = clock.now()
    try:
        backend.set_metadata(
            name,
            recorded_metadata(credential, actor, now, version, expiry),
            stale_metadata(credential, info, expiry),
        )
    except BackendError as error:
        return Committed(version, now, error)
    return Committed(version, now)


def finish_staged(
    backend: Backend, name: str, token: str, credential: Credential, again: str
) -> None:
    """Clear the staged mark of a committed, recorded value (see `commit_staged`)."""
    try:
        backend.discard_pending(name, token)
    except BackendError as error:
        raise BackendError(
            f"{credential.id}: the new value is current and recorded, but the store still marks "
            f"it as staged: {error}",
            hint=f"run '{again}' again to finish it (nothing is written twice)",
        ) from None


def finish_promoted(
    backend: Backend, info: SecretInfo, credential: Credential, actor: str
) -> datetime | None:
    """Record and clear a value that a stopped run made current but did not finish.

    Its last-rotated is written (and returned) unless the store recorded it after the
    value was staged.
    """
    pending = info.pending
    assert pending is not None
    staged_at = pending.created
    recorded = None
    last = info.for_field(credential.field).recorded_rotation
    if last is None or staged_at is None or last < staged_at:
        recorded = clock.now()
        # staged, then made current: the current version is that value's
        metadata = recorded_metadata(credential, actor, recorded, info.current_version)
        backend.set_metadata(info.name, metadata)
    backend.discard_pending(info.name, pending.token)
    return recorded


def table_updates(
    credential: Credential,
    backend: Backend,
    name: str,
    field: str | None,
    at: datetime,
    expiry: Expiry | None = None,
) -> dict[str, str]:
    """The table cells a committed value changes: Last Rotated, the reference if empty,
    and Expires (where the table has the column) when the new value's expiry is known."""
    updates = {"last_rotated": at.strftime("%Y-%m-%d")}
    if expiry is not None:
        updates["expires"] = expiry.cell()
    reference = backend.reference(name, field)
    if credential.reference.strip() != reference:
        updates["reference"] = reference
    return updates


PendingState = Literal["abandoned", "running", "foreign"]
