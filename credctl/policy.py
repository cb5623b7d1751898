"""Policies: merged credential-type and environment rules, effective maximum age,
and the table checks that need no network."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from credctl.errors import ConfigError, Problem
from credctl.model import (
    CredentialTypePolicy,
    EffectivePolicy,
    EnvironmentPolicy,
    Severity,
    slugify,
)
from credctl.rotation.rotators import rotator_type
from credctl.schedule import days

if TYPE_CHECKING:
    from credctl.credential import Credential

DEFAULT_MAX_AGE = timedelta(days=90)
DEFAULT_WARN_BEFORE = timedelta(days=14)
# AWS Config's secretsmanager-secret-unused rule defaults to 90 days too
DEFAULT_UNUSED_AFTER = timedelta(days=90)


@dataclass
class Policy:
    """Every file of `policies/`, merged."""

    defaults: EnvironmentPolicy
    credential_types: dict[str, tuple[str, CredentialTypePolicy]]  # slug -> (name, policy)
    environments: dict[str, EnvironmentPolicy]  # slug -> policy
    # slug -> (file, line) where the credential type is defined
    type_locations: dict[str, tuple[str, int | None]] = field(default_factory=dict)

    def type_names(self) -> list[str]:
        """The credential types as the policy files spell them."""
        return [name for name, _ in self.credential_types.values()]

    def type_policy(self, credential_type: str) -> CredentialTypePolicy | None:
        found = self.credential_types.get(slugify(credential_type))
        return found[1] if found else None

    def effective(
        self, credential_type: str, environment: str, schedule: timedelta | None, never: bool
    ) -> EffectivePolicy:
        """The rules for one credential: the shortest of its schedule (None: none given, or
        `never`), its type's and its environment's maximum age."""
        type_policy = self.type_policy(credential_type) or CredentialTypePolicy()
        rules = self.environments.get(slugify(environment), EnvironmentPolicy())
        environment_max = rules.max_age or self.defaults.max_age or DEFAULT_MAX_AGE
        policy_max = min(
            (age for age in (type_policy.max_age, environment_max) if age is not None),
            default=None,
        )
        if schedule is None and not never:
            schedule = policy_max
        if never and type_policy.allow_never:
            max_age = None
        else:
            max_age = min((age for age in (schedule, policy_max) if age is not None), default=None)
        exceeds = (schedule is not None and policy_max is not None and schedule > policy_max) or (
            never and not type_policy.allow_never
        )
        return EffectivePolicy(
            max_age=max_age,
            warn_before=rules.warn_before or self.defaults.warn_before or DEFAULT_WARN_BEFORE,
            require_owner=_first_bool(rules.require_owner, self.defaults.require_owner, True),
            type_policy=type_policy,
            schedule_exceeds_policy=exceeds,
            unused_after=_unused_after(type_policy, rules, self.defaults),
        )


def schedule_warning(row: Credential, effective: EffectivePolicy) -> str | None:
    """What is wrong with a row's schedule against policy (the policy's maximum applies)."""
    if not effective.schedule_exceeds_policy:
        return None
    allowed = days(effective.max_age)
    if allowed is None:
        return f"{row.id}: schedule {row.schedule!r} is not allowed by policy"
    return (
        f"{row.id}: schedule {row.schedule!r} is longer than policy allows ({allowed} days applies)"
    )


def provider_warnings(policy: Policy) -> list[str]:
    """Credential types whose rotator makes a value no provider learns, not marked as
    values credctl owns: a provider-issued key rotated so would no longer work."""
    warnings = []
    for slug, (name, type_policy) in policy.credential_types.items():
        kind = rotator_type(type_policy)
        if not kind.applies_nowhere or type_policy.self_contained:
            continue
        file, line = policy.type_locations.get(slug, ("policies", None))
        where = f"{file}:{line}" if line else file
        warnings.append(
            f"{where}: credential type {name!r} rotates with '{kind.name}', which makes a "
            "value that no provider learns: a provider-issued key (Stripe, Twilio, SendGrid…) "
            "would stop working. Use 'manual' or a 'command' rotator that asks the provider, "
            "or, where credctl's value is the truth (a secret only your own services share), "
            "add 'self_contained: true'"
        )
    return warnings


def _unused_after(
    type_policy: CredentialTypePolicy, rules: EnvironmentPolicy, defaults: EnvironmentPolicy
) -> timedelta | None:
    """The type's `unused_after`, else the environment's, else the defaults' (None: never)."""
    for setting in (type_policy.unused_after, rules.unused_after, defaults.unused_after):
        if setting is not None:
            return None if setting == "never" else setting
    return DEFAULT_UNUSED_AFTER


def _first_bool(*values: bool | None) -> bool:
    return next(value for value in values if value is not None)


# ------------------------------------------------------------ literal values


# ----------------------------------------------------------------- checks


# Problems of the table that audit reports as findings instead of refusing to run.
FINDING_PROBLEMS: dict[str, Severity] = {
    "missing-owner": "error",
    "literal-secret-in-table": "error",
}


def refuse_invalid(problems: Sequence[Problem]) -> None:
    """Stop before acting on a table with problems that are not audit findings."""
    fatal = [problem for problem in problems if problem.code not in FINDING_PROBLEMS]
    if fatal:
        raise ConfigError(fatal)
