"""Atomic file writes and file locks."""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from credctl.errors import UsageError


def write_atomic(path: Path, content: str | bytes | Iterable[str], mode: int = 0o600) -> None:
    """Write through a temporary file in the same folder, fsync, rename; never partial.

    The temporary file has `mode` from its creation, so a secret is never readable
    by others, and the result has exactly `mode` even when it replaces a wider file.
    """
    chunks: Iterable[bytes]
    if isinstance(content, bytes):
        chunks = [content]
    elif isinstance(content, str):
        chunks = [content.encode("utf-8")]
    else:
        chunks = (chunk.encode("utf-8") for chunk in content)
    folder = path.parent
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _fsync_folder(folder)


def _fsync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):
        handle = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


@contextlib.contextmanager
def locked(lock_path: Path, *, shared: bool = False) -> Iterator[None]:
    """Hold an advisory lock on `lock_path` (created 0600) for the block."""
    handle = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(handle, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        os.close(handle)


@contextlib.contextmanager
def try_locked(lock_path: Path) -> Iterator[bool]:
    """Take an exclusive lock without waiting; yields whether it was taken."""
    lock_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    handle = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        os.close(handle)


def write_file(path: Path, content: str | Iterable[str], mode: int) -> None:
    """`write_atomic`, with a failure as a one-line usage error naming the path."""
    try:
        write_atomic(path, content, mode=mode)
    except OSError as error:
        raise UsageError(f"cannot write {display_path(path)}: {error.strerror}") from None


def display_path(path: Path) -> str:
    """A path as the user would write it: relative to the current folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
