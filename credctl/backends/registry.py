"""The store types credctl knows, one entry each; everything else is derived from here.

From `BACKENDS` come the environment file's `backend:` validation (dispatch on
`type`), the reference schemes and their parsing, the reference forms messages
list, and how a backend is built (`factory`, imported only when an environment
is opened, so validating a project never imports boto3 or hvac).
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic_core import PydanticCustomError

from credctl.backends.config import (
    AwsBackendConfig,
    BackendConfig,
    LocalBackendConfig,
    VaultBackendConfig,
)

VAULT_CONCURRENCY = 64


@dataclass(frozen=True)
class BackendType:
    """One kind of store."""

    type: str  # `backend.type` in the environment file
    scheme: str  # references to it: `<scheme>://NAME`
    config: builtins.type[BackendConfig]  # its `backend:` options
    factory: str  # "module:function" building it from (EnvironmentConfig, BackendContext)
    reference_form: str  # how a reference to it looks, for messages: "aws-sm://NAME"
    write_rate: float | None = None  # writes per second when `rate_limit` is not set
    # the least access each command needs, as the store writes policies: (format, "module:function")
    access: tuple[str, str] | None = None
    # metadata keys a secret may hold, less the one credctl keeps while a value is staged
    # (None: no limit); several rows on one secret each keep six keys of their own
    metadata_keys: int | None = None
    # requests at once when the environment sets no `concurrency`
    concurrency: int = 16
    # the store records when each secret was last read (AWS LastAccessedDate): audit's `unused`
    records_reads: bool = False


BACKENDS: dict[str, BackendType] = {
    entry.type: entry
    for entry in (
        BackendType(
            type="local",
            scheme="local",
            config=LocalBackendConfig,
            factory="credctl.backends.local:from_config",
            reference_form="local://PATH",
        ),
        BackendType(
            type="aws",
            scheme="aws-sm",
            config=AwsBackendConfig,
            factory="credctl.backends.aws:from_config",
            reference_form="aws-sm://NAME",
            write_rate=50.0,  # Secrets Manager's quota for writes, all kinds together
            access=("iam", "credctl.backends.access:aws_iam"),
            metadata_keys=49,  # 50 tags a secret
            records_reads=True,
        ),
        BackendType(
            type="vault",
            scheme="vault",
            config=VaultBackendConfig,
            factory="credctl.backends.vault:from_config",
            reference_form="vault://MOUNT/PATH",
            access=("vault-hcl", "credctl.backends.access:vault_hcl"),
            metadata_keys=63,  # 64 custom_metadata keys a secret
            # one request a secret (no batch read): measured, README "Performance"
            concurrency=VAULT_CONCURRENCY,
        ),
    )
}


def by_scheme(scheme: str) -> BackendType | None:
    """The store type a reference scheme points into."""
    return next((entry for entry in BACKENDS.values() if entry.scheme == scheme), None)


def backend_type(config: BackendConfig) -> BackendType:
    """The registry entry of a validated `backend:` mapping."""
    return BACKENDS[config.type]


def reference_forms() -> str:
    """The reference forms, for messages: "local://PATH, aws-sm://NAME or vault://MOUNT/PATH"."""
    forms = [entry.reference_form for entry in BACKENDS.values()]
    return forms[0] if len(forms) == 1 else f"{', '.join(forms[:-1])} or {forms[-1]}"


def validate_config(value: object) -> BackendConfig:
    """A `backend:` mapping as its type's model. Errors read as pydantic's own for a
    discriminated union, located at the option (`backend.region`) without the type."""
    if isinstance(value, BackendConfig):
        return value
    if not isinstance(value, Mapping):
        raise PydanticCustomError(
            "model_attributes_type",
            "Input should be a valid dictionary or object to extract fields from",
        )
    if "type" not in value:
        raise PydanticCustomError(
            "union_tag_not_found",
            "Unable to extract tag using discriminator {discriminator}",
            {"discriminator": "'type'"},
        )
    tag = value["type"]
    entry = BACKENDS.get(tag) if isinstance(tag, str) else None
    if entry is None:
        raise PydanticCustomError(
            "union_tag_invalid",
            "Input tag '{tag}' found using {discriminator} does not match any of the "
            "expected tags: {expected_tags}",
            {
                "discriminator": "'type'",
                "tag": str(tag),
                "expected_tags": ", ".join(f"'{name}'" for name in BACKENDS),
            },
        )
    return entry.config.model_validate(value)
