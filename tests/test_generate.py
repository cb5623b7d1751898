import base64
import re

import pytest

from credctl.generate import expand_alphabet, generate
from credctl.model import GeneratorSpec


def test_alphabet_ranges_and_literal_dash() -> None:
    assert expand_alphabet("a-c0-2_-") == "abc012_-"


def test_password_follows_spec() -> None:
    spec = GeneratorSpec(kind="password", length=40, alphabet="A-Za-z0-9_-", prefix="pw_")
    value = generate(spec).reveal()
    assert re.fullmatch(r"pw_[A-Za-z0-9_-]{40}", value)
    assert generate(spec).reveal() != value


@pytest.mark.parametrize(("encoding", "length"), [("hex", 64), ("base64url", 43), ("base64", 44)])
def test_token_encodings(encoding: str, length: int) -> None:
    spec = GeneratorSpec(kind="token", bytes=32, encoding=encoding, prefix="sk_")  # type: ignore[arg-type]
    value = generate(spec).reveal()
    assert value.startswith("sk_")
    assert len(value) == 3 + length
    if encoding == "base64url":
        assert len(base64.urlsafe_b64decode(value[3:] + "=")) == 32
