"""`credctl import`: rows for the secrets under each prefix that no row names, as faithful
to what the store says as the table allows.

Every row it writes passes `validate` once its owner is filled in: its reference names
the secret exactly (every path segment, odd characters escaped), its type is one the
policies define, its schedule one they allow. A secret holding several fields becomes
one row per field that looks like a credential (`#password`), never a row that a
rotation would overwrite whole. What it cannot write (an id two secrets would share, a
type no policy defines, a deleted secret, more rows on one secret than its store keeps
metadata for) is listed with the reason, never dropped silently.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from credctl import auditlog
from credctl.auditlog import Entry
from credctl.backends.base import Backend, ShapeResult
from credctl.backends.pool import Backends
from credctl.checks import check_rows, owner_of
from credctl.credential import parse_credentials
from credctl.fanout import each_listing
from credctl.lifecycle import deleted_hint, deleted_message
from credctl.model import (
    FIELD_KEY_PREFIX,
    META_MANAGED,
    META_OWNER,
    META_SCHEDULE,
    META_SERVICE,
    META_TYPE,
    META_VERSION,
    ROW_KEYS,
    EnvironmentConfig,
    Row,
    SecretInfo,
    row_key,
    slugify,
)
from credctl.progress import Progress
from credctl.project import Project
from credctl.recording import check_can_record
from credctl.render import Styler
from credctl.results import Result
from credctl.schedule import days, parse_schedule
from credctl.shape import Shape, looks_like_credential

# Owner tags or metadata keys other tools use, after credctl:owner and `owner_keys`
# (compared without case): Terraform's `Owner` tag, Vault's `owner` custom metadata.
OWNER_KEYS = ("owner", "team")


@dataclass
class Imported:
    """A row import proposes: its environment, reference and table cells."""

    environment: str
    reference: str
    values: dict[str, str]  # table column -> text
    other_fields: list[str] = field(default_factory=list)  # the secret's fields left out
    needs_owner: bool = False

    @property
    def id(self) -> str:
        return "/".join(
            slugify(self.values[k]) for k in ("environment", "service", "credential_type")
        )


@dataclass(frozen=True)
class NotImported:
    """A secret (or one field of it) import did not write, and why: one line, with what to do."""

    reference: str
    reason: str


@dataclass
class ImportPlan:
    rows: list[Imported] = field(default_factory=list)
    not_imported: list[NotImported] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # rows of the table whose secret is deleted


def plan_import(
    project: Project,
    environments: Sequence[EnvironmentConfig],
    backends: Backends,
    progress: Progress | None = None,
) -> ImportPlan:
    """Rows for the secrets under each prefix that no row names."""
    plan = ImportPlan()

    def read(environment: EnvironmentConfig) -> _Read:
        """The store's part, in the environment's own thread: one listing, then the
        shapes of the values import would propose rows for."""
        backend = backends.get(environment)
        listing = {info.name: info for info in backend.list_secrets()}
        candidates = _candidates(project, environment, listing)
        readable = [info.name for info in candidates if info.has_value and not info.deleted]
        shapes = backend.value_shapes(readable) if readable else {}
        return _Read(backend, listing, shapes)

    outcomes = each_listing(
        environments,
        read,
        progress,
        tolerate=False,  # import proposes rows for every environment or none
    )
    for outcome in outcomes:
        assert outcome.value is not None
        _survey(project, outcome.environment, outcome.value, plan)
    _drop_invalid(project, plan)
    return plan


@dataclass
class _Read:
    backend: Backend
    listing: dict[str, SecretInfo]
    shapes: dict[str, ShapeResult]


def _candidates(
    project: Project, environment: EnvironmentConfig, listing: dict[str, SecretInfo]
) -> list[SecretInfo]:
    """The listed secrets no row names, under this environment's prefix and no other's."""
    rows = project.credentials_in(environment)
    named = {c.target(environment)[0] for c in rows if not c.is_config}
    return [
        info
        for name, info in sorted(listing.items())
        if name not in named
        and owner_of(name, environment, project.environments.values()) in (environment, None)
    ]


def _survey(
    project: Project, environment: EnvironmentConfig, read: _Read, plan: ImportPlan
) -> None:
    """Propose the rows of one environment's unnamed secrets."""
    backend, listing, shapes = read.backend, read.listing, read.shapes
    credentials = [c for c in project.credentials_in(environment) if not c.is_config]
    for credential in credentials:
        name, field_name = credential.target(environment)
        info = listing.get(name)
        if info is not None and info.deleted:
            reference = backend.reference(name, field_name)
            plan.notes.append(
                f"{deleted_message(credential, reference, backend.describe(), info)} "
                f"({deleted_hint(credential, environment, info)})"
            )
    candidates: list[SecretInfo] = []
    for info in _candidates(project, environment, listing):
        if info.deleted:
            # a destroyed value cannot be restored: only a new one brings the secret back
            way_out = (
                "add its row by hand, then give it a new value with 'credctl set ID --recreate'"
                if info.destroyed
                else "restore it in the store, then import again"
            )
            state = "destroyed" if info.destroyed else "deleted"
            plan.not_imported.append(
                NotImported(
                    info.reference,
                    f"{state} in {backend.describe()}: not adopted (if it is still in use, "
                    f"{way_out})",
                )
            )
            continue
        candidates.append(info)
    taken = {credential.id: credential for credential in project.credentials}
    proposed = {row.id: row for row in plan.rows}
    for info in candidates:
        shape = shapes.get(info.name)
        found = list(shape.fields) if isinstance(shape, Shape) and shape.structured else None
        for row in _rows_for(project, environment, backend, info, found, plan):
            earlier = taken.get(row.id)
            if earlier is not None:
                plan.not_imported.append(
                    NotImported(
                        row.reference,
                        f"its id {row.id} is taken by {earlier.file}:{earlier.line} "
                        f"({earlier.reference or 'named by the naming rule'}); add it by hand "
                        "with a Service that tells the two apart",
                    )
                )
            elif row.id in proposed:
                plan.not_imported.append(
                    NotImported(
                        row.reference,
                        f"its id {row.id} would also be the id of {proposed[row.id].reference}, "
                        "which is added; add this one by hand with a Service that tells the "
                        "two apart",
                    )
                )
            else:
                proposed[row.id] = row
                plan.rows.append(row)


def _rows_for(
    project: Project,
    environment: EnvironmentConfig,
    backend: Backend,
    info: SecretInfo,
    found: list[str] | None,
    plan: ImportPlan,
) -> list[Imported]:
    """The rows one secret becomes: one, or one per credential field of a structured value."""
    parts = [part for part in info.name[len(environment.prefix) :].split("/") if part]
    if found is None:
        # one plain value (or none yet, or none this identity may read): the whole secret
        stated = info.metadata.get(META_TYPE)
        credential_type, rest = _credential_type(parts[-1], stated, project)
        if credential_type is None:
            plan.not_imported.append(NotImported(info.reference, _no_type(parts[-1], project)))
            return []
        service = info.metadata.get(META_SERVICE) or _service(
            parts[:-1] + ([rest] if rest else []), environment
        )
        return [_row(project, environment, backend, info, None, service, credential_type, [])]
    # a field whose name says it holds a credential, or one credctl kept a row's keys for
    kept = {
        key[len(FIELD_KEY_PREFIX) :].rpartition(":")[0]
        for key in info.metadata
        if key.startswith(FIELD_KEY_PREFIX)
    }
    secret_fields = [name for name in found if looks_like_credential(name) or name in kept]
    others = sorted(name for name in found if name not in secret_fields)
    if not secret_fields:
        plan.not_imported.append(
            NotImported(
                info.reference,
                f"holds the fields {', '.join(found)}, none of which looks like a credential; "
                "add a row with #field by hand if one is",
            )
        )
        return []
    rows: list[Imported] = []
    # as many rows as the store keeps metadata for on one secret: plan refuses more
    limit = environment.backend_type.metadata_keys
    keys = (set(info.metadata) - set(ROW_KEYS)) | {META_MANAGED, META_VERSION}
    for name in secret_fields:
        # each row on a field reads the keys credctl keeps for its field
        view = replace(info, metadata=_field_metadata(info, name, alone=len(secret_fields) == 1))
        credential_type, _ = _credential_type(name, view.metadata.get(META_TYPE), project)
        reference = backend.reference(info.name, name)
        if credential_type is None:
            plan.not_imported.append(NotImported(reference, _no_type(name, project)))
            continue
        needed = keys | {row_key(key, name) for key in ROW_KEYS}
        if limit is not None and len(needed) > limit:
            plan.not_imported.append(
                NotImported(
                    reference,
                    f"the secret has room in {environment.backend.store_label()} for the "
                    f"metadata of {len(rows)} rows on its fields: add this row by hand in place "
                    "of another, or keep this credential in a secret of its own",
                )
            )
            continue
        keys = needed
        service = view.metadata.get(META_SERVICE) or _service(parts, environment)
        rows.append(
            _row(project, environment, backend, view, name, service, credential_type, others)
        )
    return rows


def _field_metadata(info: SecretInfo, field_name: str, *, alone: bool) -> dict[str, str]:
    """The metadata a row on one field reads: the keys credctl keeps for that field
    (`credctl:field:<field>:owner`, …) as its own, in place of the secret's; without any,
    the secret's, but its type only when this is its one credential field."""
    own = {
        key: info.metadata[row_key(key, field_name)]
        for key in ROW_KEYS
        if row_key(key, field_name) in info.metadata
    }
    if not own:
        return {k: v for k, v in info.metadata.items() if alone or k != META_TYPE}
    return {**{k: v for k, v in info.metadata.items() if k not in ROW_KEYS}, **own}


def _row(
    project: Project,
    environment: EnvironmentConfig,
    backend: Backend,
    info: SecretInfo,
    field_name: str | None,
    service: str,
    credential_type: str,
    others: list[str],
) -> Imported:
    reference = backend.reference(info.name, field_name)
    owner = _owner(info.metadata, environment)
    last = info.for_field(field_name).last_rotated
    return Imported(
        environment.name,
        reference,
        {
            "service": service,
            "environment": environment.name,
            "credential_type": credential_type,
            "reference": reference,
            "schedule": _schedule(project, environment, credential_type, info.metadata),
            "last_rotated": last.strftime("%Y-%m-%d") if last else "never",
            "owner": owner,
        },
        others,
    )


def _credential_type(word: str, stated: str | None, project: Project) -> tuple[str | None, str]:
    """The policy's credential type for a name's last segment or a field (and what of the
    segment is left before it: `stripe-api-key` -> API Key, `stripe`)."""
    known = {slugify(name): name for name in project.policy.type_names()}
    if stated and slugify(stated) in known:
        return known[slugify(stated)], ""
    wanted = slugify(word)
    if wanted in known:
        return known[wanted], ""
    ending = [slug for slug in known if wanted.endswith("-" + slug)]
    if ending:
        slug = max(ending, key=len)
        return known[slug], wanted[: -len(slug) - 1]
    wider = [slug for slug in known if slug.endswith("-" + wanted)]
    if len(wider) == 1:
        return known[wider[0]], ""
    return None, ""


def _no_type(word: str, project: Project) -> str:
    wanted = slugify(word)
    candidates = [n for n in project.policy.type_names() if slugify(n).endswith("-" + wanted)]
    choose = f" (one of {', '.join(candidates)}?)" if len(candidates) > 1 else ""
    return (
        f"no credential type of policies/ matches {word!r}{choose}: add one, or tag the secret "
        "credctl:type with its type, then import again"
    )


def _title(slug: str) -> str:
    return " ".join(word.capitalize() for word in slug.replace("_", "-").split("-") if word)


def _service(parts: Sequence[str], environment: EnvironmentConfig) -> str:
    """Every segment before the credential's, each title-cased (the reference is exact)."""
    service = "/".join(_title(part) for part in parts if _title(part))
    if not re.search("[A-Za-z0-9]", service):
        return _title(environment.name) or "Imported"
    return service


def _owner(metadata: Mapping[str, str], environment: EnvironmentConfig) -> str:
    """credctl:owner, then the environment's `owner_keys`, then Owner/owner, then team."""
    lowered = {key.lower(): value for key, value in metadata.items()}
    for key in (META_OWNER, *environment.owner_keys):
        if metadata.get(key, "").strip():
            return _one_line(metadata[key])
    for key in OWNER_KEYS:
        if lowered.get(key, "").strip():
            return _one_line(lowered[key])
    return ""


def _one_line(text: str) -> str:
    return " ".join(re.sub(r"[\x00-\x1f\x7f-\x9f]", " ", text).split())


def _schedule(
    project: Project,
    environment: EnvironmentConfig,
    credential_type: str,
    metadata: Mapping[str, str],
) -> str:
    """The secret's own schedule where the policy allows it, else the policy's maximum age."""
    allowed = project.policy.effective(credential_type, environment.name, None, never=False).max_age
    stated = metadata.get(META_SCHEDULE, "").strip()
    if stated:
        try:
            every = parse_schedule(stated)
        except ValueError:
            every = None
        if stated.lower() == "never":
            type_policy = project.policy.type_policy(credential_type)
            if type_policy is not None and type_policy.allow_never:
                return stated
        elif every is not None and (allowed is None or every <= allowed):
            return stated
    count = days(allowed)
    return f"{count}d" if count else "90d"


def _drop_invalid(project: Project, plan: ImportPlan) -> None:
    """Keep only rows that `validate` accepts, apart from the owners left to fill in."""
    if not plan.rows:
        return
    first_line = 1_000_000  # lines no table has: the problems of the proposed rows
    rows = [
        Row(
            project.table.display,
            first_line + index,
            item.values["environment"],
            item.values["service"],
            item.values["credential_type"],
            item.values["reference"],
            item.values["schedule"],
            item.values["last_rotated"],
            item.values["owner"],
        )
        for index, item in enumerate(plan.rows)
    ]
    proposed = parse_credentials(rows, project.environments, project.policy)
    problems: dict[int, list[str]] = {}
    for problem in check_rows([*project.credentials, *proposed], project.environments):
        if problem.line is not None and problem.line >= first_line:
            if problem.code == "missing-owner":
                plan.rows[problem.line - first_line].needs_owner = True
            else:
                problems.setdefault(problem.line, []).append(problem.message)
    kept = []
    for index, item in enumerate(plan.rows):
        reasons = problems.get(first_line + index)
        if reasons:
            plan.not_imported.append(NotImported(item.reference, "; ".join(reasons)))
        else:
            kept.append(item)
    plan.rows = kept


@dataclass
class ImportResult(Result):
    """The rows found for unmanaged secrets, those added (None for a dry run), and what
    was left out, with why."""

    plan: ImportPlan
    added: list[Imported] | None
    table: str

    def as_text(self, style: Styler) -> str:
        lines = []
        for item in self.plan.rows:
            owner = item.values["owner"]
            detail = f"owner {owner}" if owner else "no owner: set one"
            if item.other_fields:
                detail += f"; other fields: {', '.join(item.other_fields)}"
            lines.append(f"+ {item.id}  {item.reference}  ({detail})\n")
        for skipped in self.plan.not_imported:
            lines.append(f"! not added: {skipped.reference}  ({skipped.reason})\n")
        return "".join(lines)

    def notes(self) -> list[str]:
        notes = list(self.plan.notes)
        rows = self.plan.rows
        if not rows:
            if not self.plan.not_imported:
                notes.append("Nothing to import: every secret under the prefixes has a row.")
            return notes
        ownerless = [item.id for item in rows if item.needs_owner]
        owners = (
            f"; {len(ownerless)} {'needs' if len(ownerless) == 1 else 'need'} an owner "
            f"({', '.join(ownerless)}): fill in {'its' if len(ownerless) == 1 else 'their'} "
            "Owner cell, then run 'credctl validate'"
            if ownerless
            else ""
        )
        if self.added is None:
            notes.append(f"{_rows(len(rows))} would be added to {self.table}{owners}.")
        else:
            notes.append(f"Added {_rows(len(self.added))} to {self.table}{owners}.")
        return notes


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
    plan = plan_import(project, environments, backends, progress)
    added = None if dry_run or not plan.rows else apply_import(project, plan.rows, actor)
    return ImportResult(plan, added, project.table.display)


def apply_import(project: Project, credentials: Sequence[Imported], actor: str) -> list[Imported]:
    """Append the credentials onto the table as it is now; the credentials added (not added meanwhile)."""
    check_can_record(project, "import")
    result = project.table.append([credential.values for credential in credentials])
    already = {skipped.id for skipped in result.skipped}
    added = (
        [credential for credential in credentials if credential.id not in already]
        if result.written
        else []
    )
    for credential in added:
        auditlog.append(
            project.root,
            Entry(
                actor, credential.environment, credential.id, "import", message=credential.reference
            ),
        )
    return added
