"""The things credctl reasons about: environments, policies, credentials, findings."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from credctl.schedule import parse_duration


def slugify(text: str) -> str:
    """Lower case, runs of anything but letters and digits as `-`."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _duration(value: object) -> object:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str):
        return parse_duration(value)
    return value


Duration = Annotated[timedelta, BeforeValidator(_duration)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- environments


class LocalBackendConfig(Strict):
    type: Literal["local"]
    path: str = ".credctl/store"
    prefix: str | None = None


class AwsBackendConfig(Strict):
    type: Literal["aws"]
    region: str | None = None
    profile: str | None = None
    role_arn: str | None = None
    endpoint_url: str | None = None
    prefix: str | None = None
    kms_key_id: str | None = None
    recovery_window_days: int = Field(default=30, ge=7, le=30)


class VaultAuthConfig(Strict):
    method: Literal["token", "approle"] = "token"
    token_env: str = "VAULT_TOKEN"  # noqa: S105 - a variable name
    role_id: str | None = None
    secret_id_env: str | None = None
    mount: str = "approle"


class VaultBackendConfig(Strict):
    type: Literal["vault"]
    url: str | None = None
    mount: str = "secret"
    path_prefix: str | None = None
    namespace: str | None = None
    auth: VaultAuthConfig = VaultAuthConfig()
    ca_cert: str | None = None
    tls_verify: bool = True


BackendConfig = Annotated[
    LocalBackendConfig | AwsBackendConfig | VaultBackendConfig, Field(discriminator="type")
]


class RetryConfig(Strict):
    max_attempts: int = Field(default=5, ge=1, le=50)
    base_delay: Duration = timedelta(seconds=0.2)
    max_delay: Duration = timedelta(seconds=20)


class EnvFileConfig(Strict):
    path: str
    format: Literal["dotenv", "json", "shell", "docker", "github", "yaml"] = "dotenv"


_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|sec|second|m|min|minute)\s*$")


def _rate(value: object) -> object:
    if isinstance(value, str):
        match = _RATE.match(value)
        if not match:
            raise ValueError(f"invalid rate {value!r} (use e.g. 50/s or 600/min)")
        per_second = float(match.group(1)) / (1 if match.group(2).startswith("s") else 60)
        return per_second
    return value


class EnvironmentConfig(Strict):
    """One `environments/<name>.yaml`."""

    name: str
    backend: BackendConfig
    naming: str = "{service}/{credential}"
    env_file: EnvFileConfig | None = None
    env_vars: dict[str, str] = Field(default_factory=dict)
    concurrency: int = Field(default=16, ge=1, le=256)
    retry: RetryConfig = RetryConfig()
    rate_limit: Annotated[float, BeforeValidator(_rate)] = 50.0
    lock_timeout: Duration = timedelta(minutes=15)

    @property
    def prefix(self) -> str:
        """Names live under this prefix (default `<env>/`)."""
        backend = self.backend
        configured = (
            backend.path_prefix if isinstance(backend, VaultBackendConfig) else backend.prefix
        )
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
        return self.prefix + relative


# -------------------------------------------------------------------- policies


class GeneratorSpec(Strict):
    kind: Literal["token", "password"] = "token"
    bytes: int = Field(default=32, ge=8, le=1024)
    encoding: Literal["base64url", "base64", "hex"] = "base64url"
    length: int = Field(default=32, ge=8, le=4096)
    alphabet: str = "A-Za-z0-9"
    prefix: str = ""


class CredentialTypePolicy(Strict):
    secret: bool = True
    max_age: Duration | None = None
    rotator: Literal["generate", "command", "aws-lambda", "manual"] | None = None
    generator: GeneratorSpec | None = None
    command: list[str] | None = None
    verify: list[str] | None = None
    timeout: Duration = timedelta(seconds=60)
    lambda_arn: str | None = None
    allow_never: bool = False


class EnvironmentPolicy(Strict):
    max_age: Duration | None = None
    warn_before: Duration | None = None
    require_owner: bool | None = None


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


# ------------------------------------------------------------------ the table

OWNED_COLUMNS = ("reference", "last_rotated")


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

    @property
    def key(self) -> tuple[str, str, str]:
        """Identity: (environment, service, credential type), compared as slugs."""
        return (
            slugify(self.environment),
            slugify(self.service),
            slugify(self.credential_type),
        )

    @property
    def id(self) -> str:
        return "/".join(self.key)


@dataclass(frozen=True)
class Ref:
    """A parsed `Value/Reference` cell: `aws-sm://NAME#field`, `vault://MOUNT/PATH`, …"""

    scheme: str
    name: str
    field: str | None = None

    def __str__(self) -> str:
        suffix = f"#{self.field}" if self.field else ""
        return f"{self.scheme}://{self.name}{suffix}"


REFERENCE_SCHEMES = {"aws-sm": "aws", "vault": "vault", "local": "local"}
_REF = re.compile(r"^(?P<scheme>aws-sm|vault|local)://(?P<name>[^#\s]+)(?:#(?P<field>[^#\s]+))?$")


def parse_reference(text: str) -> Ref | None:
    """The reference in a cell, or None when the cell is empty or a literal."""
    match = _REF.match(text.strip())
    if not match:
        return None
    return Ref(match.group("scheme"), match.group("name"), match.group("field"))


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


@dataclass
class SecretInfo:
    """What a store says about one secret, from a listing: metadata, never the value."""

    name: str
    reference: str
    metadata: dict[str, str]
    created: datetime | None = None
    updated: datetime | None = None
    last_rotated: datetime | None = None
    has_value: bool = True
    current_version: str | None = None
    pending: PendingInfo | None = None
    deleted: bool = False
    rotated_by_store: bool = False  # the store rotates it itself (AWS RotationEnabled)

    @property
    def managed(self) -> bool:
        return self.metadata.get(META_MANAGED) == "true"


META_MANAGED = "credctl:managed"
META_OWNER = "credctl:owner"
META_SERVICE = "credctl:service"
META_TYPE = "credctl:type"
META_SCHEDULE = "credctl:schedule"
META_LAST_ROTATED = "credctl:last-rotated"
META_ROTATED_BY = "credctl:rotated-by"


# -------------------------------------------------------------------- findings

Severity = Literal["error", "warning", "info"]
Status = Literal["ok", "due-soon", "overdue", "never-rotated", "missing", "unknown"]


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


@dataclass
class CredentialStatus:
    """One audited credential: the row, what the store says, and the verdict."""

    id: str
    row: Row
    reference: str
    env_var: str
    last_rotated: datetime | None
    rotated_by: str | None
    age_days: int | None
    max_age_days: int | None
    due_on: datetime | None
    status: Status
    findings: list[Finding] = field(default_factory=list)
    secret: bool = True
