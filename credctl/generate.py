"""Make new credential values from a type's generator spec (the `secrets` module)."""

from __future__ import annotations

import base64
import re
import secrets
from typing import TYPE_CHECKING

from credctl.errors import ConfigError, Problem
from credctl.secret import Secret

if TYPE_CHECKING:  # the model validates alphabets with `expand_alphabet`
    from credctl.model import GeneratorSpec

_RANGE = re.compile(r"(.)-(.)")


def expand_alphabet(alphabet: str) -> str:
    """`A-Za-z0-9_-` → the characters it names, in order, without repeats; a `-` first or
    last is literal. A backwards range (`Z-A`) is a ValueError."""
    characters: list[str] = []
    position = 0
    while position < len(alphabet):
        chunk = alphabet[position : position + 3]
        if len(chunk) == 3 and _RANGE.fullmatch(chunk):
            if chunk[0] > chunk[2]:
                raise ValueError(
                    f"the range {chunk} is backwards (write {chunk[2]}-{chunk[0]}; "
                    "a literal - goes first or last)"
                )
            characters.extend(chr(code) for code in range(ord(chunk[0]), ord(chunk[2]) + 1))
            position += 3
        else:
            characters.append(alphabet[position])
            position += 1
    return "".join(dict.fromkeys(characters))


def generate(spec: GeneratorSpec, *, where: str = "policies") -> Secret:
    """A fresh value following `spec`: a random token or password, with its prefix."""
    if spec.kind == "token":
        raw = secrets.token_bytes(spec.bytes)
        if spec.encoding == "hex":
            body = raw.hex()
        elif spec.encoding == "base64":
            body = base64.b64encode(raw).decode()
        else:
            body = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    else:
        alphabet = expand_alphabet(spec.alphabet)
        if len(alphabet) < 2:
            raise ConfigError(
                Problem(where, None, f"generator alphabet {spec.alphabet!r} is too small")
            )
        body = "".join(secrets.choice(alphabet) for _ in range(spec.length))
    return Secret(spec.prefix + body)
