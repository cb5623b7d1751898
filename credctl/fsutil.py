"""Atomic file writes and file locks."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import stat
import sys
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


# Paths that name one of this process's open streams, not a file: written to the stream.
_STREAMS = {"/dev/stdout": 1, "/dev/stderr": 2}
_STREAM_FD = re.compile(r"^/(?:dev|proc/self)/fd/(\d+)$")


def check_output_name(text: str, formats: Iterable[str]) -> None:
    """`-o json` names a format, not a file (the AWS CLI's and kubectl's habit): refused."""
    if text in set(formats) and os.sep not in text:
        raise UsageError(
            f"-o {text} names a format, not a file: use --format {text} (or -o ./{text} to "
            f"write a file called {text})"
        )


def write_output(
    path: Path, content: str | Iterable[str], mode: int, *, follow_symlinks: bool = False
) -> bool:
    """Write a command's output to `path` without ever replacing what is not a regular file.

    A regular file (or none yet) is replaced atomically with `mode`. A character device
    (`/dev/null`), a FIFO or one of this process's streams (`/dev/stdout`) is written to in
    place, and stays what it is. A symbolic link is refused (exit 2) unless
    `follow_symlinks`: then its target is written by the same rules. Returns whether it
    was written in place.
    """
    shown = display_path(path)
    stream = _stream_of(path)
    if stream is not None:
        _write_stream(path, stream, content)
        return True
    try:
        found = os.lstat(path)
    except FileNotFoundError:
        write_file(path, content, mode)
        return False
    except OSError as error:
        raise UsageError(f"cannot write {shown}: {error.strerror}") from None
    if stat.S_ISLNK(found.st_mode):
        target = os.path.realpath(path)
        if not follow_symlinks:
            raise UsageError(
                f"{shown} is a symbolic link (to {target}); credctl does not replace a link",
                hint=f"pass --follow-symlinks to write its target, or -o {target}",
            )
        return write_output(Path(target), content, mode)
    if stat.S_ISREG(found.st_mode):
        write_file(path, content, mode)
        return False
    if stat.S_ISCHR(found.st_mode) or stat.S_ISFIFO(found.st_mode):
        _write_in_place(path, content)
        return True
    kind = (
        "a folder"
        if stat.S_ISDIR(found.st_mode)
        else "neither a regular file, a FIFO nor a character device"
    )
    raise UsageError(f"cannot write {shown}: it is {kind}")


def _stream_of(path: Path) -> int | None:
    text = os.path.abspath(path)
    if text in _STREAMS:
        return _STREAMS[text]
    match = _STREAM_FD.match(text)
    return int(match.group(1)) if match else None


def _write_stream(path: Path, descriptor: int, content: str | Iterable[str]) -> None:
    """Write to an open descriptor of this process (never closed here)."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None and descriptor in (1, 2):
            stream.flush()  # what Python holds for the stream goes first
    try:
        for chunk in _chunks(content):
            view = memoryview(chunk)
            while view:
                view = view[os.write(descriptor, view) :]
    except OSError as error:
        raise UsageError(f"cannot write {display_path(path)}: {error.strerror}") from None


def _write_in_place(path: Path, content: str | Iterable[str]) -> None:
    """Open and write a device or FIFO as it is (a FIFO waits for its reader)."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_NOCTTY)
    except OSError as error:
        raise UsageError(f"cannot write {display_path(path)}: {error.strerror}") from None
    try:
        _write_stream(path, descriptor, content)
    finally:
        os.close(descriptor)


def _chunks(content: str | bytes | Iterable[str]) -> Iterator[bytes]:
    if isinstance(content, bytes):
        yield content
    elif isinstance(content, str):
        yield content.encode("utf-8")
    else:
        for chunk in content:
            yield chunk.encode("utf-8")


def display_path(path: Path) -> str:
    """A path as the user would write it: relative to the current folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
