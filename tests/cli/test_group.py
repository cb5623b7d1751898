"""The command group: start-up, --version, --help, and the README's command reference."""

from __future__ import annotations

import click

from scripts import command_reference
from tests.support.runner import REPO, credctl, fresh_python


def test_help_does_not_import_vendor_sdks_or_pydantic() -> None:
    code = (
        "import sys, runpy; sys.argv = ['credctl', '--help'];\n"
        "try:\n    runpy.run_module('credctl', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "heavy = [m for m in ('boto3', 'botocore', 'hvac', 'pydantic', 'pydantic_settings',"
        " 'yaml', 'cryptography') if m in sys.modules]\n"
        "print('HEAVY', heavy)"
    )
    result = fresh_python(code)
    assert "HEAVY []" in result.stdout


def test_version() -> None:
    from credctl import __version__

    result = credctl(REPO, "--version")
    assert result.stdout == f"credctl, version {__version__}\n"


def test_every_command_has_help_text() -> None:
    from credctl.cli.group import cli

    for name, command in cli.commands.items():
        assert command.help, f"{name} has no help text"


def test_the_readme_command_reference_is_current() -> None:
    """README.md's "Command reference" is what scripts/command_reference.py makes now."""
    readme = command_reference.README.read_text(encoding="utf-8")
    assert command_reference.current(readme) == command_reference.reference(), (
        "README.md's command reference is out of date: run python scripts/command_reference.py"
    )


def test_every_command_and_option_is_in_the_readme_command_reference() -> None:
    from credctl.cli.group import cli

    section = command_reference.current(command_reference.README.read_text(encoding="utf-8"))
    assert section, "README.md has no command reference"
    missing = []
    for name, command in [("", cli), *sorted(cli.commands.items())]:
        block = section if not name else section.partition(f"#### credctl {name}\n")[2]
        block = block.partition("#### credctl ")[0] if name else block
        if name and not block:
            missing.append(f"credctl {name}")
            continue
        for parameter in command.params:
            if isinstance(parameter, click.Option):
                shown = [*parameter.opts, *parameter.secondary_opts]
                if not any(option in block for option in shown):
                    missing.append(f"credctl {name} {'/'.join(shown)}".replace("  ", " "))
    assert not missing, f"not in README.md's command reference: {', '.join(missing)}"
