"""credctl's one clock: every "now" in the library comes from here.

A run may evaluate "as of" another moment (`--as-of`), and tests set the clock
in-process (`use`) or, for a `credctl` process, move it with
`CREDCTL_CLOCK_OFFSET` (a duration such as `365d`; the test suite's year-ahead
run uses it, it is not meant for daily use).
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from credctl.errors import UsageError

OFFSET_VARIABLE = "CREDCTL_CLOCK_OFFSET"

_fixed: datetime | None = None
_runs_started: list[datetime] = []  # when each command run in this process began


def now() -> datetime:
    """The current moment in UTC, as this run sees it."""
    if _fixed is not None:
        return _fixed
    return datetime.now(UTC) + offset()


def offset() -> timedelta:
    """How far `CREDCTL_CLOCK_OFFSET` moves this process's clock (zero when unset)."""
    text = os.environ.get(OFFSET_VARIABLE)
    return _parse_offset(text) if text else timedelta(0)


def process_started() -> datetime:
    """When this process started, on this clock (Linux: from /proc; elsewhere, now).

    A command judges what other runs did "since it started" from here: taken from the
    operating system, it does not depend on how long the interpreter took to get going.
    """
    try:
        with open("/proc/self/stat", encoding="ascii") as stream:
            fields = stream.read().rpartition(")")[2].split()
        ticks = int(fields[19])  # field 22, starttime: clock ticks after boot
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return now()
    return now() - timedelta(seconds=max(0.0, age))


def start_run() -> datetime:
    """Mark the start of a command run: the process's start for its first, now for the next.

    A command judges what other runs did "since it started" from this moment. The
    first run of a process began when the process did (the user's command line); a
    process that runs several commands in turn (a test) starts each one now.
    """
    started = now() if _runs_started else process_started()
    _runs_started.append(started)
    return started


def run_started() -> datetime:
    """When the current command run began (the process's start if none was marked)."""
    return _runs_started[-1] if _runs_started else process_started()


@functools.lru_cache(maxsize=4)
def _parse_offset(text: str) -> timedelta:
    from credctl.schedule import parse_duration

    cleaned = text.strip()
    try:
        duration = parse_duration(cleaned.lstrip("+-"))
    except ValueError as error:
        raise UsageError(f"{OFFSET_VARIABLE}: {error}") from None
    return -duration if cleaned.startswith("-") else duration


def set_now(moment: datetime | None) -> None:
    """Fix the clock at `moment` (UTC when naive); None lets it run again."""
    global _fixed
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    _fixed = moment.astimezone(UTC) if moment is not None else None


@contextlib.contextmanager
def use(moment: datetime) -> Iterator[datetime]:
    """The clock fixed at `moment` for the block (tests, `--as-of`)."""
    previous = _fixed
    set_now(moment)
    try:
        yield now()
    finally:
        set_now(previous)
