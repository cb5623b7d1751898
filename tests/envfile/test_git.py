"""The warning `credctl env` gives: would git commit the file it wrote?"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from credctl.envfile.git import git_tracks_or_would_track


@pytest.fixture
def work_tree(tmp_path: Path) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text(".env.ignored\n")
    return tmp_path


def test_an_untracked_file_git_does_not_ignore_would_be_tracked(work_tree: Path) -> None:
    assert git_tracks_or_would_track(work_tree / ".env")


def test_an_ignored_file_is_not(work_tree: Path) -> None:
    assert not git_tracks_or_would_track(work_tree / ".env.ignored")


def test_a_tracked_file_is_even_when_ignored(work_tree: Path) -> None:
    tracked = work_tree / ".env.ignored"
    tracked.write_text("A=1\n")
    subprocess.run(["git", "-C", str(work_tree), "add", "-f", tracked.name], check=True)
    assert git_tracks_or_would_track(tracked)


def test_a_file_outside_a_work_tree_is_not(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))  # git looks no higher
    outside = tmp_path / "outside"
    outside.mkdir()
    assert not git_tracks_or_would_track(outside / ".env")
