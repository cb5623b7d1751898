"""`-o` never replaces what is not a regular file: a character device or a FIFO is written
in place, a symbolic link is refused unless --follow-symlinks, and `-o json` (a format,
not a file) is refused with the hint for --format."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest

from tests.support.projects import make_project, row
from tests.support.runner import credctl, credctl_process

CANARY = "canary-Lm4Qz8Vt2Wx6Kp1Rb9Ns"


def project_with_value(tmp_path: Path) -> Path:
    project = make_project(tmp_path / "project", [row(environment="dev", owner="")])
    assert credctl(project, "sync").exit_code == 0
    assert credctl(project, "set", "dev/stripe/api-key", input=CANARY).exit_code == 0
    return project


def expected_env(project: Path) -> str:
    written = credctl(project, "env", "--env", "dev", "-o", "-")
    assert written.exit_code == 0, written.output
    return written.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod of a character device needs root")
def test_a_character_device_stays_a_device(tmp_path: Path) -> None:
    project = project_with_value(tmp_path)
    device = tmp_path / "null"
    os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # a /dev/null of our own
    for command in (
        ["env", "--env", "dev", "-o", str(device)],
        ["audit", "--fail-on", "never", "-o", str(device)],
        ["status", "--format", "json", "-o", str(device)],
    ):
        result = credctl(project, *command)
        assert result.exit_code == 0, (command, result.output)
        found = os.lstat(device)
        assert stat.S_ISCHR(found.st_mode), command
        assert (os.major(found.st_rdev), os.minor(found.st_rdev)) == (1, 3)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".null")] == []


def test_a_fifo_reader_gets_the_file(tmp_path: Path) -> None:
    project = project_with_value(tmp_path)
    fifo = tmp_path / "env.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    result = credctl(project, "env", "--env", "dev", "-o", str(fifo))
    reader.join(timeout=30)
    assert result.exit_code == 0, result.output
    assert received == [expected_env(project).encode()]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert f"wrote 1 variables to {fifo}\n" in result.stderr  # no mode of credctl's on a FIFO
    assert CANARY not in result.output


def test_a_symlink_is_refused_unless_followed(tmp_path: Path) -> None:
    project = project_with_value(tmp_path)
    target = tmp_path / "real.env"
    target.write_text("OLD=1\n")
    target.chmod(0o644)
    link = project / ".env"
    link.symlink_to(target)
    refused = credctl(project, "env", "--env", "dev", "-o", ".env")
    assert refused.exit_code == 2, refused.output
    assert refused.stderr == (
        f"Error: .env is a symbolic link (to {target}); credctl does not replace a link "
        f"(hint: pass --follow-symlinks to write its target, or -o {target})\n"
    )
    assert link.is_symlink()
    assert target.read_text() == "OLD=1\n"
    report = credctl(project, "audit", "--fail-on", "never", "-o", ".env")
    assert report.exit_code == 2, report.output
    followed = credctl(project, "env", "--env", "dev", "-o", ".env", "--follow-symlinks")
    assert followed.exit_code == 0, followed.output
    assert link.is_symlink()
    assert target.read_text() == expected_env(project)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    report = credctl(
        project,
        "audit",
        "--fail-on",
        "never",
        "--format",
        "json",
        "-o",
        ".env",
        "--follow-symlinks",
    )
    assert report.exit_code == 0, report.output
    assert json.loads(target.read_text())["schema_version"] == 1
    assert link.is_symlink()


def test_dev_stdout_is_this_process_s_output(tmp_path: Path) -> None:
    # a process of its own: /dev/stdout is the process's file descriptor 1, which an
    # in-process run does not capture
    project = project_with_value(tmp_path)
    result = credctl_process(
        project, "audit", "--format", "json", "--fail-on", "never", "-o", "/dev/stdout"
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["schema_version"] == 1
    env = credctl_process(project, "env", "--env", "dev", "-o", "/dev/stdout")
    assert env.stdout == expected_env(project)


@pytest.mark.parametrize(
    ("command", "name"),
    [
        (["audit", "-o", "json"], "json"),
        (["status", "-o", "sarif"], "sarif"),
        (["audit", "-o", "html"], "html"),
        (["env", "--env", "dev", "-o", "dotenv"], "dotenv"),
        (["env", "--env", "dev", "-o", "json"], "json"),
    ],
)
def test_o_naming_a_format_is_refused(tmp_path: Path, command: list[str], name: str) -> None:
    project = make_project(tmp_path, [row(environment="dev", owner="")])
    result = credctl(project, *command)
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"Error: -o {name} names a format, not a file: use --format {name} (or -o ./{name} to "
        f"write a file called {name})\n"
    )
    assert not (project / name).exists()
    if command[0] != "env":  # (env would need a store: its -o ./NAME is the same option)
        written = credctl(project, *command[:-1], f"./{name}")
        assert written.exit_code in (0, 1), written.output  # audit: 1 for its findings
        assert (project / name).is_file()
