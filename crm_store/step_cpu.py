"""The SQLite writer thread's CPU by what it was doing: the intake, routing's outcomes, each route's work, the commit.

Every write of a SQLite process waits for that one thread, so when the whole loop slows down the first question is
which step costs it what (bench/loop.py prints it per lead; /metrics exports it). `time.thread_time` is this
thread's CPU only: the GIL waits and the fsync are not in it.
"""
from __future__ import annotations

import time
from collections import Counter

from crm_store.statements import STEP


class StepCpu:
    """Running CPU seconds per step of the one thread that calls `enter` and `leave`."""

    def __init__(self) -> None:
        self._seconds: Counter[str] = Counter()
        self._step: str | None = None
        self._since = 0.0

    def enter(self, step: str) -> None:
        """The thread's CPU from now on is `step`'s; its statements are counted under it too."""
        now = time.thread_time()
        if self._step is not None:
            self._seconds[self._step] += now - self._since
        self._step, self._since = step, now
        STEP.set(step)

    def leave(self) -> None:
        if self._step is not None:
            self._seconds[self._step] += time.thread_time() - self._since
            self._step = None

    def seconds(self) -> dict[str, float]:
        """A copy, safe to take from another thread (a dict copy is one step under the GIL)."""
        return dict(self._seconds)
