"""Policies: merged credential-type and environment rules, effective maximum age,
and the table checks that need no network."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from credctl.errors import Problem
from credctl.model import (
    REFERENCE_SCHEMES,
    CredentialTypePolicy,
    EffectivePolicy,
    EnvironmentConfig,
    EnvironmentPolicy,
    Row,
    looks_like_reference,
    parse_reference,
    slugify,
)
from credctl.schedule import parse_schedule, parse_timestamp

DEFAULT_MAX_AGE = timedelta(days=90)
DEFAULT_WARN_BEFORE = timedelta(days=14)


@dataclass
class Policy:
    """Every file of `policies/`, merged."""

    defaults: EnvironmentPolicy
    credential_types: dict[str, tuple[str, CredentialTypePolicy]]  # slug -> (name, policy)
    environments: dict[str, EnvironmentPolicy]  # slug -> policy

    def type_names(self) -> list[str]:
        """The credential types as the policy files spell them."""
        return [name for name, _ in self.credential_types.values()]

    def type_policy(self, credential_type: str) -> CredentialTypePolicy | None:
        found = self.credential_types.get(slugify(credential_type))
        return found[1] if found else None

    def effective(self, row: Row) -> EffectivePolicy:
        """The rules for one row: the shortest of schedule, type and environment max age."""
        type_policy = self.type_policy(row.credential_type) or CredentialTypePolicy()
        environment = self.environments.get(slugify(row.environment), EnvironmentPolicy())
        environment_max = environment.max_age or self.defaults.max_age or DEFAULT_MAX_AGE
        policy_max = min(
            (age for age in (type_policy.max_age, environment_max) if age is not None),
            default=None,
        )
        try:
            schedule = parse_schedule(row.schedule) if row.schedule else policy_max
        except ValueError:
            schedule = policy_max
        never = row.schedule.strip().lower() == "never"
        if never and type_policy.allow_never:
            max_age = None
        else:
            max_age = min((age for age in (schedule, policy_max) if age is not None), default=None)
        exceeds = (schedule is not None and policy_max is not None and schedule > policy_max) or (
            never and not type_policy.allow_never
        )
        return EffectivePolicy(
            max_age=max_age,
            warn_before=environment.warn_before or self.defaults.warn_before or DEFAULT_WARN_BEFORE,
            require_owner=_first_bool(environment.require_owner, self.defaults.require_owner, True),
            type_policy=type_policy,
            schedule_exceeds_policy=exceeds,
        )


def _first_bool(*values: bool | None) -> bool:
    return next(value for value in values if value is not None)


# ------------------------------------------------------------ literal values

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


# ----------------------------------------------------------------- checks


def check_rows(
    rows: Sequence[Row],
    environments: Mapping[str, EnvironmentConfig],
    policy: Policy,
) -> list[Problem]:
    """Every rule of DESIGN 1.1 that needs only the files, each located by file and line."""
    problems: list[Problem] = []
    seen: dict[tuple[str, str, str], Row] = {}
    by_slug = {slugify(name): config for name, config in environments.items()}
    for row in rows:
        where = (row.file, row.line)
        for column, value in (
            ("Service", row.service),
            ("Environment", row.environment),
            ("Credential Type", row.credential_type),
        ):
            if not value:
                problems.append(Problem(*where, f"{column} is empty", "invalid"))
        if not (row.service and row.environment and row.credential_type):
            continue
        first = seen.get(row.key)
        if first is not None:
            problems.append(
                Problem(
                    *where,
                    f"duplicate credential {row.id} (first at line {first.line})",
                    "duplicate",
                )
            )
        else:
            seen[row.key] = row
        environment = by_slug.get(slugify(row.environment))
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
        type_policy = policy.type_policy(row.credential_type)
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
        try:
            parse_timestamp(row.last_rotated)
        except ValueError as error:
            problems.append(Problem(*where, f"Last Rotated: {error}", "invalid-date"))
        effective = policy.effective(row)
        if effective.require_owner and not row.owner.strip():
            problems.append(
                Problem(
                    *where,
                    f"{row.id} has no owner (policy requires one in {row.environment})",
                    "missing-owner",
                )
            )
        problems.extend(_check_value(row, type_policy, environment))
    return problems


def _check_schedule(row: Row, type_policy: CredentialTypePolicy) -> list[Problem]:
    where = (row.file, row.line)
    text = row.schedule.strip()
    if not text:
        return []
    try:
        schedule = parse_schedule(text)
    except ValueError as error:
        return [Problem(*where, f"Rotation Schedule: {error}", "invalid-schedule")]
    if schedule is None and not type_policy.allow_never:
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
    row: Row, type_policy: CredentialTypePolicy, environment: EnvironmentConfig | None
) -> list[Problem]:
    where = (row.file, row.line)
    value = row.reference.strip()
    if value.lower() in _PLACEHOLDERS:
        return []
    reference = parse_reference(value)
    if reference is not None:
        if environment is not None:
            expected = environment.backend.type
            if REFERENCE_SCHEMES[reference.scheme] != expected:
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
                "Value/Reference is not a valid reference (use aws-sm://NAME, "
                "vault://MOUNT/PATH or local://PATH, optionally #field)",
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
