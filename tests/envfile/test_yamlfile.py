"""The yaml format: double-quoted scalars with escapes; anything but a mapping reads as empty."""

from __future__ import annotations

import pytest

from credctl.envfile.yamlfile import parse, render


def test_double_quoted_scalars_in_file_order() -> None:
    entries = [("B", "multi\nline"), ("A", 'it\'s "q" ü🔑'), ("C", "no"), ("D", "")]
    assert render(entries) == (
        '"B": "multi\\nline"\n"A": "it\'s \\"q\\" ü\\U0001F511"\n"C": "no"\n"D": ""\n'
    )
    assert parse(render(entries)) == dict(entries)


def test_a_long_value_stays_on_one_line() -> None:
    assert render([("A", "word " * 40_000)]).count("\n") == 1


@pytest.mark.parametrize("text", ["", "- a list", "plain text", "key: [unclosed"])
def test_a_file_that_is_not_a_mapping_reads_as_empty(text: str) -> None:
    assert parse(text) == {}
