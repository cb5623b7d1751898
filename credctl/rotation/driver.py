"""`credctl rotate`: which credentials rotate (named, or due), each through the staged
protocol, concurrently per environment; what happened to each, and the exit code.

A credential whose rotation another run committed since this one started is not
rotated again; one store out of reach fails its own credentials only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from credctl import auditlog, clock
from credctl.audit import CredentialStatus, run_audit
from credctl.auditlog import LOG_PATH, Entry
from credctl.backends.pool import Backends
from credctl.credential import Credential
from credctl.errors import (
    BackendError,
    CredctlError,
    NotRecordedError,
    RotationInProgressError,
    UsageError,
)
from credctl.model import CredentialTypePolicy
from credctl.policy import refuse_invalid
from credctl.progress import Progress, Silent
from credctl.project import Project
from credctl.recording import check_can_record, not_recorded_hint, save_table
from credctl.render import Styler
from credctl.render.columns import text_table
from credctl.results import Result
from credctl.rotation.protocol import Rotation, RotationResult
from credctl.rotation.rotators import DEFAULT, ROTATORS
from credctl.secret import Secret
from credctl.staging import (
    finish_staged,
    table_updates,
)
from credctl.turnover import TURNOVER_CODES


@dataclass
class Candidate:
    credential: Credential
    reason: str  # why it is chosen: "overdue", "due soon", "requested"


OUTCOME_COLOURS = {
    "rotated": "green",
    "resumed": "green",
    "failed": "red",
    "needs-person": "yellow",
}


@dataclass
class RotationReport(Result):
    """What `rotate` did (or, in a dry run, would do) to each credential."""

    results: list[RotationResult]

    def as_json(self) -> dict[str, Any]:
        return {"results": [result.as_json() for result in self.results]}

    def as_text(self, style: Styler) -> str:
        if not self.results:
            return ""
        rows = [
            [
                r.id,
                style(r.outcome, OUTCOME_COLOURS.get(r.outcome, "white")),
                r.version or "",
                r.message,
            ]
            for r in self.results
        ]
        return text_table(["ID", "OUTCOME", "VERSION", "MESSAGE"], rows)

    def notes(self) -> list[str]:
        if not self.results:
            return ["Nothing to rotate."]
        failed = [r for r in self.results if r.error is not None]
        if self.exit_code():
            return [f"{len(failed)} of {len(self.results)} rotations did not complete cleanly."]
        return []

    def exit_code(self) -> int:
        return exit_code(self.results)


def preview(project: Project, candidates: Sequence[Candidate]) -> RotationReport:
    """A dry run: what would rotate, why, and with which rotator."""
    return RotationReport(
        [
            RotationResult(
                c.credential.id,
                "skipped",
                message=f"dry run: would rotate ({c.reason}) with {rotator_of(project, c.credential)}",
            )
            for c in candidates
        ]
    )


# ----------------------------------------------------------------- selection


@dataclass(frozen=True)
class RotationRequest:
    """What `credctl rotate` was asked: which credentials, and how."""

    credential_ids: Sequence[str] = ()
    due: bool = False
    include_due_soon: bool = False
    environments: Sequence[str] = ()
    services: Sequence[str] = ()
    types: Sequence[str] = ()
    dry_run: bool = False
    as_of: datetime | None = None
    abort: bool = False
    force: bool = False  # with abort: discard a pending value another tool staged too
    value_from_stdin: bool = False  # one manual credential, its value from `manual_value`


def select(
    project: Project,
    backends: Backends,
    request: RotationRequest,
    progress: Progress | None = None,
) -> list[Candidate]:
    """The credentials to rotate: those named, or those due (as of now, or `as_of`)."""
    ids, environments = request.credential_ids, request.environments
    if not ids and not request.due:
        raise UsageError("name the credentials to rotate (ENV/SERVICE/TYPE) or pass --due")
    chosen_environments = {e.name for e in project.select(environments)}

    def wanted(credential: Credential) -> bool:
        return credential.environment in chosen_environments and credential.matches(
            request.services, request.types
        )

    if ids:
        refuse_invalid(project.problems())  # as --due does through the audit
        credentials = [project.find(credential_id) for credential_id in dict.fromkeys(ids)]
        return [
            Candidate(credential, "requested") for credential in credentials if wanted(credential)
        ]
    report = run_audit(
        project, project.select(environments), backends, as_of=request.as_of, progress=progress
    )
    statuses = {"overdue"} | ({"due-soon"} if request.include_due_soon else set())
    chosen = []
    for status in report.credentials:
        if not status.secret or not wanted(status.credential):
            continue
        reason = _reason(status, statuses)
        if reason is not None:
            chosen.append(Candidate(status.credential, reason))
    return chosen


def _reason(status: CredentialStatus, statuses: set[str]) -> str | None:
    """Why `rotate --due` rotates a credential, or None: it expired, its team changed
    (whatever its schedule says), it is due, or a rotation of it died after staging."""
    codes = {f.code for f in status.findings}
    for code in ("expired", *TURNOVER_CODES):
        if code in codes:
            return code.replace("-", " ")
    if status.status in statuses:
        return status.status.replace("-", " ")
    if "rotation-in-progress" in codes:
        return "interrupted rotation"  # finish it, or roll it back
    return None


def rotator_of(project: Project, credential: Credential) -> str:
    """The rotator of a credential's type (manual when the policy names none)."""
    policy = credential.type_policy
    return (policy.rotator if policy else None) or DEFAULT


def rotate(
    project: Project,
    backends: Backends,
    request: RotationRequest,
    actor: str,
    *,
    manual_value: Callable[[Credential], Secret | None] | None = None,
    progress: Progress | None = None,
) -> RotationReport:
    """Choose the credentials and rotate them (or, in a dry run, say what would rotate).

    `manual_value` asks a person for a manual rotator's value (None: nobody to ask).
    """
    if request.as_of is not None and not (request.due and request.dry_run):
        raise UsageError(
            "--as-of only previews: use it with --due --dry-run (a rotation happens now)"
        )
    if request.force and not request.abort:
        raise UsageError(
            "--force goes with --abort: it discards a pending value another tool staged"
        )
    candidates = select(project, backends, request, progress)
    if request.dry_run:
        return preview(project, candidates)
    if request.value_from_stdin and manual_value is not None:
        check_value_from_stdin(project, candidates)
        given = manual_value(
            candidates[0].credential
        )  # read and checked before any store is touched
        manual_value = lambda _row: given  # noqa: E731
    progress = progress or Silent()
    progress.begin(len(candidates), "rotating")
    try:
        results = rotate_all(
            project,
            candidates,
            backends,
            actor,
            manual_value=manual_value,
            abort=request.abort,
            force=request.force,
            progress=lambda _result: progress.advance(),
            started=clock.run_started(),
        )
    finally:
        progress.end()
    return RotationReport(results)


def check_value_from_stdin(project: Project, candidates: Sequence[Candidate]) -> None:
    """`--value-from-stdin` gives one value to one credential that a person rotates."""
    if len(candidates) != 1:
        raise UsageError("--value-from-stdin rotates exactly one credential")
    credential = candidates[0].credential
    rotator = rotator_of(project, credential)
    if not ROTATORS[rotator].person:
        raise UsageError(
            f"--value-from-stdin is for the manual rotator; {credential.id} rotates with "
            f"'{rotator}' (to store a value of your choice, use 'credctl set {credential.id}')"
        )


# ------------------------------------------------------------------ rotators


# ------------------------------------------------------------------- driver


def rotate_all(
    project: Project,
    candidates: Sequence[Candidate],
    backends: Backends,
    actor: str,
    *,
    manual_value: Callable[[Credential], Secret | None] | None = None,
    abort: bool = False,
    force: bool = False,
    progress: Callable[[RotationResult], None] | None = None,
    started: datetime | None = None,
) -> list[RotationResult]:
    """Rotate each candidate, concurrently per environment; one failure stops nothing else.
    Rows on fields of one secret rotate one after another (a secret has one pending slot).

    `started`: when the run began (default: now). A credential whose rotation another
    run committed after that moment is skipped, not rotated a second time.
    """
    started = started or clock.now()
    results: list[RotationResult] = []
    committed: list[tuple[Rotation, RotationResult]] = []
    by_environment: dict[str, list[Credential]] = {}
    for candidate in candidates:
        by_environment.setdefault(candidate.credential.environment, []).append(candidate.credential)
    if by_environment:
        check_can_record(project, "rotate")
    updates: dict[str, dict[str, str]] = {}
    updated_by: dict[str, RotationResult] = {}
    for environment_name, credentials in by_environment.items():
        environment = project.environment(environment_name)
        try:
            backend = backends.get(environment)
            listing = {info.name: info for info in backend.list_secrets()}
        except CredctlError as error:
            # this store is out of reach: its credentials fail, the other stores go on
            for credential in credentials:
                failed = RotationResult(credential.id, "failed", message=str(error), error=error)
                results.append(failed)
                if progress is not None:
                    progress(failed)
            continue
        work: list[Rotation | RotationResult] = []
        for credential in credentials:
            if credential.is_config:
                work.append(
                    RotationResult(credential.id, "skipped", message="configuration, not a secret")
                )
                continue
            policy = credential.type_policy or CredentialTypePolicy()
            rotation = Rotation(
                project,
                credential,
                environment,
                backend,
                None,
                policy,
                actor,
                manual_value,
                abort,
                started,
                force,
            )
            rotation.info = listing.get(rotation.name)
            work.append(rotation)
        groups: dict[str, list[Rotation | RotationResult]] = {}
        for index, item in enumerate(work):
            key = item.name if isinstance(item, Rotation) else f"#{index}"
            groups.setdefault(key, []).append(item)
        workers = max(1, min(environment.concurrency, len(groups)))
        if manual_value is not None:
            workers = 1  # a person answers prompts one at a time
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(_run_in_turn, project, group) for group in groups.values()]
            for future in as_completed(futures):
                for item, result, recorded in future.result():
                    results.append(result)
                    if isinstance(item, Rotation) and not recorded:
                        _record(project, item, result, updates)
                        if item.credential.id in updates:
                            updated_by[item.credential.id] = result
                        if item.committed_token is not None:
                            committed.append((item, result))
                    if progress is not None:
                        progress(result)
    if updates:
        _, problem = save_table(project, updates)
        if problem is not None:
            for result in updated_by.values():
                _not_recorded(result, problem, project, table_missing=True)
            # not recorded in the table: the store keeps them marked as staged for sync
            committed = [
                (item, result) for item, result in committed if item.credential.id not in updated_by
            ]
    _finish(committed)
    order = {candidate.credential.id: index for index, candidate in enumerate(candidates)}
    return sorted(results, key=lambda r: order.get(r.id, 0))


def _finish(committed: Sequence[tuple[Rotation, RotationResult]]) -> None:
    """Clear the staged marks of rotations now recorded in the store, log and table."""

    def finish(rotation: Rotation, result: RotationResult) -> None:
        assert rotation.committed_token is not None
        again = f"credctl rotate {rotation.credential.id}"
        try:
            finish_staged(
                rotation.backend,
                rotation.name,
                rotation.committed_token,
                rotation.credential,
                again,
            )
        except BackendError as error:
            result.error = error
            result.message = f"{result.message}; {_one_line(error)}"

    if not committed:
        return
    workers = max(rotation.environment.concurrency for rotation, _ in committed)
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(committed)))) as pool:
        for future in [pool.submit(finish, *pair) for pair in committed]:
            future.result()


def _run_in_turn(
    project: Project, group: Sequence[Rotation | RotationResult]
) -> list[tuple[Rotation | RotationResult, RotationResult, bool]]:
    """The rotations of one secret's rows, one after another: each but the last is recorded
    (log, table) and its staged mark cleared before the next stages its value in the
    secret's one pending slot. Each: the item, its result, whether it is recorded."""
    done: list[tuple[Rotation | RotationResult, RotationResult, bool]] = []
    for index, item in enumerate(group):
        if index and isinstance(item, Rotation):
            item.info = None  # the listing is older than the rotation just made
        result = _run_safely(item)
        recorded = isinstance(item, Rotation) and index < len(group) - 1
        if recorded:
            assert isinstance(item, Rotation)
            _record_now(project, item, result)
        done.append((item, result, recorded))
    return done


def _record_now(project: Project, rotation: Rotation, result: RotationResult) -> None:
    """Record one rotation and clear its staged mark at once (see `_run_in_turn`)."""
    updates: dict[str, dict[str, str]] = {}
    _record(project, rotation, result, updates)
    if updates:
        _, problem = save_table(project, updates)
        if problem is not None:
            # not in the table: the store keeps it marked as staged for sync
            _not_recorded(result, problem, project, table_missing=True)
            return
    if rotation.committed_token is not None:
        _finish([(rotation, result)])


def _run_safely(item: Rotation | RotationResult) -> RotationResult:
    if isinstance(item, RotationResult):
        return item
    try:
        return item.run()
    except RotationInProgressError as error:
        return RotationResult(item.credential.id, "skipped", message=_one_line(error), error=error)
    except CredctlError as error:
        return RotationResult(item.credential.id, "failed", message=_one_line(error), error=error)


def _one_line(error: CredctlError) -> str:
    hint = getattr(error, "hint", None)
    return f"{error} (hint: {hint})" if hint else str(error)


def _record(
    project: Project,
    rotation: Rotation,
    result: RotationResult,
    updates: dict[str, dict[str, str]],
) -> None:
    """The audit log entry and table cells of one finished rotation."""
    if result.outcome == "needs-person" or (result.outcome == "skipped" and result.error is None):
        return
    completed = result.outcome in ("rotated", "resumed", "rolled-back")
    try:
        auditlog.append(
            project.root,
            Entry(
                rotation.actor,
                rotation.environment.name,
                rotation.credential.id,
                "abort" if rotation.abort else "rotate",
                result.version,
                "ok" if completed else result.outcome,
                result.message,
            ),
        )
    except OSError as error:
        _not_recorded(
            result,
            f"the audit log entry ({LOG_PATH}: {error.strerror})",
            project,
            table_missing=False,
        )
    if result.outcome in ("rotated", "resumed") and rotation.committed_at is not None:
        updates[rotation.credential.id] = table_updates(
            rotation.credential,
            rotation.backend,
            rotation.name,
            rotation.secret_field,
            rotation.committed_at,
            rotation.expiry,
        )


def _not_recorded(
    result: RotationResult, what: str, project: Project, *, table_missing: bool
) -> None:
    """A finished rotation whose record could not be written: say so, never as a failure."""
    hint = not_recorded_hint(project, "rotate", table_missing=table_missing)
    result.message = f"{result.message}; but {what} could not be written ({hint})"
    if result.error is None:
        done = (
            f"rotated (version {result.version})"
            if result.outcome in ("rotated", "resumed")
            else result.outcome
        )
        result.error = NotRecordedError(
            f"{result.id}: {done}, but {what} could not be written", hint=hint
        )


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
