"""Dates for tests, relative to credctl's clock (which `pytest --clock-offset` moves).

A test that seeds "rotated 80 days ago" says so, and stays true on any day.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from credctl import clock
from credctl.clock import OFFSET_VARIABLE
from credctl.schedule import format_timestamp


def now() -> datetime:
    """The moment credctl believes it is, in this process and in the credctl it starts."""
    return clock.now()


def days_ago(days: float) -> datetime:
    """That many days before now (negative: in the future)."""
    return clock.now() - timedelta(days=days)


def stamp(days: float) -> str:
    """`days_ago(days)` as credctl writes timestamps: `2019-01-02T03:04:05Z`."""
    return format_timestamp(days_ago(days))


def day(days: float) -> str:
    """`days_ago(days)` as a table date: `2019-01-02`."""
    return days_ago(days).strftime("%Y-%m-%d")


def today() -> str:
    return day(0)


def moved(days: float) -> dict[str, str]:
    """Variables for a `credctl` process whose clock runs `days` ahead of this test's."""
    seconds = (clock.offset() + timedelta(days=days)).total_seconds()
    return {OFFSET_VARIABLE: f"{'-' if seconds < 0 else ''}{abs(seconds):.0f}s"}
