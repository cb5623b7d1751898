"""The dotenv format: the exact lines it writes, each refusal by name, and its reader."""

from __future__ import annotations

import pytest

from credctl.envfile.dotenv import parse, render
from credctl.errors import EnvFileError

CANARY = "canary-Hd5Qs9Kx3Tb7Wn2"


def test_single_quotes_and_double_quotes_only_for_a_quote() -> None:
    entries = [
        ("A", "plain"),
        ("B", "it's"),
        ("C", "multi\nline"),
        ("D", ""),
        ("E", "ü🔑 $HOME #x"),
    ]
    assert render(entries) == ("A='plain'\nB=\"it's\"\nC='multi\nline'\nD=''\nE='ü🔑 $HOME #x'\n")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("a\x00b", "a NUL character"),
        ("a\r\nb", "a carriage return (Node's dotenv turns CR LF into LF)"),
        ("a${B}", "${ (python-dotenv expands ${VAR} even in single quotes)"),
        ("a\\\\b", "two backslashes in a row (python-dotenv reads one)"),
        ("ab\\", "a trailing backslash (python-dotenv reads \\' )"),
        ('it\'s "q"', 'a single quote together with one of " \\ $ ` or a line break'),
        ("it's\nx", 'a single quote together with one of " \\ $ ` or a line break'),
    ],
)
def test_a_value_no_quoting_carries_is_refused_by_name(value: str, reason: str) -> None:
    with pytest.raises(EnvFileError) as refused:
        render([("OK", "fine"), ("KEY", CANARY + value)])
    assert refused.value.message == (
        "the value of KEY cannot be written as dotenv so that every reader gets it back "
        f"unchanged: it contains {reason}"
    )
    assert refused.value.hint == "use --format json or shell, or --only to leave it out"
    assert CANARY not in str(refused.value)


def test_the_reader_takes_comments_blank_lines_export_and_spaces() -> None:
    text = "# a comment\n\n  export A = 'x y' \nB=\"it's\"\nC=  bare value  \nnot a line\n"
    assert parse(text) == {"A": "x y", "B": "it's", "C": "bare value"}
