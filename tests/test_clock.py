"""credctl's one clock: fixed for a block, moved by CREDCTL_CLOCK_OFFSET, runs marked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from credctl import clock
from credctl.errors import UsageError

MOMENT = datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)


def test_use_fixes_the_clock_for_the_block_and_nests() -> None:
    with clock.use(MOMENT) as now:
        assert now == clock.now() == MOMENT
        with clock.use(datetime(2099, 1, 1)):  # naive: taken as UTC
            assert clock.now() == datetime(2099, 1, 1, tzinfo=UTC)
        assert clock.now() == MOMENT
    assert clock.now() != MOMENT


@pytest.mark.parametrize(
    ("text", "expected"), [("365d", 365), ("-2d", -2), ("+1w", 7), (" 48h ", 2)]
)
def test_the_offset_moves_the_clock(
    monkeypatch: pytest.MonkeyPatch, text: str, expected: int
) -> None:
    monkeypatch.setenv(clock.OFFSET_VARIABLE, text)
    assert clock.offset() == timedelta(days=expected)
    moved = clock.now() - datetime.now(UTC)
    assert abs(moved - timedelta(days=expected)) < timedelta(minutes=1)


def test_a_bad_offset_is_a_usage_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(clock.OFFSET_VARIABLE, "soon")
    with pytest.raises(UsageError, match="CREDCTL_CLOCK_OFFSET: invalid duration 'soon'"):
        clock.offset()


def test_each_run_after_the_first_starts_when_it_is_marked() -> None:
    clock.start_run()  # a process's first run dates from the process's start
    with clock.use(MOMENT):
        assert clock.start_run() == MOMENT
        assert clock.run_started() == MOMENT


def test_the_process_started_before_now() -> None:
    assert clock.process_started() <= clock.now()
