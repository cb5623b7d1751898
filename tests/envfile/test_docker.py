"""The docker format: `NAME=value` lines as they are, refusing what a line cannot hold."""

from __future__ import annotations

import pytest

from credctl.envfile.docker import MAX_LINE_BYTES, parse, render
from credctl.errors import EnvFileError


def test_each_value_as_it_is() -> None:
    entries = [("A", 'it\'s "q" $HOME'), ("B", " spaced "), ("C", "")]
    assert render(entries) == 'A=it\'s "q" $HOME\nB= spaced \nC=\n'
    assert parse(render(entries)) == dict(entries)


@pytest.mark.parametrize("value", ["a\nb", "a\rb", "a\x00b"])
def test_a_line_break_or_nul_is_refused_by_name(value: str) -> None:
    with pytest.raises(EnvFileError) as refused:
        render([("KEY", value)])
    assert refused.value.message == (
        "the value of KEY cannot be written as docker so that every reader gets it back "
        "unchanged: it contains a line break (docker --env-file has no quoting)"
    )


def test_the_line_limit_counts_bytes_of_name_equals_and_value() -> None:
    assert MAX_LINE_BYTES == 65_535
    assert render([("K", "x" * (MAX_LINE_BYTES - 2))]).startswith("K=x")
    with pytest.raises(EnvFileError, match="64 KiB"):
        render([("K", "é" * ((MAX_LINE_BYTES - 1) // 2))])


def test_the_reader_skips_comments_and_lines_without_equals() -> None:
    assert parse("# A=1\n  B=2\nnothing\nC==x\n") == {"B": "2", "C": "=x"}
