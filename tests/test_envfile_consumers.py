"""Generated env files read back by their real consumers: python-dotenv, Node's dotenv, bash.

Every tricky value either reads back byte-identical in every consumer or is
refused by name. The table in docs/env-files.md comes from these runs.
"""

from __future__ import annotations

import json
import random
import shutil
import string
import subprocess
from pathlib import Path

import pytest
from dotenv import dotenv_values
from hypothesis import given, settings
from hypothesis import strategies as st

from credctl.envfile import parse, render
from credctl.errors import EnvFileError

NODE_DIR = Path(__file__).parent / "node"

TRICKY = [
    "plain",
    "",
    " leading space",
    "trailing space ",
    "  both  ",
    "tab\there",
    "it's",
    'say "hi"',
    "both ' and \"",
    "back\\slash",
    "double \\\\ backslash",
    "ends with backslash\\",
    "\\n literal backslash n",
    "$HOME",
    "${HOME}",
    "cost $5",
    "#hash",
    "a #comment-like",
    "a#b",
    "key=value=more",
    "=starts with equals",
    "multi\nline",
    "multi\nline\nwith 'quote'",
    "crlf\r\nline",
    "cr\ronly",
    "ünïcödé",
    "emoji 🔑🚀",
    "中文密钥",
    "x" * 5000,
    "`backticks`",
    "semi;colon && ampersand | pipe",
    "(parens) [brackets] {braces}",
    "!bang and ~tilde",
    "*glob?",
    "'",
    '"',
    "'single-quoted'",
    '"double-quoted"',
    "line1\n",
    "\nleading newline",
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----",
    '{"json": "blob", "n": 1}',
]


def accepted(values: list[str], fmt: str = "dotenv") -> tuple[dict[str, str], list[str]]:
    """The values each written alone: those accepted by name, and the names refused."""
    kept: dict[str, str] = {}
    refused: list[str] = []
    for index, value in enumerate(values):
        name = f"V{index}"
        try:
            render([(name, value)], fmt)
        except EnvFileError as error:
            assert name in str(error)
            if value:
                assert value not in str(error)
            refused.append(name)
        else:
            kept[name] = value
    return kept, refused


def write(tmp_path: Path, entries: dict[str, str], fmt: str = "dotenv") -> Path:
    path = tmp_path / f"file.{fmt}"
    path.write_text(render(list(entries.items()), fmt), encoding="utf-8")
    return path


def read_with_bash(path: Path, names: list[str], shell: str = "bash") -> dict[str, str]:
    script = f"set -a; . {path}; " + "".join(f'printf "%s\\0" "${name}"; ' for name in names)
    completed = subprocess.run([shell, "-c", script], capture_output=True, check=True, env={})
    values = completed.stdout.decode("utf-8").split("\0")[:-1]
    return dict(zip(names, values, strict=True))


def read_with_node(path: Path) -> dict[str, str]:
    if shutil.which("node") is None or not (NODE_DIR / "node_modules" / "dotenv").is_dir():
        pytest.skip("Node's dotenv is not installed (make test runs npm install in tests/node)")
    completed = subprocess.run(
        ["node", str(NODE_DIR / "read-dotenv.js"), str(path)], capture_output=True, check=True
    )
    result: dict[str, str] = json.loads(completed.stdout)
    return result


def test_there_are_at_least_30_tricky_values() -> None:
    assert len(TRICKY) >= 30


def test_dotenv_python_dotenv_reads_back_identical(tmp_path: Path) -> None:
    kept, refused = accepted(TRICKY)
    assert len(kept) > len(refused)
    assert dict(dotenv_values(write(tmp_path, kept))) == kept


def test_dotenv_node_dotenv_reads_back_identical(tmp_path: Path) -> None:
    kept, _ = accepted(TRICKY)
    assert read_with_node(write(tmp_path, kept)) == kept


def test_dotenv_bash_reads_back_identical(tmp_path: Path) -> None:
    kept, _ = accepted(TRICKY)
    assert read_with_bash(write(tmp_path, kept), list(kept)) == kept


def test_dotenv_check_reader_reads_back_identical(tmp_path: Path) -> None:
    kept, _ = accepted(TRICKY)
    assert parse(write(tmp_path, kept).read_bytes().decode(), "dotenv") == kept


def test_refused_values_are_the_ones_no_quoting_can_carry() -> None:
    _, refused = accepted(TRICKY)
    refused_values = {TRICKY[int(name[1:])] for name in refused}
    assert refused_values == {
        "double \\\\ backslash",
        "ends with backslash\\",
        "crlf\r\nline",
        "cr\ronly",
        "multi\nline\nwith 'quote'",
        "both ' and \"",
        "${HOME}",
    }


@pytest.mark.parametrize("shell", ["bash", "dash", "zsh"])
def test_shell_format_evaluates_identically(tmp_path: Path, shell: str) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    kept, refused = accepted(TRICKY, "shell")
    assert refused == []
    assert read_with_bash(write(tmp_path, kept, "shell"), list(kept), shell) == kept
    assert parse(write(tmp_path, kept, "shell").read_bytes().decode(), "shell") == kept


@pytest.mark.parametrize("fmt", ["json", "yaml", "github"])
def test_structured_formats_carry_every_value(tmp_path: Path, fmt: str) -> None:
    kept, refused = accepted(TRICKY, fmt)
    assert refused == []
    text = write(tmp_path, kept, fmt).read_bytes().decode()
    assert parse(text, fmt) == kept


def test_docker_format_refuses_line_breaks_by_name(tmp_path: Path) -> None:
    kept, refused = accepted(TRICKY, "docker")
    assert all("\n" in TRICKY[int(n[1:])] or "\r" in TRICKY[int(n[1:])] for n in refused)
    assert parse(write(tmp_path, kept, "docker").read_bytes().decode(), "docker") == kept


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=1, exclude_categories=["Cs"]), max_size=60))
def test_any_text_reads_back_identical_or_is_refused(value: str) -> None:
    try:
        text = render([("VALUE", value)], "dotenv")
    except EnvFileError as error:
        assert "VALUE" in str(error)
        return
    import io

    assert dotenv_values(stream=io.StringIO(text)) == {"VALUE": value}
    assert parse(text, "dotenv") == {"VALUE": value}


def test_random_printable_values_in_bash_and_node(tmp_path: Path) -> None:
    generator = random.Random(20261124)
    alphabet = string.printable + "éü🔑中"
    values = [
        "".join(generator.choice(alphabet) for _ in range(generator.randint(0, 40)))
        for _ in range(300)
    ]
    kept, _ = accepted(values)
    path = write(tmp_path, kept)
    assert read_with_bash(path, list(kept)) == kept
    assert dict(dotenv_values(path)) == kept
    assert read_with_node(path) == kept
