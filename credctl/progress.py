"""How long work says how far it is: a progress bar and one line per environment on a
terminal, or nothing at all."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol


class Progress(Protocol):
    """Where an operation reports its progress; the command line decides how it shows."""

    # Work of `total` steps begins, called `label` ("rotating").
    def begin(self, total: int, label: str) -> None: ...

    # `count` more steps are done.
    def advance(self, count: int = 1) -> None: ...

    # The work is over (finished or not).
    def end(self) -> None: ...

    # One environment's part of the work begins: what it is doing ("listing secrets").
    def start(self, environment: str, doing: str) -> None: ...

    # That part is over: what it came to ("listed 1000 secrets"), None when it failed.
    def done(self, environment: str, outcome: str | None) -> None: ...


class Silent:
    """No progress shown: for scripts, pipes and the library's own callers."""

    def begin(self, total: int, label: str) -> None:
        """Nothing to show."""

    def advance(self, count: int = 1) -> None:
        """Nothing to show."""

    def end(self) -> None:
        """Nothing to show."""

    def start(self, environment: str, doing: str) -> None:
        """Nothing to show."""

    def done(self, environment: str, outcome: str | None) -> None:
        """Nothing to show."""


@dataclass
class Step:
    """One environment's part of the work; the operation sets `outcome` when it succeeds."""

    outcome: str | None = None


@contextlib.contextmanager
def environment_step(progress: Progress | None, environment: str, doing: str) -> Iterator[Step]:
    """`environment: doing…` while the block runs, then what it came to (its `outcome`)."""
    step = Step()
    if progress is None:
        yield step
        return
    progress.start(environment, doing)
    try:
        yield step
    finally:
        progress.done(environment, step.outcome)


def counted(count: int, noun: str) -> str:
    """`1 secret`, `1000 secrets`."""
    return f"{count} {noun}{'' if count == 1 else 's'}"
