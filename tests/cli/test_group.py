"""The command group: start-up, --version, --help."""

from __future__ import annotations

import subprocess
import sys

from tests.support.runner import REPO, credctl


def test_help_does_not_import_vendor_sdks_or_pydantic() -> None:
    code = (
        "import sys, runpy; sys.argv = ['credctl', '--help'];\n"
        "try:\n    runpy.run_module('credctl', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "heavy = [m for m in ('boto3', 'botocore', 'hvac', 'pydantic', 'pydantic_settings',"
        " 'yaml', 'cryptography') if m in sys.modules]\n"
        "print('HEAVY', heavy)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    assert "HEAVY []" in result.stdout


def test_version() -> None:
    from credctl import __version__

    result = credctl(REPO, "--version")
    assert result.stdout == f"credctl, version {__version__}\n"


def test_every_command_has_help_text() -> None:
    from credctl.cli.group import cli

    for name, command in cli.commands.items():
        assert command.help, f"{name} has no help text"

