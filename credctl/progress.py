"""How long work says how far it is: a progress bar on a terminal, or nothing at all."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """Where an operation reports its progress; the command line decides how it shows."""

    # Work of `total` steps begins, called `label` ("rotating").
    def begin(self, total: int, label: str) -> None: ...

    # `count` more steps are done.
    def advance(self, count: int = 1) -> None: ...

    # The work is over (finished or not).
    def end(self) -> None: ...


class Silent:
    """No progress shown: for scripts, pipes and the library's own callers."""

    def begin(self, total: int, label: str) -> None:
        """Nothing to show."""

    def advance(self, count: int = 1) -> None:
        """Nothing to show."""

    def end(self) -> None:
        """Nothing to show."""
