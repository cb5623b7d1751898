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
from credctl.model import (
    META_LAST_ROTATED,
    META_MANAGED,
    META_OWNER,
    META_ROTATED_BY,
    META_SCHEDULE,
    META_SERVICE,
    META_TYPE,
    EnvironmentConfig,
    PendingInfo,
    SecretInfo,
)
from credctl.schedule import format_instant


def metadata_for(credential: Credential) -> dict[str, str]:
    """The credctl metadata a credential's row puts on its secret."""
    metadata = {
        META_MANAGED: "true",
        META_SERVICE: credential.service,
        META_TYPE: credential.credential_type,
        META_SCHEDULE: credential.schedule,
    }
    if credential.owner:
        metadata[META_OWNER] = credential.owner
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
    if pending.created is not None and now - pending.created > environment.lock_timeout:
        return "abandoned"
    parts = pending.token.split("-", 3)
    if len(parts) != 4 or parts[0] != "r" or not parts[2].isdigit():
        # e.g. the AWSPENDING version of an AWS rotation function at work: never take it over
        return "foreign"
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
        return RotationInProgressError(
            f"{credential.id}: the store holds a pending version that credctl did not stage "
            "(a rotation function still running?)",
            hint=f"if nothing is rotating it, discard it: credctl rotate {credential.id} --abort",
        )
    if state == "running":
        return RotationInProgressError(
            f"{credential.id}: a rotation is already in progress",
            hint="wait for it, or discard it with 'credctl rotate --abort'",
        )
    return None


def recorded_metadata(credential: Credential, actor: str, at: datetime) -> dict[str, str]:
    """The metadata a committed change writes: the credential's, last-rotated and rotated-by."""
    return {
        **metadata_for(credential),
        META_LAST_ROTATED: format_instant(at),
        META_ROTATED_BY: actor,
    }


@dataclass
class Committed:
    """A promoted value: its version, when, and whether the metadata write failed."""

    version: str
    at: datetime
    metadata_error: BackendError | None = None


def commit_staged(
    backend: Backend, name: str, token: str, credential: Credential, actor: str
) -> Committed:
    """Promote the staged value, then record `last-rotated`/`rotated-by` in the store.

    The value stays marked as staged until `finish_staged`, which the caller runs once it
    has recorded the change itself (audit log, table): a run that stops before then leaves
    a mark the next run finishes, instead of writing a second value. Once the promotion
    succeeded the value is current whatever happens next, so a failed metadata write is
    returned, not raised (the mark stays for the next run): the caller must report it.
    """
    version = backend.promote(name, token, keep_pending=True)
    now = clock.now()
    try:
        backend.set_metadata(name, recorded_metadata(credential, actor, now))
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
    if info.last_rotated is None or staged_at is None or info.last_rotated < staged_at:
        recorded = clock.now()
        backend.set_metadata(info.name, recorded_metadata(credential, actor, recorded))
    backend.discard_pending(info.name, pending.token)
    return recorded


def table_updates(
    credential: Credential, backend: Backend, name: str, field: str | None, at: datetime
) -> dict[str, str]:
    """The table cells a committed value changes: Last Rotated, and the reference if empty."""
    updates = {"last_rotated": at.strftime("%Y-%m-%d")}
    reference = backend.reference(name, field)
    if credential.reference.strip() != reference:
        updates["reference"] = reference
    return updates


PendingState = Literal["abandoned", "running", "foreign"]
