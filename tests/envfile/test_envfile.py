"""The env-file format registry: every registered format round-trips, and all else derives from it.

A new format is one module in credctl/envfile/ and one entry in ENV_FORMATS; the
tests here then cover it (round trip, what it says it carries) and fail until
docs/env-files.md lists it.
"""

from __future__ import annotations

import re
import subprocess
import sys

import click
import pytest
from pydantic import ValidationError

from credctl.envfile import DEFAULT_FORMAT, ENV_FORMATS, FORMATS, EnvFormat, parse, render
from credctl.errors import EnvFileError
from credctl.model import EnvFileConfig
from tests.support.runner import REPO
from tests.support.tricky_values import TRICKY

CANARY = "canary-Xr4Tq8Wm2Zp6Lb1Nv"


def written_or_refused(value: str, fmt: str) -> str | None:
    """The file holding `value` alone, or None when refused by name (and never by value)."""
    try:
        return render([("KEY", value)], fmt)
    except EnvFileError as error:
        assert error.exit_code == 2
        assert str(error).startswith("the value of KEY cannot be written as ")
        if value:
            assert value not in str(error)
            assert value not in (error.hint or "")
        return None


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_reads_back_what_it_writes(fmt: str) -> None:
    """Each tricky value alone, then all it writes in one file, through the format's parse."""
    env_format = ENV_FORMATS[fmt]
    kept = {}
    for index, value in enumerate([*TRICKY, CANARY]):
        text = written_or_refused(value, fmt)
        if text is None:
            assert not env_format.every_value, (fmt, value)
            continue
        assert parse(text, fmt) == {"KEY": value}, (fmt, value)
        kept[f"V{index}"] = value
    assert CANARY in kept.values()
    assert parse(render(list(kept.items()), fmt), fmt) == kept


@pytest.mark.parametrize("fmt", FORMATS)
def test_what_a_format_says_it_carries_holds(fmt: str) -> None:
    env_format = ENV_FORMATS[fmt]
    carried = written_or_refused("line one\nline two", fmt) is not None
    assert carried == env_format.line_breaks
    if env_format.every_value:
        assert all(written_or_refused(value, fmt) is not None for value in TRICKY)
    else:
        assert any(written_or_refused(value, fmt) is None for value in TRICKY)


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_refuses_a_bad_name_before_any_value(fmt: str) -> None:
    with pytest.raises(EnvFileError) as refused:
        render([("GOOD", "x\x00\r\n${"), ("1BAD", "x")], fmt)
    assert str(refused.value) == (
        "'1BAD' is not a valid variable name (letters, digits and _, not starting with a digit)"
    )


def test_the_registry_names_each_format_and_a_module_with_render_and_parse() -> None:
    assert FORMATS == ("dotenv", "json", "shell", "docker", "github", "yaml")
    assert DEFAULT_FORMAT in ENV_FORMATS
    for name, env_format in ENV_FORMATS.items():
        assert env_format.name == name
        assert env_format.module.startswith("credctl.envfile.")
        module = env_format.load()
        assert callable(module.render)
        assert callable(module.parse)


def test_an_unknown_format_is_an_error_naming_the_formats() -> None:
    message = "unknown format 'toml' (choose from dotenv, json, shell, docker, github, yaml)"
    with pytest.raises(EnvFileError, match=re.escape(message)):
        render([("KEY", "x")], "toml")
    with pytest.raises(EnvFileError, match=re.escape(message)):
        parse("KEY=x\n", "toml")


def test_environment_files_accept_exactly_the_registered_formats() -> None:
    assert EnvFileConfig(path=".env").format == DEFAULT_FORMAT
    for fmt in FORMATS:
        assert EnvFileConfig(path=".env", format=fmt).format == fmt
    for wrong in ("toml", "DOTENV", 3, None):
        with pytest.raises(ValidationError) as refused:
            EnvFileConfig.model_validate({"path": ".env", "format": wrong})
        assert f"unknown format {wrong!r} (choose from {', '.join(FORMATS)})" in str(refused.value)


def test_the_env_command_offers_exactly_the_registered_formats() -> None:
    from credctl.cli.commands.env import env

    option = next(param for param in env.params if param.name == "output_format")
    assert isinstance(option.type, click.Choice)
    assert tuple(option.type.choices) == FORMATS


def test_one_registry_entry_is_all_the_library_and_the_settings_need(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A format registered here (reusing dotenv's module) is written, read and accepted."""
    monkeypatch.setitem(
        ENV_FORMATS,
        "env",
        EnvFormat("env", "credctl.envfile.dotenv", "a test", line_breaks=True, every_value=False),
    )
    assert render([("KEY", "x")], "env") == "KEY='x'\n"
    assert parse("KEY='x'\n", "env") == {"KEY": "x"}
    assert EnvFileConfig(path=".env", format="env").format == "env"


def _formats_table() -> dict[str, list[str]]:
    """The rows of the table under '## Formats' in docs/env-files.md: name -> its cells."""
    text = (REPO / "docs" / "env-files.md").read_text(encoding="utf-8")
    section = text.split("\n## Formats\n", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1:-1] for line in section.splitlines() if line.startswith("|")]
    table = {}
    for cells in rows[2:]:  # past the header and its --- line
        named = re.match(r"\s*`([^`]+)`", cells[0])
        assert named, cells[0]
        table[named.group(1)] = [cell.strip() for cell in cells]
    return table


def test_docs_table_lists_exactly_the_registered_formats() -> None:
    table = _formats_table()
    assert list(table) == list(FORMATS)
    assert [name for name, cells in table.items() if "(default)" in cells[0]] == [DEFAULT_FORMAT]
    for name, cells in table.items():
        assert cells[1] == ENV_FORMATS[name].summary, name


def test_readme_names_every_format_where_it_documents_env() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Environment files\n", 1)[1].split("\n## ", 1)[0]
    for fmt in FORMATS:
        assert f"`{fmt}`" in section or f"`--format {fmt}`" in section, fmt


def test_the_registry_imports_no_format_until_one_is_used() -> None:
    """The CLI reads the registry at start-up: it loads no format module, PyYAML or pydantic."""
    script = (
        "import sys, credctl.envfile; "
        "print(sorted(m for m in sys.modules if m.startswith(('credctl.envfile.', 'yaml', "
        "'pydantic')) and m != 'credctl.envfile.common'))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert completed.stdout == "[]\n"
