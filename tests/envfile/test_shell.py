"""The shell format: `export NAME='…'` lines, each `'` written `'\\''`, and its reader."""

from __future__ import annotations

import pytest

from credctl.envfile.shell import parse, render, shell_quote
from credctl.errors import EnvFileError


def test_every_value_in_single_quotes() -> None:
    entries = [("A", "it's"), ("B", '$(x) `y` "z"\n\\'), ("C", "")]
    assert render(entries) == ("export A='it'\\''s'\nexport B='$(x) `y` \"z\"\n\\'\nexport C=''\n")
    assert parse(render(entries)) == dict(entries)


def test_shell_quote_ends_and_reopens_the_quotes_around_a_quote() -> None:
    assert shell_quote("''") == "''\\'''\\'''"


def test_a_nul_is_refused_by_name() -> None:
    with pytest.raises(EnvFileError) as refused:
        render([("KEY", "a\x00b")])
    assert refused.value.message == (
        "the value of KEY cannot be written as shell so that every reader gets it back "
        "unchanged: it contains a NUL character"
    )


def test_the_reader_takes_only_lines_credctl_writes() -> None:
    text = "# comment\nexport A='x'\nB='y'\nexport C=unquoted\n"
    assert parse(text) == {"A": "x"}
