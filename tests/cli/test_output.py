"""-q, -v, --no-color and NO_COLOR: what each one changes, checked on a real terminal."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.dates import stamp
from tests.support.projects import make_project, row
from tests.support.runner import REPO, credctl
from tests.support.seeding import seed

ESC = "\x1b["


def stripe_and_sendgrid(root: Path) -> Path:
    folder = make_project(root, [row(), row(service="SendGrid")])
    seed(folder, "prod/stripe/api-key", "v1", **{"credctl:last-rotated": stamp(400)})
    seed(folder, "prod/sendgrid/api-key", "v2")
    return folder


pytestmark = pytest.mark.project(build=stripe_and_sendgrid)


def test_verbose_says_what_was_read_and_how_long_it_took(project: Path) -> None:
    quiet = credctl(project, "audit", "--env", "prod", "--fail-on", "never")
    assert "info:" not in quiet.stderr
    verbose = credctl(project, "audit", "--env", "prod", "--fail-on", "never", "-v")
    infos = [line for line in verbose.stderr.splitlines() if line.startswith("info: ")]
    assert len(infos) == 1
    assert infos[0].startswith("info: prod: listed 2 secrets in local store .credctl/store in ")
    assert verbose.stdout == quiet.stdout
    env = credctl(project, "env", "--env", "prod", "-o", "-", "-v")
    assert "info: prod: read 2 values in " in env.stderr


def test_quiet_keeps_data_and_errors_only(project: Path) -> None:
    loud = credctl(project, "env", "--env", "prod")
    assert loud.stderr == "wrote 2 variables to .env.dev (mode 0600)\n"  # LOCAL_ENV names .env.dev
    quiet = credctl(project, "env", "--env", "prod", "-q")
    assert quiet.exit_code == 0
    assert quiet.stderr == ""
    failing = credctl(project, "audit", "--env", "nope", "-q")
    assert failing.exit_code == 2
    assert failing.stderr.startswith("Error: unknown environment 'nope'")


def on_a_terminal(project: Path, *args: str, no_color: bool = False) -> str:
    """Run credctl with its standard output on a pseudo-terminal; return what it drew."""
    leader, follower = pty.openpty()
    environment = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(REPO / "tests" / "support" / "guard"), str(REPO)]
    )
    environment["COLUMNS"] = "200"
    if no_color:
        environment["NO_COLOR"] = "1"
    process = subprocess.Popen(
        [sys.executable, "-m", "credctl", *args],
        cwd=project,
        stdout=follower,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        env=environment,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process is done
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=60)
    os.close(leader)
    return b"".join(chunks).decode()


def test_colour_only_on_a_terminal_and_never_when_asked_not_to(project: Path) -> None:
    coloured = on_a_terminal(project, "status", "--env", "prod")
    assert ESC in coloured
    assert "overdue" in coloured
    assert ESC not in on_a_terminal(project, "status", "--env", "prod", no_color=True)
    assert ESC not in on_a_terminal(project, "status", "--env", "prod", "--no-color")
    assert ESC not in credctl(project, "status", "--env", "prod", env={"NO_COLOR": ""}).stdout


def test_a_report_is_written_in_pieces_that_join_to_it() -> None:
    """Chunks are joined into pieces of about 64 KB (one write each), never the whole."""
    from credctl.cli.output import _joined

    chunks = [f"{index:06d}\n" * 100 for index in range(300)]  # 700 characters each
    pieces = list(_joined(iter(chunks), size=10_000))
    assert "".join(pieces) == "".join(chunks)
    assert all(10_000 <= len(piece) < 10_700 for piece in pieces[:-1])
    assert len(pieces) == 20  # 15 chunks a piece
    assert list(_joined([])) == []
