"""A credential: one row of the reference table, parsed once when the project loads.

The row keeps the cells as written (for messages and for writing the table back);
everything later code needs — the reference, the table's date, the schedule's
effect, the policy that applies, the environment variable — is parsed here, once.
A cell that does not parse leaves its value out and its reason in `errors`, which
`validate` reports; nothing else parses a cell again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from credctl.backends.base import name_in_store
from credctl.errors import UsageError
from credctl.expiry import parse_expiry
from credctl.model import (
    CredentialTypePolicy,
    EffectivePolicy,
    EnvironmentConfig,
    Ref,
    Row,
    parse_reference,
    slugify,
)
from credctl.policy import Policy
from credctl.rotation.rotators import rotator_type
from credctl.schedule import parse_schedule, parse_timestamp


@dataclass(frozen=True)
class Credential:
    """One credential of the table: its row as written and what the row means."""

    row: Row
    environment_config: EnvironmentConfig | None  # None: the row names no known environment
    type_policy: CredentialTypePolicy | None  # None: no policy defines its type
    policy: EffectivePolicy
    ref: Ref | None  # the Value/Reference cell as a reference (None: empty, or a literal)
    rotated_on: datetime | None  # the table's Last Rotated (None: never, empty, or no date)
    every: timedelta | None = None  # the Rotation Schedule (None: never, empty, or no duration)
    errors: Mapping[str, str] = field(default_factory=dict)  # cell -> why it does not parse
    expires_on: datetime | None = None  # the optional Expires cell (None: empty, or no date)
    # the optional `Environments` column: where this service's credential of this type
    # belongs (environment slugs; None: not given, so every environment of a run)
    expected_in: frozenset[str] | None = None

    # ------------------------------------------------ the row's cells, as written

    @property
    def id(self) -> str:
        return self.row.id

    @property
    def key(self) -> tuple[str, str, str]:
        return self.row.key

    @property
    def file(self) -> str:
        return self.row.file

    @property
    def line(self) -> int:
        return self.row.line

    @property
    def environment(self) -> str:
        return self.row.environment

    @property
    def service(self) -> str:
        return self.row.service

    @property
    def credential_type(self) -> str:
        return self.row.credential_type

    @property
    def reference(self) -> str:
        return self.row.reference

    @property
    def schedule(self) -> str:
        return self.row.schedule

    @property
    def last_rotated(self) -> str:
        return self.row.last_rotated

    @property
    def owner(self) -> str:
        return self.row.owner

    @property
    def env_var(self) -> str:
        return self.row.env_var

    @property
    def expires(self) -> str:
        return self.row.expires

    # -------------------------------------------------------- what the row means

    @property
    def literal(self) -> str:
        """The Value/Reference cell's text (a configuration row's value)."""
        return self.row.reference.strip()

    @property
    def is_config(self) -> bool:
        """A non-secret row whose value is written in the table (a redirect URI, a client ID)."""
        return (
            self.type_policy is not None
            and not self.type_policy.secret
            and self.ref is None
            and self.literal != ""
        )

    @property
    def variable(self) -> str:
        """`Env Var` column, else the environment file's mapping, else SERVICE_CREDENTIAL_TYPE."""
        if self.row.env_var:
            return self.row.env_var
        relative = f"{slugify(self.service)}/{slugify(self.credential_type)}"
        if self.environment_config is not None:
            for key, name in self.environment_config.env_vars.items():
                if key in (relative, self.id) or slugify(key) == slugify(relative):
                    return name
        words = f"{self.service}_{self.credential_type}"
        return re.sub(r"[^A-Za-z0-9]+", "_", words).strip("_").upper()

    @property
    def field(self) -> str | None:
        """The `#field` of the secret this row holds (None: all of it)."""
        return self.ref.field if self.ref is not None else None

    @property
    def person_rotates(self) -> bool:
        """A person gives its new value (its type's rotator asks one; manual by default)."""
        return rotator_type(self.type_policy or CredentialTypePolicy()).person

    @property
    def external(self) -> bool:
        """Its reference points outside its environment's prefix (a secret another system
        owns, declared in `external:`): credctl reads and rotates it, never creates it or
        puts its own metadata on it besides the record of a rotation."""
        environment = self.environment_config
        if environment is None or self.ref is None:
            return False
        name = environment.store_name(self.ref)
        return name is not None and not environment.owns(name)

    def matches(self, services: Sequence[str], types: Sequence[str]) -> bool:
        """Whether `--service` and `--type` options (none given: all) choose it."""
        return (not services or slugify(self.service) in {slugify(s) for s in services}) and (
            not types or slugify(self.credential_type) in {slugify(t) for t in types}
        )

    def target(self, environment: EnvironmentConfig) -> tuple[str, str | None]:
        """The store name (and field) it points at: its reference, or the naming rule."""
        if self.ref is not None:
            return name_in_store(environment, self.ref), self.ref.field
        try:
            return environment.secret_name(self.service, self.credential_type), None
        except ValueError as error:
            raise UsageError(
                f"{self.id}: {error}", hint="'credctl validate' names the row to fix"
            ) from None


ENVIRONMENTS_COLUMN = "environments"


def expected_environments(row: Row) -> frozenset[str] | None:
    """The `Environments` cell (`dev, staging`) as slugs; None when the row leaves it out."""
    for name, text in row.extra.items():
        if re.sub(r"[^a-z0-9]", "", name.lower()) == ENVIRONMENTS_COLUMN and text.strip():
            return frozenset(slugify(part) for part in re.split(r"[,\s]+", text) if part.strip())
    return None


def parse_credentials(
    rows: Sequence[Row], environments: Mapping[str, EnvironmentConfig], policy: Policy
) -> list[Credential]:
    """Every row of the table, parsed once."""
    by_slug = {slugify(name): config for name, config in environments.items()}
    return [_parse(row, by_slug.get(slugify(row.environment)), policy) for row in rows]


def _parse(row: Row, environment: EnvironmentConfig | None, policy: Policy) -> Credential:
    errors = {}
    schedule = None
    try:
        schedule = parse_schedule(row.schedule) if row.schedule.strip() else None
    except ValueError as error:
        errors["schedule"] = str(error)
    try:
        rotated_on = parse_timestamp(row.last_rotated)
    except ValueError as error:
        rotated_on = None
        errors["last_rotated"] = str(error)
    try:
        expires_on = parse_expiry(row.expires)
    except ValueError as error:
        expires_on = None
        errors["expires"] = str(error)
    return Credential(
        row,
        environment,
        policy.type_policy(row.credential_type),
        policy.effective(
            row.credential_type,
            row.environment,
            schedule,
            never=row.schedule.strip().lower() == "never",
        ),
        parse_reference(row.reference),
        rotated_on,
        schedule,
        errors,
        expires_on,
        expected_environments(row),
    )
