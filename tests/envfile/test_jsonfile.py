"""The json format: one object of strings, unicode as it is; anything else reads as empty."""

from __future__ import annotations

import pytest

from credctl.envfile.jsonfile import parse, render


def test_one_object_in_file_order() -> None:
    entries = [("B", "multi\nline"), ("A", "ü🔑 \x00")]
    assert render(entries) == '{\n  "B": "multi\\nline",\n  "A": "ü🔑 \\u0000"\n}\n'
    assert parse(render(entries)) == dict(entries)


@pytest.mark.parametrize("text", ["", "not json", "[1, 2]", '"text"'])
def test_a_file_that_is_not_an_object_reads_as_empty(text: str) -> None:
    assert parse(text) == {}


def test_other_values_read_as_text() -> None:
    assert parse('{"A": 1, "B": null}') == {"A": "1", "B": "None"}
