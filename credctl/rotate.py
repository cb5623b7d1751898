"""credctl rotate: rotators and the staged, resumable protocol of DESIGN section 4.

For each credential: (1) the new value is stored as pending in the store
before anything outside credctl changes; (2) it is applied and verified;
(3) promoted to current; (4) `last-rotated` and `rotated-by` are recorded in
the store's metadata, the table and the audit log. A pending value left by a
process that died (same host, pid gone) or older than the lock timeout is
resumed by the next run; `--abort` discards it. The previous value stays
readable in the store's history.
"""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from credctl.audit import Backends, is_literal_config, run_audit, secret_name
from credctl.backends.base import Backend
from credctl.errors import (
    BackendError,
    ConfigError,
    CredctlError,
    Problem,
    RotationInProgressError,
    UsageError,
)
from credctl.fsutil import try_locked
from credctl.generate import generate
from credctl.model import (
    META_LAST_ROTATED,
    META_ROTATED_BY,
    CredentialTypePolicy,
    EnvironmentConfig,
    PendingInfo,
    Row,
    SecretInfo,
    slugify,
)
from credctl.project import Project
from credctl.schedule import format_timestamp, utcnow
from credctl.secret import Secret
from credctl.values import metadata_for, record_audit

Outcome = Literal[
    "rotated", "skipped", "not-due", "needs-person", "failed", "resumed", "rolled-back"
]


class StepFailed(CredctlError):
    """The apply or verify step refused the new value; the rotation is rolled back."""

    exit_code = 4


@dataclass
class Candidate:
    row: Row
    reason: str  # why it is chosen: "overdue", "due soon", "requested"


@dataclass
class RotationResult:
    id: str
    outcome: Outcome
    version: str | None = None
    message: str = ""
    error: CredctlError | None = field(default=None, repr=False)

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "outcome": self.outcome,
            "version": self.version,
            "message": self.message,
        }


# ----------------------------------------------------------------- selection


def select(
    project: Project,
    backends: Backends,
    *,
    ids: Sequence[str],
    due: bool,
    include_due_soon: bool,
    environments: Sequence[str],
    services: Sequence[str],
    types: Sequence[str],
) -> list[Candidate]:
    """The credentials to rotate: those named, or those due (one listing per store)."""
    if not ids and not due:
        raise UsageError("name the credentials to rotate (ENV/SERVICE/TYPE) or pass --due")
    chosen_environments = {e.name for e in project.select(environments)}
    service_slugs = {slugify(s) for s in services}
    type_slugs = {slugify(t) for t in types}

    def wanted(row: Row) -> bool:
        return (
            row.environment in chosen_environments
            and (not service_slugs or slugify(row.service) in service_slugs)
            and (not type_slugs or slugify(row.credential_type) in type_slugs)
        )

    if ids:
        rows = [project.find_row(credential_id) for credential_id in dict.fromkeys(ids)]
        return [Candidate(row, "requested") for row in rows if wanted(row)]
    report = run_audit(project, project.select(environments), backends)
    statuses = {"overdue"} | ({"due-soon"} if include_due_soon else set())
    return [
        Candidate(status.row, status.status.replace("-", " "))
        for status in report.credentials
        if status.secret and status.status in statuses and wanted(status.row)
    ]


# ------------------------------------------------------------------- tokens


def new_token() -> str:
    """A rotation token naming its process: `r-<random>-<pid>-<host>`."""
    host = "".join(c if c.isalnum() else "-" for c in socket.gethostname())[:24] or "host"
    return f"r-{uuid.uuid4().hex[:16]}-{os.getpid()}-{host}"


def _holder_is_gone(pending: PendingInfo, environment: EnvironmentConfig, now: datetime) -> bool:
    """True when the rotation that staged this value cannot still be running."""
    if pending.created is not None and now - pending.created > environment.lock_timeout:
        return True
    parts = pending.token.split("-", 3)
    if len(parts) != 4 or parts[0] != "r" or not parts[2].isdigit():
        return pending.created is None
    host = "".join(c if c.isalnum() else "-" for c in socket.gethostname())[:24] or "host"
    if parts[3] != host:
        return False  # another machine's: only the lock timeout can tell
    try:
        os.kill(int(parts[2]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


# ------------------------------------------------------------------ rotators


def run_step(
    argv: Sequence[str], value: Secret | None, timeout: float, what: str, credential_id: str
) -> str:
    """Run an apply/verify command without a shell, the value on stdin; its stdout back."""
    try:
        completed = subprocess.run(
            list(argv),
            input=value.reveal() if value is not None else "",
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise StepFailed(f"{credential_id}: {what} command not found: {argv[0]}") from None
    except subprocess.TimeoutExpired:
        raise StepFailed(f"{credential_id}: {what} command timed out after {timeout:g} s") from None
    if completed.returncode != 0:
        # the command's own output might echo the value: never repeat it
        raise StepFailed(f"{credential_id}: {what} command exited {completed.returncode}")
    return completed.stdout


@dataclass
class Rotation:
    """One credential's rotation, carried through the protocol."""

    project: Project
    row: Row
    environment: EnvironmentConfig
    backend: Backend
    info: SecretInfo | None
    policy: CredentialTypePolicy
    actor: str
    manual_value: Callable[[Row], Secret | None] | None
    abort: bool
    name: str = ""
    secret_field: str | None = None

    def __post_init__(self) -> None:
        self.name, self.secret_field = secret_name(self.row, self.environment, self.backend)

    def run(self) -> RotationResult:
        """The protocol, under this machine's lock for the credential."""
        lock = self.project.root / ".credctl" / "locks" / f"{slugify(self.row.id)}.lock"
        with try_locked(lock) as taken:
            if not taken:
                raise RotationInProgressError(
                    f"{self.row.id}: a rotation is already in progress (another credctl "
                    "process on this machine)",
                    hint="wait for it to finish",
                )
            return self._run()

    def _run(self) -> RotationResult:
        row = self.row
        pending = self.info.pending if self.info else None
        if self.abort:
            if pending is None:
                return RotationResult(row.id, "skipped", message="no pending value to discard")
            self.backend.discard_pending(self.name)
            return RotationResult(
                row.id, "rolled-back", message="pending value discarded; current value unchanged"
            )
        if pending is not None:
            if not _holder_is_gone(pending, self.environment, utcnow()):
                raise RotationInProgressError(
                    f"{row.id}: a rotation is already in progress",
                    hint="wait for it, or discard it with 'credctl rotate --abort'",
                )
            return self._resume(pending)
        rotator = self.policy.rotator or "manual"
        if rotator == "aws-lambda":
            return self._lambda()
        if self.info is None or self.info.deleted:
            self.backend.create(self.name, metadata_for(row), None)
        token = new_token()
        if rotator == "manual":
            value = self.manual_value(row) if self.manual_value else None
            if value is None:
                return RotationResult(
                    row.id,
                    "needs-person",
                    message="manual rotator: run 'credctl rotate "
                    f"{row.id} --value-from-stdin' or rotate it on a terminal",
                )
            self.backend.put_pending(self.name, value, token, self.secret_field)
        elif rotator == "command" and self.policy.generator is None:
            # the provider issues the value: the command prints it; stage it at once
            assert self.policy.command is not None
            issued = run_step(self.policy.command, None, self._timeout(), "issue", row.id)
            value = Secret(issued.removesuffix("\n"))
            if not value.reveal():
                raise StepFailed(f"{row.id}: the command printed no value")
            self.backend.put_pending(self.name, value, token, self.secret_field)
        else:
            value = self._generated()
            self.backend.put_pending(self.name, value, token, self.secret_field)
            if rotator == "command":
                assert self.policy.command is not None
                self._step(self.policy.command, value, "apply", token)
        if self.policy.verify:
            self._step(self.policy.verify, value, "verify", token)
        return self._promote(token, "rotated")

    def _resume(self, pending: PendingInfo) -> RotationResult:
        """Finish a rotation whose process stopped after staging its value."""
        value = self.backend.read_pending(self.name, pending.token, self.secret_field)
        if value is None:
            self.backend.discard_pending(self.name)
            return self.run_fresh("discarded an unreadable pending value; rotated again")
        if self.policy.rotator == "command" and self.policy.command and self.policy.generator:
            self._step(self.policy.command, value, "apply", pending.token)
        if self.policy.verify:
            self._step(self.policy.verify, value, "verify", pending.token)
        return self._promote(pending.token, "resumed")

    def run_fresh(self, note: str) -> RotationResult:
        self.info = None if self.info is None else _without_pending(self.info)
        result = self._run()
        result.message = f"{note}; {result.message}".strip("; ")
        return result

    def _step(self, argv: Sequence[str], value: Secret, what: str, token: str) -> None:
        try:
            run_step(argv, value, self._timeout(), what, self.row.id)
        except StepFailed as failure:
            try:
                self.backend.discard_pending(self.name, token)
            except BackendError:
                raise StepFailed(
                    f"{failure}; the pending value could not be discarded (resume or "
                    "'credctl rotate --abort' later); the current value is unchanged"
                ) from None
            raise StepFailed(
                f"{failure}; rolled back: pending value discarded, current value unchanged"
            ) from None

    def _promote(self, token: str, outcome: Outcome) -> RotationResult:
        version = self.backend.promote(self.name, token)
        now = utcnow()
        self.backend.set_metadata(
            self.name,
            {
                **metadata_for(self.row),
                META_LAST_ROTATED: format_timestamp(now),
                META_ROTATED_BY: self.actor,
            },
        )
        return RotationResult(self.row.id, outcome, version, f"rotated by {self.actor}")

    def _generated(self) -> Secret:
        if self.policy.generator is None:
            raise ConfigError(
                Problem(
                    "policies",
                    None,
                    f"credential type {self.row.credential_type!r} rotates with "
                    f"'{self.policy.rotator}' but has no generator spec",
                )
            )
        return generate(self.policy.generator)

    def _timeout(self) -> float:
        return self.policy.timeout.total_seconds()

    def _lambda(self) -> RotationResult:
        rotate_with_function = getattr(self.backend, "rotate_with_function", None)
        if rotate_with_function is None or not self.policy.lambda_arn:
            raise ConfigError(
                Problem(
                    "policies",
                    None,
                    f"{self.row.id}: the aws-lambda rotator needs an aws environment and "
                    "'lambda_arn' in the credential type's policy",
                )
            )
        version = rotate_with_function(self.name, self.policy.lambda_arn, self._timeout())
        now = utcnow()
        self.backend.set_metadata(
            self.name, {META_LAST_ROTATED: format_timestamp(now), META_ROTATED_BY: self.actor}
        )
        return RotationResult(self.row.id, "rotated", str(version), "rotated by its Lambda")


def _without_pending(info: SecretInfo) -> SecretInfo:
    from dataclasses import replace

    return replace(info, pending=None)


# ------------------------------------------------------------------- driver


def rotate_all(
    project: Project,
    candidates: Sequence[Candidate],
    backends: Backends,
    actor: str,
    *,
    manual_value: Callable[[Row], Secret | None] | None = None,
    abort: bool = False,
    progress: Callable[[RotationResult], None] | None = None,
) -> list[RotationResult]:
    """Rotate each candidate, concurrently per environment; one failure stops nothing else."""
    results: list[RotationResult] = []
    by_environment: dict[str, list[Row]] = {}
    for candidate in candidates:
        by_environment.setdefault(candidate.row.environment, []).append(candidate.row)
    table_updates: dict[int, dict[str, str]] = {}
    for environment_name, rows in by_environment.items():
        environment = project.environment(environment_name)
        backend = backends.get(environment)
        listing = {info.name: info for info in backend.list_secrets()}
        rotations: list[Rotation | RotationResult] = []
        for row in rows:
            if is_literal_config(row, project):
                rotations.append(
                    RotationResult(row.id, "skipped", message="configuration, not a secret")
                )
                continue
            policy = project.policy.type_policy(row.credential_type) or CredentialTypePolicy()
            rotation = Rotation(
                project, row, environment, backend, None, policy, actor, manual_value, abort
            )
            rotation.info = listing.get(rotation.name)
            rotations.append(rotation)
        workers = max(1, min(environment.concurrency, len(rotations)))
        # a person answers prompts one at a time
        if manual_value is not None:
            workers = 1
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(_run_safely, item): item for item in rotations}
            for future in as_completed(futures):
                result = future.result()
                item = futures[future]
                results.append(result)
                if isinstance(item, Rotation):
                    _record(project, item, result, table_updates)
                if progress is not None:
                    progress(result)
    if table_updates:
        project.table.save(table_updates)
    order = {candidate.row.id: index for index, candidate in enumerate(candidates)}
    return sorted(results, key=lambda r: order.get(r.id, 0))


def _run_safely(item: Rotation | RotationResult) -> RotationResult:
    if isinstance(item, RotationResult):
        return item
    try:
        return item.run()
    except RotationInProgressError as error:
        return RotationResult(item.row.id, "skipped", message=str(error), error=error)
    except StepFailed as error:
        return RotationResult(item.row.id, "failed", message=str(error), error=error)
    except CredctlError as error:
        return RotationResult(item.row.id, "failed", message=str(error), error=error)


def _record(
    project: Project,
    rotation: Rotation,
    result: RotationResult,
    table_updates: dict[int, dict[str, str]],
) -> None:
    if result.outcome in ("needs-person",) or (
        result.outcome == "skipped" and result.error is None
    ):
        return
    record_audit(
        project,
        actor=rotation.actor,
        environment=rotation.environment.name,
        credential_id=rotation.row.id,
        action="abort" if rotation.abort else "rotate",
        version=result.version,
        outcome="ok" if result.error is None else result.outcome,
        message=result.message,
    )
    if result.outcome in ("rotated", "resumed"):
        updates = {"last_rotated": utcnow().strftime("%Y-%m-%d")}
        reference = rotation.backend.reference(rotation.name, rotation.secret_field)
        if rotation.row.reference.strip() != reference:
            updates["reference"] = reference
        table_updates[rotation.row.line] = updates


def exit_code(results: Sequence[RotationResult]) -> int:
    """4 if a rotation failed (rolled back), 3 for a store failure, 1 if one was in progress."""
    codes = {r.error.exit_code for r in results if r.error is not None}
    if 4 in codes:
        return 4
    if 3 in codes:
        return 3
    if codes:
        return max(codes)
    return 0
