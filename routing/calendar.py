"""Business time: weekly opening hours with holidays in a time zone; how much of it passed, and when N more end.

Pure. Every opening window is built in local wall-clock time for its date and only then turned into
UTC, so a daylight-saving change shortens or lengthens no window by an hour.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

SEARCH_DAYS = 400     # a calendar open less than once a year is treated as never open


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """`week[d]`: (opens, closes) local times on weekday d (0 = Monday); no entry for a day: closed."""

    week: tuple[tuple[tuple[time, time], ...], ...]
    tz: str = "UTC"
    holidays: frozenset[date] = frozenset()

    @classmethod
    def always(cls) -> BusinessCalendar:
        return cls(tuple(((time(0), time(0)),) for _ in range(7)))

    def _windows(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open intervals in UTC from the local day of `start` on, in order."""
        zone = ZoneInfo(self.tz)
        day = start.astimezone(zone).date() - timedelta(days=1)
        for offset in range(SEARCH_DAYS):
            current = day + timedelta(days=offset)
            if current in self.holidays:
                continue
            for opens, closes in self.week[current.weekday()]:
                begin = datetime.combine(current, opens, zone)
                end = datetime.combine(current + timedelta(days=1) if closes <= opens else current, closes, zone)
                yield begin.astimezone(UTC), end.astimezone(UTC)

    def is_open(self, at: datetime) -> bool:
        for begin, end in self._windows(at):
            if begin > at:
                return False
            if at < end:
                return True
        return False

    def next_open(self, at: datetime) -> datetime | None:
        """`at` if open, else when it opens next."""
        for begin, end in self._windows(at):
            if end > at:
                return max(begin, at)
        return None

    def elapsed(self, start: datetime, end: datetime) -> float:
        """Seconds of opening time between `start` and `end`."""
        total = 0.0
        if end <= start:
            return total
        for begin, close in self._windows(start):
            if begin >= end:
                break
            lo, hi = max(begin, start), min(close, end)
            if hi > lo:
                total += (hi - lo).total_seconds()
        return total

    def add(self, start: datetime, seconds: float) -> datetime | None:
        """The instant at which `seconds` of opening time after `start` have passed."""
        left = seconds
        for begin, close in self._windows(start):
            lo = max(begin, start)
            if close <= lo:
                continue
            span = (close - lo).total_seconds()
            if span >= left:
                return lo + timedelta(seconds=left)
            left -= span
        return None
