"""Durations and rotation schedules as the table and config files write them."""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta

NAMED_SCHEDULES = {
    "daily": 1,
    "weekly": 7,
    "monthly": 30,
    "quarterly": 90,
    "yearly": 365,
    "annually": 365,
}

_UNITS = {
    "ms": 1 / 86_400_000,
    "s": 1 / 86400,
    "sec": 1 / 86400,
    "second": 1 / 86400,
    "seconds": 1 / 86400,
    "m": 1 / 1440,
    "min": 1 / 1440,
    "minute": 1 / 1440,
    "minutes": 1 / 1440,
    "h": 1 / 24,
    "hour": 1 / 24,
    "hours": 1 / 24,
    "d": 1,
    "day": 1,
    "days": 1,
    "w": 7,
    "week": 7,
    "weeks": 7,
}
# Longer than any credential lives, and short enough that a date plus it stays a date.
MAX_DURATION = timedelta(days=36500)
_MAX_DAYS = MAX_DURATION.days

_SIMPLE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$")
_ISO = re.compile(
    r"^P(?:(?P<y>\d+)Y)?(?:(?P<mo>\d+)M)?(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<mi>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(text: str) -> timedelta:
    """Parse `90d`, `2 weeks`, `0.2s`, `15m`, `quarterly` or ISO-8601 `P90D`."""
    cleaned = text.strip().lower()
    if cleaned in NAMED_SCHEDULES:
        return timedelta(days=NAMED_SCHEDULES[cleaned])
    match = _SIMPLE.match(cleaned)
    if match and match.group(2) in _UNITS:
        return _capped(float(match.group(1)) * _UNITS[match.group(2)], text)
    iso = _ISO.match(text.strip().upper())
    if iso and any(iso.groupdict().values()):
        parts = {k: float(v) if v else 0.0 for k, v in iso.groupdict().items()}
        days = parts["y"] * 365 + parts["mo"] * 30 + parts["w"] * 7 + parts["d"]
        days += parts["h"] / 24 + parts["mi"] / 1440 + parts["s"] / 86400
        return _capped(days, text)
    raise ValueError(
        f"invalid duration {text.strip()!r} (use e.g. 90d, 12w, monthly, quarterly, P90D)"
    )


def _capped(days: float, text: str) -> timedelta:
    if days > _MAX_DAYS:
        raise ValueError(f"duration {text.strip()!r} is longer than 100 years")
    return timedelta(days=days)


def seconds_duration(seconds: float) -> timedelta:
    """A number of seconds (a bare number in a config file) as a duration, within 100 years."""
    if not math.isfinite(seconds) or abs(seconds) > MAX_DURATION.total_seconds():
        raise ValueError(f"duration of {seconds:g} seconds is longer than 100 years")
    return timedelta(seconds=seconds)


def parse_schedule(text: str) -> timedelta | None:
    """A table's Rotation Schedule: a positive duration, or None for `never`."""
    if text.strip().lower() == "never":
        return None
    duration = parse_duration(text)
    if duration < timedelta(days=1):
        raise ValueError(f"rotation schedule {text.strip()!r} is shorter than one day")
    return duration


def parse_timestamp(text: str) -> datetime | None:
    """A Last Rotated cell: ISO date or date-time (UTC); None for `never` or empty."""
    cleaned = text.strip()
    if cleaned == "" or cleaned.lower() == "never":
        return None
    return parse_instant(
        cleaned, f"invalid date {cleaned!r} (use an ISO date such as 2026-09-01, or 'never')"
    )


def parse_instant(text: str, invalid: str) -> datetime:
    """An ISO date (that day, 00:00 UTC) or date-time (UTC when it names no zone);
    ValueError(`invalid`) otherwise."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(invalid) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_timestamp(moment: datetime) -> str:
    """ISO-8601 UTC with a Z, to the second."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_instant(moment: datetime) -> str:
    """ISO-8601 UTC with a Z, to the millisecond: for the moment a change was committed,
    which a run compares with its own start (a second is too coarse for that)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def days(duration: timedelta | None) -> int | None:
    """Whole days of a duration (None stays None)."""
    return None if duration is None else int(duration.total_seconds() // 86400)
