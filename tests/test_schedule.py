"""Durations, schedules and timestamps as the table and config files write them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from credctl.schedule import (
    days,
    format_instant,
    format_timestamp,
    parse_duration,
    parse_schedule,
    parse_timestamp,
    seconds_duration,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90d", timedelta(days=90)),
        (" 2 weeks ", timedelta(days=14)),
        ("0.2s", timedelta(seconds=0.2)),
        ("15m", timedelta(minutes=15)),
        ("1ms", timedelta(milliseconds=1)),
        ("Quarterly", timedelta(days=90)),
        ("annually", timedelta(days=365)),
        ("P90D", timedelta(days=90)),
        ("p1y2m", timedelta(days=365 + 60)),
        ("PT1H30M", timedelta(hours=1, minutes=30)),
    ],
)
def test_durations_in_every_written_form(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "90", "ninety days", "P", "PT", "-5d", "5 fortnights"])
def test_a_duration_that_is_not_one_names_the_forms(text: str) -> None:
    with pytest.raises(ValueError, match=r"invalid duration .* \(use e\.g\. 90d, 12w"):
        parse_duration(text)


def test_durations_stop_at_a_hundred_years() -> None:
    assert parse_duration("36500d") == timedelta(days=36500)
    with pytest.raises(ValueError, match="'36501d' is longer than 100 years"):
        parse_duration("36501d")
    with pytest.raises(ValueError, match="longer than 100 years"):
        seconds_duration(float("inf"))
    assert seconds_duration(1.5) == timedelta(seconds=1.5)


def test_a_schedule_is_a_day_or_more_or_never() -> None:
    assert parse_schedule("monthly") == timedelta(days=30)
    assert parse_schedule(" Never ") is None
    with pytest.raises(ValueError, match="rotation schedule '12h' is shorter than one day"):
        parse_schedule("12h")


def test_timestamps_are_utc_dates_or_date_times() -> None:
    assert parse_timestamp("2001-02-03") == datetime(2001, 2, 3, tzinfo=UTC)
    assert parse_timestamp("2001-02-03T04:05:06Z") == datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert parse_timestamp("2001-02-03T04:05:06+02:00") == datetime(2001, 2, 3, 2, 5, 6, tzinfo=UTC)
    assert parse_timestamp("2001-02-03T04:05:06") == datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert parse_timestamp("") is None
    assert parse_timestamp("NEVER") is None
    with pytest.raises(ValueError, match=r"invalid date '2001-02-30' \(use an ISO date"):
        parse_timestamp("2001-02-30")


def test_timestamps_are_written_in_utc_with_a_z() -> None:
    moment = datetime(2001, 2, 3, 4, 5, 6, 789_999, tzinfo=UTC)
    assert format_timestamp(moment) == "2001-02-03T04:05:06Z"
    assert format_instant(moment) == "2001-02-03T04:05:06.789Z"
    assert parse_timestamp(format_instant(moment)) == moment.replace(microsecond=789_000)


def test_whole_days() -> None:
    assert days(timedelta(days=2, hours=23)) == 2
    assert days(timedelta(hours=-1)) == -1
    assert days(None) is None
