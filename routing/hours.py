"""Weekly business hours in a time zone."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class WeeklyHours:
    """Open windows as (weekday 0=Monday, start minute, end minute) in local time of `tz`."""

    windows: tuple[tuple[int, int, int], ...]
    tz: str = "UTC"

    def _local(self, ts: float) -> datetime:
        return datetime.fromtimestamp(ts, ZoneInfo(self.tz))

    def is_open(self, ts: float) -> bool:
        """Whether `ts` (epoch seconds) falls in an open window."""
        local = self._local(ts)
        minute = local.hour * 60 + local.minute
        day = local.weekday()
        return any(d == day and start <= minute < end for d, start, end in self.windows)

    def next_change(self, ts: float) -> float | None:
        """The next epoch second (after `ts`) at which `is_open` flips, within 8 days."""
        if not self.windows:
            return None
        local = self._local(ts)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        edges: list[float] = []
        for offset in range(9):
            day = midnight + timedelta(days=offset - 1)
            for d, start, end in self.windows:
                if d == day.weekday():
                    for minute in (start, end):
                        # Wall-clock arithmetic, then back to epoch: DST days stay right.
                        edge = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(self.tz)) + timedelta(
                            minutes=minute)
                        edges.append(edge.timestamp())
        now_open = self.is_open(ts)
        for edge in sorted(e for e in edges if e > ts):
            if self.is_open(edge) != now_open:
                return edge
        return None
