"""Reading and writing credential values: env entries, `get`, `set`."""

from __future__ import annotations

import getpass
import logging
import os
import socket
import tempfile
import time
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from credctl import auditlog, clock
from credctl.audit import env_var_name, is_literal_config, refuse_invalid, secret_name
from credctl.backends.base import Backend
from credctl.backends.pool import Backends
from credctl.errors import (
    BackendError,
    ConfigError,
    NotRecordedError,
    Problem,
    RotationInProgressError,
    UsageError,
)
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
    Ref,
    Row,
    SecretInfo,
    parse_reference,
    slugify,
)
from credctl.policy import reference_problems
from credctl.project import Project
from credctl.schedule import format_instant
from credctl.secret import Secret

CI_ACTOR_VARIABLES = (
    "GITHUB_ACTOR",
    "GITLAB_USER_LOGIN",
    "BUILDKITE_BUILD_CREATOR",
    "CIRCLE_USERNAME",
    "BITBUCKET_STEP_TRIGGERER_UUID",
    "BUILD_REQUESTEDFOR",  # Azure Pipelines
)

log = logging.getLogger("credctl")


def resolve_actor(explicit: str | None) -> str:
    """`--actor`, else `CREDCTL_ACTOR` (settings), else the CI's actor, else the OS user.

    The actor lands in store metadata and in the log's lines: a control character
    (a line break, an escape sequence) could forge them, so it is refused.
    """
    if explicit:
        return _checked_actor(explicit, "--actor / CREDCTL_ACTOR")
    for variable in CI_ACTOR_VARIABLES:
        if os.environ.get(variable):
            return _checked_actor(os.environ[variable], f"${variable}")
    try:
        return _checked_actor(getpass.getuser(), "the OS user name")
    except (KeyError, OSError):
        return "unknown"


def _checked_actor(actor: str, source: str) -> str:
    for character in actor:
        if unicodedata.category(character) in ("Cc", "Cf", "Zl", "Zp"):
            raise UsageError(
                f"the actor from {source} contains a control character "
                f"(U+{ord(character):04X}); an actor is a name such as alice or ci-bot",
                hint="pass a plain name: --actor NAME",
            )
    return actor


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


def row_reference(
    project: Project, row: Row, environment: EnvironmentConfig, backends: Backends
) -> Ref:
    # a dev row into prod's prefix would put prod's value in dev's env file
    problems = reference_problems(row, environment, project.environments.values())
    if problems:
        raise ConfigError(problems)
    backend = backends.get(environment)
    name, field = secret_name(row, environment, backend)
    parsed = parse_reference(backend.reference(name, field))
    assert parsed is not None
    return parsed


@dataclass
class EnvEntry:
    name: str
    value: Secret
    credential_id: str


def collect_env(
    project: Project,
    environment: EnvironmentConfig,
    backends: Backends,
    *,
    services: Sequence[str] = (),
    types: Sequence[str] = (),
    only: Sequence[str] = (),
    include_config: bool = True,
) -> list[EnvEntry]:
    """The variables of one environment, all read before anything is written."""
    service_slugs = {slugify(s) for s in services}
    type_slugs = {slugify(t) for t in types}
    chosen: list[tuple[Row, str]] = []
    for row in project.rows_in(environment):
        if service_slugs and slugify(row.service) not in service_slugs:
            continue
        if type_slugs and slugify(row.credential_type) not in type_slugs:
            continue
        name = env_var_name(row, environment)
        if only and name not in only:
            continue
        if is_literal_config(row, project) and not include_config:
            continue
        chosen.append((row, name))
    unknown = sorted(set(only) - {name for _, name in chosen})
    if unknown:
        raise UsageError(f"--only names no credential of {environment.name}: {', '.join(unknown)}")
    first_by_name: dict[str, Row] = {}
    problems = []
    for row, name in chosen:
        if name in first_by_name:
            problems.append(
                Problem(
                    row.file,
                    row.line,
                    f"{row.id} and {first_by_name[name].id} (line {first_by_name[name].line}) "
                    f"both map to the variable {name}",
                    "duplicate-env-var",
                )
            )
        first_by_name.setdefault(name, row)
    if problems:
        raise ConfigError(problems)
    refs = {
        row.line: row_reference(project, row, environment, backends)
        for row, _ in chosen
        if not is_literal_config(row, project)
    }
    started = time.perf_counter()
    results = backends.get(environment).read_values(list(refs.values())) if refs else {}
    log.info(
        "%s: read %d values in %.2f s",
        environment.name,
        len(results),
        time.perf_counter() - started,
    )
    failures = []
    entries = []
    for row, name in chosen:
        if row.line not in refs:
            entries.append(EnvEntry(name, Secret(row.reference.strip()), row.id))
            continue
        result = results[refs[row.line]]
        if isinstance(result, BackendError):
            failures.append(f"{row.id} ({result})")
            continue
        entries.append(EnvEntry(name, result, row.id))
    if failures:
        raise BackendError(
            f"cannot read {len(failures)} credential(s) of {environment.name}, no file written: "
            + "; ".join(failures[:5])
            + (f"; and {len(failures) - 5} more" if len(failures) > 5 else "")
        )
    return entries


def environment_of(project: Project, row: Row) -> EnvironmentConfig:
    return project.environment(row.environment)


def get_value(project: Project, row: Row, backends: Backends) -> Secret:
    environment = environment_of(project, row)
    if is_literal_config(row, project):
        return Secret(row.reference.strip())
    ref = row_reference(project, row, environment, backends)
    result = backends.get(environment).read_values([ref])[ref]
    if isinstance(result, BackendError):
        raise result
    return result


def metadata_for(row: Row) -> dict[str, str]:
    """The credctl metadata a row puts on its secret."""
    metadata = {
        META_MANAGED: "true",
        META_SERVICE: row.service,
        META_TYPE: row.credential_type,
        META_SCHEDULE: row.schedule,
    }
    if row.owner:
        metadata[META_OWNER] = row.owner
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


PendingState = Literal["abandoned", "running", "foreign"]


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
    row: Row, pending: PendingInfo, environment: EnvironmentConfig
) -> RotationInProgressError | None:
    """Why a staged value may not be taken over now; None when its run is gone."""
    state = pending_state(pending, environment, clock.now())
    if state == "foreign":
        return RotationInProgressError(
            f"{row.id}: the store holds a pending version that credctl did not stage "
            "(a rotation function still running?)",
            hint=f"if nothing is rotating it, discard it: credctl rotate {row.id} --abort",
        )
    if state == "running":
        return RotationInProgressError(
            f"{row.id}: a rotation is already in progress",
            hint="wait for it, or discard it with 'credctl rotate --abort'",
        )
    return None


def recorded_metadata(row: Row, actor: str, at: datetime) -> dict[str, str]:
    """The metadata a committed change writes: the row's, last-rotated and rotated-by."""
    return {**metadata_for(row), META_LAST_ROTATED: format_instant(at), META_ROTATED_BY: actor}


@dataclass
class Committed:
    """A promoted value: its version, when, and whether the metadata write failed."""

    version: str
    at: datetime
    metadata_error: BackendError | None = None


def commit_staged(backend: Backend, name: str, token: str, row: Row, actor: str) -> Committed:
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
        backend.set_metadata(name, recorded_metadata(row, actor, now))
    except BackendError as error:
        return Committed(version, now, error)
    return Committed(version, now)


def finish_staged(backend: Backend, name: str, token: str, row: Row, again: str) -> None:
    """Clear the staged mark of a committed, recorded value (see `commit_staged`)."""
    try:
        backend.discard_pending(name, token)
    except BackendError as error:
        raise BackendError(
            f"{row.id}: the new value is current and recorded, but the store still marks "
            f"it as staged: {error}",
            hint=f"run '{again}' again to finish it (nothing is written twice)",
        ) from None


def finish_promoted(backend: Backend, info: SecretInfo, row: Row, actor: str) -> datetime | None:
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
        backend.set_metadata(info.name, recorded_metadata(row, actor, recorded))
    backend.discard_pending(info.name, pending.token)
    return recorded


def table_updates(
    row: Row, backend: Backend, name: str, field: str | None, at: datetime
) -> dict[str, str]:
    """The table cells a committed value changes: Last Rotated, and the reference if empty."""
    updates = {"last_rotated": at.strftime("%Y-%m-%d")}
    reference = backend.reference(name, field)
    if row.reference.strip() != reference:
        updates["reference"] = reference
    return updates


@dataclass(frozen=True)
class Stored:
    """What `set` did: the current version, and whether the value given was new."""

    version: str
    changed: bool = True


def set_value(project: Project, row: Row, backends: Backends, value: Secret, actor: str) -> Stored:
    """Store a new value now, staged like a rotation; the value already stored is no change.

    A value staged by a set or rotation whose process is gone is taken over: finished
    when it is this very value (a retry after a failure), replaced otherwise.
    """
    if is_literal_config(row, project):
        raise UsageError(
            f"{row.id} is configuration written in {row.file}:{row.line}; edit the table instead"
        )
    # as rotate and sync: never write through a row that escapes its prefix or shares a secret
    refuse_invalid(project.problems())
    check_can_record(project, "set")
    environment = environment_of(project, row)
    backend = backends.get(environment)
    name, field = secret_name(row, environment, backend)
    info = backend.secret_info(name)
    if info is not None and not info.deleted and info.has_value and info.pending is None:
        reference = parse_reference(backend.reference(name, field))
        assert reference is not None
        current = backend.read_values([reference])[reference]
        # compared here, never shown; a store that will not let us read simply gets the write
        if isinstance(current, Secret) and current == value:
            return Stored(info.current_version or "", changed=False)
    token = None
    if info is not None and info.pending is not None:
        token = _take_over(backend, name, field, info.pending, row, environment, value)
    if token is None:
        if info is None or info.deleted:
            backend.create(name, metadata_for(row), None)
        token = staging_token()
        backend.put_pending(name, value, token, field)
    committed = commit_staged(backend, name, token, row, actor)
    problem = committed.metadata_error
    not_recorded = record_committed(
        project,
        {row.id: table_updates(row, backend, name, field, committed.at)},
        actor=actor,
        environment=environment.name,
        credential_id=row.id,
        action="set",
        version=committed.version,
        message=f"metadata not recorded: {problem}" if problem else None,
    )
    table_missing = any(project.table.display in what for what in not_recorded)
    if problem is not None:
        not_recorded.insert(0, f"its last-rotated metadata in the store ({problem})")
    if not_recorded:
        raise NotRecordedError(
            f"{row.id}: the new value is stored and current (version {committed.version}), "
            f"but {'; '.join(not_recorded)} could not be written",
            hint=not_recorded_hint(
                project, "set", table_missing=table_missing, metadata_missing=problem is not None
            ),
        )
    # recorded everywhere: the store may forget that this value was staged
    finish_staged(backend, name, token, row, f"credctl set {row.id}")
    return Stored(committed.version)


def _take_over(
    backend: Backend,
    name: str,
    field: str | None,
    pending: PendingInfo,
    row: Row,
    environment: EnvironmentConfig,
    value: Secret,
) -> str | None:
    """The token of an abandoned staged value to finish (the same value), or None once
    it is discarded; an error if its run may still be going."""
    refusal = refuse_pending(row, pending, environment)
    if refusal is not None:
        raise refusal
    if backend.read_pending(name, pending.token, field) == value:
        return pending.token
    # a person's explicit new value replaces what a stopped run of credctl left
    backend.discard_pending(name, pending.token)
    return None


def record_committed(
    project: Project,
    updates: dict[str, dict[str, str]],
    *,
    actor: str,
    environment: str,
    credential_id: str,
    action: str,
    version: str | None,
    outcome: str = "ok",
    message: str | None = None,
) -> list[str]:
    """Record a committed change in the audit log and the table; what could not be written.

    Never raises for a local write: the change is in the store already, so the caller
    reports what is missing instead of a failure that a retry would repeat.
    """
    missing = []
    try:
        record_audit(
            project,
            actor=actor,
            environment=environment,
            credential_id=credential_id,
            action=action,
            version=version,
            outcome=outcome,
            message=message,
        )
    except OSError as error:
        missing.append(f"the audit log entry ({auditlog.LOG_PATH}: {error.strerror})")
    if updates:
        _, problem = save_table(project, updates)
        if problem is not None:
            missing.append(problem)
    return missing


def save_table(project: Project, updates: dict[str, dict[str, str]]) -> tuple[bool, str | None]:
    """Write the table's owned cells: whether the file changed, and what failed, if anything.

    A failure is described, not raised: the change it records is in the store already.
    """
    try:
        return project.table.save(updates).written, None
    except OSError as error:
        return False, f"the table's cells ({project.table.display}: {error.strerror})"


def not_recorded_hint(
    project: Project, command: str, *, table_missing: bool, metadata_missing: bool = False
) -> str:
    """What to do after a committed change could not be recorded: never the change again."""
    if table_missing:
        then = (
            f"once {project.table.display} is writable, 'credctl sync' writes its Last "
            "Rotated from the store"
        )
    elif metadata_missing:
        then = "'credctl sync' records its last rotation in the store (the value stays marked as staged until then)"
    else:
        then = "the audit log lacks this entry"
    return f"do not {command} it again, the value is in place; {then}"


def check_can_record(project: Project, command: str) -> None:
    """Refuse before any store is touched when the table or `.credctl/` cannot be written.

    A command that changes a store records the change in the table and the audit
    log afterwards; finding out only then would report a committed change as a
    failure, and a retry would make it twice.
    """
    table = project.table.path
    state = project.root / auditlog.LOG_PATH.parent
    checks: list[tuple[Path, bool]] = [(table, False), (table.parent, True)]
    if state.is_dir():
        checks.append((state, True))
        for inside in (project.root / auditlog.LOG_PATH, state / "locks"):
            if inside.exists():
                checks.append((inside, inside.is_dir()))
    else:
        checks.append((state.parent, True))
    for path, is_folder in checks:
        problem = _unwritable(path, is_folder)
        if problem is not None:
            shown = _relative(project.root, path)
            raise UsageError(
                f"cannot write {shown} ({problem}): {command} records its changes in "
                f"{project.table.display} and {auditlog.LOG_PATH}, so nothing was changed",
                hint=f"make it writable (chmod u+w {shown}) and run it again",
            )


def _unwritable(path: Path, is_folder: bool) -> str | None:
    """Why `path` cannot be written (by trying: permission bits do not tell for root)."""
    try:
        if is_folder:
            handle, probe = tempfile.mkstemp(prefix=".credctl-probe-", dir=path)
            os.close(handle)
            os.unlink(probe)
        else:
            os.close(os.open(path, os.O_WRONLY | os.O_APPEND))
    except FileNotFoundError:
        return None  # created when first written, in a folder checked too
    except OSError as error:
        return error.strerror or type(error).__name__
    return None


def _relative(root: Path, path: Path) -> str:
    try:
        return str(path.relative_to(root)) or "."
    except ValueError:
        return str(path)


def record_audit(
    project: Project,
    *,
    actor: str,
    environment: str,
    credential_id: str,
    action: str,
    version: str | None = None,
    outcome: str = "ok",
    message: str | None = None,
) -> None:
    """Append one entry to the project's audit log (never a value)."""
    auditlog.append(
        project.root,
        actor=actor,
        environment=environment,
        credential_id=credential_id,
        action=action,
        version=version,
        outcome=outcome,
        message=message,
    )
