"""The backend interface every secret store implements, its optional capabilities,
and the helpers stores share.

A backend serves one environment. Names are full store names including the
environment's prefix (`prod/stripe/api-key`). Values travel as `Secret`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from credctl import shape
from credctl.errors import BackendError, ConfigError, Problem, UsageError
from credctl.fields import has_control_character, path_problem
from credctl.model import EnvironmentConfig, Ref, SecretInfo
from credctl.secret import Secret
from credctl.shape import Shape

# Value returned per reference by `read_values`: the value, or the error for that id.
ValueResult = Secret | BackendError
# Returned per name by `value_shapes`: the current value's shape, None when it has no
# value, or the error for that name.
ShapeResult = Shape | None | BackendError


class StoreNames:
    """How a store's names and references map, the same for every store (its environment
    knows its scheme and prefix): a backend class inherits these two methods."""

    environment: EnvironmentConfig

    def reference(self, name: str, field: str | None = None) -> str:
        return self.environment.reference_for(name, field)

    def name_for(self, ref: Ref) -> str:
        return name_in_store(self.environment, ref)


class Backend(Protocol):
    """A secret store behind one environment."""

    environment: EnvironmentConfig

    # Where this store is, for messages: "aws eu-west-1 at http://127.0.0.1:5000".
    def describe(self) -> str: ...

    # The canonical reference for a store name: "aws-sm://prod/x", "vault://secret/prod/x".
    def reference(self, name: str, field: str | None = None) -> str: ...

    # The store name a reference points at; ConfigError if it belongs to another store.
    def name_for(self, ref: Ref) -> str: ...

    # Every secret under the environment's prefix with its metadata, in one sweep.
    def list_secrets(self) -> list[SecretInfo]: ...

    # One secret as the store has it now (None if absent): for decisions that a
    # listing taken earlier must not make, such as whether to rotate it.
    def secret_info(self, name: str) -> SecretInfo | None: ...

    # Secrets outside the listing (rows' `external:` secrets), by name: one metadata read
    # each, in parallel (bounded by `concurrency`); None for a name the store lacks.
    def describe_secrets(self, names: Sequence[str]) -> dict[str, SecretInfo | None]: ...

    # Current values of many secrets at once; per-reference errors, never all-or-nothing.
    def read_values(self, refs: Sequence[Ref]) -> dict[Ref, ValueResult]: ...

    # One earlier value by version id (rotation keeps the previous value readable).
    def read_version(self, name: str, version: str) -> Secret: ...

    # The shapes of current values (text, JSON object, several fields, binary): field
    # names only, never a value. Writes check them first, and `import` proposes rows from them.
    def value_shapes(self, names: Sequence[str]) -> dict[str, ShapeResult]: ...

    # Create a secret with metadata and optionally a first value; an existing
    # credctl-managed secret of that name is success (ListSecrets lags behind).
    def create(self, name: str, metadata: Mapping[str, str], value: Secret | None) -> None: ...

    # Merge metadata keys (other tools' keys are kept); remove the keys named.
    def set_metadata(
        self, name: str, updates: Mapping[str, str], remove: Collection[str] = ()
    ) -> None: ...

    # Stage a pending value under a rotation token; RotationInProgressError when
    # another token holds the pending slot. Same token again: no-op. With a field, only
    # that field changes (the others and their JSON types are kept) and the pending value
    # records which field it is for; ShapeError, before anything is written, for a write
    # that would damage the value's shape (`credctl.shape.check_write`).
    def put_pending(
        self, name: str, value: Secret, token: str, field: str | None = None
    ) -> None: ...

    # The pending value staged under the token (whole value or one field), or None.
    def read_pending(self, name: str, token: str, field: str | None = None) -> Secret | None: ...

    # Make the pending value current; returns the new current version id. Idempotent.
    # keep_pending: the value stays marked as staged (PendingInfo.promoted) until
    # discard_pending(name, token), so a run that stops before recording the change
    # leaves a mark the next run finishes instead of rotating again.
    def promote(self, name: str, token: str, *, keep_pending: bool = False) -> str: ...

    # Drop the pending value of that token (any token when None); the current one stays.
    # Idempotent; a token whose value is no longer staged is left alone.
    def discard_pending(self, name: str, token: str | None = None) -> None: ...

    # Schedule a recoverable deletion; returns how to undo it.
    def schedule_delete(self, name: str) -> str: ...

    # Undo a deletion: the secret and the value it held come back (AWS RestoreSecret, Vault
    # undelete of the current version). A no-op when it is not deleted; SecretDeletedError
    # when its value was destroyed (only a new value can replace it).
    def restore(self, name: str) -> None: ...

    # Release connections and pools.
    def close(self) -> None: ...


# Optional capabilities: a store has one when it implements the method; callers ask with
# isinstance(backend, Capability).


@runtime_checkable
class Batching(Protocol):
    """A store that can hold many writes and make them at once (the local store writes
    its one file once)."""

    # Many writes as one block: yields True when they reach the store only at its end.
    def batch(self) -> AbstractContextManager[bool]: ...


@runtime_checkable
class NativeRotation(Protocol):
    """A store that rotates a secret with a function of its own (AWS `RotateSecret`)."""

    # Run the store's rotation with that function and wait for it; the new version id.
    def rotate_with_function(self, name: str, lambda_arn: str, timeout: float) -> str: ...


@runtime_checkable
class History(Protocol):
    """A store that keeps the value a rotation replaced (AWSPREVIOUS, the previous KV
    version, the local store's history)."""

    # For each (name, field): the value before the current one, or None when there is
    # none (or it cannot be read); many at once, as the store reads them best.
    def read_previous(self, items: Sequence[tuple[str, str | None]]) -> list[Secret | None]: ...


# What a store may be asked, and the command (of the ladder audit < env < rotate < sync)
# that first needs each.
PERMISSIONS = {
    "list": "audit",
    "metadata": "audit",
    "read": "env",
    "write": "rotate",
    "delete": "sync",
}


@runtime_checkable
class AccessCheck(Protocol):
    """A store that can say what its credentials may do without doing it (Vault's
    sys/capabilities-self)."""

    # Per permission (list, metadata, read, write, delete): allowed, and if not, on what path.
    def permissions(self) -> dict[str, tuple[bool, str]]: ...


def batched(backend: Backend) -> AbstractContextManager[bool]:
    """The store's batch when it batches; else a block whose writes are made at once
    (yields False)."""
    if isinstance(backend, Batching):
        return backend.batch()
    return contextlib.nullcontext(False)


T = TypeVar("T")


class BuiltOnce(Generic[T]):
    """Things a run builds on first use, once per key even when threads ask for the same key
    at once (the others wait for it), and closes together at its end. A build that failed
    fails alike for every later ask of its key: environments that share a client share its
    failure, instead of waiting out its timeout one after another."""

    def __init__(self, close: Callable[[T], None]) -> None:
        self._close = close
        self._built: dict[Hashable, T] = {}
        self._failed: dict[Hashable, Exception] = {}
        self._lock = threading.Lock()
        self._building: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, build: Callable[[], T]) -> T:
        with self._lock:
            building = self._building.setdefault(key, threading.Lock())
        with building:
            if key in self._failed:
                raise self._failed[key]
            if key not in self._built:
                try:
                    self._built[key] = build()
                except Exception as error:
                    self._failed[key] = error
                    raise
            return self._built[key]

    def close(self) -> None:
        """Close everything built, even when one close fails (the first failure is raised
        after the others are closed)."""
        with self._lock:
            built = list(self._built.values())
            self._built.clear()
        failure: Exception | None = None
        for thing in built:
            try:
                self._close(thing)
            except Exception as error:
                failure = failure or error
        if failure is not None:
            raise failure


@dataclass(frozen=True)
class BackendContext:
    """What a backend needs besides its environment file."""

    project_dir: Path
    client: Any = None  # an injected vendor client (tests); built from config otherwise
    # vendor clients the run's environments share (one per store and settings), closed by
    # the run; None: the backend builds its own and closes it
    clients: BuiltOnce[Any] | None = None


# ------------------------------------------------------------ shared helpers


def name_in_store(environment: EnvironmentConfig, ref: Ref) -> str:
    """The store name a reference points at; ConfigError if it belongs to another store
    (or, for Vault, another mount), UsageError if it could resolve to another place."""
    name = environment.store_name(ref)
    if name is None:
        raise ConfigError(
            Problem(
                f"environments/{environment.name}.yaml",
                None,
                f"reference {ref} is not a {environment.reference_for('')} reference, but the "
                f"environment uses {environment.backend.store_label()}",
            )
        )
    return safe_name(ref, name)


def safe_name(ref: Ref, name: str) -> str:
    """The store name a reference gives, unless it could resolve to another place
    (`..`, `.` or empty segments, backslashes, control characters): then exit 2."""
    problem = path_problem(name)
    if problem is None:
        return name
    shown = "a reference" if has_control_character(str(ref)) else f"reference {ref}"
    raise UsageError(
        f"{shown} {problem}: credctl never follows it, as the store would resolve it to "
        "another place",
        hint="fix the row's Value/Reference; 'credctl validate' names its line",
    )


def select_field(raw: str, field: str | None, name: str) -> Secret:
    """The whole value, or one field of a JSON object value (`#field`, `#db.password`)."""
    if field is None:
        return Secret(raw)
    return Secret(shape.select_text(raw, field, name))


def replace_field(raw: str | None, field: str | None, value: Secret, name: str) -> str:
    """The whole new value after setting one field (the others and their types kept) or,
    without a field, all of it; ShapeError for a write that would damage the value."""
    if field is None:
        shape.check_write(None if raw is None else shape.shape_of(raw), None, name, name)
        return value.reveal()
    return shape.replace_in_text(raw, field, value.reveal(), name)
