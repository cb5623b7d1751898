"""plan, sync and import: make the table and each store agree, both ways.

A plan compares the table with one listing per store (no value is read). Sync
applies it: store writes run concurrently (bounded by the environment's
`concurrency`); the table is written once at the end with the owned cells of
the changes that succeeded, so an interrupted sync leaves a valid table and a
state the next sync completes.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from credctl import auditlog, clock
from credctl.auditlog import LOG_PATH, Entry
from credctl.backends.base import Backend, batched, replace_field
from credctl.backends.pool import Backends
from credctl.credential import Credential
from credctl.errors import (
    BackendError,
    ConfigError,
    CredctlError,
    NotFoundError,
    NotRecordedError,
)
from credctl.generate import generate
from credctl.model import (
    META_MANAGED,
    META_OWNER,
    META_SCHEDULE,
    META_SERVICE,
    META_TYPE,
    EnvironmentConfig,
    SecretInfo,
    slugify,
)
from credctl.progress import Progress, Silent, counted, environment_step
from credctl.project import Project
from credctl.recording import check_can_record, save_table
from credctl.render import Styler
from credctl.results import Result, pick
from credctl.rotation.rotators import rotator_type
from credctl.schedule import days
from credctl.secret import Secret
from credctl.staging import (
    finish_promoted,
    metadata_for,
    pending_state,
    recorded_metadata,
    refuse_pending,
    staging_token,
)

Action = Literal["create", "update", "write-back", "orphan", "unmanaged", "prune"]
# metadata key -> the name a plan shows for it
FIELD_NAMES = {
    META_MANAGED: "managed",
    META_OWNER: "owner",
    META_SERVICE: "service",
    META_TYPE: "type",
    META_SCHEDULE: "schedule",
}
# action -> (symbol, colour) as a plan shows it, Terraform-style
ACTIONS: dict[str, tuple[str, str]] = {
    "create": ("+", "green"),
    "update": ("~", "yellow"),
    "write-back": ("<", "cyan"),
    "orphan": ("!", "red"),
    "unmanaged": ("?", "bright_black"),
    "prune": ("-", "red"),
}
REPORTED_ONLY = ("orphan", "unmanaged")  # never changed by sync


@dataclass
class Change:
    """One thing sync would do (or, for orphans and unmanaged secrets, report)."""

    action: Action
    id: str
    environment: str
    fields: list[str]
    name: str | None = None  # store name
    secret_field: str | None = None
    reference: str = ""
    credential: Credential | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    table_updates: dict[str, str] = field(default_factory=dict)
    generate_value: bool = False
    # a value a stopped run made current but did not finish: record it, clear its mark
    finish_staged: bool = False

    def as_json(self) -> dict[str, object]:
        return pick(self, "action", "id", "environment", "fields")


@dataclass
class Plan(Result):
    """What sync would change; with `detailed_exitcode`, exit 2 when that is anything."""

    changes: list[Change]
    detailed_exitcode: bool = False

    @property
    def actionable(self) -> list[Change]:
        return [c for c in self.changes if c.action not in REPORTED_ONLY]

    def as_json(self) -> dict[str, Any]:
        return {"changes": [change.as_json() for change in self.changes]}

    def as_text(self, style: Styler) -> str:
        """Terraform-style lines, grouped by environment, then the summary."""
        lines = []
        current = None
        for change in self.changes:
            if change.environment != current:
                current = change.environment
                lines.append(f"{current}:")
            symbol, colour = ACTIONS[change.action]
            mark = style(f"{symbol} {change.action:<11}", colour)
            detail = f"  ({', '.join(change.fields)})" if change.fields else ""
            lines.append(f"  {mark} {change.id}{detail}")
        if not self.changes:
            lines.append("No changes: the table and the stores agree.")
        lines.append(self.summary())
        return "\n".join(lines) + "\n"

    def exit_code(self) -> int:
        return 2 if self.detailed_exitcode and self.actionable else 0

    def count(self, action: Action) -> int:
        return sum(1 for change in self.changes if change.action == action)

    def summary(self) -> str:
        text = (
            f"Plan: {self.count('create')} to create, {self.count('update')} to update, "
            f"{self.count('write-back')} to write back"
        )
        if self.count("prune"):
            text += f", {self.count('prune')} to prune"
        return text + f"; {self.count('orphan')} orphans, {self.count('unmanaged')} unmanaged."


@dataclass
class Applied:
    change: Change
    version: str | None = None
    note: str | None = None


@dataclass
class SyncResult(Result):
    """What sync applied, what failed, and whether the table and log recorded it."""

    plan: Plan
    applied: list[Applied]
    failed: list[tuple[Change, CredctlError]]
    table_written: bool
    not_recorded: list[str] = field(default_factory=list)  # what of the records was not written
    table: str = "credentials.md"

    def as_json(self) -> dict[str, Any]:
        reported = [c for c in self.plan.changes if c.action in REPORTED_ONLY]
        done = [applied.change for applied in self.applied]
        return {
            "changes": [change.as_json() for change in done + reported],
            "failed": [{**change.as_json(), "error": str(error)} for change, error in self.failed],
        }

    def as_text(self, style: Styler) -> str:
        return self.plan.as_text(style)

    def notes(self) -> list[str]:
        table_note = f"; wrote {self.table}" if self.table_written else ""
        total = len(self.plan.actionable)
        return [applied.note for applied in self.applied if applied.note] + [
            f"Applied {len(self.applied)} of {total} changes{table_note}."
        ]

    def failure(self, fmt: str) -> CredctlError | None:
        if self.failed:
            return _stopped(self.failed, len(self.plan.actionable))
        if self.not_recorded:
            return NotRecordedError(
                f"the {len(self.applied)} changes are made in the stores, but "
                f"{' and '.join(self.not_recorded)} could not be written",
                hint="once the files are writable, 'credctl sync' writes the table from the stores",
            )
        return None


def _stopped(failed: list[tuple[Change, CredctlError]], total: int) -> CredctlError:
    """One error for a sync whose changes failed, with the exit code of the worst."""
    change, error = failed[0]
    more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
    stopped = CredctlError(
        f"sync stopped: {len(failed)} of {total} changes failed{more}; first: {change.id}: {error}",
        hint="the changes that succeeded are recorded; run 'credctl sync' again to finish",
    )
    # A store that failed is exit 3 whatever else happened; otherwise the highest code,
    # so the order the failures came back in never changes the exit code.
    backend_failed = any(isinstance(e, BackendError) for _, e in failed)
    highest = max(e.exit_code for _, e in failed)
    stopped.exit_code = BackendError.exit_code if backend_failed else highest
    return stopped


def _date(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%d") if moment else None


def _generates(project: Project, credential: Credential) -> bool:
    type_policy = credential.type_policy
    return bool(
        type_policy and rotator_type(type_policy).first_value and type_policy.generator is not None
    )


def make_plan(
    project: Project,
    environments: Sequence[EnvironmentConfig],
    backends: Backends,
    *,
    prune: bool = False,
    detailed_exitcode: bool = False,
    progress: Progress | None = None,
) -> Plan:
    """What sync would change in each store and in the table; one listing per store."""
    problems = project.problems()
    if problems:
        raise ConfigError(problems)
    changes: list[Change] = []
    for environment in environments:
        with environment_step(progress, environment.name, "listing secrets") as step:
            planned = _environment_changes(project, environment, backends, prune)
            step.outcome = f"listed {counted(planned.listed, 'secret')}"
        changes.extend(planned.changes)
    return Plan(changes, detailed_exitcode)


@dataclass
class _Planned:
    listed: int  # secrets under the environment's prefix
    changes: list[Change]


def _environment_changes(
    project: Project, environment: EnvironmentConfig, backends: Backends, prune: bool
) -> _Planned:
    """What sync would change for one environment, from one listing of its store."""
    changes: list[Change] = []
    backend = backends.get(environment)
    listing = {info.name: info for info in backend.list_secrets()}
    named: set[str] = set()
    for credential in project.credentials_in(environment):
        if credential.is_config:
            continue
        name, field_name = credential.target(environment)
        named.add(name)
        changes.extend(
            _row_changes(project, credential, environment, backend, name, field_name, listing)
        )
    for name, info in sorted(listing.items()):
        if name in named or info.deleted:
            continue
        if info.managed:
            action: Action = "prune" if prune else "orphan"
            changes.append(
                Change(action, info.reference, environment.name, [], name, reference=info.reference)
            )
        else:
            changes.append(
                Change(
                    "unmanaged",
                    info.reference,
                    environment.name,
                    [],
                    name,
                    reference=info.reference,
                )
            )
    return _Planned(len(listing), changes)


def _row_changes(
    project: Project,
    credential: Credential,
    environment: EnvironmentConfig,
    backend: Backend,
    name: str,
    field_name: str | None,
    listing: dict[str, SecretInfo],
) -> list[Change]:
    reference = backend.reference(name, field_name)
    desired = metadata_for(credential)
    info = listing.get(name)
    changes: list[Change] = []
    table_updates: dict[str, str] = {}
    if credential.reference.strip() != reference:
        table_updates["reference"] = reference
    if info is None or info.deleted:
        generated = _generates(project, credential)
        if not generated and _date(credential.rotated_on) is not None:
            table_updates["last_rotated"] = "never"  # the store's truth: no value yet
        change = Change(
            "create",
            credential.id,
            environment.name,
            ["metadata", "value"] if generated else ["metadata"],
            name,
            field_name,
            reference,
            credential,
            desired,
            table_updates,
            generated,
        )
        return [change]
    drifted = {k: v for k, v in desired.items() if info.metadata.get(k) != v}
    fill_value = not info.has_value and _generates(project, credential)
    finish = (
        info.pending is not None
        and info.pending.promoted
        and pending_state(info.pending, environment, clock.now()) == "abandoned"
    )
    if drifted or fill_value or finish:
        fields = [FIELD_NAMES.get(k, k) for k in drifted] + (["value"] if fill_value else [])
        fields += ["staged value"] if finish else []
        changes.append(
            Change(
                "update",
                credential.id,
                environment.name,
                fields,
                name,
                field_name,
                reference,
                credential,
                drifted,
                generate_value=fill_value,
                finish_staged=finish,
            )
        )
    store_date = _date(info.last_rotated)
    if store_date != _date(credential.rotated_on):
        table_updates["last_rotated"] = store_date or "never"
    if table_updates:
        changes.append(
            Change(
                "write-back",
                credential.id,
                environment.name,
                ["Value/Reference" if k == "reference" else "Last Rotated" for k in table_updates],
                name,
                field_name,
                reference,
                credential,
                table_updates=table_updates,
            )
        )
    return changes


def apply_plan(
    project: Project,
    plan: Plan,
    backends: Backends,
    actor: str,
    *,
    progress: Progress | None = None,
) -> SyncResult:
    """Apply every change; store writes in parallel, the table written once at the end."""
    progress = progress or Silent()
    progress.begin(len(plan.actionable), "syncing")
    try:
        return _apply(project, plan, backends, actor, progress)
    finally:
        progress.end()


def _apply(
    project: Project, plan: Plan, backends: Backends, actor: str, progress: Progress
) -> SyncResult:
    applied: list[Applied] = []
    failed: list[tuple[Change, CredctlError]] = []
    not_recorded: list[str] = []
    by_environment: dict[str, list[Change]] = {}
    for change in plan.actionable:
        by_environment.setdefault(change.environment, []).append(change)
    if by_environment:
        check_can_record(project, "sync")

    def record(
        change: Change, outcome: str = "ok", version: str | None = None, message: str | None = None
    ) -> None:
        try:
            entry = Entry(actor, change.environment, change.id, f"sync-{change.action}")
            auditlog.append(
                project.root, replace(entry, version=version, outcome=outcome, message=message)
            )
        except OSError as error:
            if not not_recorded:
                not_recorded.append(f"audit log entries ({LOG_PATH}: {error.strerror})")

    def settle(change: Change, outcome: Applied | CredctlError) -> None:
        if isinstance(outcome, CredctlError):  # one change failing never loses the others'
            failed.append((change, outcome))
            record(change, outcome="failed", message=str(outcome))
        else:
            applied.append(outcome)
            record(change, version=outcome.version, message=", ".join(change.fields) or None)

    for environment_name, changes in by_environment.items():
        environment = project.environment(environment_name)
        backend = backends.get(environment)
        workers = max(1, min(environment.concurrency, len(changes)))
        # held until the store has them: a batching store writes them all at the end
        held: list[tuple[Change, Applied | CredctlError]] = []
        try:
            with batched(backend) as deferred, ThreadPoolExecutor(max_workers=workers) as pool:
                futures = {
                    pool.submit(_apply_one, project, backend, change, actor): change
                    for change in changes
                }
                for future in as_completed(futures):
                    change = futures[future]
                    try:
                        outcome: Applied | CredctlError = future.result()
                    except CredctlError as error:
                        outcome = error
                    if deferred:
                        held.append((change, outcome))
                    else:
                        settle(change, outcome)
                    progress.advance()
        except CredctlError as error:
            # the store could not be opened or written: none of the held changes reached it
            settled = {id(change) for change, _ in failed} | {id(a.change) for a in applied}
            for change in changes:
                if id(change) not in settled:
                    settle(change, error)
        else:
            for change, outcome in held:
                settle(change, outcome)
    updates: dict[str, dict[str, str]] = {}
    # a write-back from the plan's listing first: what a change wrote since is newer
    for outcome in sorted(applied, key=lambda done: done.change.action != "write-back"):
        if outcome.change.credential is not None and outcome.change.table_updates:
            updates.setdefault(outcome.change.credential.id, {}).update(
                outcome.change.table_updates
            )
    table_written = False
    if updates:
        table_written, problem = save_table(project, updates)
        if problem is not None:
            not_recorded.append(problem)
    return SyncResult(plan, applied, failed, table_written, not_recorded, project.table.display)


def _apply_one(project: Project, backend: Backend, change: Change, actor: str) -> Applied:
    assert change.name is not None
    if change.action == "prune":
        return Applied(change, note=backend.schedule_delete(change.name))
    if change.action == "write-back":
        return Applied(change)
    assert change.credential is not None
    now = clock.now()
    if change.action == "create":
        metadata = dict(change.metadata)
        value = None
        if change.generate_value:
            value = _first_value(project, change)
            metadata.update(recorded_metadata(change.credential, actor, now))
            change.table_updates["last_rotated"] = now.strftime("%Y-%m-%d")
        backend.create(change.name, metadata, value)
        return Applied(change)
    return _update(project, backend, change, actor)


def _update(project: Project, backend: Backend, change: Change, actor: str) -> Applied:
    """Metadata; a first value for a secret whose creation stopped half-way; and what a
    stopped run of credctl left staged on it, finished."""
    assert change.name is not None
    assert change.credential is not None
    if not (change.generate_value or change.finish_staged):
        backend.set_metadata(change.name, change.metadata)
        return Applied(change)
    # the plan's listing is old: a set or rotate may have given it a value since
    fresh = backend.secret_info(change.name)
    if fresh is None:
        raise NotFoundError(f"{change.id}: {change.name} is gone from the store")
    pending = fresh.pending
    fill = change.generate_value and not fresh.has_value
    if pending is not None:
        environment = project.environment(change.environment)
        refusal = refuse_pending(change.credential, pending, environment)
        if refusal is not None:
            if fill:  # its slot is taken while it runs
                raise refusal
        elif pending.promoted:
            recorded = finish_promoted(backend, fresh, change.credential, actor)
            if recorded is not None:
                change.table_updates["last_rotated"] = recorded.strftime("%Y-%m-%d")
        elif fill:
            # a fill, set or rotation that stopped after staging the first value: finish it
            staged = backend.read_pending(change.name, pending.token, change.secret_field)
            if staged is not None and staged.reveal():
                return Applied(change, version=_fill(backend, change, actor, pending.token))
            backend.discard_pending(change.name, pending.token)
    if not fill:
        if change.metadata:
            backend.set_metadata(change.name, change.metadata)
        return Applied(change)
    token = staging_token()
    backend.put_pending(
        change.name, _generated(project, change.credential), token, change.secret_field
    )
    return Applied(change, version=_fill(backend, change, actor, token))


def _fill(backend: Backend, change: Change, actor: str, token: str) -> str:
    """Make a staged first value current, recorded before it is (a stop in between is
    finished by the next sync, which finds it staged or promoted, and never fills twice)."""
    assert change.name is not None
    assert change.credential is not None
    now = clock.now()
    backend.set_metadata(
        change.name, {**change.metadata, **recorded_metadata(change.credential, actor, now)}
    )
    version = backend.promote(change.name, token)
    change.table_updates["last_rotated"] = now.strftime("%Y-%m-%d")
    return version


def _generated(project: Project, credential: Credential) -> Secret:
    type_policy = credential.type_policy
    assert type_policy is not None
    assert type_policy.generator is not None
    return generate(type_policy.generator)


def _first_value(project: Project, change: Change) -> Secret:
    assert change.credential is not None
    assert change.name is not None
    value = _generated(project, change.credential)
    if change.secret_field is None:
        return value
    return Secret(replace_field(None, change.secret_field, value, change.name))


# --------------------------------------------------------------------- import


@dataclass
class Imported:
    environment: str
    reference: str
    values: dict[str, str]  # table column -> text

    @property
    def id(self) -> str:
        return "/".join(
            slugify(self.values[k]) for k in ("environment", "service", "credential_type")
        )


def plan_import(
    project: Project,
    environments: Sequence[EnvironmentConfig],
    backends: Backends,
    progress: Progress | None = None,
) -> list[Imported]:
    """Rows for the secrets under each prefix that no row names."""
    known_types = {slugify(name): name for name in project.policy.type_names()}
    found: list[Imported] = []
    existing_ids = {credential.id for credential in project.credentials}
    for environment in environments:
        backend = backends.get(environment)
        named = {
            credential.target(environment)[0]
            for credential in project.credentials_in(environment)
            if not credential.is_config
        }
        with environment_step(progress, environment.name, "listing secrets") as step:
            listing = sorted(backend.list_secrets(), key=lambda i: i.name)
            step.outcome = f"listed {counted(len(listing), 'secret')}"
        for info in listing:
            if info.name in named or info.deleted:
                continue
            service, credential_type = _service_and_type(info, environment)
            credential_type = known_types.get(slugify(credential_type), credential_type)
            type_policy = project.policy.type_policy(credential_type)
            schedule = info.metadata.get(META_SCHEDULE) or _default_schedule(project, type_policy)
            imported = Imported(
                environment.name,
                info.reference,
                {
                    "service": service,
                    "environment": environment.name,
                    "credential_type": credential_type,
                    "reference": info.reference,
                    "schedule": schedule,
                    "last_rotated": _date(info.last_rotated) or "never",
                    "owner": info.metadata.get(META_OWNER, ""),
                },
            )
            if imported.id in existing_ids:
                continue  # a row already claims that identity under another name
            existing_ids.add(imported.id)
            found.append(imported)
    return found


@dataclass
class ImportResult(Result):
    """The rows found for unmanaged secrets, and those added (None for a dry run)."""

    found: list[Imported]
    added: list[Imported] | None
    table: str

    def as_text(self, style: Styler) -> str:
        return "".join(
            f"+ {item.id}  {item.reference}  ({item.values['owner'] or 'no owner: set one'})\n"
            for item in self.found
        )

    def notes(self) -> list[str]:
        if not self.found:
            return ["Nothing to import: every secret under the prefixes has a row."]
        if self.added is None:
            return [f"{_rows(len(self.found))} would be added to {self.table}."]
        return [
            f"Added {_rows(len(self.added))} to {self.table}; fill in the owners, then run "
            "'credctl validate'."
        ]


def _rows(count: int) -> str:
    return f"{count} row{'s' if count != 1 else ''}"


def import_rows(
    project: Project,
    environments: Sequence[EnvironmentConfig],
    backends: Backends,
    actor: str,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Rows for the secrets under each prefix that no row names, appended unless a dry run."""
    found = plan_import(project, environments, backends, progress)
    added = None if dry_run or not found else apply_import(project, found, actor)
    return ImportResult(found, added, project.table.display)


def apply_import(project: Project, rows: Sequence[Imported], actor: str) -> list[Imported]:
    """Append the rows onto the table as it is now; the rows added (not added meanwhile)."""
    check_can_record(project, "import")
    result = project.table.append([row.values for row in rows])
    already = {skipped.id for skipped in result.skipped}
    added = [row for row in rows if row.id not in already] if result.written else []
    for row in added:
        auditlog.append(
            project.root,
            Entry(actor, row.environment, row.id, "import", message=row.reference),
        )
    return added


def _service_and_type(info: SecretInfo, environment: EnvironmentConfig) -> tuple[str, str]:
    service = info.metadata.get(META_SERVICE)
    credential_type = info.metadata.get(META_TYPE)
    if service and credential_type:
        return service, credential_type
    relative = info.name[len(environment.prefix) :].strip("/")
    parts = [part for part in relative.split("/") if part]
    guessed_service = parts[0] if len(parts) > 1 else environment.name
    guessed_type = parts[-1] if parts else relative
    return (
        service or _title(guessed_service),
        credential_type or _title(guessed_type),
    )


def _title(slug: str) -> str:
    return " ".join(word.capitalize() for word in slug.replace("_", "-").split("-") if word)


def _default_schedule(project: Project, type_policy: object) -> str:
    max_age = getattr(type_policy, "max_age", None) or project.policy.defaults.max_age
    count = days(max_age)
    return f"{count}d" if count else "90d"
