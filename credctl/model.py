"""The things credctl reasons about: environments, policies, credentials, findings."""

from __future__ import annotations

import fnmatch
import functools
import math
import re
import string
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PlainValidator,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from credctl.backends.config import BackendConfig
from credctl.backends.registry import (
    BACKENDS,
    BackendType,
    backend_type,
    by_scheme,
    validate_config,
)
from credctl.envfile import DEFAULT_FORMAT, ENV_FORMATS
from credctl.fields import Strict, path_problem, prefix_problem
from credctl.generate import expand_alphabet
from credctl.rotation.rotators import DEFAULT as DEFAULT_ROTATOR
from credctl.rotation.rotators import ROTATORS
from credctl.schedule import parse_duration, parse_timestamp, seconds_duration


@functools.lru_cache(maxsize=8192)
def slugify(text: str) -> str:
    """Lower case, runs of anything but letters and digits as `-` (remembered: the same
    few environment, service and type names are slugified for every row)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _duration(value: object) -> object:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return seconds_duration(value)
    if isinstance(value, str):
        return parse_duration(value)
    return value


def _not_negative(value: timedelta) -> timedelta:
    if value < timedelta(0):
        raise ValueError("a duration cannot be negative")
    return value


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be longer than 0 (e.g. 60s)")
    return value


Duration = Annotated[timedelta, BeforeValidator(_duration), AfterValidator(_not_negative)]
PositiveDuration = Annotated[timedelta, BeforeValidator(_duration), AfterValidator(_positive)]


def _duration_or_never(value: object) -> object:
    if isinstance(value, str) and value.strip().lower() == "never":
        return "never"
    duration = _duration(value)
    return _positive(duration) if isinstance(duration, timedelta) else duration


# a positive duration, or `never` (the check is off)
DurationOrNever = Annotated[timedelta | Literal["never"], BeforeValidator(_duration_or_never)]


# ---------------------------------------------------------------- environments


class RetryConfig(Strict):
    max_attempts: int = Field(default=5, ge=1, le=50)
    base_delay: Duration = timedelta(seconds=0.2)
    max_delay: Duration = timedelta(seconds=20)


def _env_file_format(value: object) -> object:
    """One of the registered env-file formats (credctl/envfile), named in the message."""
    if not (isinstance(value, str) and value in ENV_FORMATS):
        raise ValueError(f"unknown format {value!r} (choose from {', '.join(ENV_FORMATS)})")
    return value


class EnvFileConfig(Strict):
    path: str
    format: Annotated[str, BeforeValidator(_env_file_format)] = DEFAULT_FORMAT


_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|sec|second|m|min|minute)\s*$")


def _rate(value: object) -> object:
    if value is None:  # not set is left out, not null: the store's quota applies then
        raise PydanticCustomError("float_type", "Input should be a valid number")
    per_second = value
    if isinstance(value, str):
        match = _RATE.match(value)
        if not match:
            raise ValueError(f"invalid rate {value!r} (use e.g. 50/s or 600/min)")
        per_second = float(match.group(1)) / (1 if match.group(2).startswith("s") else 60)
    if (
        isinstance(per_second, (int, float))
        and not isinstance(per_second, bool)
        and not (0 < per_second < math.inf)
    ):
        raise ValueError(f"rate {value!r} must be more than 0 per second (use e.g. 50/s)")
    return per_second


NAMING_FIELDS = ("service", "credential", "environment")


def _naming(template: str) -> str:
    """Only `{service}`, `{credential}` and `{environment}`: no attribute, index, spec or
    conversion, which `str.format` would evaluate."""
    allowed = ", ".join(f"{{{name}}}" for name in NAMING_FIELDS)
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as error:
        raise ValueError(f"malformed template {template!r} ({error}; use {allowed})") from None
    for _, field_name, spec, conversion in parts:
        if field_name is None:
            continue
        if field_name not in NAMING_FIELDS:
            raise ValueError(f"unknown field {{{field_name}}} in {template!r} (use only {allowed})")
        if spec or conversion:
            raise ValueError(
                f"{{{field_name}}} in {template!r} has a conversion or format spec "
                f"(write it as plain {{{field_name}}})"
            )
    problem = path_problem(template.format(**dict.fromkeys(NAMING_FIELDS, "x")))
    if problem:
        raise ValueError(f"{template!r} {problem}")
    return template


def _external(entries: list[str]) -> list[str]:
    for entry in entries:
        problem = "is empty" if not entry else prefix_problem(entry)
        if problem:
            raise ValueError(f"entry {entry!r} {problem}")
    return entries


def _is_glob(pattern: str) -> bool:
    return any(character in pattern for character in "*?[")


class EnvironmentConfig(Strict):
    """One `environments/<name>.yaml`."""

    name: str
    # its type's model from the registry (`backend.region`, not `backend.aws.region`)
    backend: Annotated[BackendConfig, PlainValidator(validate_config)]
    naming: Annotated[str, AfterValidator(_naming)] = "{service}/{credential}"
    # Names outside the prefix that rows may reference (prefixes, or globs with * ? [).
    external: Annotated[list[str], AfterValidator(_external)] = Field(default_factory=list)
    # Tags or metadata keys that name a secret's owner, for `import` (after credctl:owner).
    owner_keys: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    env_file: EnvFileConfig | None = None
    env_vars: dict[str, str] = Field(default_factory=dict)
    # requests at once to the store; unset, the store type's own default (registry)
    concurrency: int = Field(default=16, ge=1, le=256)
    retry: RetryConfig = RetryConfig()
    rate_limit: Annotated[float | None, BeforeValidator(_rate)] = None
    lock_timeout: PositiveDuration = timedelta(minutes=15)

    @model_validator(mode="before")
    @classmethod
    def _store_concurrency(cls, data: object) -> object:
        """No `concurrency` in the file: the store type's default (Vault takes more)."""
        if not isinstance(data, dict) or "concurrency" in data:
            return data
        backend = data.get("backend")
        kind = backend.get("type") if isinstance(backend, dict) else None
        entry = BACKENDS.get(kind) if isinstance(kind, str) else None
        return data if entry is None else {**data, "concurrency": entry.concurrency}

    @property
    def backend_type(self) -> BackendType:
        """The registry entry of this environment's store."""
        return backend_type(self.backend)

    @property
    def write_rate(self) -> float | None:
        """Writes per second: `rate_limit`, else the store's own quota (None: no limit)."""
        return self.rate_limit if self.rate_limit is not None else self.backend_type.write_rate

    @functools.cached_property
    def prefix(self) -> str:
        """Names live under this prefix (default `<env>/`)."""
        configured = self.backend.configured_prefix()
        if configured is None:
            return f"{self.name}/"
        return configured

    def secret_name(self, service: str, credential_type: str) -> str:
        """The backend name: prefix + naming template, parts slugified."""
        relative = self.naming.format(
            service=slugify(service),
            credential=slugify(credential_type),
            environment=slugify(self.name),
        )
        name = self.prefix + relative
        problem = path_problem(name)
        if problem:
            # a service or type without ASCII letters or digits slugifies to nothing
            raise ValueError(f"the store name {name!r} for {service} / {credential_type} {problem}")
        return name

    @functools.cached_property
    def store(self) -> tuple[object, ...]:
        """Where the store is: environments with equal `store` share one namespace of names."""
        return self.backend.store_identity()

    def store_name(self, ref: Ref) -> str | None:
        """The name a reference points at in this environment's store (for Vault, inside
        the mount); None when it points into another kind of store or another mount."""
        if ref.scheme != self.backend_type.scheme:
            return None
        return self.backend.store_name(ref.name)

    def reference_for(self, name: str, field: str | None = None) -> str:
        """The reference a table row writes for a store name (as the backends write it)."""
        return str(self.ref_for(name, field))

    def ref_for(self, name: str, field: str | None = None) -> Ref:
        """The parsed reference to a store name (and field) in this environment's store."""
        return Ref(self.backend_type.scheme, self.backend.reference_name(name), field)

    def owns(self, name: str) -> bool:
        """The name lives under this environment's prefix."""
        return name.startswith(self.prefix) and name != self.prefix

    def external_entry(self, name: str) -> str | None:
        """The `external:` entry that lets rows reference `name`, if any."""
        for entry in self.external:
            if fnmatch.fnmatchcase(name, entry) if _is_glob(entry) else name.startswith(entry):
                return entry
        return None


# -------------------------------------------------------------------- policies


class GeneratorSpec(Strict):
    kind: Literal["token", "password"] = "token"
    bytes: int = Field(default=32, ge=8, le=1024)
    encoding: Literal["base64url", "base64", "hex"] = "base64url"
    length: int = Field(default=32, ge=8, le=4096)
    alphabet: str = "A-Za-z0-9"
    prefix: str = ""

    @field_validator("alphabet")
    @classmethod
    def _alphabet(cls, value: str) -> str:
        characters = expand_alphabet(value)
        if len(characters) < 2:
            raise ValueError(
                f"{value!r} names {len(characters)} character{'s' if len(characters) != 1 else ''}"
                "; a password needs at least 2 (e.g. A-Za-z0-9)"
            )
        return value


def _argv(value: list[str] | None) -> list[str] | None:
    if value is not None and (not value or not value[0].strip()):
        raise ValueError("must name a program to run, e.g. [./rotate-stripe.sh]")
    return value


class CredentialTypePolicy(Strict):
    secret: bool = True
    max_age: PositiveDuration | None = None
    rotator: str | None = None
    generator: GeneratorSpec | None = None
    command: Annotated[list[str] | None, AfterValidator(_argv)] = None
    verify: Annotated[list[str] | None, AfterValidator(_argv)] = None
    timeout: PositiveDuration = timedelta(seconds=60)
    lambda_arn: str | None = None
    allow_never: bool = False
    # not read for this long (AWS LastAccessedDate): `unused`; before the environment's
    unused_after: DurationOrNever | None = None
    # credctl's value is the truth (a secret only our own services share): a rotator that
    # tells no provider is right for it
    self_contained: bool = False

    @field_validator("rotator")
    @classmethod
    def _known_rotator(cls, value: str | None) -> str | None:
        if value is not None and value not in ROTATORS:
            raise ValueError(f"unknown rotator {value!r} (choose from {', '.join(ROTATORS)})")
        return value

    @model_validator(mode="after")
    def _rotator_has_what_it_needs(self) -> CredentialTypePolicy:
        rotator = ROTATORS[self.rotator or DEFAULT_ROTATOR]
        if rotator.needs is not None and not getattr(self, rotator.needs):
            raise ValueError(
                f"rotator {self.rotator!r} needs {rotator.needs!r} (e.g. {rotator.example})"
            )
        return self


class EnvironmentPolicy(Strict):
    max_age: PositiveDuration | None = None
    warn_before: Duration | None = None
    require_owner: bool | None = None
    unused_after: DurationOrNever | None = None


class PolicyFile(Strict):
    """One file of `policies/`; all files are merged into a `Policy`."""

    defaults: EnvironmentPolicy = EnvironmentPolicy()
    credential_types: dict[str, CredentialTypePolicy] = Field(default_factory=dict)
    environments: dict[str, EnvironmentPolicy] = Field(default_factory=dict)


@dataclass(frozen=True)
class EffectivePolicy:
    """What applies to one credential after merging defaults, environment and type."""

    max_age: timedelta | None
    warn_before: timedelta
    require_owner: bool
    type_policy: CredentialTypePolicy
    schedule_exceeds_policy: bool
    # not read for this long is `unused` (None: never), where the store records reads
    unused_after: timedelta | None = timedelta(days=90)


# ------------------------------------------------------------------ the table

# the cells credctl writes; `expires` only where the table has that (optional) column
OWNED_COLUMNS = ("reference", "last_rotated", "expires")


@dataclass
class Row:
    """One credential row of the reference table, as written."""

    file: str
    line: int
    environment: str
    service: str
    credential_type: str
    reference: str
    schedule: str
    last_rotated: str
    owner: str
    env_var: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    expires: str = ""  # the optional Expires column (empty: not given, or no such column)

    # asked a dozen times for each row a report shows: made once (a row's identity cells
    # are not changed once read; a changed row is another Row, made by dataclasses.replace)
    @functools.cached_property
    def key(self) -> tuple[str, str, str]:
        """Identity: (environment, service, credential type), compared as slugs."""
        return (
            slugify(self.environment),
            slugify(self.service),
            slugify(self.credential_type),
        )

    @functools.cached_property
    def id(self) -> str:
        return "/".join(self.key)


@dataclass(frozen=True)
class Ref:
    """A parsed `Value/Reference` cell: `aws-sm://NAME#field`, `vault://MOUNT/PATH`, …"""

    scheme: str
    name: str
    field: str | None = None

    def __str__(self) -> str:
        suffix = f"#{quote_part(self.field)}" if self.field else ""
        return f"{self.scheme}://{quote_part(self.name)}{suffix}"


_REF = re.compile(r"^(?P<scheme>[a-z][a-z0-9+.-]*)://(?P<name>[^#\s]+)(?:#(?P<field>[^#\s]+))?$")
# What a reference cannot hold as written (a cell's reference ends at whitespace, a field
# starts at #), and a % that would read as an escape: written as %XX of their UTF-8 bytes.
_UNWRITABLE = re.compile(r"[#\s\x00-\x1f\x7f-\x9f]|%(?=[0-9A-Fa-f]{2})")
_ESCAPES = re.compile(r"(?:%[0-9A-Fa-f]{2})+")


def quote_part(text: str) -> str:
    """A store name or field as a reference writes it: `team x/api key` -> `team%20x/api%20key`."""
    return _UNWRITABLE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), text)


def _unquote_part(text: str) -> str:
    def decoded(match: re.Match[str]) -> str:
        try:
            return bytes.fromhex(match.group().replace("%", "")).decode("utf-8")
        except UnicodeDecodeError:
            return match.group()

    return _ESCAPES.sub(decoded, text)


def parse_reference(text: str) -> Ref | None:
    """The reference in a cell (of a store type the registry knows), or None when the
    cell is empty or a literal. `%XX` escapes (`quote_part`) are decoded."""
    match = _REF.match(text.strip())
    if not match or by_scheme(match.group("scheme")) is None:
        return None
    field = match.group("field")
    return Ref(
        match.group("scheme"),
        _unquote_part(match.group("name")),
        _unquote_part(field) if field is not None else None,
    )


def looks_like_reference(text: str) -> bool:
    return bool(re.match(r"^[a-z][a-z0-9+.-]*://", text.strip())) and not text.strip().startswith(
        ("http://", "https://")
    )


# ------------------------------------------------------------- backend truth


@dataclass(frozen=True)
class PendingInfo:
    """A staged value waiting to be promoted (an interrupted or running rotation)."""

    token: str
    created: datetime | None
    # already the current value: only recording the change (and clearing the mark) is left
    promoted: bool = False
    field: str | None = None  # the #field whose rotation staged it (None: the whole secret)

    @property
    def foreign(self) -> bool:
        """Staged by another tool (an AWS rotation function), not by a run of credctl."""
        return not is_staging_token(self.token)

    def belongs_to(self, field: str | None) -> bool:
        """Whether the row on `field` staged it (one whose field is not known: any row)."""
        return self.field is None or self.field == field


def is_staging_token(token: str) -> bool:
    """A token credctl stages values under: `r-<random>-<pid>-<host>`."""
    parts = token.split("-", 3)
    return len(parts) == 4 and parts[0] == "r" and parts[2].isdigit()


# A version made this long after credctl's last record of a secret (written before credctl
# recorded the version it makes current) was made by another tool; less is clock skew.
OUTSIDE_MARGIN = timedelta(minutes=5)


@dataclass
class SecretInfo:
    """What a store says about one secret, from a listing: metadata, never the value.

    `for_field(field)` is one row's view of it: several rows may each reference one field
    of a secret, and each keeps its own owner, type, schedule and last rotation
    (`row_key`). Its last rotation is credctl's record, unless the current version was
    made by another tool: then it is that version's creation (`changed_outside`).
    """

    name: str
    reference: str
    metadata: dict[str, str]
    created: datetime | None = None
    updated: datetime | None = None
    # the store's own record of a rotation (AWS's LastRotatedDate, set by its RotateSecret)
    store_rotated: datetime | None = None
    has_value: bool = True
    current_version: str | None = None
    # when the current version was made, where the store tells without another request
    current_created: datetime | None = None
    pending: PendingInfo | None = None
    # deleted or scheduled for deletion: nothing reads it or writes over it until restored
    deleted: bool = False
    # its current value is gone for good (a destroyed Vault version): only a new value helps
    destroyed: bool = False
    rotated_by_store: bool = False  # the store rotates it itself (AWS RotationEnabled)
    # the day it was last read (AWS LastAccessedDate; None: never read, or not recorded)
    last_read: datetime | None = None
    field: str | None = None  # the #field of the row this view is for (None: the whole secret)

    @property
    def managed(self) -> bool:
        return self.metadata.get(META_MANAGED) == "true"

    def for_field(self, field: str | None) -> SecretInfo:
        """The view of the row that references `field` of this secret (None: all of it)."""
        return self if field == self.field else replace(self, field=field)

    def own(self, key: str) -> str | None:
        """This row's metadata `key` (META_OWNER, …): its field's key, or, for a secret whose
        metadata credctl wrote before it kept fields apart, the secret's."""
        prefix = None if self.field is None else field_prefix(self.field)
        if prefix is not None and any(k.startswith(prefix) for k in self.metadata):
            return self.metadata.get(row_key(key, self.field))
        return self.metadata.get(key)

    @property
    def own_pending(self) -> PendingInfo | None:
        """The staged value of this row's rotation (another row's is not this row's)."""
        pending = self.pending
        return pending if pending is not None and pending.belongs_to(self.field) else None

    @property
    def recorded_rotation(self) -> datetime | None:
        """credctl's record of this row's last rotation."""
        return _timestamp(self.own(META_LAST_ROTATED))

    # read several times for every row an audit reports on: worked out once (a SecretInfo
    # is not changed once made; another row's view is another SecretInfo, see for_field)
    @functools.cached_property
    def changed_outside(self) -> datetime | None:
        """When the current version was made, if another tool made it (the console, the AWS
        CLI, Terraform, `bao kv put`); None when credctl did, or nobody can tell."""
        if self.current_version is None or self.current_created is None:
            return None
        if self.pending is not None and self.pending.promoted:
            return None  # credctl's own, made current and not recorded yet
        recorded = self.metadata.get(META_VERSION)
        if recorded is not None:
            return None if recorded == self.current_version else self.current_created
        newest = max(
            (
                moment
                for key, text in self.metadata.items()
                if key.startswith("credctl:") and key.endswith(LAST_ROTATED_SUFFIX)
                for moment in [_timestamp(text)]
                if moment is not None
            ),
            default=None,
        )
        if newest is not None and self.current_created > newest + OUTSIDE_MARGIN:
            return self.current_created
        return None

    @property
    def expires_on(self) -> datetime | None:
        """The provider's expiry of this row's current value, as credctl recorded it."""
        return _timestamp(self.own(META_EXPIRES))

    @functools.cached_property
    def last_rotated(self) -> datetime | None:
        """When this row's value last changed: the version another tool made, else the newest
        of credctl's record and the store's own rotation."""
        outside = self.changed_outside
        if outside is not None:
            return outside
        moments = [m for m in (self.store_rotated, self.recorded_rotation) if m is not None]
        return max(moments, default=None)


def _timestamp(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return parse_timestamp(text)
    except ValueError:
        return None


META_MANAGED = "credctl:managed"
META_OWNER = "credctl:owner"
META_SERVICE = "credctl:service"
META_TYPE = "credctl:type"
META_SCHEDULE = "credctl:schedule"
META_LAST_ROTATED = "credctl:last-rotated"
META_ROTATED_BY = "credctl:rotated-by"
# the version credctl last made current: another current version was made by another tool
META_VERSION = "credctl:version"
# the provider's expiry of the current value (a certificate's notAfter, or given by a person)
META_EXPIRES = "credctl:expires"
# the row's owner when it was last rotated: a later owner means the team changed since
META_OWNER_AT_ROTATION = "credctl:owner-at-rotation"
# a row's own keys; a row on one #field keeps them under `credctl:field:<field>:<key>`
ROW_KEYS = (
    META_OWNER,
    META_SERVICE,
    META_TYPE,
    META_SCHEDULE,
    META_LAST_ROTATED,
    META_ROTATED_BY,
    META_EXPIRES,
    META_OWNER_AT_ROTATION,
)
FIELD_KEY_PREFIX = "credctl:field:"
LAST_ROTATED_SUFFIX = "last-rotated"


def field_prefix(field: str) -> str:
    return f"{FIELD_KEY_PREFIX}{field}:"


def row_key(key: str, field: str | None) -> str:
    """Where a row keeps its metadata `key`: `credctl:owner` for a row on the whole secret,
    `credctl:field:password:owner` for one on its `#password` field."""
    if field is None:
        return key
    return field_prefix(field) + key.removeprefix("credctl:")


def key_name(key: str) -> str:
    """A metadata key as messages name it: `owner`, `password: owner`."""
    if key.startswith(FIELD_KEY_PREFIX):
        field, _, own = key[len(FIELD_KEY_PREFIX) :].rpartition(":")
        return f"#{field} {own}"
    return key.removeprefix("credctl:")


# -------------------------------------------------------------------- findings

Severity = Literal["error", "warning", "info"]
Status = Literal["ok", "due-soon", "overdue", "never-rotated", "missing", "deleted", "unknown"]


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    message: str
    id: str | None
    file: str | None
    line: int | None

    def as_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "id": self.id,
            "file": self.file,
            "line": self.line,
        }
