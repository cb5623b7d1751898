"""Kill -9 a credctl process at a chosen write (tests only; inert unless asked).

With `CRASH_AT_WRITE=k` in its environment, a credctl process started by the tests
(the guard's sitecustomize installs this) sends itself SIGKILL just before its k-th
atomic file replacement: each transaction of the local store, the table, an env file.
So a test can stop a command after each of its durable steps, as a power cut would.
"""

from __future__ import annotations

import os
import signal
from typing import Any

VARIABLE = "CRASH_AT_WRITE"


def install() -> None:
    text = os.environ.get(VARIABLE)
    if not text:
        return
    target = int(text)
    real_replace = os.replace
    count = 0

    def replace(source: Any, destination: Any, **kwargs: Any) -> None:
        nonlocal count
        count += 1
        if count == target:
            os.kill(os.getpid(), signal.SIGKILL)
        real_replace(source, destination, **kwargs)

    os.replace = replace  # type: ignore[assignment]
