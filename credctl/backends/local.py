"""The local encrypted store: the embedded default for development.

One JSON file per store folder holds every secret's metadata in the clear and
its values encrypted with AES-256-GCM, each ciphertext bound to its secret name
and version (associated data), so a value cannot be moved to another slot.
Writes happen under an exclusive file lock and replace the file atomically.
No network: its calls skip the shared wrapper (`credctl.backends.calls`); nothing
is worth repeating and `rate_limit` has no quota to keep under here.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from credctl import clock
from credctl.backends.base import (
    BackendContext,
    ShapeResult,
    StoreNames,
    ValueResult,
    replace_field,
    select_field,
)
from credctl.backends.config import LocalBackendConfig
from credctl.errors import (
    BackendError,
    ConfigError,
    ConflictError,
    NotFoundError,
    Problem,
    RotationInProgressError,
    SecretDeletedError,
    WrongKeyError,
)
from credctl.fsutil import locked, write_atomic
from credctl.model import (
    META_MANAGED,
    META_VERSION,
    EnvironmentConfig,
    PendingInfo,
    Ref,
    SecretInfo,
)
from credctl.schedule import format_timestamp, parse_timestamp
from credctl.secret import Secret
from credctl.shape import shape_of

log = logging.getLogger("credctl")

KEY_ENV = "CREDCTL_LOCAL_KEY"
STORE_FILE = "store.json"
DEFAULT_STORE = ".credctl/store"
HISTORY = 10  # versions kept per secret; rotation needs at least the previous one
_KEY_CHECK = b"credctl-local-store-key-check"


def from_config(environment: EnvironmentConfig, context: BackendContext) -> LocalBackend:
    config = environment.backend
    assert isinstance(config, LocalBackendConfig)
    folder = Path(config.path)
    if not folder.is_absolute():
        folder = context.project_dir / folder
    key = load_key(context.project_dir, stores={config.path: folder / STORE_FILE})
    return LocalBackend(environment, folder, key, display=config.path)


def load_key(project_dir: Path, stores: Mapping[str, Path] | None = None) -> bytes:
    """The store key: `CREDCTL_LOCAL_KEY` (base64), else `.credctl/key`, created 0600.

    A new key is made only while no store file exists: a store written with a key
    that went missing must get that key back, not a new one that cannot open it.
    """
    from_env = os.environ.get(KEY_ENV)
    if from_env:
        return _decode_key(from_env, KEY_ENV)
    key_path = project_dir / ".credctl" / "key"
    try:
        return _decode_key(key_path.read_text(encoding="ascii"), ".credctl/key")
    except FileNotFoundError:
        pass
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(Problem(".credctl/key", None, f"cannot read the key: {error}")) from None
    default = {DEFAULT_STORE: project_dir / DEFAULT_STORE / STORE_FILE}
    for display, store_file in {**default, **(stores or {})}.items():
        if store_file.exists():
            raise WrongKeyError(
                f".credctl/key is missing, but the local store {display} holds values "
                "encrypted with a key: credctl will not make a new key that cannot open them",
                hint=f"restore .credctl/key from a backup, or set {KEY_ENV} to the store's key",
            )
    key = AESGCM.generate_key(bit_length=256)
    try:
        key_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return _decode_key(key_path.read_text(encoding="ascii"), ".credctl/key")
    except OSError as error:
        raise ConfigError(
            Problem(".credctl/key", None, f"cannot create the key: {error.strerror}"),
            hint=f"make the project folder writable, or set {KEY_ENV}",
        ) from None
    with os.fdopen(handle, "w", encoding="ascii") as stream:
        stream.write(base64.urlsafe_b64encode(key).decode("ascii") + "\n")
    return key


def _decode_key(text: str, where: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip().encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        key = b""
    if len(key) != 32:
        raise ConfigError(
            Problem(where, None, "the local store key must be 32 bytes, base64-encoded"),
            hint="generate one with: python -c 'import os,base64;"
            "print(base64.urlsafe_b64encode(os.urandom(32)).decode())'",
        )
    return key


class LocalBackend(StoreNames):
    """Secrets in an encrypted file under the project (default `.credctl/store`)."""

    def __init__(
        self, environment: EnvironmentConfig, folder: Path, key: bytes, display: str | None = None
    ) -> None:
        self.environment = environment
        self.folder = folder
        self.display = display or str(folder)
        self._cipher = AESGCM(key)
        self._batch: _Batch | None = None

    # ------------------------------------------------------------- plumbing

    def describe(self) -> str:
        return f"local store {self.display}"

    def close(self) -> None:
        """Nothing to release."""

    def _path(self) -> Path:
        return self.folder / STORE_FILE

    def _load(self) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            raw = self._path().read_bytes()
        except FileNotFoundError:
            log.debug("%s: %s does not exist yet", self.environment.name, self.display)
            return {"format": 1, "secrets": {}}
        except OSError as error:
            raise BackendError(f"cannot read {self.describe()}: {error.strerror}") from None
        try:
            document = json.loads(raw)
        except ValueError:
            raise self._corrupt("not JSON") from None
        problem = _shape_problem(document)
        if problem is not None:
            raise self._corrupt(problem)
        self._check_key(document)
        log.debug(
            "%s: read %s/%s (%d secrets, %d bytes) in %.3f s",
            self.environment.name,
            self.display,
            STORE_FILE,
            len(document["secrets"]),
            len(raw),
            time.perf_counter() - started,
        )
        return document  # type: ignore[no-any-return]

    def _corrupt(self, problem: str) -> BackendError:
        return BackendError(
            f"{self.display}/{STORE_FILE} is corrupt ({problem}): not a credctl store file",
            hint=f"restore {self.display}/{STORE_FILE} from a backup; credctl keeps no other copy",
        )

    def _unwritable(self, error: OSError) -> BackendError:
        return BackendError(
            f"cannot write {self.describe()}: {error.strerror}; nothing was changed in it",
            hint=f"make it writable: chmod -R u+w {self.display}",
        )

    def _check_key(self, document: dict[str, Any]) -> None:
        check = document.get("key_check")
        if check is None:
            return
        try:
            self._decrypt(check, "key-check")
        except WrongKeyError:
            raise WrongKeyError(
                f"the key does not open {self.describe()}: it was encrypted with another key",
                hint=f"set {KEY_ENV} or restore .credctl/key to the key the store was made with",
            ) from None

    def _mutate(self, name: str) -> _Transaction:
        """A read-modify-write of the store file that changes the secret `name` only."""
        return _Transaction(self, name)

    @contextlib.contextmanager
    def _reading(self) -> Iterator[dict[str, Any]]:
        """The store document to read: the batch's, or the file as it is now."""
        batch = self._batch
        if batch is None:
            yield self._load()
            return
        with batch.lock:
            yield batch.document

    @contextlib.contextmanager
    def batch(self) -> Iterator[bool]:
        """Many writes as one: the file is locked, read once and written once at the end.

        Each write inside changes only the document in memory (a failed one is undone),
        so N creates cost one read and one write of the file, not N of each. Nothing
        reaches the file if the block raises. Yields True: writes wait for the end.
        """
        if self._batch is not None:
            yield True
            return
        with _Transaction(self, None) as document:
            self._batch = _Batch(document)
            started = time.perf_counter()
            try:
                yield True
            finally:
                self._batch = None
            log.debug(
                "%s: %d writes to %s held in memory for %.2f s; writing the file once",
                self.environment.name,
                len(document["secrets"]),
                self.display,
                time.perf_counter() - started,
            )

    def _encrypt(self, plaintext: str, slot: str) -> str:
        nonce = secrets.token_bytes(12)
        sealed = self._cipher.encrypt(nonce, plaintext.encode("utf-8"), slot.encode("utf-8"))
        return base64.b64encode(nonce + sealed).decode("ascii")

    def _decrypt(self, blob: str, slot: str) -> str:
        try:
            raw = base64.b64decode(blob)
            return self._cipher.decrypt(raw[:12], raw[12:], slot.encode("utf-8")).decode("utf-8")
        except (InvalidTag, ValueError, binascii.Error):
            raise WrongKeyError(
                f"a value in {self.describe()} does not decrypt with this key",
                hint=f"check {KEY_ENV} or .credctl/key",
            ) from None

    def _entry(self, document: dict[str, Any], name: str) -> dict[str, Any]:
        entry: dict[str, Any] | None = document["secrets"].get(name)
        if entry is None or entry.get("deleted"):
            raise NotFoundError(f"{name} does not exist in {self.describe()}")
        return entry

    def _current_raw(self, name: str, entry: dict[str, Any]) -> str | None:
        current = entry.get("current")
        if current is None:
            return None
        return self._decrypt(entry["versions"][current]["data"], f"{name}@{current}")

    # --------------------------------------------------------------- reading

    def list_secrets(self) -> list[SecretInfo]:
        prefix = self.environment.prefix
        with self._reading() as document:
            return [
                self._info(name, entry)
                for name, entry in document["secrets"].items()
                if name.startswith(prefix)
            ]

    def secret_info(self, name: str) -> SecretInfo | None:
        with self._reading() as document:
            entry = document["secrets"].get(name)
            return None if entry is None else self._info(name, entry)

    def describe_secrets(self, names: Sequence[str]) -> dict[str, SecretInfo | None]:
        with self._reading() as document:
            found = document["secrets"]
            return {
                name: None if found.get(name) is None else self._info(name, found[name])
                for name in names
            }

    def _info(self, name: str, entry: Mapping[str, Any]) -> SecretInfo:
        metadata: dict[str, str] = dict(entry.get("metadata", {}))
        pending = entry.get("pending")
        staged = None
        if pending:
            promoted = _version_of(entry, pending["token"]) is not None
            staged = PendingInfo(
                pending["token"], _time(pending.get("created")), promoted, pending.get("field")
            )
        current = entry.get("current")
        return SecretInfo(
            name=name,
            reference=self.reference(name),
            metadata=metadata,
            created=_time(entry.get("created")),
            updated=_time(entry.get("updated")),
            has_value=current is not None,
            current_version=current,
            current_created=_time(entry["versions"][current].get("created")) if current else None,
            pending=staged,
            deleted=bool(entry.get("deleted")),
        )

    def read_values(self, refs: Sequence[Ref]) -> dict[Ref, ValueResult]:
        results: dict[Ref, ValueResult] = {}
        with self._reading() as document:
            for ref in refs:
                try:
                    name = self.name_for(ref)
                    entry = self._entry(document, name)
                    raw = self._current_raw(name, entry)
                    if raw is None:
                        raise NotFoundError(f"{name} has no value yet")
                    results[ref] = select_field(raw, ref.field, name)
                except BackendError as error:
                    results[ref] = error
                except ConfigError as error:
                    results[ref] = BackendError(str(error))
        return results

    def value_shapes(self, names: Sequence[str]) -> dict[str, ShapeResult]:
        shapes: dict[str, ShapeResult] = {}
        with self._reading() as document:
            for name in names:
                try:
                    raw = self._current_raw(name, self._entry(document, name))
                except NotFoundError:
                    raw = None
                except BackendError as error:
                    shapes[name] = error
                    continue
                shapes[name] = None if raw is None else shape_of(raw)
        return shapes

    def read_version(self, name: str, version: str) -> Secret:
        with self._reading() as document:
            stored = self._entry(document, name)["versions"].get(version)
        if stored is None:
            raise NotFoundError(f"{name} has no version {version} in {self.describe()}")
        return Secret(self._decrypt(stored["data"], f"{name}@{version}"))

    def read_previous(self, items: Sequence[tuple[str, str | None]]) -> list[Secret | None]:
        with self._reading() as document:  # one read of the store for all of them
            return [self._previous(document, name, field) for name, field in items]

    def _previous(self, document: dict[str, Any], name: str, field: str | None) -> Secret | None:
        entry = document["secrets"].get(name)
        if entry is None or entry.get("deleted"):
            return None
        current = int(entry.get("current") or 0)
        earlier = [int(version) for version in entry["versions"] if int(version) < current]
        if not earlier:
            return None
        version = str(max(earlier))
        raw = self._decrypt(entry["versions"][version]["data"], f"{name}@{version}")
        try:
            return select_field(raw, field, name)
        except BackendError:
            return None

    def read_pending(self, name: str, token: str, field: str | None = None) -> Secret | None:
        with self._reading() as document:
            pending = self._entry(document, name).get("pending")
        if not pending or pending["token"] != token:
            return None
        return select_field(self._decrypt(pending["data"], f"{name}#pending:{token}"), field, name)

    # --------------------------------------------------------------- writing

    def create(self, name: str, metadata: Mapping[str, str], value: Secret | None) -> None:
        with self._mutate(name) as document:
            existing = document["secrets"].get(name)
            if existing is not None and not existing.get("deleted"):
                if existing.get("metadata", {}).get("credctl:managed") != "true":
                    raise ConflictError(
                        f"{name} already exists in {self.describe()} and is not managed by credctl",
                        hint="adopt it with 'credctl import'",
                    )
                return
            now = format_timestamp(clock.now())
            if existing is not None:
                # deleted: never brought back here, only by `restore` when asked
                raise SecretDeletedError(
                    f"{name} exists in {self.describe()} but is marked deleted; credctl does "
                    "not write over it",
                    hint="restore it with 'credctl sync --restore'",
                )
            entry: dict[str, Any] = {
                "metadata": dict(metadata),
                "created": now,
                "updated": now,
                "current": None,
                "versions": {},
                "pending": None,
                "deleted": None,
            }
            if value is not None:
                entry["versions"]["1"] = {
                    "created": now,
                    "data": self._encrypt(value.reveal(), f"{name}@1"),
                }
                entry["current"] = "1"
                _record_version(entry["metadata"], "1")
            document["secrets"][name] = entry

    def set_metadata(
        self, name: str, updates: Mapping[str, str], remove: Collection[str] = ()
    ) -> None:
        with self._mutate(name) as document:
            entry = self._entry(document, name)
            merged = dict(entry.get("metadata", {}))
            merged.update(updates)
            for key in remove:
                merged.pop(key, None)
            entry["metadata"] = merged
            entry["updated"] = format_timestamp(clock.now())

    def put_pending(self, name: str, value: Secret, token: str, field: str | None = None) -> None:
        with self._mutate(name) as document:
            entry = self._entry(document, name)
            pending = entry.get("pending")
            if pending:
                if pending["token"] == token:
                    return
                raise RotationInProgressError(
                    f"{name}: a rotation is already in progress (pending since "
                    f"{pending.get('created')})",
                    hint="wait for it, or discard it with 'credctl rotate --abort'",
                )
            whole = replace_field(self._current_raw(name, entry), field, value, name)
            entry["pending"] = {
                "token": token,
                "created": format_timestamp(clock.now()),
                "data": self._encrypt(whole, f"{name}#pending:{token}"),
            }
            if field is not None:
                entry["pending"]["field"] = field

    def promote(self, name: str, token: str, *, keep_pending: bool = False) -> str:
        with self._mutate(name) as document:
            entry = self._entry(document, name)
            pending: dict[str, Any] | None = entry.get("pending")
            ours = pending is not None and pending["token"] == token
            done = _version_of(entry, token)
            if done is None:
                if pending is None or not ours:
                    raise NotFoundError(f"{name} has no pending value for this rotation")
                whole = self._decrypt(pending["data"], f"{name}#pending:{token}")
                version_ids = [int(v) for v in entry["versions"]]
                done = str(max(version_ids, default=0) + 1)
                now = format_timestamp(clock.now())
                entry["versions"][done] = {
                    "created": now,
                    "token": token,
                    "data": self._encrypt(whole, f"{name}@{done}"),
                }
                for old in sorted(version_ids)[: max(0, len(version_ids) + 1 - HISTORY)]:
                    del entry["versions"][str(old)]
                entry["current"] = done
                entry["updated"] = now
            if ours and not keep_pending:
                entry["pending"] = None
            return done

    def discard_pending(self, name: str, token: str | None = None) -> None:
        with self._mutate(name) as document:
            entry = self._entry(document, name)
            pending = entry.get("pending")
            if pending and (token is None or pending["token"] == token):
                entry["pending"] = None

    def schedule_delete(self, name: str) -> str:
        with self._mutate(name) as document:
            entry = self._entry(document, name)
            entry["deleted"] = format_timestamp(clock.now())
        return (
            f"{name} is marked deleted in {self.describe()}; its versions are kept: a row "
            "naming it and 'credctl sync --restore' bring it back"
        )

    def restore(self, name: str) -> None:
        """Undo a deletion: the secret comes back with its versions."""
        with self._mutate(name) as document:
            entry = document["secrets"].get(name)
            if entry is None:
                raise NotFoundError(f"{name} does not exist in {self.describe()}")
            entry["deleted"] = None


@dataclass
class _Batch:
    """The store document held in memory by `LocalBackend.batch`, shared by its threads."""

    document: dict[str, Any]
    lock: threading.RLock = field(default_factory=threading.RLock)


class _Transaction:
    """Read-modify-write of the store file under an exclusive lock.

    Inside a batch it changes the batch's document instead, under the batch's thread
    lock, and puts the secret's entry back as it was if the change fails half-way.
    """

    def __init__(self, backend: LocalBackend, name: str | None) -> None:
        self.backend = backend
        self.name = name
        self._lock: Any = None
        self._batch: _Batch | None = None
        self._before: Any = None

    def __enter__(self) -> dict[str, Any]:
        batch = self.backend._batch
        if batch is not None:
            batch.lock.acquire()
            self._batch = batch
            self.document = batch.document
            if self.name is not None:
                self._before = copy.deepcopy(self.document["secrets"].get(self.name))
            return self.document
        try:
            self.backend.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._lock = locked(self.backend.folder / ".lock")
            self._lock.__enter__()
        except OSError as error:
            raise self.backend._unwritable(error) from None
        try:
            document = self.backend._load()
            if "key_check" not in document:
                document["key_check"] = self.backend._encrypt(_KEY_CHECK.decode(), "key-check")
        except BaseException:
            self._lock.__exit__(None, None, None)
            raise
        self.document = document
        return document

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        if self._batch is not None:
            try:
                if kind is not None and self.name is not None:
                    if self._before is None:
                        self.document["secrets"].pop(self.name, None)
                    else:
                        self.document["secrets"][self.name] = self._before
            finally:
                self._batch.lock.release()
            return
        try:
            if kind is None:
                started = time.perf_counter()
                body = json.dumps(self.document, indent=1, sort_keys=True).encode("utf-8")
                try:
                    write_atomic(self.backend._path(), body, mode=0o600)
                except OSError as error:
                    raise self.backend._unwritable(error) from None
                log.debug(
                    "%s: wrote %s/%s (%d secrets, %d bytes) in %.3f s",
                    self.backend.environment.name,
                    self.backend.display,
                    STORE_FILE,
                    len(self.document["secrets"]),
                    len(body),
                    time.perf_counter() - started,
                )
        finally:
            self._lock.__exit__(None, None, None)


def _shape_problem(document: object) -> str | None:
    """What makes a loaded store document unusable, or None when it has credctl's shape."""
    if not isinstance(document, dict) or not isinstance(document.get("secrets"), dict):
        return "no 'secrets' object"
    if not isinstance(document.get("key_check", ""), str):
        return "'key_check' is not a string"
    for name, entry in document["secrets"].items():
        problem = _entry_problem(entry)
        if problem is not None:
            return f"secret {name!r}: {problem}"
    return None


def _entry_problem(entry: object) -> str | None:
    if not isinstance(entry, dict):
        return "not an object"
    metadata = entry.get("metadata", {})
    if not isinstance(metadata, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in metadata.items()
    ):
        return "'metadata' is not an object of strings"
    for key in ("created", "updated"):
        if not _is_time(entry.get(key)):
            return f"{key!r} is not a date-time"
    if not isinstance(entry.get("deleted"), str | bool | None):
        return "'deleted' is not a date-time"
    versions = entry.get("versions", {})
    if not isinstance(versions, dict):
        return "'versions' is not an object"
    for version_id, version in versions.items():
        if not version_id.isdigit():
            return f"version id {version_id!r} is not a number"
        if not isinstance(version, dict) or not isinstance(version.get("data"), str):
            return f"version {version_id} has no data"
        if not _is_time(version.get("created")) or not isinstance(version.get("token", ""), str):
            return f"version {version_id} is malformed"
    current = entry.get("current")
    if current is not None and (not isinstance(current, str) or current not in versions):
        return "'current' names no stored version"
    pending = entry.get("pending")
    if pending is not None and not (
        isinstance(pending, dict)
        and isinstance(pending.get("token"), str)
        and isinstance(pending.get("data"), str)
        and _is_time(pending.get("created"))
        and isinstance(pending.get("field", ""), str)
    ):
        return "'pending' is malformed"
    return None


def _is_time(value: object) -> bool:
    if value is None:
        return True
    if not isinstance(value, str):
        return False
    try:
        parse_timestamp(value)
    except ValueError:
        return False
    return True


def _version_of(entry: Mapping[str, Any], token: str) -> str | None:
    """The version a promote of that rotation token made, if any."""
    for version_id, version in entry["versions"].items():
        if version.get("token") == token:
            return str(version_id)
    return None


def _time(text: str | None) -> datetime | None:
    return parse_timestamp(text) if text else None


def _record_version(metadata: dict[str, str], version: str) -> None:
    """Name the version credctl made current (a secret credctl manages only): another
    current version was made by another tool."""
    if metadata.get(META_MANAGED) == "true":
        metadata[META_VERSION] = version
