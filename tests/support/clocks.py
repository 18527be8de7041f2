"""A clock tests set by hand: the code under test is given it where it would read the time."""
from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class ManualClock(Generic[T]):
    """Says `now` (epoch seconds or a datetime, as the code under test takes the time) until a test moves it."""

    def __init__(self, now: T) -> None:
        self.now = now

    def __call__(self) -> T:
        return self.now

    def advance(self: ManualClock[float], seconds: float) -> float:
        self.now += seconds
        return self.now
