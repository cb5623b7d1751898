"""credctl rotate: rotators and the staged, resumable protocol of DESIGN section 4.

For each credential: (1) the new value is stored as pending in the store
before anything outside credctl changes; (2) it is applied and verified;
(3) promoted to current; (4) `last-rotated` and `rotated-by` are recorded in
the store's metadata, the table and the audit log. A pending value left by a
process that died (same host, pid gone) or older than the lock timeout is
resumed by the next run; `--abort` discards it. A pending version credctl
did not stage (an AWS rotation function at work) is never taken over. The
previous value stays readable in the store's history.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from credctl import clock
from credctl.audit import CLOCK_SKEW, Backends, run_audit
from credctl.auditlog import LOG_PATH
from credctl.backends.base import Backend
from credctl.errors import (
    BackendError,
    ConfigError,
    CredctlError,
    NotRecordedError,
    Problem,
    RotationFailedError,
    RotationInProgressError,
    RotationInterruptedError,
    StepTimedOutError,
    UsageError,
)
from credctl.fsutil import try_locked
from credctl.generate import generate
from credctl.model import (
    CredentialTypePolicy,
    EnvironmentConfig,
    PendingInfo,
    Row,
    SecretInfo,
    slugify,
)
from credctl.naming import secret_name
from credctl.policy import is_literal_config, refuse_invalid
from credctl.progress import Progress, Silent
from credctl.project import Project
from credctl.recording import check_can_record, not_recorded_hint, record_audit, save_table
from credctl.render import Styler
from credctl.render.columns import text_table
from credctl.results import Result, pick
from credctl.secret import Secret
from credctl.staging import (
    commit_staged,
    finish_staged,
    metadata_for,
    recorded_metadata,
    refuse_pending,
    staging_token,
    table_updates,
)

Outcome = Literal[
    "rotated", "skipped", "not-due", "needs-person", "failed", "resumed", "rolled-back"
]


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
        return pick(self, "id", "outcome", "version", "message")


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
                c.row.id,
                "skipped",
                message=f"dry run: would rotate ({c.reason}) with {rotator_of(project, c.row)}",
            )
            for c in candidates
        ]
    )


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
    as_of: datetime | None = None,
) -> list[Candidate]:
    """The credentials to rotate: those named, or those due (as of now, or `as_of`)."""
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
        refuse_invalid(project.problems())  # as --due does through the audit
        rows = [project.find_row(credential_id) for credential_id in dict.fromkeys(ids)]
        return [Candidate(row, "requested") for row in rows if wanted(row)]
    report = run_audit(project, project.select(environments), backends, as_of=as_of)
    statuses = {"overdue"} | ({"due-soon"} if include_due_soon else set())
    chosen = []
    for status in report.credentials:
        if not status.secret or not wanted(status.row):
            continue
        if status.status in statuses:
            chosen.append(Candidate(status.row, status.status.replace("-", " ")))
        elif any(f.code == "rotation-in-progress" for f in status.findings):
            # a rotation that died after staging its value: finish or roll it back
            chosen.append(Candidate(status.row, "interrupted rotation"))
    return chosen


def rotator_of(project: Project, row: Row) -> str:
    """The rotator of a row's credential type (manual when the policy names none)."""
    policy = project.policy.type_policy(row.credential_type)
    return (policy.rotator if policy else None) or "manual"


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
    value_from_stdin: bool = False  # one manual credential, its value from `manual_value`


def rotate(
    project: Project,
    backends: Backends,
    request: RotationRequest,
    actor: str,
    *,
    manual_value: Callable[[Row], Secret | None] | None = None,
    progress: Progress | None = None,
) -> RotationReport:
    """Choose the credentials and rotate them (or, in a dry run, say what would rotate).

    `manual_value` asks a person for a manual rotator's value (None: nobody to ask).
    """
    if request.as_of is not None and not (request.due and request.dry_run):
        raise UsageError(
            "--as-of only previews: use it with --due --dry-run (a rotation happens now)"
        )
    candidates = select(
        project,
        backends,
        ids=request.credential_ids,
        due=request.due,
        include_due_soon=request.include_due_soon,
        environments=request.environments,
        services=request.services,
        types=request.types,
        as_of=request.as_of,
    )
    if request.dry_run:
        return preview(project, candidates)
    if request.value_from_stdin and manual_value is not None:
        check_value_from_stdin(project, candidates)
        given = manual_value(candidates[0].row)  # read and checked before any store is touched
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
    row = candidates[0].row
    rotator = rotator_of(project, row)
    if rotator != "manual":
        raise UsageError(
            f"--value-from-stdin is for the manual rotator; {row.id} rotates with "
            f"'{rotator}' (to store a value of your choice, use 'credctl set {row.id}')"
        )


# ------------------------------------------------------------------ rotators


def run_step(
    argv: Sequence[str], value: Secret | None, timeout: float, what: str, credential_id: str
) -> str:
    """Run an apply/verify command without a shell, the value on stdin; its stdout back."""
    try:
        # its own process group: on timeout the whole group goes, including children
        # that would otherwise hold its output open and keep credctl waiting
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    except FileNotFoundError:
        raise RotationFailedError(f"{credential_id}: {what} command not found: {argv[0]}") from None
    except OSError as error:
        raise RotationFailedError(
            f"{credential_id}: cannot run the {what} command {argv[0]}: {error.strerror}"
        ) from None
    try:
        stdout, _ = process.communicate(value.reveal() if value is not None else "", timeout)
    except subprocess.TimeoutExpired:
        _stop(process)
        raise StepTimedOutError(
            f"{credential_id}: {what} command timed out after {timeout:g} s"
        ) from None
    except BaseException:
        # Ctrl-C or anything else: never leave the command running behind credctl
        # (its own session does not get the terminal's SIGINT)
        _stop(process)
        raise
    if process.returncode != 0:
        # the command's own output might echo the value: never repeat it
        raise RotationFailedError(f"{credential_id}: {what} command exited {process.returncode}")
    return stdout


def _stop(process: subprocess.Popen[str]) -> None:
    """Kill a step's whole process group and reap it, without waiting on stray pipes."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    try:
        process.communicate(timeout=5)
    except subprocess.TimeoutExpired:  # a descendant left the group and holds the pipes
        for pipe in (process.stdin, process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()
        process.wait()


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
    started: datetime  # when this run started: a rotation committed since is not repeated
    name: str = ""
    secret_field: str | None = None
    committed_at: datetime | None = None
    committed_token: str | None = None  # staged mark to clear once the change is recorded

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
            self._refresh()
            return self._run()

    def _refresh(self) -> None:
        """Decide from the store as it is now, under the lock, not from the earlier listing."""
        fresh = self.backend.secret_info(self.name)
        listed = self.info
        self.info = fresh
        if self.abort or fresh is None or fresh.pending is not None:
            return
        if listed is not None and fresh.current_version != listed.current_version:
            # another run finished rotating it between our listing and our lock
            raise self._overtaken(fresh)
        if self._rotated_since_start(fresh):
            raise self._overtaken(fresh)

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
            f"{self.row.id}: rotated by another run since this one started (version "
            f"{info.current_version}); not rotated again",
            hint="check 'credctl audit' before rotating it once more",
        )

    def _stage_generated(self, value: Secret, token: str) -> None:
        """Stage a value credctl made; a race lost to another run's commit drops it again.

        Nothing outside credctl has seen the value yet, so it can still be taken back: a
        run that committed since this one started, found now that this value holds the
        pending slot, means this run came second.
        """
        self.backend.put_pending(self.name, value, token, self.secret_field)
        fresh = self.backend.secret_info(self.name)
        if fresh is not None and self._rotated_since_start(fresh):
            self.backend.discard_pending(self.name, token)
            raise self._overtaken(fresh)

    def _run(self) -> RotationResult:
        row = self.row
        pending = self.info.pending if self.info else None
        if self.abort:
            if pending is None:
                return RotationResult(row.id, "skipped", message="no pending value to discard")
            self.backend.discard_pending(self.name)
            if pending.promoted:
                return RotationResult(
                    row.id,
                    "rolled-back",
                    message="staged mark cleared; the new value was current already and "
                    "stays (its rotation is not recorded)",
                )
            return RotationResult(
                row.id, "rolled-back", message="pending value discarded; current value unchanged"
            )
        if pending is not None:
            refusal = refuse_pending(row, pending, self.environment)
            if refusal is not None:
                raise refusal
            return self._resume(pending)
        rotator = self.policy.rotator or "manual"
        if rotator == "aws-lambda":
            return self._lambda()
        if self.info is not None and self.info.rotated_by_store:
            # AWS's rotation function would race credctl's staged value for AWSPENDING
            raise ConfigError(
                Problem(
                    self.row.file,
                    self.row.line,
                    f"{row.id}: AWS rotates this secret itself (RotationEnabled), so credctl's "
                    f"'{rotator}' rotator would race its rotation function; use the "
                    "'aws-lambda' rotator for this type, or turn AWS's rotation off",
                )
            )
        given: Secret | None = None
        if rotator == "manual":
            given = self.manual_value(row) if self.manual_value else None
            if given is None:
                return RotationResult(
                    row.id,
                    "needs-person",
                    message="manual rotator: run 'credctl rotate "
                    f"{row.id} --value-from-stdin' or rotate it on a terminal",
                )
        if self.info is None or self.info.deleted:
            self.backend.create(self.name, metadata_for(row), None)
        token = staging_token()
        if given is not None:
            value = given
            self.backend.put_pending(self.name, value, token, self.secret_field)
        elif rotator == "command" and self.policy.generator is None:
            # The provider issues the value and the command prints it. The provider has
            # changed already, so stage it at once (nothing can come first here).
            assert self.policy.command is not None
            try:
                issued = run_step(self.policy.command, None, self._timeout(), "issue", row.id)
            except StepTimedOutError as failure:
                raise RotationInterruptedError(
                    f"{failure}; the provider may have issued a new value that credctl never "
                    "received",
                    hint="check the provider: if it changed, store its value with "
                    f"'credctl set {row.id}'",
                ) from None
            value = Secret(issued.removesuffix("\n"))
            if not value.reveal():
                raise RotationFailedError(f"{row.id}: the issue command printed no value")
            self.backend.put_pending(self.name, value, token, self.secret_field)
        else:
            value = self._generated()
            self._stage_generated(value, token)
            if rotator == "command":
                assert self.policy.command is not None
                self._step(self.policy.command, value, "apply", token)
        if self.policy.verify:
            self._step(self.policy.verify, value, "verify", token)
        return self._commit(token, "rotated")

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
        if self.policy.rotator == "command" and self.policy.command and self.policy.generator:
            # the provider may or may not have received it before the crash: apply again
            self._step(self.policy.command, value, "apply", pending.token)
        if self.policy.verify:
            self._step(self.policy.verify, value, "verify", pending.token)
        return self._commit(pending.token, "resumed")

    def _again(self, note: str) -> RotationResult:
        if self.info is not None:
            self.info = replace(self.info, pending=None)
        result = self._run()
        result.message = f"{note}; {result.message}" if result.message else note
        return result

    def _step(self, argv: Sequence[str], value: Secret, what: str, token: str) -> None:
        try:
            run_step(argv, value, self._timeout(), what, self.row.id)
        except StepTimedOutError as failure:
            applied_here = what == "apply" or self.policy.rotator == "command"
            if not applied_here:
                raise self._rolled_back(failure, token) from None
            # The provider may have the new value (applied, or taken before the command
            # was stopped): dropping it could leave the store with a value that no longer works.
            raise RotationInterruptedError(
                f"{failure}; the new value is kept as pending, as the provider may already use it",
                hint=f"run 'credctl rotate {self.row.id}' to apply, verify and promote it "
                "again, or add --abort to drop it",
            ) from None
        except RotationFailedError as failure:
            raise self._rolled_back(failure, token) from None

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
        committed = commit_staged(self.backend, self.name, token, self.row, self.actor)
        self.committed_at = committed.at
        if committed.metadata_error is not None:
            # the staged mark stays: the next rotate records it instead of rotating again
            return RotationResult(
                self.row.id,
                outcome,
                committed.version,
                f"rotated by {self.actor}, but the store's last-rotated metadata could not "
                f"be written: {committed.metadata_error} (hint: run 'credctl rotate "
                f"{self.row.id}' to record it; it is not rotated again)",
                error=committed.metadata_error,
            )
        self.committed_token = token
        done = f"rotated by {self.actor}"
        if outcome == "resumed":
            done = f"interrupted rotation finished; {done}"
        return RotationResult(self.row.id, outcome, committed.version, done)

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
        version = str(rotate_with_function(self.name, self.policy.lambda_arn, self._timeout()))
        self.committed_at = clock.now()
        try:
            self.backend.set_metadata(
                self.name, recorded_metadata(self.row, self.actor, self.committed_at)
            )
        except BackendError as error:
            return RotationResult(
                self.row.id,
                "rotated",
                version,
                f"rotated by its function, but the store's metadata could not be written: {error}",
                error=error,
            )
        return RotationResult(self.row.id, "rotated", version, "rotated by its function")


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
    started: datetime | None = None,
) -> list[RotationResult]:
    """Rotate each candidate, concurrently per environment; one failure stops nothing else.

    `started`: when the run began (default: now). A credential whose rotation another
    run committed after that moment is skipped, not rotated a second time.
    """
    started = started or clock.now()
    results: list[RotationResult] = []
    committed: list[tuple[Rotation, RotationResult]] = []
    by_environment: dict[str, list[Row]] = {}
    for candidate in candidates:
        by_environment.setdefault(candidate.row.environment, []).append(candidate.row)
    if by_environment:
        check_can_record(project, "rotate")
    updates: dict[str, dict[str, str]] = {}
    updated_by: dict[str, RotationResult] = {}
    for environment_name, rows in by_environment.items():
        environment = project.environment(environment_name)
        try:
            backend = backends.get(environment)
            listing = {info.name: info for info in backend.list_secrets()}
        except CredctlError as error:
            # this store is out of reach: its credentials fail, the other stores go on
            for row in rows:
                failed = RotationResult(row.id, "failed", message=str(error), error=error)
                results.append(failed)
                if progress is not None:
                    progress(failed)
            continue
        work: list[Rotation | RotationResult] = []
        for row in rows:
            if is_literal_config(row, project):
                work.append(
                    RotationResult(row.id, "skipped", message="configuration, not a secret")
                )
                continue
            policy = project.policy.type_policy(row.credential_type) or CredentialTypePolicy()
            rotation = Rotation(
                project,
                row,
                environment,
                backend,
                None,
                policy,
                actor,
                manual_value,
                abort,
                started,
            )
            rotation.info = listing.get(rotation.name)
            work.append(rotation)
        workers = max(1, min(environment.concurrency, len(work)))
        if manual_value is not None:
            workers = 1  # a person answers prompts one at a time
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(_run_safely, item): item for item in work}
            for future in as_completed(futures):
                result = future.result()
                item = futures[future]
                results.append(result)
                if isinstance(item, Rotation):
                    _record(project, item, result, updates)
                    if item.row.id in updates:
                        updated_by[item.row.id] = result
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
                (item, result) for item, result in committed if item.row.id not in updated_by
            ]
    _finish(committed)
    order = {candidate.row.id: index for index, candidate in enumerate(candidates)}
    return sorted(results, key=lambda r: order.get(r.id, 0))


def _finish(committed: Sequence[tuple[Rotation, RotationResult]]) -> None:
    """Clear the staged marks of rotations now recorded in the store, log and table."""

    def finish(rotation: Rotation, result: RotationResult) -> None:
        assert rotation.committed_token is not None
        again = f"credctl rotate {rotation.row.id}"
        try:
            finish_staged(
                rotation.backend, rotation.name, rotation.committed_token, rotation.row, again
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


def _run_safely(item: Rotation | RotationResult) -> RotationResult:
    if isinstance(item, RotationResult):
        return item
    try:
        return item.run()
    except RotationInProgressError as error:
        return RotationResult(item.row.id, "skipped", message=_one_line(error), error=error)
    except CredctlError as error:
        return RotationResult(item.row.id, "failed", message=_one_line(error), error=error)


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
        record_audit(
            project,
            actor=rotation.actor,
            environment=rotation.environment.name,
            credential_id=rotation.row.id,
            action="abort" if rotation.abort else "rotate",
            version=result.version,
            outcome="ok" if completed else result.outcome,
            message=result.message,
        )
    except OSError as error:
        _not_recorded(
            result,
            f"the audit log entry ({LOG_PATH}: {error.strerror})",
            project,
            table_missing=False,
        )
    if result.outcome in ("rotated", "resumed") and rotation.committed_at is not None:
        updates[rotation.row.id] = table_updates(
            rotation.row,
            rotation.backend,
            rotation.name,
            rotation.secret_field,
            rotation.committed_at,
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
