"""plan and sync: make the table and each store agree, both ways.

A plan compares the table with one listing per store (no value is read). Sync
applies it: store writes run concurrently (bounded by the environment's
`concurrency`); the table is written once at the end with the owned cells of
the changes that succeeded, so an interrupted sync leaves a valid table and a
state the next sync completes.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from credctl import auditlog, clock
from credctl.auditlog import LOG_PATH, Entry
from credctl.backends.base import Backend, batched
from credctl.backends.pool import Backends
from credctl.checks import owner_of
from credctl.credential import Credential
from credctl.errors import (
    BackendError,
    ConfigError,
    CredctlError,
    MetadataLimitError,
    NotFoundError,
    NotRecordedError,
    ShapeError,
)
from credctl.expiry import Expiry, expiry_sync
from credctl.fanout import MAX_ENVIRONMENTS, each_listing, failures, not_reached
from credctl.generate import generate
from credctl.lifecycle import (
    check_shape,
    deleted_error,
    gives_first_value,
    missing_external_error,
)
from credctl.model import (
    FIELD_KEY_PREFIX,
    META_LAST_ROTATED,
    META_MANAGED,
    META_OWNER,
    META_ROTATED_BY,
    META_SCHEDULE,
    META_SERVICE,
    META_TYPE,
    META_VERSION,
    ROW_KEYS,
    EnvironmentConfig,
    SecretInfo,
    row_key,
)
from credctl.progress import Progress, Silent
from credctl.project import Project
from credctl.recording import check_can_record, save_table
from credctl.render import Styler
from credctl.results import Result, pick
from credctl.schedule import format_instant
from credctl.secret import Secret
from credctl.staging import (
    finish_promoted,
    metadata_for,
    pending_state,
    recorded_metadata,
    refuse_pending,
    staging_token,
)

Action = Literal[
    "create",
    "update",
    "write-back",
    "restore",
    "recreate",
    "orphan",
    "unmanaged",
    "prune",
    "deleted",
    "missing",
]
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
    "restore": ("^", "green"),
    "recreate": ("+", "green"),
    "deleted": ("x", "red"),
    "missing": ("!", "red"),
}
# a table cell as a write-back names it
CELL_NAMES = {"reference": "Value/Reference", "last_rotated": "Last Rotated", "expires": "Expires"}
REPORTED_ONLY = ("orphan", "unmanaged", "deleted", "missing")  # never changed by sync
# reported, and what stops sync: a row's secret deleted, or an external one missing
BLOCKED = ("deleted", "missing")
# who the store records as having rotated a value that another tool changed
OUTSIDE_ACTOR = "outside credctl"


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
    # metadata keys to remove: a #field row's keys that older credctl kept on the secret
    remove: list[str] = field(default_factory=list)
    info: SecretInfo | None = None  # the store's listing of it, when it has one
    error: CredctlError | None = None  # why a blocked row stops sync (deleted, missing)
    # another tool changed its value: a certificate's expiry is read from the new one
    read_expiry: bool = False

    def as_json(self) -> dict[str, object]:
        return pick(self, "action", "id", "environment", "fields")


@dataclass
class Plan(Result):
    """What sync would change; with `detailed_exitcode`, exit 2 when that is anything."""

    changes: list[Change]
    detailed_exitcode: bool = False
    applying: bool = False  # sync's plan, not plan's: a blocked row is its failure
    # environments whose store failed (exit 3): no change of theirs is planned
    unreached: list[tuple[str, CredctlError]] = field(default_factory=list)
    environments: int = 0  # environments planned, reached or not

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
            if change.error is not None:
                detail = f"  ({change.error.hint})" if change.error.hint else ""
            lines.append(f"  {mark} {change.id}{detail}")
        if not self.changes:
            lines.append("No changes: the table and the stores agree.")
        lines.append(self.summary())
        return "\n".join(lines) + "\n"

    def exit_code(self) -> int:
        return 2 if self.detailed_exitcode and self.actionable else 0

    def failure(self, fmt: str) -> CredctlError | None:
        return self.not_reached("planned") or (
            blocked_error(self.changes) if self.applying else None
        )

    def not_reached(self, done: str) -> CredctlError | None:
        """Exit 3 naming the environments whose store failed; the others were `done`."""
        return not_reached(self.unreached, self.environments - len(self.unreached), done)

    def count(self, action: Action) -> int:
        return sum(1 for change in self.changes if change.action == action)

    def summary(self) -> str:
        text = (
            f"Plan: {self.count('create')} to create, {self.count('update')} to update, "
            f"{self.count('write-back')} to write back"
        )
        extra: tuple[Action, ...] = ("restore", "recreate", "prune")
        for action in extra:
            if self.count(action):
                text += f", {self.count(action)} to {action}"
        text += f"; {self.count('orphan')} orphans, {self.count('unmanaged')} unmanaged"
        if self.count("deleted"):
            text += f", {self.count('deleted')} deleted"
        if self.count("missing"):
            text += f", {self.count('missing')} missing external"
        return text + "."


def blocked_error(changes: Sequence[Change]) -> CredctlError | None:
    """Why sync could not make the store match the table: rows whose secret is deleted
    (until --restore or --recreate) or external and missing; exit 3, each named."""
    blocked = [change for change in changes if change.error is not None]
    if not blocked:
        return None
    first = blocked[0].error
    assert first is not None
    if len(blocked) == 1:
        return first
    more = f"{len(blocked)} rows' secrets are deleted or missing, so sync left them alone"
    error = NotFoundError(f"{more}; first: {first}", hint=first.hint)
    return error


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
        unreached = self.plan.not_reached("synced")
        if unreached is not None:
            return unreached
        if self.failed:
            return _stopped(self.failed, len(self.plan.actionable))
        blocked = blocked_error(self.plan.changes)
        if blocked is not None:
            return blocked
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
    hint = "the changes that succeeded are recorded; run 'credctl sync' again to finish"
    if isinstance(error, ShapeError) and error.hint:
        hint = error.hint  # a refused write fails again: what to change in its row
    stopped = CredctlError(
        f"sync stopped: {len(failed)} of {total} changes failed{more}; first: {change.id}: {error}",
        hint=hint,
    )
    # A store that failed is exit 3 whatever else happened; otherwise the highest code,
    # so the order the failures came back in never changes the exit code.
    backend_failed = any(
        isinstance(e, BackendError) and e.exit_code == BackendError.exit_code for _, e in failed
    )
    highest = max(e.exit_code for _, e in failed)
    stopped.exit_code = BackendError.exit_code if backend_failed else highest
    return stopped


def _date(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%d") if moment else None


@dataclass(frozen=True)
class Lifecycle:
    """What sync may do besides making the store match the table: bring back the rows'
    deleted secrets (`--restore`, their values too), or give those whose value is gone
    a new one (`--recreate`), and schedule the deletion of orphans (`--prune`)."""

    restore: bool = False
    recreate: bool = False
    prune: bool = False


def make_plan(
    project: Project,
    environments: Sequence[EnvironmentConfig],
    backends: Backends,
    *,
    prune: bool = False,
    detailed_exitcode: bool = False,
    lifecycle: Lifecycle | None = None,
    progress: Progress | None = None,
) -> Plan:
    """What sync would change in each store and in the table; one listing per store (and
    one metadata read per row whose secret is outside the prefix)."""
    problems = project.problems()
    if problems:
        raise ConfigError(problems)
    lifecycle = lifecycle or Lifecycle(prune=prune)
    rows = {
        environment.name: [c for c in project.credentials_in(environment) if not c.is_config]
        for environment in environments
    }

    def listed(environment: EnvironmentConfig) -> _Listed:
        """One listing of the environment's store (and one metadata read per row whose
        secret is outside the prefix): the store's part, in the environment's thread."""
        backend = backends.get(environment)
        listing = {info.name: info for info in backend.list_secrets()}
        credentials = rows[environment.name]
        outside = sorted({c.target(environment)[0] for c in credentials if c.external})
        known = dict(listing)
        if outside:
            known.update((n, i) for n, i in backend.describe_secrets(outside).items() if i)
        return _Listed(backend, listing, known)

    outcomes = each_listing(
        environments,
        listed,
        progress,
    )
    changes: list[Change] = []
    for outcome in outcomes:
        if outcome.value is not None:
            environment = outcome.environment
            found = outcome.value
            changes.extend(
                _environment_changes(project, environment, rows[environment.name], found, lifecycle)
            )
    return Plan(
        changes, detailed_exitcode, unreached=failures(outcomes), environments=len(environments)
    )


@dataclass
class _Listed:
    backend: Backend
    listing: dict[str, SecretInfo]  # secrets under the environment's prefix
    known: dict[str, SecretInfo]  # and the rows' secrets outside it


def _environment_changes(
    project: Project,
    environment: EnvironmentConfig,
    credentials: list[Credential],
    found: _Listed,
    lifecycle: Lifecycle,
) -> list[Change]:
    """What sync would change for one environment, from what its store said."""
    changes: list[Change] = []
    backend, listing, known = found.backend, found.listing, found.known
    named: dict[str, list[Credential]] = {}
    for credential in credentials:
        name, field_name = credential.target(environment)
        named.setdefault(name, []).append(credential)
        changes.extend(
            _row_changes(
                credential,
                environment,
                backend,
                (name, field_name),
                known,
                lifecycle,
                project.table.has_column("expires"),
            )
        )
    for name, on_secret in named.items():
        check_metadata_room(environment, name, on_secret, known.get(name))
    others = [e for e in project.environments.values() if e is not environment]
    for name, info in sorted(listing.items()):
        if name in named or info.deleted:
            continue
        if owner_of(name, environment, [environment, *others]) is not environment:
            continue  # under another environment's prefix: never its orphan to prune
        action: Action = "unmanaged"
        if info.managed:
            action = "prune" if lifecycle.prune else "orphan"
        changes.append(
            Change(action, info.reference, environment.name, [], name, reference=info.reference)
        )
    return changes


def _row_changes(
    credential: Credential,
    environment: EnvironmentConfig,
    backend: Backend,
    target: tuple[str, str | None],
    listing: dict[str, SecretInfo],
    lifecycle: Lifecycle,
    table_has_expires: bool,
) -> list[Change]:
    name, field_name = target
    reference = backend.reference(name, field_name)
    listed = listing.get(name)
    info = None if listed is None else listed.for_field(field_name)
    expires_metadata, table_updates = expiry_sync(credential, info, table_has_expires)
    desired = {**metadata_for(credential), **expires_metadata}
    changes: list[Change] = []
    if credential.reference.strip() != reference:
        table_updates["reference"] = reference

    def change(action: Action, fields: list[str], **details: Any) -> Change:
        return Change(
            action,
            credential.id,
            environment.name,
            fields,
            name,
            field_name,
            reference,
            credential,
            **details,
        )

    if info is None and credential.external:
        return [
            change("missing", [], error=missing_external_error(credential, environment, backend))
        ]
    if info is None:
        generated = gives_first_value(credential)
        if not generated and _date(credential.rotated_on) is not None:
            table_updates["last_rotated"] = "never"  # the store's truth: no value yet
        fields = ["metadata", "value"] if generated else ["metadata"]
        return [
            change(
                "create",
                fields,
                metadata=desired,
                table_updates=table_updates,
                generate_value=generated,
            )
        ]
    drifted = {k: v for k, v in desired.items() if info.metadata.get(k) != v}
    metadata_fields = list(dict.fromkeys(_shown(k) for k in drifted))
    if info.deleted:
        blocked = deleted_error(credential, environment, backend, info)
        if lifecycle.recreate and gives_first_value(credential):
            recreated = change("recreate", ["value", *metadata_fields], metadata=desired, info=info)
            recreated.generate_value = True
            if table_updates:
                recreated.table_updates = table_updates
            return [recreated]
        if not (lifecycle.restore and not info.destroyed):
            return [change("deleted", [], info=info, error=blocked)]
        # back with what a sync of a secret that is there records (adopted, changed outside)
        remove, outside = _records(credential, info, drifted)
        fields = ["value", *_fields(drifted, outside)]
        changes.append(change("restore", fields, metadata=drifted, remove=remove, info=info))
    else:
        changes.extend(_update_changes(credential, environment, info, drifted, change))
    store_date = _date(info.last_rotated)
    if store_date != _date(credential.rotated_on):
        table_updates["last_rotated"] = store_date or "never"
    if table_updates:
        fields = [CELL_NAMES[column] for column in table_updates]
        changes.append(change("write-back", fields, table_updates=table_updates))
    return changes


def _update_changes(
    credential: Credential,
    environment: EnvironmentConfig,
    info: SecretInfo,
    drifted: dict[str, str],
    change: Any,
) -> list[Change]:
    """The update of a row's secret that is there: drifted metadata, keys moved to its
    field's, a value changed outside credctl recorded, a first value, a stopped run's value."""
    remove, outside = _records(credential, info, drifted)
    fill_value = not info.has_value and gives_first_value(credential) and not credential.external
    own_pending = info.own_pending
    finish = (
        own_pending is not None
        and own_pending.promoted
        and pending_state(own_pending, environment, clock.now()) == "abandoned"
    )
    if not (drifted or fill_value or finish):
        return []
    fields = _fields(drifted, outside)
    fields += ["value"] if fill_value else []
    fields += ["staged value"] if finish else []
    updated: Change = change(
        "update",
        fields,
        metadata=drifted,
        generate_value=fill_value,
        finish_staged=finish,
        remove=remove,
        read_expiry=outside is not None,
    )
    return [updated]


def _records(
    credential: Credential, info: SecretInfo, drifted: dict[str, str]
) -> tuple[list[str], datetime | None]:
    """What sync records on a row's secret beside its metadata, added to `drifted`: the
    version it adopts, a value changed outside credctl. Returns the keys to remove (moved
    to its field's) and when the value was changed outside (None: it was not)."""
    field_name = info.field
    remove = _moved_to_field(info, drifted)
    # an external secret is another system's: credctl writes no record on it but a rotation's
    ours = not credential.external
    if ours and not info.managed and info.current_version is not None:
        # adopted: the version it has now is the one credctl knows; a later one is another tool's
        drifted[META_VERSION] = info.current_version
    outside = info.changed_outside if ours else None
    if outside is not None and info.current_version is not None:
        # changed by another tool: its date becomes this row's last rotation, and its
        # version credctl's known one (the next audit needs no request to date it)
        drifted[row_key(META_LAST_ROTATED, field_name)] = format_instant(outside)
        drifted[row_key(META_ROTATED_BY, field_name)] = OUTSIDE_ACTOR
        drifted[META_VERSION] = info.current_version
    return remove, outside


def _fields(drifted: dict[str, str], outside: datetime | None) -> list[str]:
    """The metadata a change writes, as a plan names it."""
    shown = (_shown(k) for k in drifted if outside is None or not _is_outside_key(k))
    return list(dict.fromkeys(shown)) + (["changed outside"] if outside is not None else [])


def _is_outside_key(key: str) -> bool:
    return key == META_VERSION or key.endswith((":last-rotated", ":rotated-by"))


def _shown(key: str) -> str:
    """A metadata key as a plan names it: `owner` (a #field row's too), `version`."""
    own = key
    if key.startswith(FIELD_KEY_PREFIX):
        own = "credctl:" + key[len(FIELD_KEY_PREFIX) :].rpartition(":")[2]
    return FIELD_NAMES.get(own, own.removeprefix("credctl:"))


def _moved_to_field(info: SecretInfo, drifted: dict[str, str]) -> list[str]:
    """For a #field row on a secret whose row keys older credctl kept on the secret itself:
    its last rotation moves to its field's keys (added to `drifted`), and the secret's keys
    go (the keys to remove). Rows on fields of one secret keep their own keys only."""
    if info.field is None:
        return []
    legacy = [key for key in ROW_KEYS if key in info.metadata]
    if not legacy:
        return []
    for key in (META_LAST_ROTATED, META_ROTATED_BY):
        own = row_key(key, info.field)
        if key in info.metadata and own not in info.metadata:
            drifted[own] = info.metadata[key]
    return legacy


def check_metadata_room(
    environment: EnvironmentConfig,
    name: str,
    credentials: Sequence[Credential],
    info: SecretInfo | None,
) -> None:
    """Refuse (exit 2), before anything is written, rows whose metadata the secret's store
    cannot hold: each row keeps six keys of its own beside the secret's and other tools'."""
    limit = environment.backend_type.metadata_keys
    if limit is None or all(credential.external for credential in credentials):
        return
    keys = set(info.metadata) if info is not None else set()
    keys -= set(ROW_KEYS) if any(c.field is not None for c in credentials) else set()
    keys |= {META_MANAGED, META_VERSION}
    for credential in credentials:
        keys |= {row_key(key, credential.field) for key in ROW_KEYS}
    if len(keys) > limit:
        rows = ", ".join(credential.id for credential in credentials)
        raise MetadataLimitError(
            f"{environment.reference_for(name)} would need {len(keys)} metadata keys ({rows}: "
            f"{len(ROW_KEYS)} each, beside the secret's own), more than the {limit} that "
            f"{environment.backend.store_label()} holds for credctl; nothing was written",
            hint="keep fewer rows on this secret, or give some credentials a secret of their own",
        )


def sync(
    project: Project,
    environments: Sequence[EnvironmentConfig],
    backends: Backends,
    actor: str,
    lifecycle: Lifecycle,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> Plan | SyncResult:
    """Plan, then apply unless a dry run: the store and the table made to agree. A row
    whose secret is deleted (without --restore/--recreate) or external and missing is
    left alone and makes the run fail, naming the command that ends it."""
    planned = make_plan(project, environments, backends, lifecycle=lifecycle, progress=progress)
    if dry_run or not planned.actionable:
        planned.applying = not dry_run
        return planned
    return apply_plan(project, planned, backends, actor, progress=progress)


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

    settling = threading.Lock()  # environments apply at once; the log is appended in turn

    def settle(change: Change, outcome: Applied | CredctlError) -> None:
        with settling:
            if isinstance(outcome, CredctlError):  # one change failing never loses the others'
                failed.append((change, outcome))
                record(change, outcome="failed", message=str(outcome))
            else:
                applied.append(outcome)
                record(change, version=outcome.version, message=", ".join(change.fields) or None)

    def apply_environment(environment_name: str) -> None:
        changes = by_environment[environment_name]
        environment = project.environment(environment_name)
        backend = backends.get(environment)
        workers = max(1, min(environment.concurrency, len(changes)))
        # held until the store has them: a batching store writes them all at the end
        held: list[tuple[Change, Applied | CredctlError]] = []
        secrets = _OneAtATime()
        try:
            with batched(backend) as deferred, ThreadPoolExecutor(max_workers=workers) as pool:
                futures = {
                    pool.submit(secrets.run, change, project, backend, actor): change
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
            with settling:
                settled = {id(change) for change, _ in failed} | {id(a.change) for a in applied}
            for change in changes:
                if id(change) not in settled:
                    settle(change, error)
        else:
            for change, outcome in held:
                settle(change, outcome)

    # each environment's writes in its own pool (its `concurrency` and write rate)
    with ThreadPoolExecutor(
        max_workers=max(1, min(MAX_ENVIRONMENTS, len(by_environment))),
        thread_name_prefix="credctl-env",
    ) as environments_pool:
        for done in [environments_pool.submit(apply_environment, n) for n in by_environment]:
            done.result()
    # in the plan's order, whatever order the stores answered in
    order = {id(change): index for index, change in enumerate(plan.changes)}
    applied.sort(key=lambda outcome: order[id(outcome.change)])
    failed.sort(key=lambda pair: order[id(pair[0])])
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


class _OneAtATime:
    """Changes to one secret one after another (rows on its fields each change it: Vault
    merges metadata by reading it first, and a secret has one pending slot); changes to
    different secrets at once. Remembers the secrets this sync created."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self.created: set[str] = set()

    def run(self, change: Change, project: Project, backend: Backend, actor: str) -> Applied:
        assert change.name is not None
        with self._lock:
            lock = self._locks.setdefault(change.name, threading.Lock())
        with lock:
            return _apply_one(project, backend, change, actor, self.created)


def _apply_one(
    project: Project, backend: Backend, change: Change, actor: str, created: set[str]
) -> Applied:
    assert change.name is not None
    if change.action == "prune":
        return Applied(change, note=backend.schedule_delete(change.name))
    if change.action == "write-back":
        return Applied(change)
    assert change.credential is not None
    now = clock.now()
    if change.action == "restore":
        backend.restore(change.name)
        if change.metadata or change.remove:
            backend.set_metadata(change.name, change.metadata, change.remove)
        return Applied(change, note=f"restored {change.id} ({change.reference}) with its value")
    if change.action == "recreate":
        return _recreate(project, backend, change, actor)
    if change.action == "create" and change.secret_field is not None:
        return _create_field(project, backend, change, actor, created)
    if change.action == "create":
        metadata = dict(change.metadata)
        value = None
        if change.generate_value:
            value = _generated(project, change.credential)
            metadata.update(recorded_metadata(change.credential, actor, now, None))
            change.table_updates["last_rotated"] = now.strftime("%Y-%m-%d")
        backend.create(change.name, metadata, value)
        created.add(change.name)
        return Applied(change)
    return _update(project, backend, change, actor)


def _create_field(
    project: Project, backend: Backend, change: Change, actor: str, created: set[str]
) -> Applied:
    """A row on one #field of a secret that did not exist: the first such row creates it,
    each (the first too) gives its own field its first value, staged like a rotation."""
    assert change.name is not None
    assert change.credential is not None
    if change.name in created:
        backend.set_metadata(change.name, change.metadata)
    else:
        backend.create(change.name, change.metadata, None)
        created.add(change.name)
    if not change.generate_value:
        return Applied(change)
    token = staging_token()
    value = _generated(project, change.credential)
    backend.put_pending(change.name, value, token, change.secret_field)
    return Applied(change, version=_fill(backend, change, actor, token))


def _update(project: Project, backend: Backend, change: Change, actor: str) -> Applied:
    """Metadata; a first value for a secret whose creation stopped half-way; and what a
    stopped run of credctl left staged on it, finished."""
    assert change.name is not None
    assert change.credential is not None
    if change.read_expiry:
        _read_expiry(project, backend, change)
    if not (change.generate_value or change.finish_staged):
        backend.set_metadata(change.name, change.metadata, change.remove)
        return Applied(change)
    # the plan's listing is old: a set or rotate may have given it a value since
    listed = backend.secret_info(change.name)
    if listed is None:
        raise NotFoundError(f"{change.id}: {change.name} is gone from the store")
    fresh = listed.for_field(change.secret_field)
    pending = fresh.own_pending
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
        if change.metadata or change.remove:
            backend.set_metadata(change.name, change.metadata, change.remove)
        return Applied(change)
    token = staging_token()
    backend.put_pending(
        change.name, _generated(project, change.credential), token, change.secret_field
    )
    return Applied(change, version=_fill(backend, change, actor, token))


def _read_expiry(project: Project, backend: Backend, change: Change) -> None:
    """Record the expiry of a value another tool made, when it is a certificate (a value
    that cannot be read, or holds none, leaves what is recorded alone)."""
    assert change.name is not None
    environment = project.environment(change.environment)
    ref = environment.ref_for(change.name, change.secret_field)
    value = backend.read_values([ref])[ref]
    if isinstance(value, BackendError):
        return
    expiry = Expiry.of(value)
    if expiry.on is not None:
        change.metadata.update(expiry.metadata(change.secret_field))
        change.table_updates["expires"] = expiry.cell()


def _recreate(project: Project, backend: Backend, change: Change, actor: str) -> Applied:
    """A deleted secret back with a new generated value (its old one stays in the history
    where the store kept it)."""
    assert change.name is not None
    assert change.credential is not None
    if change.info is not None and not change.info.destroyed:
        backend.restore(change.name)  # a store writes no new value over a deleted secret
        whole = backend.reference(change.name)
        check_shape(backend, change.name, change.secret_field, whole, restored=True)
    token = staging_token()
    backend.put_pending(
        change.name, _generated(project, change.credential), token, change.secret_field
    )
    version = _fill(backend, change, actor, token)
    return Applied(
        change, version, note=f"recreated {change.id} with a new value (version {version})"
    )


def _fill(backend: Backend, change: Change, actor: str, token: str) -> str:
    """Make a staged first value current, recorded before it is (a stop in between is
    finished by the next sync, which finds it staged or promoted, and never fills twice)."""
    assert change.name is not None
    assert change.credential is not None
    now = clock.now()
    recorded = recorded_metadata(change.credential, actor, now, None)
    backend.set_metadata(change.name, {**change.metadata, **recorded}, change.remove)
    version = backend.promote(change.name, token)
    # the version credctl made current (known only now): another current one is another tool's
    backend.set_metadata(change.name, {META_VERSION: version})
    change.table_updates["last_rotated"] = now.strftime("%Y-%m-%d")
    return version


def _generated(project: Project, credential: Credential) -> Secret:
    type_policy = credential.type_policy
    assert type_policy is not None
    assert type_policy.generator is not None
    return generate(type_policy.generator)
