"""Check that moving tests lost none: every test collected at REF is collected now.

    python scripts/check_test_moves.py REF

Collects the test ids at REF (its tests/ and credctl/ unpacked in a temporary folder) and
in the work tree. An old id `tests/a.py::name[params]` is kept when the same
`name[params]` is collected from the file git sees `tests/a.py` renamed to, or else
from exactly one test file (where a split put it). Prints the counts; exits 1 naming
each id lost or found in more than one file.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tempfile
from collections import defaultdict
from io import BytesIO
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def git(*args: str) -> bytes:
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, check=True).stdout


def collected(folder: Path) -> list[str]:
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    return [line for line in completed.stdout.splitlines() if "::" in line]


def main(ref: str) -> int:
    with tempfile.TemporaryDirectory() as folder:
        archive = git("archive", ref, "tests", "credctl", "pyproject.toml")
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(folder, filter="data")
        before = collected(Path(folder))
    after = collected(REPO)
    renamed: dict[str, str] = {}
    for line in git("diff", "--name-status", "-M", ref, "--", "tests").decode().splitlines():
        status, *paths = line.split("\t")
        if status.startswith("R"):
            renamed[paths[0]] = paths[1]
    files_of: dict[str, set[str]] = defaultdict(set)
    for test_id in after:
        path, _, name = test_id.partition("::")
        files_of[name].add(path)
    lost = []
    moved = 0
    for test_id in before:
        path, _, name = test_id.partition("::")
        target = renamed.get(path, path)
        if target in files_of[name] or len(files_of[name]) == 1:
            moved += target not in files_of[name] or target != path
            continue
        lost.append(test_id)
    print(f"{len(before)} tests at {ref}, {len(after)} now; {moved} moved, {len(lost)} lost")
    for test_id in lost:
        found_in = sorted(files_of[test_id.partition("::")[2]])
        print(f"lost: {test_id} (collected from: {', '.join(found_in) or 'nowhere'})")
    return 1 if lost or not before else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "main"))
