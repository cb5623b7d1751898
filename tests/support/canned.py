"""Canned HTTP answers for botocore event hooks (errors AWS would send)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


class RawBody:
    """The raw body of a canned HTTP answer, as botocore reads it."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body

    def read(self, *_: Any) -> bytes:
        return self.body
