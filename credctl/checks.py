"""The table's rules that need only the files: every problem, located by file and line.

Run by `validate`, and before any command acts on the table (`audit` reports the
problems that are findings, such as a missing owner, instead of refusing to run)."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from credctl.backends.registry import reference_forms
from credctl.credential import Credential
from credctl.errors import Problem
from credctl.fields import has_control_character, path_problem
from credctl.model import CredentialTypePolicy, EnvironmentConfig, looks_like_reference, slugify
from credctl.rotation.rotators import rotator_type


def check_rows(
    rows: Sequence[Credential], environments: Mapping[str, EnvironmentConfig]
) -> list[Problem]:
    """Every rule of the table that needs only the files (README: the reference table), each
    located by file and line."""
    problems: list[Problem] = []
    seen: dict[tuple[str, str, str], Credential] = {}
    targets: dict[tuple[object, str], list[tuple[Credential, Target]]] = {}
    all_environments = list(environments.values())
    for row in rows:
        where = (row.file, row.line)
        for column, value in (
            ("Service", row.service),
            ("Environment", row.environment),
            ("Credential Type", row.credential_type),
        ):
            if not value:
                problems.append(Problem(*where, f"{column} is empty", "invalid"))
            elif not re.search("[A-Za-z0-9]", value):
                problems.append(
                    Problem(
                        *where,
                        f"{column} {value!r} has no ASCII letter or digit, so its id and store "
                        f"name would be empty ({row.id}); give it one",
                        "invalid",
                    )
                )
        key = row.key
        if not all(key):
            continue
        first = seen.get(key)
        if first is not None:
            problems.append(
                Problem(
                    *where,
                    f"duplicate credential {row.id} (first at line {first.line})",
                    "duplicate",
                )
            )
        else:
            seen[key] = row
        environment = row.environment_config
        if environment is None:
            known = ", ".join(sorted(environments)) or "none"
            problems.append(
                Problem(
                    *where,
                    f"unknown environment {row.environment!r} (known: {known}; "
                    f"add environments/{slugify(row.environment)}.yaml)",
                    "unknown-environment",
                )
            )
        problems.extend(_check_expected(row, environments))
        type_policy = row.type_policy
        if type_policy is None:
            problems.append(
                Problem(
                    *where,
                    f"credential type {row.credential_type!r} is not defined in any policy",
                    "unknown-type",
                )
            )
            type_policy = CredentialTypePolicy()
        problems.extend(_check_schedule(row, type_policy))
        if "last_rotated" in row.errors:
            problems.append(
                Problem(*where, f"Last Rotated: {row.errors['last_rotated']}", "invalid-date")
            )
        if "expires" in row.errors:
            problems.append(Problem(*where, f"Expires: {row.errors['expires']}", "invalid-date"))
        if row.policy.require_owner and not row.owner.strip():
            problems.append(
                Problem(
                    *where,
                    f"{row.id} has no owner (policy requires one in {row.environment})",
                    "missing-owner",
                )
            )
        problems.extend(_check_value(row, type_policy, environment))
        if environment is None:
            continue
        rotator = rotator_type(type_policy)
        if rotator.backend is not None and environment.backend.type != rotator.backend:
            problems.append(
                Problem(
                    *where,
                    f"{row.id}: {row.credential_type} rotates with '{rotator.name}', which needs "
                    f"an {rotator.backend} environment, but {environment.name} uses the "
                    f"{environment.backend.type} backend; give the row a type with another rotator",
                    "invalid-rotator",
                )
            )
        target_problems, target = _target(row, environment, all_environments)
        problems.extend(target_problems)
        if target is not None and first is None:  # a duplicate row is reported as such
            problems.extend(_check_shared(row, target, targets))
    return problems


def _check_expected(
    row: Credential, environments: Mapping[str, EnvironmentConfig]
) -> list[Problem]:
    """The `Environments` column names only environments the project has."""
    known = {slugify(name) for name in environments}
    unknown = sorted((row.expected_in or frozenset()) - known)
    if not unknown:
        return []
    return [
        Problem(
            row.file,
            row.line,
            f"Environments names {', '.join(repr(name) for name in unknown)}, which "
            f"{'is no environment' if len(unknown) == 1 else 'are no environments'} "
            f"(known: {', '.join(sorted(environments)) or 'none'})",
            "unknown-environment",
        )
    ]


def reference_problems(
    row: Credential, environment: EnvironmentConfig, environments: Iterable[EnvironmentConfig]
) -> list[Problem]:
    """Why a row may not read or write the secret it points at (outside its prefix, inside
    another environment's, a name that escapes); empty when it may."""
    return _target(row, environment, list(environments))[0]


@dataclass(frozen=True)
class Target:
    """The secret a row points at: its name in its environment's store, and the field."""

    name: str
    field: str | None
    environment: EnvironmentConfig

    @property
    def secret(self) -> str:
        """The secret's reference, without the field."""
        return self.environment.reference_for(self.name)


def _target(
    row: Credential, environment: EnvironmentConfig, environments: Sequence[EnvironmentConfig]
) -> tuple[list[Problem], Target | None]:
    """The row's secret, and why its reference may not point there (README: names, prefixes)."""
    where = (row.file, row.line)
    value = row.literal
    reference = row.ref
    if reference is None:
        if value.lower() not in _PLACEHOLDERS:
            return [], None  # a literal: _check_value judges it
        try:
            name = environment.secret_name(row.service, row.credential_type)
        except ValueError as error:
            return [Problem(*where, f"{row.id}: {error}", "invalid-reference")], None
        return [], Target(name, None, environment)
    if reference.scheme != environment.backend_type.scheme:
        return [], None  # _check_value said so
    if has_control_character(value):  # never print what a terminal would obey
        return [
            Problem(*where, "Value/Reference has a control character", "invalid-reference")
        ], None
    problem = path_problem(reference.name)
    if problem is not None:
        return [
            Problem(
                *where,
                f"reference {value} {problem}: credctl never follows it, as the store would "
                "resolve it to another place",
                "invalid-reference",
            )
        ], None
    found = environment.store_name(reference)
    env_file = f"environments/{environment.name}.yaml"
    if found is None:
        mount = environment.reference_for("")
        return [
            Problem(
                *where,
                f"reference {value} is not in environment {environment.name}'s Vault mount "
                f"({mount}…, set in {env_file}); a secret of another mount needs an "
                "environment of its own",
                "outside-prefix",
            )
        ], None
    name = found
    owner = owner_of(name, environment, environments)
    if owner is not None and owner is not environment:
        return [
            Problem(
                *where,
                f"reference {value} of {row.id} is in environment {owner.name}'s prefix "
                f"{owner.prefix!r} on the same store: a {environment.name} row cannot point "
                f"into {owner.name} (use a name under {environment.prefix!r}, or make it a "
                f"{owner.name} row)",
                "foreign-reference",
            )
        ], None
    if owner is None and environment.external_entry(name) is None:
        return [
            Problem(
                *where,
                f"reference {value} is outside environment {environment.name}'s prefix "
                f"{environment.prefix!r}; if {row.id} really lives there, add {name!r} to "
                f"external: in {env_file}",
                "outside-prefix",
            )
        ], None
    return [], Target(name, reference.field, environment)


def owner_of(
    name: str, environment: EnvironmentConfig, environments: Iterable[EnvironmentConfig]
) -> EnvironmentConfig | None:
    """The environment on the same store whose prefix holds `name` (the longest prefix)."""
    owners = [
        other for other in environments if other.store == environment.store and other.owns(name)
    ]
    # the row's own environment wins a tie; overlapping prefixes are reported on their own
    owners.sort(key=lambda other: (len(other.prefix), other is environment), reverse=True)
    return owners[0] if owners else None


def _check_shared(
    row: Credential,
    target: Target,
    targets: dict[tuple[object, str], list[tuple[Credential, Target]]],
) -> list[Problem]:
    """Two rows on one secret: `set` on one would change the other, unless each has its field."""
    earlier_rows = targets.setdefault((target.environment.store, target.name), [])
    earlier_rows.append((row, target))
    for earlier, earlier_target in earlier_rows[:-1]:
        fields = (earlier_target.field, target.field)
        if None in fields or fields[0] == fields[1]:
            return [
                Problem(
                    row.file,
                    row.line,
                    f"{row.id} and {earlier.id} (line {earlier.line}) point at one secret, "
                    f"{target.secret}: a change to one would change the other; give each row "
                    "its own secret, or a different #field of it",
                    "shared-secret",
                )
            ]
    return []


def _check_schedule(row: Credential, type_policy: CredentialTypePolicy) -> list[Problem]:
    where = (row.file, row.line)
    if "schedule" in row.errors:
        return [Problem(*where, f"Rotation Schedule: {row.errors['schedule']}", "invalid-schedule")]
    if row.schedule.strip().lower() == "never" and not type_policy.allow_never:
        return [
            Problem(
                *where,
                f"Rotation Schedule 'never' is not allowed for {row.credential_type} "
                "(policy: allow_never is false)",
                "invalid-schedule",
            )
        ]
    return []


def _check_value(
    row: Credential, type_policy: CredentialTypePolicy, environment: EnvironmentConfig | None
) -> list[Problem]:
    where = (row.file, row.line)
    value = row.literal
    if value.lower() in _PLACEHOLDERS:
        return []
    reference = row.ref
    if reference is not None:
        if environment is not None:
            expected = environment.backend.type
            if reference.scheme != environment.backend_type.scheme:
                return [
                    Problem(
                        *where,
                        f"reference {value} is a {reference.scheme}:// reference but "
                        f"environment {environment.name} uses the {expected} backend",
                        "invalid-reference",
                    )
                ]
        return []
    if looks_like_reference(value):
        return [
            Problem(
                *where,
                f"Value/Reference is not a valid reference (use {reference_forms()}, "
                "optionally #field)",
                "invalid-reference",
            )
        ]
    # Never echo the value: it may be the secret itself.
    if type_policy.secret:
        return [
            Problem(
                *where,
                f"{row.id}: Value/Reference holds a literal value in a secret row "
                f"({row.credential_type} is secret); move it to the store and put a "
                "reference here",
                "literal-secret-in-table",
            )
        ]
    if looks_like_secret(value):
        return [
            Problem(
                *where,
                f"{row.id}: Value/Reference looks like a secret (shape/entropy check) "
                f"although {row.credential_type} is not secret; store it and reference it",
                "literal-secret-in-table",
            )
        ]
    return []


# Shapes of well-known credentials, so a literal in the table is caught even in
# a row whose type is not secret.
_KNOWN_SECRET_SHAPES = re.compile(
    r"(sk|rk|pk)_(live|test)_[A-Za-z0-9]{8,}"
    r"|AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}"
    r"|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}"
    r"|xox[abposr]-[A-Za-z0-9-]{10,}"
    r"|SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}"
    r"|AIza[0-9A-Za-z_-]{30,}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
    r"|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"
    r"|[a-z]+://[^/\s:@]+:[^/\s@]+@"  # credentials inside a URL
)


_OBVIOUS_CONFIG = re.compile(
    r"^(https?://\S+"
    r"|[\w.+-]+@[\w-]+(\.[\w-]+)+"
    r"|[\w-]+(\.[\w-]+)*\.[a-z]{2,}"
    r"|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$",
    re.IGNORECASE,
)


_PLACEHOLDERS = {"", "-", "—", "n/a", "na", "none", "tbd", "todo", "?"}


def shannon_entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def looks_like_secret(value: str) -> bool:
    """A shape or entropy check: does this literal look like a credential?"""
    stripped = value.strip()
    if _KNOWN_SECRET_SHAPES.search(stripped):
        return True
    if len(stripped) < 16 or " " in stripped:
        return False
    if _OBVIOUS_CONFIG.match(stripped):
        return False  # URLs without credentials, host names, e-mail addresses, UUIDs
    classes = sum(
        bool(re.search(pattern, stripped)) for pattern in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^\w]")
    )
    return shannon_entropy(stripped) >= 3.5 and classes >= 2
