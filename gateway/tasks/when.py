"""Due times people pick, in their own time zone: "in 1 hour", "tomorrow 10:00", "next Monday 10:00"."""
from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

QUICK = ("in_1h", "tomorrow_10", "next_monday_10")
MORNING = time(10, 0)


def zone(name: str | None) -> ZoneInfo:
    """The user's zone; an unknown name (a zone database without it) falls back to UTC."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def is_zone(name: str) -> bool:
    return name in _zones()


_ZONES: frozenset[str] | None = None


def _zones() -> frozenset[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(available_timezones()) | {"UTC"}
    return _ZONES


def _at_local(day: datetime, tz: ZoneInfo, clock: time) -> datetime:
    # Wall-clock time of that day in the zone, then UTC: a DST change that day moves nothing.
    return datetime.combine(day.date(), clock, tz).astimezone(UTC)


def quick(choice: str, now: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant a quick choice names, seen from `now` in zone `tz`."""
    if choice == "in_1h":
        return now + timedelta(hours=1)
    local = now.astimezone(tz)
    if choice == "tomorrow_10":
        return _at_local(local + timedelta(days=1), tz, MORNING)
    if choice == "next_monday_10":
        return _at_local(local + timedelta(days=7 - local.weekday()), tz, MORNING)
    raise ValueError(choice)


def local_naive(value: datetime, tz: ZoneInfo) -> datetime:
    """A time given without an offset is the user's wall-clock time."""
    return value.replace(tzinfo=tz).astimezone(UTC) if value.tzinfo is None else value.astimezone(UTC)


def day_end(now: datetime, tz: ZoneInfo) -> datetime:
    """The next local midnight, in UTC: what is due before it is due today."""
    local = now.astimezone(tz)
    return datetime.combine(local.date() + timedelta(days=1), time(0), tz).astimezone(UTC)


def bucket(due: datetime, now: datetime, tz: ZoneInfo) -> str:
    if due < now:
        return "overdue"
    return "today" if due < day_end(now, tz) else "upcoming"
