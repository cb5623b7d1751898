"""The release: the sdist and the wheel build, twine accepts them, the wheel alone runs
credctl, and the version is the one the CHANGELOG and the install instructions name."""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from credctl import __version__
from tests.support.runner import REPO


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and the wheel, built offline with the dev dependencies' hatchling."""
    folder = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(folder), str(REPO)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return folder


def test_twine_accepts_the_sdist_and_the_wheel(dist: Path) -> None:
    built = sorted(path.name for path in dist.iterdir())
    assert built == [f"credctl-{__version__}-py3-none-any.whl", f"credctl-{__version__}.tar.gz"]
    checked = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, dist.iterdir())],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count("PASSED") == 2


def test_the_wheel_alone_runs_credctl(dist: Path, tmp_path: Path) -> None:
    wheel = dist / f"credctl-{__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = archive.read(f"credctl-{__version__}.dist-info/entry_points.txt").decode()
    assert "credctl = credctl.cli:main" in entry_points
    # every module of the package, and nothing beside it
    modules = {
        path.relative_to(REPO).as_posix()
        for path in (REPO / "credctl").rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert modules <= set(names)
    assert {name.split("/")[0] for name in names} == {
        "credctl",
        f"credctl-{__version__}.dist-info",
    }
    site = tmp_path / "site"
    install = ["install", "--quiet", "--no-deps", "--no-index", "--target", str(site)]
    subprocess.run(
        [sys.executable, "-m", "pip", *install, str(wheel)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    for argv in (["-m", "credctl", "--version"], ["-c", "import credctl; print(credctl.__file__)"]):
        ran = subprocess.run(
            [sys.executable, *argv],
            cwd=tmp_path,  # away from the repository: only the installed wheel is importable
            env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert ran.returncode == 0, ran.stderr
        if argv[0] == "-m":
            assert ran.stdout == f"credctl, version {__version__}\n"
        else:
            assert ran.stdout.startswith(str(site))


def test_the_sdist_holds_the_package_docs_and_tests_and_no_local_state(dist: Path) -> None:
    with tarfile.open(dist / f"credctl-{__version__}.tar.gz") as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"credctl/__init__.py", "README.md", "CHANGELOG.md", "docs/ci.md"} <= names
    assert {"tests/support/projects.py", ".pre-commit-hooks.yaml"} <= names
    assert not any(
        part in {".credctl", ".venv", "node_modules", "build", "dist"}
        for name in names
        for part in name.split("/")
    )


def test_the_changelog_has_a_section_for_this_version_below_unreleased() -> None:
    headings = re.findall(r"^## (.+)$", (REPO / "CHANGELOG.md").read_text(), re.MULTILINE)
    assert headings[0] == "Unreleased"
    assert re.fullmatch(rf"{re.escape(__version__)} — \d{{4}}-\d{{2}}-\d{{2}}", headings[1])
