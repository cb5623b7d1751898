"""Atomic writes with exact modes, locks, and paths as the user writes them."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from credctl.errors import UsageError
from credctl.fsutil import display_path, locked, try_locked, write_atomic, write_file


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_write_replaces_the_file_whole_with_exactly_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("old")
    target.chmod(0o666)
    write_atomic(target, ["new ", "lines\n"], mode=0o600)
    assert target.read_text() == "new lines\n"
    assert mode_of(target) == 0o600
    write_atomic(target, b"\x00bytes", mode=0o644)
    assert (target.read_bytes(), mode_of(target)) == (b"\x00bytes", 0o644)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # no temporary file left


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("old")

    def chunks() -> object:
        yield "half"
        raise RuntimeError("disk gone")

    with pytest.raises(RuntimeError):
        write_atomic(target, chunks())  # type: ignore[arg-type]
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_write_file_fails_with_one_line_naming_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match=r"^cannot write missing/file: No such file or directory$"):
        write_file(Path("missing/file"), "x", 0o644)


def test_a_held_lock_is_not_taken_twice(tmp_path: Path) -> None:
    lock = tmp_path / "state" / "lock"
    with try_locked(lock) as first:
        assert first
        assert mode_of(lock) == 0o600
        with try_locked(lock) as second:  # another open file description: refused
            assert not second
    with try_locked(lock) as again:
        assert again
    with locked(lock, shared=True), locked(lock, shared=True):
        pass


def test_paths_are_shown_relative_to_the_current_folder_when_inside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert display_path(tmp_path / "a" / "b") == os.path.join("a", "b")
    assert display_path(Path("/elsewhere/file")) == "/elsewhere/file"
