"""Business time: paused outside opening hours and on holidays, right across a daylight-saving change."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from routing.calendar import BusinessCalendar

BERLIN = ZoneInfo("Europe/Berlin")
NINE_TO_SIX = tuple(((time(9), time(18)),) for _ in range(7))


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN).astimezone(UTC)


def test_the_clock_stops_at_closing_and_on_a_holiday():
    week = NINE_TO_SIX[:5] + ((), ())     # Monday to Friday
    calendar = BusinessCalendar(week, "Europe/Berlin", frozenset({date(2026, 11, 23)}))
    friday_evening = local(2026, 11, 20, 17, 50)
    assert calendar.elapsed(friday_evening, local(2026, 11, 21, 12, 0)) == 10 * 60          # Saturday: paused
    assert not calendar.is_open(local(2026, 11, 23, 10, 0))                                # the holiday
    assert calendar.elapsed(friday_evening, local(2026, 11, 24, 9, 20)) == 30 * 60
    assert calendar.add(friday_evening, 30 * 60) == local(2026, 11, 24, 9, 20)
    assert calendar.next_open(local(2026, 11, 21, 12, 0)) == local(2026, 11, 24, 9, 0)


def test_a_daylight_saving_change_neither_adds_nor_loses_an_hour_of_business_time():
    calendar = BusinessCalendar(NINE_TO_SIX, "Europe/Berlin")
    # Clocks go forward on Sunday 29 March 2026 at 02:00: 17:00 Saturday to 10:00 Sunday is 2 business hours.
    assert calendar.elapsed(local(2026, 3, 28, 17, 0), local(2026, 3, 29, 10, 0)) == 2 * 3600
    assert calendar.add(local(2026, 3, 28, 17, 0), 2 * 3600) == local(2026, 3, 29, 10, 0)
    # ... and back on 25 October: the same.
    assert calendar.elapsed(local(2026, 10, 24, 17, 0), local(2026, 10, 25, 10, 0)) == 2 * 3600
    always = BusinessCalendar.always()
    # A whole local day that lost an hour is 23 hours long.
    assert always.elapsed(local(2026, 3, 28, 12, 0), local(2026, 3, 29, 12, 0)) == 23 * 3600
    assert local(2026, 3, 29, 12, 0) - local(2026, 3, 28, 12, 0) == timedelta(hours=23)
