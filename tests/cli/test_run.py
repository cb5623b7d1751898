"""credctl run: the credentials in a command's environment, no file written."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.projects import make_project, row
from tests.support.runner import credctl, credctl_process, process_environment

CANARY = "canary-Rn3Yw8Fq1Zt6Gh0Ls5Xk"


def stripe_set_and_a_redirect_uri(root: Path) -> Path:
    folder = make_project(
        root,
        [
            row(),
            row(
                service="Google",
                credential_type="Redirect URI",
                reference="https://app.example.com/cb",
                schedule="never",
            ),
        ],
    )
    assert credctl(folder, "set", "prod/stripe/api-key", input=CANARY).exit_code == 0
    return folder


pytestmark = pytest.mark.project(build=stripe_set_and_a_redirect_uri)


def files_in(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*") if path.is_file()}


def test_command_sees_the_values_and_its_exit_code_passes_through(project: Path) -> None:
    before = files_in(project)
    script = "import os,sys; print(os.environ['STRIPE_API_KEY'] == sys.argv[1]); sys.exit(7)"
    result = credctl_process(
        project, "run", "--env", "prod", "--", sys.executable, "-c", script, CANARY
    )
    assert result.exit_code == 7
    assert result.stdout == "True\n"
    assert files_in(project) == before  # no file written


def test_selection_and_config_rows(project: Path) -> None:
    show = "import os; print(sorted(k for k in os.environ if k.startswith(('STRIPE', 'GOOGLE'))))"
    everything = credctl_process(project, "run", "--env", "prod", "--", sys.executable, "-c", show)
    assert everything.stdout == "['GOOGLE_REDIRECT_URI', 'STRIPE_API_KEY']\n"
    secrets_only = credctl_process(
        project, "run", "--env", "prod", "--no-include-config", "--", sys.executable, "-c", show
    )
    assert secrets_only.stdout == "['STRIPE_API_KEY']\n"


def test_signals_reach_the_command(project: Path) -> None:
    script = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *a: (print('got SIGTERM', flush=True), sys.exit(42)))\n"
        "print('ready', flush=True)\n"
        "time.sleep(30)\n"
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "credctl",
            "run",
            "--env",
            "prod",
            "--",
            sys.executable,
            "-c",
            script,
        ],
        cwd=project,
        stdout=subprocess.PIPE,
        text=True,
        env=process_environment(),
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "ready\n"
    process.send_signal(signal.SIGTERM)
    assert process.wait(10) == 42
    assert process.stdout.read() == "got SIGTERM\n"


def test_missing_command_and_debug_after_the_separator(project: Path) -> None:
    missing = credctl_process(
        project, "run", "--env", "prod", "--", "no-such-command-xyz", "--debug"
    )
    assert missing.exit_code == 127
    assert missing.stderr == "Error: command not found: no-such-command-xyz\n"


def test_a_missing_value_runs_nothing(project: Path, tmp_path: Path) -> None:
    table = project / "credentials.md"
    table.write_text(table.read_text() + "| Twilio | prod | API Key | | 90d | | @x |\n")
    marker = tmp_path / "ran"
    result = credctl_process(project, "run", "--env", "prod", "--", "touch", str(marker))
    assert result.exit_code == 3
    assert not marker.exists()
    assert CANARY not in result.output
