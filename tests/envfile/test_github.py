"""The github format: `NAME=value` lines, multi-line values in a random-delimiter heredoc."""

from __future__ import annotations

import secrets

import pytest

from credctl.envfile.github import parse, render
from credctl.errors import EnvFileError


def test_one_line_values_as_they_are_and_multi_line_in_a_heredoc(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(secrets, "token_hex", lambda size: "0" * 2 * size)
    entries = [("A", "it's $HOME"), ("B", "one\ntwo"), ("C", "cr\ronly")]
    delimiter = "ghadelimiter_" + "0" * 32
    assert render(entries) == (
        f"A=it's $HOME\nB<<{delimiter}\none\ntwo\n{delimiter}\n"
        f"C<<{delimiter}\ncr\ronly\n{delimiter}\n"
    )
    assert parse(render(entries)) == dict(entries)


def test_a_nul_is_refused_by_name() -> None:
    with pytest.raises(EnvFileError) as refused:
        render([("KEY", "a\x00b")])
    assert refused.value.message == (
        "the value of KEY cannot be written as github so that every reader gets it back "
        "unchanged: it contains a NUL character"
    )


def test_the_reader_takes_a_heredoc_without_its_end() -> None:
    assert parse("A<<END\none\ntwo") == {"A": "one\ntwo"}
