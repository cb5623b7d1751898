"""Each store's `backend:` options, and what they say about where its names live.

Plain pydantic models: validating a project imports no vendor SDK. The registry
(`credctl.backends.registry`) maps each `type` to its model.
"""

from __future__ import annotations

import os
from typing import ClassVar, Literal, get_args

from pydantic import Field, field_validator

from credctl.fields import HttpUrl, SafePrefix, Strict, path_problem


class BackendConfig(Strict):
    """What every store's options have; a store's model adds its own and overrides what
    differs (a prefix key, a mount in its names)."""

    type: str
    # the key of the prefix names live under, for messages that point at it
    prefix_key: ClassVar[str] = "prefix"

    def configured_prefix(self) -> str | None:
        """The prefix set in the file; None for the environment's default `<env>/`."""
        return None

    def store_identity(self) -> tuple[object, ...]:
        """Where the store is: environments with equal identities share one namespace."""
        return (self.type,)

    def store_label(self) -> str:
        """The store as a message names it: "the local store", "the Vault mount secret/"."""
        return f"the {self.type} store"

    def store_name(self, name: str) -> str | None:
        """The store name a reference's name gives (None: not in this store)."""
        return name

    def reference_name(self, name: str) -> str:
        """The reference's name part for a store name (the inverse of `store_name`)."""
        return name


class LocalBackendConfig(BackendConfig):
    type: Literal["local"]
    path: str = ".credctl/store"
    prefix: SafePrefix = None

    def configured_prefix(self) -> str | None:
        return self.prefix

    def store_identity(self) -> tuple[object, ...]:
        return ("local", os.path.normpath(self.path))

    def store_label(self) -> str:
        return "the local store"


class AwsBackendConfig(BackendConfig):
    type: Literal["aws"]
    region: str | None = None
    profile: str | None = None
    role_arn: str | None = None
    endpoint_url: HttpUrl = None
    prefix: SafePrefix = None
    kms_key_id: str | None = None
    recovery_window_days: int = Field(default=30, ge=7, le=30)

    def configured_prefix(self) -> str | None:
        return self.prefix

    def store_identity(self) -> tuple[object, ...]:
        return ("aws", self.region, self.endpoint_url, self.profile, self.role_arn)

    def store_label(self) -> str:
        return "AWS Secrets Manager"


class VaultAuthConfig(Strict):
    method: Literal["token", "approle"] = "token"
    token_env: str = "VAULT_TOKEN"  # noqa: S105 - a variable name
    role_id: str | None = None
    secret_id_env: str | None = None
    mount: str = "approle"


# How a Vault backend lists a prefix: `scan` (OpenBao's one-request SCAN of
# detailed-metadata), `list` (a LIST per folder, then one metadata read per secret), or
# `auto` (SCAN where the server answers it, else LIST). `CREDCTL_VAULT_LISTING` overrides.
VaultListing = Literal["auto", "scan", "list"]
VAULT_LISTINGS: tuple[str, ...] = get_args(VaultListing)
LISTING_VARIABLE = "CREDCTL_VAULT_LISTING"


class VaultBackendConfig(BackendConfig):
    type: Literal["vault"]
    url: HttpUrl = None
    mount: str = "secret"
    path_prefix: SafePrefix = None
    namespace: str | None = None
    auth: VaultAuthConfig = VaultAuthConfig()
    ca_cert: str | None = None
    tls_verify: bool = True
    listing: VaultListing = "auto"

    prefix_key: ClassVar[str] = "path_prefix"

    @field_validator("mount")
    @classmethod
    def _safe_mount(cls, value: str) -> str:
        problem = path_problem(value.strip("/"))
        if problem:
            raise ValueError(f"{value!r} {problem}")
        return value

    @property
    def mount_path(self) -> str:
        """The mount without surrounding slashes: `secret`."""
        return self.mount.strip("/")

    def configured_prefix(self) -> str | None:
        return self.path_prefix

    def store_identity(self) -> tuple[object, ...]:
        url = self.url.rstrip("/") if self.url else None
        return ("vault", url, self.namespace, self.mount_path)

    def store_label(self) -> str:
        return f"the Vault mount {self.mount_path}/"

    def store_name(self, name: str) -> str | None:
        mount = self.mount_path + "/"
        return name[len(mount) :] if name.startswith(mount) else None

    def reference_name(self, name: str) -> str:
        return f"{self.mount_path}/{name}"
