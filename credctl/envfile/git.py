"""Whether git would commit a file credctl wrote (the warning `credctl env` gives)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def git_tracks_or_would_track(path: Path) -> bool:
    """True when `path` is in a git work tree and is tracked or not ignored."""
    git = shutil.which("git")
    if git is None:
        return False
    folder = path.resolve().parent

    def run(*args: str) -> int:
        try:
            return subprocess.run(
                [git, "-C", str(folder), *args],
                capture_output=True,
                timeout=10,
                check=False,
            ).returncode
        except (OSError, subprocess.TimeoutExpired):
            return -1

    if run("rev-parse", "--is-inside-work-tree") != 0:
        return False
    if run("ls-files", "--error-unmatch", path.name) == 0:
        return True
    return run("check-ignore", "-q", path.name) != 0
