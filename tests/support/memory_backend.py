"""A store kept in a dict, registered by tests at run time (`MEMORY`).

It shows what adding a backend takes: this module (its options, the `Backend`
protocol, a factory), one registry entry, and one contract-suite subclass
(tests/test_backend_registry.py). Its calls go through the shared wrapper.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, Literal, TypeVar

from credctl import clock
from credctl.backends.base import (
    BackendContext,
    ShapeResult,
    StoreNames,
    ValueResult,
    replace_field,
    select_field,
)
from credctl.backends.calls import Caller, CallRules
from credctl.backends.config import BackendConfig
from credctl.backends.registry import BackendType
from credctl.errors import (
    BackendError,
    ConfigError,
    ConflictError,
    NotFoundError,
    RotationInProgressError,
    SecretDeletedError,
)
from credctl.fields import SafePrefix
from credctl.model import (
    META_MANAGED,
    EnvironmentConfig,
    PendingInfo,
    Ref,
    SecretInfo,
)
from credctl.secret import Secret
from credctl.shape import shape_of

T = TypeVar("T")


class MemoryBackendConfig(BackendConfig):
    type: Literal["memory"]
    store: str = "default"  # environments naming the same store share its names
    prefix: SafePrefix = None

    prefix_key: ClassVar[str] = "prefix"

    def configured_prefix(self) -> str | None:
        return self.prefix

    def store_identity(self) -> tuple[object, ...]:
        return ("memory", self.store)

    def store_label(self) -> str:
        return f"the memory store {self.store}"


MEMORY = BackendType(
    type="memory",
    scheme="mem",
    config=MemoryBackendConfig,
    factory="tests.support.memory_backend:from_config",
    reference_form="mem://NAME",
)


@dataclass
class Entry:
    """One secret: its versions (id -> value), which is current, and a staged one."""

    metadata: dict[str, str]
    created: datetime
    versions: dict[str, str] = field(default_factory=dict)
    current: str | None = None
    pending: tuple[str, str, datetime, str | None] | None = None  # token, version, when, field
    promoted_by: dict[str, str] = field(default_factory=dict)  # token -> version it made
    deleted: bool = False


# store name -> secret name -> entry; lives as long as the test process
STORES: dict[str, dict[str, Entry]] = {}


def from_config(environment: EnvironmentConfig, context: BackendContext) -> MemoryBackend:
    config = environment.backend
    assert isinstance(config, MemoryBackendConfig)
    return MemoryBackend(environment, config.store, STORES.setdefault(config.store, {}))


class MemoryRules(CallRules[str]):
    vendor = "memory"


class MemoryBackend(StoreNames):
    """One environment's secrets in a dict shared by every backend of that store."""

    def __init__(
        self, environment: EnvironmentConfig, store: str, secrets: dict[str, Entry]
    ) -> None:
        self.environment = environment
        self.store = store
        self.secrets = secrets
        self._lock = threading.RLock()
        self._calls = Caller(environment, MemoryRules())

    def _run(self, action: str, work: Callable[[], T], *, write: bool = False) -> T:
        def locked() -> T:
            with self._lock:
                return work()

        return self._calls(locked, action, write=write)

    def describe(self) -> str:
        return f"memory store {self.store}"

    def close(self) -> None:
        """Nothing to release."""

    def _entry(self, name: str) -> Entry:
        entry = self.secrets.get(name)
        if entry is None or entry.deleted:
            raise NotFoundError(f"{name} does not exist in {self.describe()}")
        return entry

    def _info(self, name: str, entry: Entry) -> SecretInfo:
        pending = None
        if entry.pending is not None:
            token, version, staged, field = entry.pending
            pending = PendingInfo(token, staged, entry.current == version, field)
        return SecretInfo(
            name=name,
            reference=self.reference(name),
            metadata=dict(entry.metadata),
            created=entry.created,
            has_value=entry.current is not None,
            current_version=entry.current,
            pending=pending,
            deleted=entry.deleted,
        )

    def list_secrets(self) -> list[SecretInfo]:
        prefix = self.environment.prefix

        def listing() -> list[SecretInfo]:
            return [
                self._info(name, entry)
                for name, entry in sorted(self.secrets.items())
                if name.startswith(prefix)
            ]

        return self._run(f"list {prefix}*", listing)

    def secret_info(self, name: str) -> SecretInfo | None:
        def one() -> SecretInfo | None:
            entry = self.secrets.get(name)
            return None if entry is None else self._info(name, entry)

        return self._run(f"describe {name}", one)

    def describe_secrets(self, names: Sequence[str]) -> dict[str, SecretInfo | None]:
        return {name: self.secret_info(name) for name in names}

    def read_values(self, refs: Sequence[Ref]) -> dict[Ref, ValueResult]:
        def read() -> dict[Ref, ValueResult]:
            results: dict[Ref, ValueResult] = {}
            for ref in refs:
                try:
                    name = self.name_for(ref)
                    entry = self._entry(name)
                    if entry.current is None:
                        raise NotFoundError(f"{name} has no value in {self.describe()}")
                    results[ref] = select_field(entry.versions[entry.current], ref.field, name)
                except ConfigError as error:
                    results[ref] = BackendError(str(error))
                except BackendError as error:
                    results[ref] = error
            return results

        return self._run(f"read {len(refs)} values", read)

    def value_shapes(self, names: Sequence[str]) -> dict[str, ShapeResult]:
        def shapes() -> dict[str, ShapeResult]:
            found: dict[str, ShapeResult] = {}
            for name in names:
                entry = self.secrets.get(name)
                if entry is None or entry.deleted or entry.current is None:
                    found[name] = None
                else:
                    found[name] = shape_of(entry.versions[entry.current])
            return found

        return self._run(f"shapes of {len(names)} values", shapes)

    def read_version(self, name: str, version: str) -> Secret:
        def read() -> Secret:
            value = self._entry(name).versions.get(version)
            if value is None:
                raise NotFoundError(f"{name} has no version {version}")
            return Secret(value)

        return self._run(f"read {name} version {version}", read)

    def create(self, name: str, metadata: Mapping[str, str], value: Secret | None) -> None:
        def create() -> None:
            existing = self.secrets.get(name)
            if existing is not None:
                if existing.metadata.get(META_MANAGED) != "true":
                    raise ConflictError(f"{name} exists and is not managed by credctl")
                if existing.deleted:
                    raise SecretDeletedError(f"{name} is deleted; credctl does not write over it")
                return
            entry = Entry(dict(metadata), clock.now())
            if value is not None:
                entry.versions["1"] = value.reveal()
                entry.current = "1"
            self.secrets[name] = entry

        self._run(f"create {name}", create, write=True)

    def set_metadata(
        self, name: str, updates: Mapping[str, str], remove: Collection[str] = ()
    ) -> None:
        def update() -> None:
            entry = self._entry(name)
            entry.metadata.update(updates)
            for key in remove:
                entry.metadata.pop(key, None)

        self._run(f"tag {name}", update, write=True)

    def put_pending(self, name: str, value: Secret, token: str, field: str | None = None) -> None:
        def stage() -> None:
            entry = self._entry(name)
            if entry.pending is not None:
                if entry.pending[0] == token:
                    return
                raise RotationInProgressError(f"{name}: a rotation is already in progress")
            current = entry.versions.get(entry.current or "")
            version = str(len(entry.versions) + 1)
            entry.versions[version] = replace_field(current, field, value, name)
            entry.pending = (token, version, clock.now(), field)

        self._run(f"stage {name}", stage, write=True)

    def read_pending(self, name: str, token: str, field: str | None = None) -> Secret | None:
        def read() -> Secret | None:
            entry = self._entry(name)
            if entry.pending is None or entry.pending[0] != token:
                return None
            return select_field(entry.versions[entry.pending[1]], field, name)

        return self._run(f"read {name} (pending)", read)

    def promote(self, name: str, token: str, *, keep_pending: bool = False) -> str:
        def promote() -> str:
            entry = self._entry(name)
            if entry.pending is None or entry.pending[0] != token:
                if token in entry.promoted_by:
                    return entry.promoted_by[token]
                raise RotationInProgressError(f"{name}: no value staged under that token")
            version = entry.pending[1]
            entry.current = version
            entry.promoted_by[token] = version
            if not keep_pending:
                entry.pending = None
            return version

        return self._run(f"promote {name}", promote, write=True)

    def discard_pending(self, name: str, token: str | None = None) -> None:
        def discard() -> None:
            entry = self._entry(name)
            if entry.pending is not None and token in (None, entry.pending[0]):
                entry.pending = None

        self._run(f"discard {name} (pending)", discard, write=True)

    def schedule_delete(self, name: str) -> str:
        def delete() -> None:
            self._entry(name).deleted = True

        self._run(f"delete {name}", delete, write=True)
        return f"{name} is marked deleted in {self.describe()}"

    def restore(self, name: str) -> None:
        def restore() -> None:
            entry = self.secrets.get(name)
            if entry is None:
                raise NotFoundError(f"{name} does not exist in {self.describe()}")
            entry.deleted = False

        self._run(f"restore {name}", restore, write=True)
